#!/usr/bin/env bash
# Chooses DNS's candidate count M (-sampler_dns_candidates) for the BNS Table II reproduction
# (scripts/reproduce_bns_table.sh) without looking at the test set: the paper gives no M, and its
# ml-100k split has no validation set, so a seeded 10% of each user's train interactions is held
# out as one (scripts/carve_validation.py) and the models are trained on the rest.
# MF (deck input/ml100k_mf.opts) is trained with DNS for every M in the grid and with uniform
# negatives (RNS) for reference, for every seed; the chosen M is the one with the highest mean
# valid NDCG@20. LightGCN (input/ml100k_lightgcn.opts) is then trained with M=5 (the paper's
# candidate-set size for BNS) and with MF's choice, for its own seeds.
# The valid metrics reported are those of the final (100th) epoch, as the paper reports the final
# epoch: read from the last row of NAME.metrics.h5 that has valid metrics (the summary's "best"
# holds the valid metrics of the epoch best by -eval_metric, which need not be the last, and its
# "final" only the test metrics).
# Writes OUT/table.md (valid NDCG@20 and Recall@20, mean ± std over seeds, per M) and
# OUT/chosen_m.txt (MF's M), OUT/curves_mf.png (scripts/plot_runs.py: loss and valid NDCG@20 and
# Recall@20 per epoch of the first seed's MF runs), besides each run's
# NAME.{summary.json,metrics.h5,log}.
# Runs one training at a time, one rank, niced. MF: about a minute a run; LightGCN: about 5.
# Environment: RECNS_SHARED_DATA (default ../shared/data), OUT (default results/dns_tuning),
# GRID (default "2 3 4 5 8 10 16 32"), SEEDS (MF, default "1 2"), LIGHTGCN_SEEDS (default "1";
# empty: no LightGCN runs), CARVE_SEED (default 1), RECNS_BIN_DIR (default build, made if absent).
# A run whose summary exists is not repeated, so an interrupted tuning resumes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/env.sh
data="${RECNS_SHARED_DATA:-$root/../shared/data}/ml-100k"
out="${OUT:-$root/results/dns_tuning}"
grid="${GRID:-2 3 4 5 8 10 16 32}"
seeds="${SEEDS:-1 2}"
lightgcn_seeds="${LIGHTGCN_SEEDS-1}"
carve_seed="${CARVE_SEED:-1}"
[ -f "$data/train.csv" ] || { echo "tune_dns_candidates: $data/train.csv is absent" >&2; exit 1; }
bin="${RECNS_BIN_DIR:-$root/build}"
[ -n "${RECNS_BIN_DIR:-}" ] || [ -x build/recns_train ] || bash scripts/build.sh
mkdir -p "$out"
dataset="$out/ml100k_tune.h5"
if [ ! -f "$dataset" ]; then
  /usr/bin/python3 scripts/carve_validation.py "$data/train.csv" "$out/train.csv" "$out/valid.csv" \
    --fraction 0.1 --seed "$carve_seed"
  "$bin/recns_convert" -format csv -train "$out/train.csv" -valid "$out/valid.csv" \
    -test "$data/test.csv" -name ml-100k-tune -output "$dataset"
fi

run() {  # name model [options...]
  local name="$1" model="$2"
  shift 2
  [ -f "$out/$name.summary.json" ] && return 0
  nice -n 10 mpirun -q --bind-to none -n 1 "$bin/recns_train" "$dataset" \
    -options_file "input/ml100k_$model.opts" "$@" \
    -metrics_file "$out/$name.metrics.h5" -summary "$out/$name.summary.json" \
    -checkpoint_dir "$out/checkpoints/$name" -restart auto >> "$out/$name.log" 2>&1 ||
    { echo "tune_dns_candidates: $name failed, see $out/$name.log" >&2; return 1; }
  rm -rf "$out/checkpoints/$name"
  echo "tune_dns_candidates: $name done ($(tail -n 1 "$out/$name.log"))"
}

table() {  # writes OUT/table.md and OUT/chosen_m.txt; prints MF's chosen M
  /usr/bin/python3 - "$out" "$grid" "$seeds" "$lightgcn_seeds" <<'EOF'
import os, statistics, sys
import h5py
import numpy as np

out, grid, seeds, lightgcn_seeds = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4].split()
METRICS = ("ndcg@20", "recall@20")


def final_valid(name):
    """The valid metrics of the last evaluated epoch (the final one) of run NAME, or None."""
    if not os.path.exists(f"{out}/{name}.summary.json"):
        return None
    with h5py.File(f"{out}/{name}.metrics.h5", "r") as f:
        rows = np.flatnonzero(~np.isnan(f["epochs/valid_ndcg@20"][:]))
        last = rows[-1]
        values = {m: float(f[f"epochs/valid_{m}"][last]) for m in METRICS}
        values["epoch"] = int(f["epochs/epoch"][last])
    return values


def row(label, names):
    runs = [r for r in map(final_valid, names) if r is not None]
    if not runs:
        return None, None
    cells = []
    for m in METRICS:
        v = [r[m] for r in runs]
        cells.append(f"{statistics.mean(v):.4f}" + (f" ± {statistics.stdev(v):.4f}" if len(v) > 1 else ""))
    epochs = sorted({r["epoch"] for r in runs})
    line = f"| {label} | {len(runs)} | {cells[0]} | {cells[1]} | {', '.join(map(str, epochs))} |"
    return line, statistics.mean(r["ndcg@20"] for r in runs)


header = ["| sampler | seeds | valid NDCG@20 | valid Recall@20 | epoch |", "|---|---|---|---|---|"]
lines = ["Valid metrics of the final epoch (mean ± std over seeds); the valid split is a seeded 10% "
         "of each user's train interactions.", "", f"MF, seeds {', '.join(seeds)}:", ""] + header
line, _ = row("RNS (uniform)", [f"mf_uniform_s{s}" for s in seeds])
if line:
    lines.append(line)
scores = {}
for m in grid:
    line, score = row(f"DNS, M={m}", [f"mf_dns_m{m}_s{s}" for s in seeds])
    if line:
        lines.append(line)
        scores[m] = score
chosen = max(scores, key=scores.get) if scores else None
lines += ["", f"MF's chosen M (highest mean valid NDCG@20): {chosen}"]
if lightgcn_seeds and chosen is not None:
    lines += ["", f"LightGCN, seeds {', '.join(lightgcn_seeds)}:", ""] + header
    for m in dict.fromkeys(["5", chosen]):
        line, _ = row(f"DNS, M={m}", [f"lightgcn_dns_m{m}_s{s}" for s in lightgcn_seeds])
        if line:
            lines.append(line)
open(f"{out}/table.md", "w").write("\n".join(lines) + "\n")
if chosen is not None:
    open(f"{out}/chosen_m.txt", "w").write(chosen + "\n")
    print(chosen)
EOF
}

for seed in $seeds; do
  run "mf_uniform_s$seed" mf -sampler_type uniform -train_seed "$seed"
  for m in $grid; do
    run "mf_dns_m${m}_s$seed" mf -sampler_type dns -sampler_dns_candidates "$m" -train_seed "$seed"
  done
done
chosen="$(table)"
echo "tune_dns_candidates: MF's chosen M is $chosen"
for seed in $lightgcn_seeds; do
  for m in $(printf '%s\n' 5 "$chosen" | awk '!seen[$0]++'); do
    run "lightgcn_dns_m${m}_s$seed" lightgcn -sampler_type dns -sampler_dns_candidates "$m" \
      -train_seed "$seed"
  done
done
table > /dev/null
first_seed="${seeds%% *}"
files=("$out/mf_uniform_s$first_seed.metrics.h5")
labels="RNS"
for m in $grid; do
  files+=("$out/mf_dns_m${m}_s$first_seed.metrics.h5")
  labels+=",DNS M=$m"
done
/usr/bin/python3 scripts/plot_runs.py "${files[@]}" --labels "$labels" --metrics ndcg@20,recall@20 \
  -o "$out/curves_mf.png" --title "DNS candidates M on the carved validation split, MF, seed $first_seed"
cat "$out/table.md"
