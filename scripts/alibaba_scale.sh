#!/usr/bin/env bash
# Benchmark (not a test): LightGCN at the scale of the RecNS paper's Alibaba set. Makes
# input/alibaba.h5 when absent (scripts/make_alibaba.sh, which reports its interactions per
# second), then at 1 and at 2 ranks: one propagation product with its halo (recns_bench
# -bench propagate: product seconds, ghost rows and neighbour ranks per rank, one ghost-row
# exchange alone) and a LightGCN + uniform run (d = 64, 3 layers, batch 2048) of a fixed number
# of steps followed by an evaluation of the test split on a seeded user sample (summary JSON and
# -log_view of each), and beside it a PinSage + uniform run of as many steps (features d = 50,
# width 256, fan-outs 10 and 25, batch 512, clipping at 5: the RecNS paper's PinSage settings)
# with the same evaluation. scripts/alibaba_report.py turns them into results/alibaba/alibaba.md
# and alibaba.json: seconds per step and per phase, evaluation users/s, peak RSS per rank against
# 6 GiB (PinSage: 2 GiB), the halo volumes, the exact ghost rows of this graph at 4..64 ranks and
# models of both step times at 64 ranks. Takes about 10-20 minutes on a 2-core machine (PinSage
# adds a few); run it on an idle one.
# Environment: STEPS (default 20), EVAL_USERS (default 20000), BENCH_REPEAT (products timed by
# recns_bench, default 5), OUT (default results/alibaba), ALIBABA_H5 (default input/alibaba.h5),
# PINSAGE (default 1; 0 skips the PinSage runs), RECNS_BIN_DIR (the directory of recns_train,
# recns_bench and recns_convert; default build, built when absent).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/env.sh
out="${OUT:-$root/results/alibaba}"
data="${ALIBABA_H5:-$root/input/alibaba.h5}"
steps="${STEPS:-20}"
eval_users="${EVAL_USERS:-20000}"
repeat="${BENCH_REPEAT:-5}"
pinsage="${PINSAGE:-1}"
bin="${RECNS_BIN_DIR:-$root/build}"
fail() { echo "alibaba_scale: FAILED: $*" >&2; exit 1; }
[ "$steps" -ge 2 ] 2>/dev/null || fail "STEPS must be an integer >= 2 (the first step is reported apart)"
[ "$eval_users" -ge 1 ] 2>/dev/null || fail "EVAL_USERS must be a positive integer"
[ "$pinsage" = 0 ] || [ "$pinsage" = 1 ] || fail "PINSAGE must be 0 or 1"
if [ -z "${RECNS_BIN_DIR:-}" ]; then
  [ -x build/recns_bench ] && [ -x build/recns_train ] && [ -x build/recns_convert ] || bash scripts/build.sh
fi
for app in recns_bench recns_train recns_convert; do
  [ -x "$bin/$app" ] || fail "$bin/$app is absent"
done
mkdir -p "$out"
rm -f "$out"/propagate_*.jsonl "$out"/train_*.log "$out"/train_*_summary.json \
      "$out"/train_*_logview.txt "$out"/pinsage_*.log "$out"/pinsage_*_summary.json \
      "$out"/pinsage_*_logview.txt "$out"/load.txt "$out"/alibaba.md "$out"/alibaba.json

if [ -f "$data" ]; then
  echo "alibaba_scale: using the existing $data (delete it to time its generation)"
  echo "existing file: $data" > "$out/make_alibaba.log"
else
  echo "alibaba_scale: making $data"
  OUT="$data" bash scripts/make_alibaba.sh > "$out/make_alibaba.log" 2>&1 ||
    { cat "$out/make_alibaba.log"; fail "scripts/make_alibaba.sh"; }
  cat "$out/make_alibaba.log"
fi

# One rank unbound (it may use either core), two with Open MPI's default binding.
on_ranks() {
  local ranks=$1
  shift
  if [ "$ranks" = 1 ]; then mpirun -q -n 1 --bind-to none "$@"; else mpirun -q -n "$ranks" "$@"; fi
}
# train RANKS NAME LABEL OPTIONS...: a uniform run of STEPS steps and a test evaluation of
# ~EVAL_USERS users, its files OUT/NAME_RANKS{.log,_summary.json,_logview.txt}.
train() {
  local ranks=$1 name=$2 label=$3
  shift 3
  echo "alibaba_scale: $label + uniform, $steps steps and a test evaluation of ~$eval_users" \
       "users, $ranks rank(s)"
  local summary="$out/${name}_${ranks}_summary.json" log="$out/${name}_$ranks.log"
  local start=$(date +%s)
  on_ranks "$ranks" "$bin/recns_train" "$data" "$@" -sampler_type uniform -train_epochs 1 \
    -train_max_steps "$steps" -eval_interval 0 -eval_user_sample "$eval_users" -checkpoint_dir "" \
    -metrics_file "" -summary "$summary" -log_view ":$out/${name}_${ranks}_logview.txt" \
    > "$log" 2>&1 || { cat "$log"; fail "$label's recns_train at $ranks rank(s) (log: $log)"; }
  cat "$log"
  echo "alibaba_scale: $ranks rank(s): $(( $(date +%s) - start )) s wall for the $label run"
  [ -s "$summary" ] && [ -s "$out/${name}_${ranks}_logview.txt" ] ||
    fail "$label's recns_train at $ranks rank(s) exited 0 but wrote no summary or -log_view"
}
for ranks in 1 2; do
  echo "ranks $ranks before the product: $(cat /proc/loadavg)" >> "$out/load.txt"
  echo "alibaba_scale: one propagation product (d = 64) and its halo, $ranks rank(s)"
  on_ranks "$ranks" "$bin/recns_bench" -bench propagate -dataset "$data" -bench_dim 64 \
    -bench_repeat "$repeat" > "$out/propagate_$ranks.jsonl" 2>&1 ||
    { cat "$out/propagate_$ranks.jsonl"; fail "recns_bench -bench propagate at $ranks rank(s)"; }
  cat "$out/propagate_$ranks.jsonl"

  echo "ranks $ranks before training: $(cat /proc/loadavg)" >> "$out/load.txt"
  train "$ranks" train LightGCN -model_type lightgcn -model_dim 64 -model_layers 3 \
    -train_batch_size 2048
  [ "$pinsage" = 1 ] || continue
  echo "ranks $ranks before PinSage: $(cat /proc/loadavg)" >> "$out/load.txt"
  train "$ranks" pinsage PinSage -model_type pinsage -model_dim 50 -model_pinsage_width 256 \
    -model_pinsage_fanouts 10,25 -optimizer_clip 5 -train_batch_size 512
done
echo "after the runs: $(cat /proc/loadavg)" >> "$out/load.txt"

/usr/bin/python3 scripts/alibaba_report.py "$out" "$data" || fail "scripts/alibaba_report.py"
cat "$out/alibaba.md"
