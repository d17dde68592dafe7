#!/usr/bin/env bash
# Reproduces Table II of the BNS paper (MovieLens-100k, its exact 80/20 split in
# ../shared/data/ml-100k): MF and LightGCN × {RNS, PNS, AOBPR, DNS, SRNS, BNS}, three seeds each,
# in the paper's settings (decks input/ml100k_mf.opts and input/ml100k_lightgcn.opts, the sampler
# settings below), final-epoch test metrics, with the true-negative rate and informativeness of
# the sampled negatives recorded every epoch.
# Writes OUT/table.md (mean ± std over seeds beside the paper), OUT/results.json
# (model -> sampler -> metric -> {mean, std}) and OUT/sampling_quality.png.
# Runs JOBS trainings at a time, one rank each, unbound (Open MPI would pin every one-rank job to
# core 0). About 100 minutes on 2 cores (LightGCN with BNS or AOBPR: about 10 minutes a run).
# Environment: RECNS_SHARED_DATA (default ../shared/data), OUT (default results/bns_table),
# MODELS (default "mf lightgcn"), SAMPLERS (default "uniform pns aobpr dns srns bns"),
# SEEDS (default "1 2 3"), JOBS (default 2), RECNS_BIN_DIR (default build, made if absent).
# A run whose summary exists is not repeated, so an interrupted reproduction resumes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/env.sh
data="${RECNS_SHARED_DATA:-$root/../shared/data}/ml-100k"
out="${OUT:-$root/results/bns_table}"
models="${MODELS:-mf lightgcn}"
samplers="${SAMPLERS:-uniform pns aobpr dns srns bns}"
seeds="${SEEDS:-1 2 3}"
jobs="${JOBS:-2}"
[ -f "$data/train.csv" ] || { echo "reproduce_bns_table: $data/train.csv is absent" >&2; exit 1; }
bin="${RECNS_BIN_DIR:-$root/build}"
[ -n "${RECNS_BIN_DIR:-}" ] || [ -x build/recns_train ] || bash scripts/build.sh
mkdir -p "$out"
[ -f "$out/ml100k.h5" ] || "$bin/recns_convert" -format csv -train "$data/train.csv" \
  -test "$data/test.csv" -name ml-100k -output "$out/ml100k.h5"

# Each sampler in the setting of the paper's comparison (candidate sets of 5, section IV-C).
declare -A sampler_options=(
  [uniform]=""
  [pns]="-sampler_pns_beta 0.75"
  [aobpr]="-sampler_aobpr_mode exact -sampler_aobpr_rho 0.05"
  [dns]="-sampler_dns_candidates 5"
  [srns]=""
  [bns]="-sampler_bns_candidates 5 -sampler_bns_lambda 5 -sampler_bns_cdf exact"
)

run() {  # model sampler seed
  local name="$1_$2_s$3"
  [ -f "$out/$name.summary.json" ] && return 0
  mpirun -q --bind-to none -n 1 "$bin/recns_train" "$out/ml100k.h5" -options_file "input/ml100k_$1.opts" \
    -sampler_type "$2" ${sampler_options[$2]} -train_seed "$3" -eval_sampling_quality \
    -metrics_file "$out/$name.metrics.h5" -summary "$out/$name.summary.json" > "$out/$name.log" 2>&1 ||
    { echo "reproduce_bns_table: $name failed, see $out/$name.log" >&2; return 1; }
  echo "reproduce_bns_table: $name done ($(tail -n 1 "$out/$name.log"))"
}
export -f run
export out bin
export sampler_options_serialized="$(declare -p sampler_options)"
for model in $models; do for sampler in $samplers; do for seed in $seeds; do
  echo "$model $sampler $seed"
done; done; done | xargs -P "$jobs" -L 1 bash -c \
  'eval "$sampler_options_serialized"; run "$0" "$1" "$2"'
/usr/bin/python3 scripts/bns_table.py "$out" --models $models --samplers $samplers --seeds $seeds
cat "$out/table.md"
