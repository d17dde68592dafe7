#!/usr/bin/env bash
# Reproduces the RecNS paper's comparisons on the data we have (the paper's Zhihu and Alibaba
# sets are not public): Yahoo! R3, whose low ratings stand for exposures and whose random.txt is
# an unbiased test set, and Last.fm for the three-region study.
#
# 1. Converts Yahoo! R3 (ratings >= 4 positive, split per user 80/10/10 with seed 1; ratings <= 2
#    exposures; random.txt's ratings >= 4 the test_random split).
# 2. Search, on the validation split, seed 1, LightGCN (d = 64, 3 layers, batch 8192, L2 1e-4 as
#    the RecNS LightGCN script): the learning rate with uniform negatives, then each sampler's
#    own setting over the grid below at that rate, then uniform, DNS and RecNS at other rates
#    and L2 weights with their chosen settings. Best-epoch validation Recall@20 decides (every
#    run evaluates the validation split every EVAL epochs and stops after PATIENCE evaluations
#    without improvement, as the paper stops after 10 epochs without improvement).
# 3. The table: uniform, DNS, ExpNS, MixedNS, RecNS, RecNS w/o p-a and RecNS w/o e-a with the
#    chosen settings, and RecNS's negatives with the BPR loss instead of its hinge, SEEDS seeds
#    each; the test and test_random metrics of the best validation epoch.
#    PinSage (MODELS="lightgcn pinsage"): uniform, DNS and RecNS rows with the same protocol, in
#    the settings of the RecNS paper's PinSage code: features d = 50, aggregator width 256,
#    fan-outs 10 and 25, batch 512, Adam, gradient clipping at 5, no L2 on the features (the
#    model's weight decay 2e-6 on its aggregators). The search on the validation split (seed 1)
#    is of the learning rate with uniform negatives only (PINSAGE_LRS, default "1e-3 3e-3");
#    DNS and RecNS (hinge) take LightGCN's chosen sampler settings at PinSage's chosen rate, so
#    MODELS must then hold lightgcn too (its runs are those above, reused when done).
# 4. The region study on Last.fm (no exposures): RecNS w/o e-a drawing its candidates from the
#    intermediate region (khop 3, 5, 7), the distant region and all unobserved items, with each
#    region's mean size per user (from the run log).
# 5. (Stage alibaba, not run by default: about 10 minutes and the file of scripts/make_alibaba.sh,
#    made when absent.) The cost at the RecNS paper's Alibaba scale, in OUT/alibaba.md.
# Writes OUT/search.md, OUT/table.md, OUT/results.json and OUT/recall.png (scripts/recns_table.py).
# Runs JOBS trainings at a time, one rank each. A run whose summary exists is not repeated.
# Environment: RECNS_SHARED_DATA (default ../shared/data), OUT (default results/recns), SEEDS
# (default "1 2 3"), JOBS (default 2), MODELS (default lightgcn; "lightgcn ngcf" adds NGCF rows
# with the same settings, "lightgcn pinsage" PinSage's rows, see 3), PINSAGE_LRS, RECNS_BIN_DIR (default build, made if absent), STAGES (default
# "search table region"; "alibaba" adds stage 5), ALIBABA_H5 (default input/alibaba.h5),
# ALIBABA_STEPS (10) and ALIBABA_REPEAT (2).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/env.sh
shared="${RECNS_SHARED_DATA:-$root/../shared/data}"
out="${OUT:-$root/results/recns}"
seeds="${SEEDS:-1 2 3}"
jobs="${JOBS:-2}"
models="${MODELS:-lightgcn}"
pinsage_lrs="${PINSAGE_LRS:-1e-3 3e-3}"
# The models of the full search (each sampler's own grid, then rates and L2 weights) and PinSage,
# whose search is of the learning rate alone.
grid_models=""
with_pinsage=0
for m in $models; do
  if [ "$m" = pinsage ]; then with_pinsage=1; else grid_models="$grid_models $m"; fi
done
grid_models="${grid_models# }"
if [ "$with_pinsage" = 1 ] && [[ " $grid_models " != *" lightgcn "* ]]; then
  echo "reproduce_recns: MODELS=\"$models\": pinsage needs lightgcn too (PinSage's DNS and RecNS rows" \
       "take LightGCN's chosen sampler settings)" >&2
  exit 1
fi
stages="${STAGES:-search table region}"
bin="${RECNS_BIN_DIR:-$root/build}"
[ -n "${RECNS_BIN_DIR:-}" ] || [ -x build/recns_train ] || bash scripts/build.sh
for file in yahoo-r3/user.txt yahoo-r3/random.txt lastfm/train.txt; do
  [ -f "$shared/$file" ] || { echo "reproduce_recns: $shared/$file is absent" >&2; exit 1; }
done
mkdir -p "$out"
yahoo="$out/yahoo-r3.h5"
[ -f "$yahoo" ] || "$bin/recns_convert" -format csv -input "$shared/yahoo-r3/user.txt" \
  -test_random "$shared/yahoo-r3/random.txt" -rating_threshold 4 -exposure_threshold 2 \
  -valid_fraction 0.1 -test_fraction 0.1 -split_seed 1 -name yahoo-r3 -output "$yahoo"
lastfm="$out/lastfm.h5"
[ -f "$lastfm" ] || "$bin/recns_convert" -format lightgcn -input "$shared/lastfm" -name lastfm \
  -output "$lastfm"

eval_every=2
patience=5
# The model's own settings, then those of every run. LightGCN and NGCF: d = 64, 3 layers, L2
# 1e-4, batch 8192 (the RecNS LightGCN script); PinSage: the RecNS paper's PinSage code (see 3).
base_graph="-model_dim 64 -model_layers 3 -loss_l2 1e-4 -optimizer_type adam -train_batch_size 8192"
base_pinsage="-model_dim 50 -model_pinsage_width 256 -model_pinsage_fanouts 10,25 -optimizer_type adam
  -train_batch_size 512 -optimizer_clip 5"
base="-train_epochs 200 -eval_interval $eval_every -eval_patience $patience -eval_ks 20
  -eval_metric recall@20 -checkpoint_every_epochs 0"

# run NAME DATASET OPTIONS...: one training (train_run) with its model's settings, which
# follow its -model_type in OPTIONS.
source scripts/train_runs.sh
tool=reproduce_recns
run_ranks=1
run() {
  local name="$1" data="$2"
  shift 2
  local model_base="$base_graph"
  [[ " $* " != *" -model_type pinsage "* ]] || model_base="$base_pinsage"
  train_run "$name" "$data" $model_base $base "$@"
}
export -f run
export out bin tool run_ranks base base_graph base_pinsage

# Lines "NAME DATASET OPTIONS..." run JOBS at a time.
run_all() { train_run_all run; }

sampler_grid() {  # model lr: the search's runs of every sampler setting
  local m="$1" lr="$2"
  local common="-model_type $m -optimizer_lr $lr -train_seed 1"
  for c in 2 5 10; do echo "search_${m}_dns_M$c $yahoo $common -sampler_type dns -sampler_dns_candidates $c"; done
  for w in 0.25 0.5 0.75; do
    echo "search_${m}_mixedns_w$w $yahoo $common -sampler_type mixedns -sampler_mixedns_exposure_probability $w"
  done
  echo "search_${m}_expns_default $yahoo $common -sampler_type expns"
  for weighting in sigmoid exp_sigmoid; do
    echo "search_${m}_recns_$weighting $yahoo $common -sampler_type recns -loss_type hinge -sampler_recns_weighting $weighting"
  done
  echo "search_${m}_recns_g0.3 $yahoo $common -sampler_type recns -loss_type hinge -loss_hinge_margin 0.3"
  echo "search_${m}_recns_bpr_sigmoid $yahoo $common -sampler_type recns -loss_type bpr"
}

if [[ " $stages " == *" search "* ]]; then
  for m in $models; do
    rates="2e-3 5e-3 1e-2"
    [ "$m" != pinsage ] || rates="$pinsage_lrs"
    for lr in $rates; do
      echo "search_${m}_uniform_lr$lr $yahoo -model_type $m -optimizer_lr $lr -train_seed 1 -sampler_type uniform"
    done
  done | run_all
  /usr/bin/python3 scripts/recns_table.py search-lr "$out" --models $models
  for m in $grid_models; do sampler_grid "$m" "$(cat "$out/chosen_${m}_lr.txt")"; done | run_all
  /usr/bin/python3 scripts/recns_table.py search "$out" --models $models
  # The hinge loss of RecNS and DNS's hard negatives may want another rate or L2 than uniform
  # BPR: uniform, DNS and RecNS (with either loss) are tried at other rates and L2 weights with
  # their chosen setting.
  for m in $grid_models; do
    for s in uniform dns recns recns_bpr; do
      options="$(/usr/bin/python3 scripts/recns_table.py options "$out" --models "$m" --sampler "$s")"
      for lr_l2 in "2e-3 1e-4" "2e-3 1e-3" "5e-3 1e-3"; do
        read -r lr l2 <<<"$lr_l2"
        [ "$s $lr $l2" != "uniform 2e-3 1e-4" ] || continue  # a run of the rate search
        echo "search_${m}_${s}_reg_lr${lr}_l2$l2 $yahoo -model_type $m $options -optimizer_lr $lr -loss_l2 $l2 -train_seed 1"
      done
    done
  done | run_all
  /usr/bin/python3 scripts/recns_table.py search "$out" --models $models
fi

if [[ " $stages " == *" table "* ]]; then
  for m in $models; do
    rows="uniform dns expns mixedns recns recns_wo_pa recns_wo_ea recns_bpr"
    [ "$m" != pinsage ] || rows="uniform dns recns"
    for s in $rows; do
      options="$(/usr/bin/python3 scripts/recns_table.py options "$out" --models "$m" --sampler "$s")"
      for seed in $seeds; do echo "table_${m}_${s}_s$seed $yahoo -model_type $m $options -train_seed $seed"; done
    done
  done | run_all
  /usr/bin/python3 scripts/recns_table.py table "$out" --models $models --seeds $seeds
fi

if [[ " $stages " == *" region "* ]]; then
  options="$(/usr/bin/python3 scripts/recns_table.py options "$out" --models lightgcn --sampler recns_wo_ea)"
  for seed in $seeds; do
    for khop in 3 5 7; do
      echo "region_intermediate_k${khop}_s$seed $lastfm -model_type lightgcn $options -sampler_recns_region intermediate -sampler_recns_khop $khop -train_seed $seed"
    done
    for region in distant global; do
      echo "region_${region}_s$seed $lastfm -model_type lightgcn $options -sampler_recns_region $region -train_seed $seed"
    done
  done | run_all
  /usr/bin/python3 scripts/recns_table.py region "$out" --seeds $seeds
fi
if [[ " $stages " == *" alibaba "* ]]; then
  # LightGCN (d = 64, 3 layers, batch 2048) at 2 ranks on the Alibaba-scale file: uniform and
  # RecNS (M = 20, k = 15, khop 3) steps alternating (scripts/step_cost.sh), the region's build
  # time and memory, and each run's peak memory per rank.
  alibaba="${ALIBABA_H5:-$root/input/alibaba.h5}"
  [ -f "$alibaba" ] || OUT="$alibaba" bash scripts/make_alibaba.sh
  common="-model_type lightgcn -model_dim 64 -model_layers 3 -train_batch_size 2048 -eval_user_sample 1000"
  OUT="$out/alibaba" RANKS=2 STEPS="${ALIBABA_STEPS:-10}" REPEAT="${ALIBABA_REPEAT:-2}" \
    bash scripts/step_cost.sh "$alibaba" "uniform|$bin/recns_train|$common -sampler_type uniform" \
    "recns|$bin/recns_train|$common -sampler_type recns -loss_type hinge"
  /usr/bin/python3 scripts/recns_table.py alibaba "$out" --seeds $(seq "${ALIBABA_REPEAT:-2}")
fi
cat "$out/table.md" 2>/dev/null || true
