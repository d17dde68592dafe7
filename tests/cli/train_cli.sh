#!/usr/bin/env bash
# Whole-program checks of recns_train: a small run writes its metrics and summary; -help lists
# every option; each bad input gives exit code 2 and exactly one line "recns_train: error: ..."
# naming the problem, on every rank count, without hanging.
set -euo pipefail
bin="${RECNS_BIN_DIR:?}"
work="$(mktemp -d /tmp/recns_train_cli.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cd "$work"  # files a run writes by default (checkpoints/, metrics.h5) stay in the scratch folder
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
run() { timeout 120 mpirun -q -n "$@"; }

"$bin/recns_convert" -format synthetic -synthetic_users 60 -synthetic_items 90 \
  -synthetic_mean_degree 8 -synthetic_communities 4 -valid_fraction 0.1 -output "$work/small.h5" >/dev/null

# 1. A short run on 2 ranks writes one metrics row per epoch plus the final one, and a summary.
run 2 "$bin/recns_train" "$work/small.h5" -model_type lightgcn -model_dim 8 -model_layers 2 \
  -train_epochs 4 -eval_interval 2 -train_batch_size 32 -metrics_file "$work/metrics.h5" \
  -summary "$work/summary.json" > "$work/out.txt" || fail "a valid run failed: $(cat "$work/out.txt")"
grep -q "epoch    4/4" "$work/out.txt" || fail "no line for epoch 4"
grep -q "final (epoch 4) test:" "$work/out.txt" || fail "no final test line"
/usr/bin/python3 - "$work" <<'EOF' || fail "summary or metrics file malformed"
import json, sys, h5py, math
work = sys.argv[1]
summary = json.load(open(f"{work}/summary.json"))
assert summary["epochs_run"] == 4 and summary["ranks"] == 2, summary
assert 0 <= summary["final"]["test"]["recall@20"] <= 1
assert summary["best"]["epoch"] in (2, 4) and "valid" in summary["best"]
with h5py.File(f"{work}/metrics.h5") as f:
    assert f.attrs["format"] == "recns-metrics"
    epochs = list(f["epochs/epoch"][:])
    assert epochs == [1, 2, 3, 4, 4], epochs
    valid, test = f["epochs/valid_recall@20"][:], f["epochs/test_recall@20"][:]
    assert [math.isnan(v) for v in valid] == [True, False, True, False, True], valid
    assert [math.isnan(t) for t in test] == [True] * 4 + [False], test
    assert all(not math.isnan(loss) for loss in f["epochs/loss"][:])
EOF

# 2. -help lists every option with no dataset needed, and exits 0.
"$bin/recns_train" -help > "$work/help.txt" 2>&1 || fail "-help exited non-zero"
for option in dataset model_type model_dim model_layers model_init model_init_std sampler_type \
  sampler_num_negatives loss_type loss_l2 optimizer_type optimizer_lr optimizer_lr_decay_every \
  optimizer_lr_decay_rate optimizer_weight_decay optimizer_adam_beta1 optimizer_adam_beta2 \
  optimizer_adam_epsilon train_epochs train_batch_size train_seed eval_interval eval_metric \
  eval_patience eval_ks eval_test_random metrics_file summary checkpoint_dir \
  checkpoint_every_epochs checkpoint_every_minutes checkpoint_keep restart checkpoint_test_kill; do
  grep -q -- "-$option" "$work/help.txt" || fail "-help does not list -$option"
done

# 3. Bad inputs: exit 2, one line on stderr naming the problem.
expect_error() {  # ranks expected-text args...
  local ranks=$1 expected=$2
  shift 2
  local code=0
  run "$ranks" "$bin/recns_train" "$@" -metrics_file "$work/bad_metrics.h5" \
    > "$work/stdout.txt" 2> "$work/stderr.txt" || code=$?
  local lines
  lines=$(wc -l < "$work/stderr.txt")
  if [ "$code" -ne 2 ]; then fail "$* -> exit $code, expected 2"; return; fi
  if [ "$lines" -ne 1 ] || ! grep -q "^recns_train: error: .*$expected" "$work/stderr.txt"; then
    fail "$* -> stderr: $(cat "$work/stderr.txt") (expected one line with '$expected')"
  fi
}
head -c 3000 "$work/small.h5" > "$work/truncated.h5"
echo "-model_dim xyz" > "$work/bad_value.opts"
echo "user,item" > "$work/text.h5"
/usr/bin/python3 - "$work" <<'EOF'
import h5py, shutil, sys
work = sys.argv[1]
for name, key, value in [("version", "version", 99), ("foreign", "format", "something-else")]:
    shutil.copy(f"{work}/small.h5", f"{work}/{name}.h5")
    with h5py.File(f"{work}/{name}.h5", "r+") as f:
        f.attrs[key] = value
shutil.copy(f"{work}/small.h5", f"{work}/no_items.h5")
with h5py.File(f"{work}/no_items.h5", "r+") as f:
    f.attrs["num_items"] = 0
shutil.copy(f"{work}/small.h5", f"{work}/badid.h5")
with h5py.File(f"{work}/badid.h5", "r+") as f:
    f["train/indices"][0] = 10**6
with h5py.File(f"{work}/three_users.h5", "w") as f:
    f.attrs["format"] = "recns-dataset"; f.attrs["version"] = 1
    f.attrs["num_users"] = 3; f.attrs["num_items"] = 5; f.attrs["name"] = "three"
    for split, rows in [("train", [[0, 1], [2], [3, 4]]), ("test", [[2], [0], [1]])]:
        f[f"{split}/indptr"] = [0] + list(__import__("itertools").accumulate(len(r) for r in rows))
        f[f"{split}/indices"] = [i for r in rows for i in r]
EOF
for ranks in 1 2; do
  expect_error $ranks "no such file" "$work/missing.h5"
  expect_error $ranks "truncated" "$work/truncated.h5"
  expect_error $ranks "truncated" "$work/text.h5"
  expect_error $ranks "version 99" "$work/version.h5"
  expect_error $ranks "something-else" "$work/foreign.h5"
  expect_error $ranks "outside" "$work/badid.h5"
  expect_error $ranks "no dataset" -train_epochs 1
  expect_error $ranks "Unknown option foo for -model_type" "$work/small.h5" -model_type foo
  expect_error $ranks "Unknown option bar for -sampler_type" "$work/small.h5" -sampler_type bar
  expect_error $ranks "model_dim must be positive" "$work/small.h5" -model_dim -3
  expect_error $ranks "optimizer_lr must be a finite number > 0" "$work/small.h5" -optimizer_lr -0.1
  expect_error $ranks "optimizer_lr must be a finite number > 0 (got inf)" "$work/small.h5" -optimizer_lr inf
  expect_error $ranks "model_init_std must be a finite number" "$work/small.h5" -model_init_std inf
  expect_error $ranks "summary $work/small.h5 is the dataset" "$work/small.h5" -summary "$work/small.h5"
  expect_error $ranks "cannot write '$work/no_folder/s.json'" "$work/small.h5" -summary "$work/no_folder/s.json"
  expect_error $ranks "train_batch_size" "$work/small.h5" -train_batch_size 0
  expect_error $ranks "eval_metric" "$work/small.h5" -eval_metric recall@50
  # A value PETSc cannot convert names the option, however the option was given.
  expect_error $ranks "-model_dim: 'abc' is not an integer" "$work/small.h5" -model_dim abc
  expect_error $ranks "-train_epochs: '1.5' is not an integer" "$work/small.h5" -train_epochs 1.5
  expect_error $ranks "-optimizer_lr: 'abc' is not a number" "$work/small.h5" -optimizer_lr abc
  expect_error $ranks "-eval_ks: 'abc' is not an integer" "$work/small.h5" -eval_ks 10,abc
  expect_error $ranks "-train_needed_rows_only: 'maybe' is not true or false" "$work/small.h5" \
    -train_needed_rows_only maybe
  expect_error $ranks "-model_dim: 'xyz' is not an integer" "$work/small.h5" \
    -options_file "$work/bad_value.opts"
  expect_error $ranks "-options_file $work/missing.opts: no such file" "$work/small.h5" \
    -options_file "$work/missing.opts"
  expect_error $ranks "$work: is a directory" "$work"
  expect_error $ranks "checkpoint '$work': is a directory" "$work/small.h5" -restart "$work"
done
expect_error 2 "no_items.h5: the dataset is empty (60 users, 0 items)" "$work/no_items.h5"
expect_error 2 "two datasets given: '$work/small.h5' and -dataset '$work/badid.h5'" \
  "$work/small.h5" -dataset "$work/badid.h5"
expect_error 2 "unexpected argument '$work/badid.h5'" "$work/small.h5" "$work/badid.h5"
expect_error 2 "-eval_ks gives the cut-off 20 twice" "$work/small.h5" -eval_ks 20,20,10
expect_error 2 "-eval_patience 2 needs -eval_interval > 0" "$work/small.h5" -eval_patience 2 \
  -eval_interval 0
expect_error 4 "4 ranks but only 3 users" "$work/three_users.h5"
[ ! -e "$work/bad_metrics.h5" ] || fail "a failed run left a metrics file behind"

# 4. The metrics file may not be the dataset (it would replace it), and a run whose loss stops
# being finite ends with one line, exit 2, instead of training on NaN.
cp "$work/small.h5" "$work/kept.h5"
code=0
run 2 "$bin/recns_train" "$work/kept.h5" -metrics_file "$work/kept.h5" 2> "$work/stderr.txt" >/dev/null || code=$?
[ "$code" -eq 2 ] && grep -q "metrics_file $work/kept.h5 is the dataset" "$work/stderr.txt" ||
  fail "-metrics_file naming the dataset: exit $code, $(cat "$work/stderr.txt")"
cmp -s "$work/small.h5" "$work/kept.h5" || fail "-metrics_file naming the dataset changed it"
code=0
run 2 "$bin/recns_train" "$work/small.h5" -model_dim 8 -train_epochs 3 -train_batch_size 32 \
  -optimizer_type sgd -optimizer_lr 1e8 -metrics_file "" -checkpoint_dir "" \
  > "$work/stdout.txt" 2> "$work/stderr.txt" || code=$?
[ "$code" -eq 2 ] && [ "$(wc -l < "$work/stderr.txt")" -eq 1 ] &&
  grep -q "^recns_train: error: $work/small.h5: training diverged: the loss is" "$work/stderr.txt" ||
  fail "a diverging run: exit $code, $(cat "$work/stderr.txt")"
grep -q "epoch    3/3" "$work/stdout.txt" && fail "a diverging run trained to the end"

if [ "$failures" -ne 0 ]; then
  echo "train_cli: $failures failure(s)"
  exit 1
fi
echo "train_cli: all checks passed"
