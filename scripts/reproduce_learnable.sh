#!/usr/bin/env bash
# Reproduces the comparisons of the learnable and soft-loss samplers on Gowalla (the LightGCN
# paper's split: train, valid and test), each choice made on the validation split.
#
# Stage ans: MF and LightGCN (d = 64, 3 layers, Adam lr 1e-3, batch 2048, L2 1e-4, as the ANS
#   paper), uniform vs DNS vs ANS. Search (seed 1): DNS's M over DNS_MS; ANS's M, gamma and
#   epsilon over ANS_MS x ANS_GAMMAS x ANS_EPSILONS. Then the chosen settings with SEEDS seeds.
# Stage sdns: LightGCN, DNS with BPR against DNS with soft BPR (the SDNS paper): H over SDNS_HS and
#   the learning rate over SDNS_LRS for both, soft BPR's tau over SDNS_TAUS (the paper's grid:
#   H 8..64, tau 0.05..0.4, lr 5e-4..1e-2); then SEEDS seeds of each, Recall and NDCG at 20 and 50,
#   and the validation curves of both chosen settings (seed 1) in OUT/sdns_curves.png.
# Stage autosample: ML-100k (the BNS paper's split, a validation tenth carved from its train set
#   per user with seed 1) and Last.fm (train, valid, test), MF and LightGCN (d = 64, 3 layers,
#   Adam lr 1e-3, batch 1024, L2 1e-4, as the AutoSample paper): each candidate alone (uniform,
#   PNS, DNS, AOBPR, the defaults of -sampler_autosample_candidates) and AutoSample (search to
#   convergence, then the retrain with the candidate of largest weight), the logits' learning rate
#   over AUTO_LRS (the paper's grid is 3e-2 ... 1e-5); the table adds the search's final weights,
#   and OUT/autosample_weights.png draws the weights per epoch of each seed-1 AutoSample run.
# Every run evaluates the validation split every EVAL epochs (and the test split at its best
# one), up to EPOCHS epochs, and stops after PATIENCE evaluations without improvement.
# Writes OUT/table.md and OUT/results.json (scripts/learnable_table.py). A run whose summary
# exists is not repeated, so a stopped reproduction resumes; each run takes RANKS ranks, JOBS at a
# time. The full grids are long: one LightGCN epoch on Gowalla takes about a minute on 2 cores, an
# ANS one about three; the defaults below are the paper's grids for SDNS and a reduced one for ANS.
# Environment: RECNS_SHARED_DATA (default ../shared/data), OUT (default results/learnable), SEEDS
# ("1 2 3"), STAGES ("ans sdns autosample"), AUTO_LRS ("1e-2 1e-3 1e-4"), AUTO_MODELS ("mf
# lightgcn"), ANS_MODELS ("mf lightgcn"), EPOCHS (300), EVAL (5), PATIENCE (4),
# RANKS (2), JOBS (1), DNS_MS ("8 16 32"), ANS_MS ("16"), ANS_GAMMAS ("0 0.01 0.1"), ANS_EPSILONS
# ("0 0.1 0.5 1"), SDNS_HS ("8 16 32 64"), SDNS_TAUS ("0.05 0.1 0.2 0.3 0.4"), SDNS_LRS
# ("5e-4 1e-3 5e-3 1e-2"), RECNS_BIN_DIR (default build, made if absent).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/env.sh
shared="${RECNS_SHARED_DATA:-$root/../shared/data}"
out="${OUT:-$root/results/learnable}"
seeds="${SEEDS:-1 2 3}"
stages="${STAGES:-ans sdns autosample}"
jobs="${JOBS:-1}"
run_ranks="${RANKS:-2}"
bin="${RECNS_BIN_DIR:-$root/build}"
tool=reproduce_learnable
[ -n "${RECNS_BIN_DIR:-}" ] || [ -x build/recns_train ] || bash scripts/build.sh
needed=""
[[ " $stages " != *" ans "* && " $stages " != *" sdns "* ]] || needed="gowalla/train.txt gowalla/valid.txt gowalla/test.txt"
[[ " $stages " != *" autosample "* ]] || needed="$needed ml-100k/train.csv ml-100k/test.csv lastfm/train.txt lastfm/valid.txt lastfm/test.txt"
for file in $needed; do
  [ -f "$shared/$file" ] || { echo "$tool: $shared/$file is absent" >&2; exit 1; }
done
mkdir -p "$out"
gowalla="$out/gowalla.h5"
[ -f "$gowalla" ] || [ ! -f "$shared/gowalla/train.txt" ] ||
  "$bin/recns_convert" -format lightgcn -input "$shared/gowalla" -name gowalla -output "$gowalla"

source scripts/train_runs.sh
export out bin tool run_ranks
base="-model_dim 64 -loss_l2 1e-4 -optimizer_type adam
  -train_epochs ${EPOCHS:-300} -eval_interval ${EVAL:-5} -eval_patience ${PATIENCE:-4} -eval_ks 20,50
  -eval_metric recall@20 -checkpoint_every_epochs 0 -checkpoint_every_minutes 10"
batch=2048  # the ANS and SDNS papers'; the AutoSample stage sets its own
model_options() {  # model: its options, after the common ones
  case "$1" in
    mf) echo $base -train_batch_size $batch -model_type mf ;;  # unquoted: one line
    lightgcn) echo $base -train_batch_size $batch -model_type lightgcn -model_layers 3 ;;
    *) echo "$tool: unknown model $1" >&2; return 1 ;;
  esac
}
# The row's sampler: its type and the options every one of its runs has.
row_options() {
  case "$1" in
    uniform | pns | dns | aobpr | ans | autosample) echo "-sampler_type $1" ;;
    dns_bpr) echo "-sampler_type dns -loss_type bpr" ;;
    dns_soft) echo "-sampler_type dns -loss_type soft_bpr" ;;
  esac
}
chosen() {  # search prefix: the options of its best run
  /usr/bin/python3 scripts/learnable_table.py choose "$out" "$1"
}
# table_runs stage model row..: every seed of each row at its chosen setting, on the stage's
# dataset ($data, Gowalla unless set).
table_runs() {
  local stage="$1" model="$2"
  shift 2
  for row in "$@"; do
    local setting
    setting="$(chosen "search_${stage}_${model}_${row}_")"
    for seed in $seeds; do
      echo "table_${stage}_${model}_${row}_s$seed ${data:-$gowalla} $(model_options "$model") $(row_options "$row") $setting -train_seed $seed"
    done
  done | train_run_all
}

if [[ " $stages " == *" ans "* ]]; then
  for m in ${ANS_MODELS:-mf lightgcn}; do
    common="$gowalla $(model_options "$m") -optimizer_lr 1e-3 -train_seed 1"
    echo "search_ans_${m}_uniform_default $common $(row_options uniform)"
    for M in ${DNS_MS:-8 16 32}; do
      echo "search_ans_${m}_dns_M$M $common $(row_options dns) -sampler_dns_candidates $M"
    done
    for M in ${ANS_MS:-16}; do
      for g in ${ANS_GAMMAS:-0 0.01 0.1}; do
        for e in ${ANS_EPSILONS:-0 0.1 0.5 1}; do
          echo "search_ans_${m}_ans_M${M}_g${g}_e$e $common $(row_options ans) -sampler_ans_candidates $M -sampler_ans_gamma $g -sampler_ans_epsilon $e"
        done
      done
    done
  done | train_run_all
  for m in ${ANS_MODELS:-mf lightgcn}; do table_runs ans "$m" uniform dns ans; done
fi

if [[ " $stages " == *" sdns "* ]]; then
  common="$gowalla $(model_options lightgcn) -train_seed 1"
  for lr in ${SDNS_LRS:-5e-4 1e-3 5e-3 1e-2}; do
    for H in ${SDNS_HS:-8 16 32 64}; do
      echo "search_sdns_lightgcn_dns_bpr_H${H}_lr$lr $common $(row_options dns_bpr) -sampler_dns_candidates $H -optimizer_lr $lr"
      for tau in ${SDNS_TAUS:-0.05 0.1 0.2 0.3 0.4}; do
        echo "search_sdns_lightgcn_dns_soft_H${H}_t${tau}_lr$lr $common $(row_options dns_soft) -sampler_dns_candidates $H -loss_soft_bpr_tau $tau -optimizer_lr $lr"
      done
    done
  done | train_run_all
  table_runs sdns lightgcn dns_bpr dns_soft
  /usr/bin/python3 scripts/plot_runs.py "$out/table_sdns_lightgcn_dns_bpr_s${seeds%% *}.metrics.h5" \
    "$out/table_sdns_lightgcn_dns_soft_s${seeds%% *}.metrics.h5" --metrics recall@50,ndcg@50 \
    --labels "DNS + BPR,DNS + soft BPR" --title "Gowalla, LightGCN: validation curves" \
    -o "$out/sdns_curves.png"
fi
if [[ " $stages " == *" autosample "* ]]; then
  ml100k="$out/ml100k.h5"
  if [ ! -f "$ml100k" ]; then
    /usr/bin/python3 scripts/carve_validation.py "$shared/ml-100k/train.csv" "$out/ml100k_train.csv" \
      "$out/ml100k_valid.csv" --fraction 0.1 --seed 1
    "$bin/recns_convert" -format csv -train "$out/ml100k_train.csv" -valid "$out/ml100k_valid.csv" \
      -test "$shared/ml-100k/test.csv" -name ml-100k -output "$ml100k"
  fi
  lastfm="$out/lastfm.h5"
  [ -f "$lastfm" ] || "$bin/recns_convert" -format lightgcn -input "$shared/lastfm" -name lastfm \
    -output "$lastfm"
  batch=1024  # the AutoSample paper's
  for dataset in ml100k lastfm; do
    data="$out/$dataset.h5"
    for m in ${AUTO_MODELS:-mf lightgcn}; do
      common="$data $(model_options "$m") -optimizer_lr 1e-3 -train_seed 1"
      for row in uniform pns dns aobpr; do echo "search_auto_${dataset}_${m}_${row}_default $common $(row_options "$row")"; done
      for lr in ${AUTO_LRS:-1e-2 1e-3 1e-4}; do
        echo "search_auto_${dataset}_${m}_autosample_lr$lr $common $(row_options autosample) -sampler_autosample_lr $lr"
      done
    done | train_run_all
    for m in ${AUTO_MODELS:-mf lightgcn}; do table_runs "auto_$dataset" "$m" uniform pns dns aobpr autosample; done
  done
  /usr/bin/python3 scripts/learnable_table.py weights "$out" -o "$out/autosample_weights.png"
fi
/usr/bin/python3 scripts/learnable_table.py table "$out" --seeds $seeds
