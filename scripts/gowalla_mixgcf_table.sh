#!/usr/bin/env bash
# Reproduction (not a test): LightGCN + uniform, LightGCN + MixGCF and NGCF + uniform on Gowalla
# (the LightGCN paper's train set, as scripts/bench.sh builds it, locality-ordered), d = 64,
# 3 layers, batch 2048, Adam lr 1e-3, L2 1e-4, the same seed and initialisation for all: only
# the model or the sampler differs. Test Recall@20 and NDCG@20 at the last epoch go to
# OUT/table.md and OUT/table.json, the curves to OUT/curves.png. Each run checkpoints every
# epoch and resumes where it stopped when the script is run again.
# Environment: RANKS (default 2), EPOCHS (30), MIXGCF_CANDIDATES (16), OUT (results/mixgcf_gowalla),
# RUNS (default "lightgcn_uniform lightgcn_mixgcf ngcf_uniform"), GOWALLA_H5 (a converted file).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/env.sh
ranks="${RANKS:-2}"
epochs="${EPOCHS:-30}"
candidates="${MIXGCF_CANDIDATES:-16}"
out="${OUT:-$root/results/mixgcf_gowalla}"
runs="${RUNS:-lightgcn_uniform lightgcn_mixgcf ngcf_uniform}"
[ -x build/recns_train ] || bash scripts/build.sh
mkdir -p "$out"
gowalla="${GOWALLA_H5:-$out/gowalla.h5}"
bash scripts/gowalla_paper_train.sh "$gowalla"
ordered="${gowalla%.h5}-locality.h5"
[ -f "$ordered" ] || build/recns_convert -format recns -input "$gowalla" -order locality -output "$ordered"

common=(-model_dim 64 -model_layers 3 -train_batch_size 2048 -optimizer_lr 1e-3 -loss_l2 1e-4
        -train_epochs "$epochs" -eval_interval 10 -eval_ks 20 -train_seed 2024)
for run in $runs; do
  case "$run" in
    lightgcn_uniform) options=(-model_type lightgcn -sampler_type uniform) ;;
    lightgcn_mixgcf) options=(-model_type lightgcn -sampler_type mixgcf -sampler_mixgcf_candidates "$candidates") ;;
    ngcf_uniform) options=(-model_type ngcf -sampler_type uniform) ;;
    *) echo "unknown run $run" >&2; exit 2 ;;
  esac
  echo "== $run: ${options[*]}"
  mpirun -q -n "$ranks" build/recns_train "$ordered" "${common[@]}" "${options[@]}" \
    -checkpoint_dir "$out/checkpoints_$run" -restart auto -metrics_file "$out/$run.h5" \
    -summary "$out/$run.json" | tee "$out/$run.log"
done

/usr/bin/python3 - "$out" "$epochs" "$candidates" $runs <<'PY'
import json, os, platform, sys
out, epochs, candidates, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
rows, table = [], {}
for run in runs:
    path = os.path.join(out, run + ".json")
    if not os.path.exists(path):
        continue
    s = json.load(open(path))
    test = s["final"]["test"]
    per_epoch = s["seconds"]["steps"] / max(s["epochs_run"], 1)  # a resumed run: its own steps only
    table[run] = {"epochs": s["epochs_run"], "recall@20": test["recall@20"], "ndcg@20": test["ndcg@20"],
                  "seconds_per_epoch": per_epoch}
    rows.append(f"| {run} | {s['epochs_run']} | {test['recall@20']:.4f} | {test['ndcg@20']:.4f} | {per_epoch:.1f} |")
with open(os.path.join(out, "table.json"), "w") as f:
    json.dump({"processor": cpu, "epochs": epochs, "mixgcf_candidates": candidates, "runs": table}, f, indent=1)
with open(os.path.join(out, "table.md"), "w") as f:
    f.write(f"Gowalla, test split at the last epoch; {cpu}; seconds per epoch of this run's steps\n\n")
    f.write("| run | epochs | Recall@20 | NDCG@20 | s/epoch |\n|---|---|---|---|---|\n")
    f.write("\n".join(rows) + "\n")
print(open(os.path.join(out, "table.md")).read())
PY
files=()
for run in $runs; do [ -f "$out/$run.h5" ] && files+=("$out/$run.h5"); done
[ ${#files[@]} -gt 0 ] && /usr/bin/python3 scripts/plot_runs.py "${files[@]}" --metrics recall@20,ndcg@20 -o "$out/curves.png"
