#!/usr/bin/env bash
# Reproduces Table II of the BNS paper (MovieLens-100k, its exact 80/20 split in
# ../shared/data/ml-100k): MF and LightGCN × {RNS, PNS, AOBPR, DNS, SRNS, BNS}, three seeds each,
# in the paper's settings (decks input/ml100k_mf.opts and input/ml100k_lightgcn.opts, the sampler
# settings below), final-epoch test metrics, with the true-negative rate and informativeness of
# the sampled negatives recorded every epoch.
# Writes OUT/table.md (mean ± std over seeds beside the paper), OUT/results.json
# (model -> sampler -> metric -> {mean, std}) and OUT/sampling_quality.png; with
# scripts/plot_runs.py OUT/curves_<model>.png (loss, Recall@20 and NDCG@20 per epoch, one line
# per sampler, the first seed) and with scripts/compare_runs.py OUT/compare_<model>.md (each
# sampler against RNS user by user, paired t-test and Wilcoxon, the first seed).
# Runs JOBS trainings at a time, one rank each, unbound (Open MPI would pin every one-rank job to
# core 0). About 100 minutes on 2 cores (LightGCN with BNS or AOBPR: about 10 minutes a run).
# Environment: RECNS_SHARED_DATA (default ../shared/data), OUT (default results/bns_table),
# MODELS (default "mf lightgcn"), SAMPLERS (default "uniform pns aobpr dns srns bns"),
# SEEDS (default "1 2 3"), JOBS (default 2), RECNS_BIN_DIR (default build, made if absent).
# A run whose summary exists is not repeated, and an interrupted run resumes from its last
# checkpoint (OUT/checkpoints/NAME, removed once it is done), so an interrupted reproduction
# resumes (a DNS summary made with another M stops the script: move that run's files away to
# redo it).
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

# Each sampler in the setting of the paper's comparison (candidate sets of 5, section IV-C),
# DNS's candidate count apart (below).
declare -A sampler_options=(
  [uniform]=""
  [pns]="-sampler_pns_beta 0.75"
  [aobpr]="-sampler_aobpr_mode exact -sampler_aobpr_rho 0.05"
  [dns]=""
  [srns]=""
  [bns]="-sampler_bns_candidates 5 -sampler_bns_lambda 5 -sampler_bns_cdf exact"
)
# DNS's candidate count M per model: the paper does not give it, so it was chosen on a validation
# split carved from train (scripts/tune_dns_candidates.sh), never on the test set. Final-epoch
# valid NDCG@20: MF, mean of seeds 1 and 2, 0.2050 at M=2 (M=3: 0.2043, 4: 0.2046, 5: 0.2036,
# 8: 0.1993, 32: 0.1651; RNS 0.2026); LightGCN, seed 1, 0.2227 at M=2 against 0.2208 at M=5.
declare -A dns_candidates=([mf]=2 [lightgcn]=2)

run() {  # model sampler seed
  local name="$1_$2_s$3"
  local options="${sampler_options[$2]}"
  [ "$2" != dns ] || options="-sampler_dns_candidates ${dns_candidates[$1]}"
  if [ -f "$out/$name.summary.json" ]; then
    [ "$2" != dns ] || grep -q -- "$options " "$out/$name.summary.json" ||
      { echo "reproduce_bns_table: $out/$name.summary.json was run without $options;" \
          "move its $name.* files away to redo it" >&2; return 1; }
    return 0
  fi
  mpirun -q --bind-to none -n 1 "$bin/recns_train" "$out/ml100k.h5" -options_file "input/ml100k_$1.opts" \
    -sampler_type "$2" $options -train_seed "$3" -eval_sampling_quality -eval_per_user \
    -metrics_file "$out/$name.metrics.h5" -summary "$out/$name.summary.json" \
    -checkpoint_dir "$out/checkpoints/$name" -restart auto >> "$out/$name.log" 2>&1 ||
    { echo "reproduce_bns_table: $name failed, see $out/$name.log" >&2; return 1; }
  rm -rf "$out/checkpoints/$name"
  echo "reproduce_bns_table: $name done ($(tail -n 1 "$out/$name.log"))"
}
export -f run
export out bin
export sampler_options_serialized="$(declare -p sampler_options dns_candidates)"
for model in $models; do for sampler in $samplers; do for seed in $seeds; do
  echo "$model $sampler $seed"
done; done; done | xargs -P "$jobs" -L 1 bash -c \
  'eval "$sampler_options_serialized"; run "$0" "$1" "$2"'
/usr/bin/python3 scripts/bns_table.py "$out" --models $models --samplers $samplers --seeds $seeds
# Curves and per-user comparisons of the first seed's runs (RNS first: the baseline). Runs made
# before -eval_per_user existed have no per-user metrics: their comparison is skipped.
first_seed="${seeds%% *}"
for model in $models; do
  files=()
  for sampler in uniform $samplers; do
    file="$out/${model}_${sampler}_s$first_seed.metrics.h5"
    [ -f "$file" ] && [[ " ${files[*]} " != *" $file "* ]] && files+=("$file")
  done
  [ ${#files[@]} -gt 0 ] || continue
  /usr/bin/python3 scripts/plot_runs.py "${files[@]}" -o "$out/curves_$model.png" \
    --title "BNS Table II runs, $model, seed $first_seed"
  [ ${#files[@]} -lt 2 ] || /usr/bin/python3 scripts/compare_runs.py "${files[@]}" \
    -o "$out/compare_$model.md" || echo "reproduce_bns_table: no per-user comparison for $model"
done
cat "$out/table.md"
