#!/usr/bin/env bash
# Reproduces the RNS rows of the BNS paper's Table II on MovieLens-100k: MF and LightGCN with
# uniform negatives, in the paper's settings (decks input/ml100k_mf.opts, input/ml100k_lightgcn.opts),
# on the paper's exact 80/20 split (../shared/data/ml-100k; all ratings positive, no validation
# split), reporting the final epoch's test metrics as the paper did.
# Writes results/ml100k/table.md, results/ml100k/results.json and results/ml100k/curves.png
# (scripts/plot_runs.py: loss and test Recall@20 and NDCG@20 per epoch); about 10 minutes on 2 cores.
# Environment: RECNS_SHARED_DATA (default ../shared/data), OUT (default results/ml100k),
# RANKS (default 1).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/env.sh
data="${RECNS_SHARED_DATA:-$root/../shared/data}/ml-100k"
out="${OUT:-$root/results/ml100k}"
ranks="${RANKS:-1}"
[ -f "$data/train.csv" ] || { echo "reproduce_ml100k: $data/train.csv is absent" >&2; exit 1; }
[ -x build/recns_train ] || bash scripts/build.sh
mkdir -p "$out"
build/recns_convert -format csv -train "$data/train.csv" -test "$data/test.csv" -name ml-100k \
  -output "$out/ml100k.h5"
for model in mf lightgcn; do
  echo "reproduce_ml100k: training $model on $ranks rank(s)"
  mpirun -q -n "$ranks" build/recns_train "$out/ml100k.h5" -options_file "input/ml100k_$model.opts" \
    -metrics_file "$out/$model.metrics.h5" -summary "$out/$model.summary.json" \
    -checkpoint_dir "$out/$model.checkpoints" | tee "$out/$model.log"
done
/usr/bin/python3 scripts/ml100k_table.py "$out"
/usr/bin/python3 scripts/plot_runs.py "$out/mf.metrics.h5" "$out/lightgcn.metrics.h5" \
  -o "$out/curves.png" --title "MovieLens-100k, uniform negatives"
cat "$out/table.md"
