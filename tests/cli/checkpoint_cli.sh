#!/usr/bin/env bash
# Whole-program checks of checkpoints and restarts with recns_train on 2 ranks:
#  1. SIGKILL in the middle of writing a checkpoint leaves the previous one intact, and
#     -restart auto resumes from it to the same end as an uninterrupted run, with the same
#     metrics rows (none repeated, none missing);
#  2. SIGTERM sent to one rank: every rank stops with exit code 4 after a checkpoint, and the
#     resumed run ends as the uninterrupted one;
#  3. damaged or foreign checkpoints (truncated, another version, another dataset, the same
#     dataset renumbered for locality, other structural options, AOBPR's other mode) give one
#     clear error line and exit code 2; -restart auto skips a truncated newest checkpoint with a
#     warning and takes the previous one.
set -euo pipefail
bin="${RECNS_BIN_DIR:?}"
work="$(mktemp -d /tmp/recns_checkpoint_cli.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cd "$work"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
run() { timeout 180 mpirun -q -n "$@"; }

"$bin/recns_convert" -format synthetic -synthetic_users 200 -synthetic_items 300 \
  -synthetic_mean_degree 10 -synthetic_communities 4 -valid_fraction 0.1 -output data.h5 >/dev/null
"$bin/recns_convert" -format synthetic -synthetic_users 200 -synthetic_items 300 \
  -synthetic_mean_degree 10 -synthetic_communities 4 -valid_fraction 0.1 -synthetic_seed 9 \
  -output other.h5 >/dev/null
# The same dataset renumbered for locality, under the same name and sizes: other pairs of ids.
"$bin/recns_convert" -format recns -input data.h5 -order locality -order_part_nodes 32 \
  -name data -output local.h5 >/dev/null
train() {  # folder extra-args...: a 2-rank run writing folder.{txt,json,h5} and folder/ checkpoints
  local name=$1
  shift
  run 2 "$bin/recns_train" data.h5 -model_type lightgcn -model_dim 8 -model_layers 2 \
    -train_batch_size 32 -eval_interval 1 -checkpoint_dir "$name" -metrics_file "$name.h5" \
    -summary "$name.json" "$@"
}
same_end() {  # reference run: same final summary, and the same metrics rows but wall seconds
  /usr/bin/python3 - "$1" "$2" <<'EOF'
import json, math, sys, h5py
a, b = sys.argv[1], sys.argv[2]
sa, sb = json.load(open(f"{a}.json")), json.load(open(f"{b}.json"))
for key in ("epochs_run", "final_loss", "best_epoch", "final", "best"):
    assert sa[key] == sb[key], (key, sa[key], sb[key])
with h5py.File(f"{a}.h5") as fa, h5py.File(f"{b}.h5") as fb:
    assert sorted(fa["epochs"]) == sorted(fb["epochs"])
    for column in fa["epochs"]:
        if column.startswith("seconds"):
            continue
        x, y = list(fa["epochs"][column][:]), list(fb["epochs"][column][:])
        same = len(x) == len(y) and all(p == q or (math.isnan(p) and math.isnan(q)) for p, q in zip(x, y))
        assert same, (column, x, y)
EOF
}
expect_error() {  # expected-text args...: exit code 2 and one line on stderr naming the problem
  local expected=$1 code=0
  shift
  run 2 "$bin/recns_train" "${dataset:-data.h5}" -model_type lightgcn -model_dim 8 -model_layers 2 \
    -train_batch_size 32 -metrics_file "" "$@" > stdout.txt 2> stderr.txt || code=$?
  if [ "$code" -ne 2 ] || [ "$(wc -l < stderr.txt)" -ne 1 ] ||
     ! grep -q "^recns_train: error: .*$expected" stderr.txt; then
    fail "$* -> exit $code, stderr: $(cat stderr.txt) (expected exit 2 and one line with '$expected')"
  fi
}

train reference -train_epochs 6 > reference.txt || fail "the reference run failed: $(cat reference.txt)"

# 1. Killed while writing its third checkpoint (after epoch 3): epoch 2's survives.
code=0
train killed -train_epochs 6 -checkpoint_test_kill 3 > killed.txt 2>&1 || code=$?
[ "$code" -ne 0 ] || fail "the run with -checkpoint_test_kill 3 was not killed"
ls killed/.checkpoint-*.tmp > /dev/null 2>&1 || fail "no partial checkpoint left by the kill"
ls killed/checkpoint-e000002-*.h5 > /dev/null 2>&1 || fail "the checkpoint before the kill is gone"
train killed -train_epochs 6 -restart auto > resumed.txt || fail "resuming after the kill failed"
grep -q "never finished" resumed.txt || fail "the partial checkpoint was not reported and removed"
grep -q "restart: resuming from killed/checkpoint-e000002-" resumed.txt ||
  fail "did not resume from epoch 2's checkpoint: $(grep restart resumed.txt)"
same_end reference killed || fail "the run resumed after a kill ends elsewhere than the reference"

# 2. SIGTERM to one rank of a longer run, then resume.
long_options=(-train_epochs 40 -train_batch_size 8)
train long_reference "${long_options[@]}" > long_reference.txt || fail "the long reference run failed"
train termed "${long_options[@]}" > termed.txt 2>&1 &
runner=$!
for _ in $(seq 600); do grep -q "^epoch    3/" termed.txt 2>/dev/null && break; sleep 0.1; done
ranks=$(pgrep -f "^$bin/recns_train data.h5 .*-checkpoint_dir termed" || true)
[ -n "$ranks" ] || fail "no rank process found to signal"
kill -TERM $(echo "$ranks" | tail -n 1) 2>/dev/null || true
code=0
wait "$runner" || code=$?
if [ "$code" -ne 4 ]; then
  fail "SIGTERM to one rank: exit code $code, expected 4: $(tail -n 3 termed.txt)"
else
  grep -q "stopped by a signal after .* steps: resume with -restart auto" termed.txt ||
    fail "no stop line: $(tail -n 2 termed.txt)"
  train termed "${long_options[@]}" -restart auto > termed_resumed.txt || fail "resuming after SIGTERM failed"
  same_end long_reference termed || fail "the run resumed after SIGTERM ends elsewhere than the reference"
fi

# 3. Damaged and foreign checkpoints.
newest=$(ls reference/checkpoint-*.h5 | tail -n 1)
mkdir -p damaged
cp "$newest" damaged/truncated.h5
truncate -s $(( $(stat -c %s "$newest") / 2 )) damaged/truncated.h5
expect_error "damaged/truncated.h5.*truncated" -restart damaged/truncated.h5 -checkpoint_dir ""
cp "$newest" damaged/version.h5
/usr/bin/python3 -c "import h5py, sys; f = h5py.File(sys.argv[1], 'r+'); f.attrs['version'] = 99" damaged/version.h5
expect_error "damaged/version.h5.*version 99" -restart damaged/version.h5 -checkpoint_dir ""
dataset=other.h5 expect_error "another dataset" -restart "$newest" -checkpoint_dir ""
dataset=local.h5 expect_error "training pairs, other pairs)" -restart "$newest" -checkpoint_dir ""
expect_error "model_layers 2; this run has 3" -restart "$newest" -checkpoint_dir "" -model_layers 3
expect_error "needs a -checkpoint_dir" -restart auto -checkpoint_dir ""
# AOBPR's exact and factor modes keep different state: either way round is refused.
for mode in exact factor; do
  train "aobpr_$mode" -train_epochs 1 -sampler_type aobpr -sampler_aobpr_mode "$mode" \
    > "aobpr_$mode.txt" || fail "the aobpr $mode run failed: $(tail -n 3 "aobpr_$mode.txt")"
done
for modes in "exact factor" "factor exact"; do
  read -r written resumed <<< "$modes"
  saved=$(ls "aobpr_$written"/checkpoint-*.h5 | tail -n 1)
  expect_error "checkpoint '$saved' holds the state of AOBPR's $written mode; this run uses its $resumed mode" \
    -restart "$saved" -checkpoint_dir "" -sampler_type aobpr -sampler_aobpr_mode "$resumed"
done
mkdir -p fallback
cp reference/checkpoint-*.h5 fallback/
truncate -s 1000 "fallback/$(basename "$newest")"
train fallback -train_epochs 6 -restart auto > fallback.txt || fail "-restart auto did not fall back"
grep -q "warning: restart: skipping fallback/$(basename "$newest")" fallback.txt ||
  fail "no warning about the truncated newest checkpoint: $(grep restart fallback.txt)"
grep -q "restart: resuming from fallback/checkpoint-e000005-" fallback.txt ||
  fail "did not fall back to the previous checkpoint: $(grep restart fallback.txt)"

[ "$failures" -eq 0 ] && echo "checkpoint_cli: all checks passed"
exit $((failures > 0))
