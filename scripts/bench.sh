#!/usr/bin/env bash
# Benchmark (not a test): the machine's memory bandwidth and GEMM rate, one propagation product,
# a LightGCN training epoch per phase and one full-ranking evaluation on Gowalla, all at the same
# rank count in one run. Writes results/bench/bench.md and results/bench/bench.json (built by
# scripts/bench_report.py from recns_bench's JSON lines, recns_train's -log_view table and its
# summary); README "Benchmarks" explains each figure. Run it on an otherwise idle machine.
# Environment: RANKS (default 2); OUT (default results/bench); BENCH_MAX_STEPS (cap the training
# steps with -train_max_steps; per-epoch figures are then extrapolated and labelled so);
# BENCH_REPEAT (default 10; the propagation product takes the median of twice as many);
# BENCH_TRIAD_MB (MB per triad array; default 4 x the last-level cache, three arrays per rank);
# GOWALLA_H5 (a converted Gowalla file; else OUT/gowalla.h5, converted from
# $RECNS_SHARED_DATA/gowalla, default ../shared/data/gowalla, when absent, with valid.txt merged
# into train.txt: the LightGCN paper's train set, 810,128 pairs, as the reference trains on);
# its locality-ordered copy (recns_convert -order locality) is made beside it when absent.
# The step of every sampler recns_train registers (its -help lists them), against uniform's, on
# the epoch's configuration (scripts/step_cost.sh, runs in OUT/samplers): BENCH_SAMPLERS=0 skips
# it; BENCH_SAMPLER_STEPS (default 30, the first left out) and BENCH_SAMPLER_REPEAT (default 3).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/env.sh
out="${OUT:-$root/results/bench}"
ranks="${RANKS:-2}"
repeat="${BENCH_REPEAT:-10}"
max_steps="${BENCH_MAX_STEPS:-0}"
shared="${RECNS_SHARED_DATA:-$root/../shared/data}"
[ -x build/recns_bench ] && [ -x build/recns_train ] || bash scripts/build.sh
mkdir -p "$out"
rm -f "$out"/micro.jsonl "$out"/train.log "$out"/train_logview.txt "$out"/train_summary.json
rm -rf "$out/samplers"
run() { mpirun -q -n "$ranks" "$@"; }
# The options that make a sampler run on Gowalla (41k items) at the cost the README's tables
# measure; a sampler not named here runs with its defaults.
sampler_options() {
  case "$1" in
    dns) echo "-sampler_dns_candidates 16" ;;
    bns) echo "-sampler_bns_cdf subsample" ;;
    mixgcf) echo "-sampler_mixgcf_candidates 16" ;;
    *) echo "" ;;
  esac
}

echo "bench: machine, $ranks rank(s): triad bandwidth and GEMM rate"
run build/recns_bench -bench triad -bench_repeat "$repeat" -bench_triad_mb "${BENCH_TRIAD_MB:-0}" |
  tee -a "$out/micro.jsonl"
run build/recns_bench -bench gemm -bench_dim 64 -bench_repeat "$repeat" | tee -a "$out/micro.jsonl"

gowalla="${GOWALLA_H5:-$out/gowalla.h5}"
if ! RECNS_SHARED_DATA="$shared" bash scripts/gowalla_paper_train.sh "$gowalla"; then
  echo "bench: SKIPPED the Gowalla figures (propagation, epoch, evaluation): no $gowalla" \
       "(set GOWALLA_H5 or RECNS_SHARED_DATA)" >&2
  gowalla=""
fi
if [ -n "$gowalla" ]; then
  # The same graph with users and items renumbered for locality (README, decision 2): the
  # product is measured on both numberings, the epoch and the evaluation on the locality one.
  ordered="$out/$(basename "${gowalla%.h5}")-locality.h5"
  [ -f "$ordered" ] ||
    build/recns_convert -format recns -input "$gowalla" -order locality -output "$ordered"
  for order in natural locality; do
    file="$gowalla"
    [ "$order" = locality ] && file="$ordered"
    echo "bench: one propagation product on $file (d = 64, $order order), $ranks rank(s)"
    run build/recns_bench -bench propagate -dataset "$file" -bench_dim 64 \
      -bench_repeat $((2 * repeat)) | sed "s/^{/{\"order\": \"$order\", /" |
      tee -a "$out/micro.jsonl"
  done
  gowalla="$ordered"
  limit=()
  [ "$max_steps" -gt 0 ] && limit=(-train_max_steps "$max_steps")
  echo "bench: LightGCN + uniform training epoch on Gowalla, $ranks rank(s)" \
       "${limit[*]:+(capped: ${limit[*]})}"
  run build/recns_train "$gowalla" -model_type lightgcn -model_dim 64 -model_layers 3 \
    -sampler_type uniform -train_batch_size 2048 -train_epochs 1 -eval_interval 0 \
    -checkpoint_dir "" -metrics_file "" -summary "$out/train_summary.json" \
    -log_view ":$out/train_logview.txt" "${limit[@]}" | tee "$out/train.log"
fi
if [ -n "$gowalla" ] && [ "${BENCH_SAMPLERS:-1}" != 0 ]; then
  # Every registered sampler's step on the epoch's configuration, uniform first, alternating; a
  # sampler that cannot run on Gowalla gets a row saying why (the trainer's error).
  listed="$(build/recns_train -help 2>/dev/null |
    sed -n 's/^ *-sampler_type <.*(choose one of) \(.*\) (Sampler)$/\1/p')" || true
  samplers="$out/samplers"
  mkdir -p "$samplers"
  common="-model_type lightgcn -model_dim 64 -model_layers 3 -train_batch_size 2048 -eval_user_sample 100"
  steps="${BENCH_SAMPLER_STEPS:-30}"
  sampler_repeat="${BENCH_SAMPLER_REPEAT:-3}"
  printf '{"steps": %d, "repeat": %d, "options": "%s"}\n' "$steps" "$sampler_repeat" "$common" \
    > "$samplers/settings.json"
  : > "$samplers/samplers.tsv"
  configs=()
  if [ -z "$listed" ]; then
    echo "bench: SKIPPED the samplers' steps: recns_train -help lists no -sampler_type" >&2
  else
    for sampler in uniform $(tr ' ' '\n' <<<"$listed" | grep -vx uniform); do
      printf '%s\t%s\n' "$sampler" "$(sampler_options "$sampler")" >> "$samplers/samplers.tsv"
      configs+=("$sampler|build/recns_train|$common -sampler_type $sampler $(sampler_options "$sampler")")
    done
    echo "bench: the step of every sampler against uniform's on Gowalla, $ranks rank(s)," \
         "$steps steps, $sampler_repeat runs each"
    OUT="$samplers" RANKS="$ranks" STEPS="$steps" REPEAT="$sampler_repeat" KEEP_GOING=1 \
      bash scripts/step_cost.sh "$gowalla" "${configs[@]}"
  fi
fi
/usr/bin/python3 scripts/bench_report.py "$out" "$ranks" "$gowalla"
cat "$out/bench.md"
