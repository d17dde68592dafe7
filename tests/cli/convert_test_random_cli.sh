#!/usr/bin/env bash
# The Yahoo! R3 shape end to end on tiny files: recns_convert -format csv with -test_random and
# -exposure writes /test_random and /exposure without changing the user file's split; one epoch
# of recns_train reports the random test split beside the test split (final lines, summary,
# metrics file), and -eval_test_random 0 leaves it out. A bad line of a side file is one error
# line naming the file and the line. Exit 77 (skip) when the programs are not built.
set -euo pipefail

bin="${RECNS_BIN_DIR:-}"
[[ -x $bin/recns_convert && -x $bin/recns_train ]] || { echo "skipping: programs not built"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"  # files a run writes by default (checkpoints/) stay in the scratch folder

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
run() { timeout 120 mpirun -q -n "$@"; }

# user.csv: 20 users rate 12 of 30 items each, ratings 1..5; random.csv: every second user rates
# 5 items (ratings 5..1). No header, 0-based ids, as Yahoo! R3's files.
for u in $(seq 0 19); do for k in $(seq 0 11); do
  echo "$u,$(((u * 3 + k * 7) % 30)),$((1 + (u + k) % 5))"
done; done >user.csv
for u in $(seq 0 2 19); do for k in 0 1 2 3 4; do
  echo "$u,$(((u * 3 + k * 11 + 1) % 30)),$((5 - k))"
done; done >random.csv
printf '0,1\n3,4\n5,29\n' >shown.csv
printf '0,1\n3\n' >bad_shown.csv

split=(-format csv -input user.csv -rating_threshold 4 -exposure_threshold 2
  -valid_fraction 0.1 -test_fraction 0.1 -split_seed 2024)
"$bin/recns_convert" "${split[@]}" -output alone.h5 >alone.log 2>&1 || fail "alone: $(cat alone.log)"
"$bin/recns_convert" "${split[@]}" -test_random random.csv -exposure shown.csv -output with.h5 \
  >with.log 2>&1 || fail "with -test_random: $(cat with.log)"
grep -q "^recns_convert: wrote with.h5: 20 users, 30 items; .*, test_random [1-9][0-9]*;" with.log ||
  fail "no test_random count in: $(cat with.log)"

/usr/bin/python3 <<'PY' || fail "the datasets differ where they should not"
import h5py
with h5py.File("alone.h5") as a, h5py.File("with.h5") as w:
    assert "test_random" not in a and "test_random" in w
    for split in ("train", "valid", "test"):
        for part in ("indptr", "indices"):
            assert (a[f"{split}/{part}"][:] == w[f"{split}/{part}"][:]).all(), split
    assert w["test_random/indptr"].shape == w["test/indptr"].shape
    assert w["exposure/indices"].shape[0] >= a["exposure/indices"].shape[0]
PY

# One epoch on 2 ranks: the final report names the random split.
train=(-model_type mf -model_dim 8 -train_epochs 1 -train_batch_size 16 -eval_ks 5,10
  -eval_metric ndcg@10)
run 2 "$bin/recns_train" with.h5 "${train[@]}" -metrics_file metrics.h5 -summary summary.json \
  >train.log 2>&1 || fail "training failed: $(cat train.log)"
grep -q "^final (epoch 1) test:" train.log || fail "no final test line: $(cat train.log)"
grep -q "^final (epoch 1) test_random ([1-9][0-9]* users): recall@5 " train.log ||
  fail "no final test_random line: $(cat train.log)"
/usr/bin/python3 <<'PY' || fail "summary or metrics file lacks test_random"
import json, math, h5py
summary = json.load(open("summary.json"))
assert 0 <= summary["final"]["test_random"]["recall@10"] <= 1, summary["final"]
assert summary["eval_users_test_random"] > 0
with h5py.File("metrics.h5") as f:
    column = f["epochs/test_random_ndcg@10"][:]
    assert math.isnan(column[0]) and not math.isnan(column[-1]), column
PY
run 1 "$bin/recns_train" with.h5 "${train[@]}" -eval_test_random 0 >off.log 2>&1 ||
  fail "-eval_test_random 0: $(cat off.log)"
if grep -q test_random off.log; then fail "-eval_test_random 0 still reports it: $(cat off.log)"; fi

# A bad side file: exit code 2, one line naming file and line, no output left.
code=0
"$bin/recns_convert" "${split[@]}" -exposure bad_shown.csv -output bad.h5 >bad.log 2>&1 || code=$?
[[ $code -eq 2 && $(wc -l <bad.log) -eq 1 ]] || fail "exit $code: $(cat bad.log)"
grep -qF "bad_shown.csv:2: malformed line: 1 field(s), expected 2" bad.log || fail "$(cat bad.log)"
[[ ! -e bad.h5 ]] || fail "bad.h5 left behind"
code=0
"$bin/recns_convert" -format lightgcn -input . -test_random random.csv -output bad.h5 >bad.log 2>&1 ||
  code=$?
[[ $code -eq 2 ]] && grep -qF -- "-test_random and -exposure apply to -format csv only" bad.log ||
  fail "exit $code: $(cat bad.log)"

# -help lists the new options.
"$bin/recns_convert" -help >help.txt 2>&1 || fail "recns_convert -help"
for option in test_random exposure; do
  grep -q -- "-$option " help.txt || fail "recns_convert -help does not list -$option"
done
"$bin/recns_train" -help >help.txt 2>&1 || fail "recns_train -help"
grep -q -- "-eval_test_random:" help.txt || fail "recns_train -help does not list -eval_test_random"
echo "convert_test_random_cli: all checks passed"
