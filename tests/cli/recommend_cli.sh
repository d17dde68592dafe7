#!/usr/bin/env bash
# Whole-program checks of recns_recommend on a small MF run (whose final embeddings are its
# checkpoint's rows, so Python can score them):
#  1. the CSV lists the same items at 1, 2 and 4 ranks, each user's list is a top-K of a NumPy full
#     ranking with the exclusions of -exclude, and the HDF5 output holds the same lists;
#  2. with -exclude train_valid and -k 20 the lists give, user by user, the metrics the final
#     test evaluation wrote with -eval_per_user (the lists equal the evaluator's);
#  3. raw ids round-trip: users named by raw id (list or file) come back under the same ids,
#     items under the dataset's raw item ids;
#  4. -help lists every option; bad inputs give exit code 2 and one line on rank 0.
set -euo pipefail
bin="${RECNS_BIN_DIR:?}"
work="$(mktemp -d /tmp/recns_recommend_cli.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cd "$work"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
run() { timeout 120 mpirun -q -n "$@"; }

"$bin/recns_convert" -format synthetic -synthetic_users 70 -synthetic_items 50 \
  -synthetic_mean_degree 8 -synthetic_communities 4 -valid_fraction 0.1 -output data.h5 >/dev/null
"$bin/recns_convert" -format synthetic -synthetic_users 70 -synthetic_items 50 \
  -synthetic_mean_degree 8 -synthetic_communities 4 -valid_fraction 0.1 -synthetic_seed 9 \
  -output other.h5 >/dev/null
# Raw ids unlike the dataset ids.
/usr/bin/python3 - <<'EOF'
import h5py
with h5py.File("data.h5", "r+") as f:
    f["users/raw_id"] = [f"u{3 * u + 1}" for u in range(f.attrs["num_users"])]
    f["items/raw_id"] = [f"i{5 * i + 2}" for i in range(f.attrs["num_items"])]
EOF
run 2 "$bin/recns_train" data.h5 -model_type mf -model_dim 8 -train_epochs 3 -train_batch_size 32 \
  -eval_ks 5,20 -eval_per_user -metrics_file metrics.h5 -checkpoint_dir ck > train.txt ||
  fail "training failed: $(cat train.txt)"
checkpoint="$(ls ck/checkpoint-e000003-*.h5)"

# 1. Every rank count writes the same file; it is a correct top-K; the HDF5 output agrees.
for ranks in 1 2 4; do
  run $ranks "$bin/recns_recommend" data.h5 -checkpoint "$checkpoint" -k 7 -exclude train_valid \
    -output "top_$ranks.csv" > "out_$ranks.txt" || fail "recommend at $ranks ranks: $(cat "out_$ranks.txt")"
done
# The same users and items in the same places; scores may differ in the last bits, as the GEMM
# blocks users differently at another rank count (checked against NumPy below).
for ranks in 2 4; do
  cmp -s <(cut -d, -f1-3 top_1.csv) <(cut -d, -f1-3 "top_$ranks.csv") ||
    fail "1 and $ranks ranks wrote different lists"
done
grep -q "wrote top_2.csv: top 7 for 70 users" out_2.txt || fail "no summary line: $(cat out_2.txt)"
for exclude in none train all; do
  run 2 "$bin/recns_recommend" data.h5 -checkpoint "$checkpoint" -k 50 -exclude $exclude \
    -output "all_$exclude.csv" > /dev/null || fail "recommend -exclude $exclude failed"
done
run 2 "$bin/recns_recommend" data.h5 -checkpoint "$checkpoint" -k 7 -exclude train_valid \
  -output top.h5 -eval_item_block 3 > /dev/null || fail "recommend to HDF5 failed"
/usr/bin/python3 - "$checkpoint" <<'EOF' || fail "the lists are not the top-K of a full ranking"
import csv, sys, h5py, numpy as np
with h5py.File(sys.argv[1]) as f:
    users, items = f["model/user_embedding"][:], f["model/item_embedding"][:]
with h5py.File("data.h5") as f:
    user_raw = [s.decode() for s in f["users/raw_id"][:]]
    item_raw = [s.decode() for s in f["items/raw_id"][:]]
    splits = {s: (f[f"{s}/indptr"][:], f[f"{s}/indices"][:]) for s in ("train", "valid", "test")}
user_id = {r: u for u, r in enumerate(user_raw)}
item_id = {r: i for i, r in enumerate(item_raw)}
def row(split, u):
    indptr, indices = splits[split]
    return set(indices[indptr[u]:indptr[u + 1]].tolist())
def read(path):
    lists = {}
    with open(path) as f:
        reader = csv.reader(f)
        assert next(reader) == ["user", "rank", "item", "score"]
        for user, rank, item, score in reader:
            lists.setdefault(user_id[user], []).append((int(rank), item_id[item], float(score)))
    return lists
def check(path, excluded, k):
    lists = read(path)
    assert sorted(lists) == list(range(len(users))), path
    for u, ranked in lists.items():
        assert [r for r, _, _ in ranked] == list(range(1, len(ranked) + 1)), (path, u)
        skip = set().union(*(row(s, u) for s in excluded))
        candidates = [i for i in range(len(items)) if i not in skip]
        scores = users[u] @ items.T
        expected = sorted(candidates, key=lambda i: (-scores[i], i))[:k]
        assert len(ranked) == len(expected), (path, u, len(ranked), len(expected))
        for (_, item, score), want in zip(ranked, expected):
            assert item not in skip, (path, u, item)
            # Equal up to the GEMM's rounding: the item's score is the expected one at that place.
            assert abs(scores[item] - scores[want]) <= 1e-12 and abs(score - scores[item]) <= 1e-12, (path, u)
check("top_1.csv", ["train", "valid"], 7)
check("all_none.csv", [], 50)
check("all_train.csv", ["train"], 50)
check("all_all.csv", ["train", "valid", "test"], 50)
assert any(len(v) < 50 for v in read("all_all.csv").values())  # K beyond the unseen items
lists = read("top_1.csv")
with h5py.File("top.h5") as f:
    assert f.attrs["format"] == "recns-recommendations" and f.attrs["k"] == 7
    assert f["user"][:].tolist() == list(range(len(users)))
    for u, length, row_items, row_scores in zip(f["user"][:], f["length"][:], f["item"][:], f["score"][:]):
        assert [i for _, i, _ in lists[u]] == row_items[:length].tolist(), u
        assert max(abs(s - t) for (_, _, s), t in zip(lists[u], row_scores[:length])) <= 1e-12, u
        assert np.isnan(row_scores[length:]).all()
        assert (row_items[length:] == -1).all()
EOF

# 2. The evaluator's lists: recall, NDCG, precision and HR per user from the CSV equal the final
# test evaluation's per-user metrics (the last checkpoint holds the final epoch's parameters).
run 2 "$bin/recns_recommend" data.h5 -checkpoint "$checkpoint" -k 20 -exclude train_valid \
  -output top20.csv > /dev/null || fail "recommend -k 20 failed"
/usr/bin/python3 - <<'EOF' || fail "the lists do not give the evaluator's per-user metrics"
import csv, math, h5py
with h5py.File("data.h5") as f:
    user_raw = [s.decode() for s in f["users/raw_id"][:]]
    item_raw = [s.decode() for s in f["items/raw_id"][:]]
    indptr, indices = f["test/indptr"][:], f["test/indices"][:]
user_id = {r: u for u, r in enumerate(user_raw)}
item_id = {r: i for i, r in enumerate(item_raw)}
lists = {}
with open("top20.csv") as f:
    for user, rank, item, score in list(csv.reader(f))[1:]:
        lists.setdefault(user_id[user], []).append(item_id[item])
with h5py.File("metrics.h5") as f:
    g = f["test_users"]
    assert g.attrs["split"] == "test"
    evaluated = g["user"][:].tolist()
    assert evaluated == [u for u in range(len(user_raw)) if indptr[u + 1] > indptr[u]]
    for n, u in enumerate(evaluated):
        truth = set(indices[indptr[u]:indptr[u + 1]].tolist())
        for k in (5, 20):
            top = lists[u][:k]
            hits = [1.0 if i in truth else 0.0 for i in top]
            dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
            idcg = sum(1 / math.log2(r + 2) for r in range(min(k, len(truth))))
            want = {"recall": sum(hits) / len(truth), "precision": sum(hits) / k,
                    "hr": float(sum(hits) > 0), "ndcg": dcg / idcg}
            for name, value in want.items():
                assert abs(g[f"{name}@{k}"][n] - value) < 1e-12, (u, name, k, g[f"{name}@{k}"][n], value)
    assert g["truth_items"][:].tolist() == [int(indptr[u + 1] - indptr[u]) for u in evaluated]
EOF

# 3. Users by raw id, as a list and as a file, in any order and repeated: each once, same ids.
run 2 "$bin/recns_recommend" data.h5 -checkpoint "$checkpoint" -k 3 -users u31,u4,u208,u4 \
  -output some.csv > /dev/null || fail "-users list failed"
printf 'u208\nu4, u31\n' > users.txt
run 2 "$bin/recns_recommend" data.h5 -checkpoint "$checkpoint" -k 3 -users users.txt \
  -output some_file.csv > /dev/null || fail "-users file failed"
cmp -s some.csv some_file.csv || fail "-users as a list and as a file differ"
[ "$(cut -d, -f1 some.csv | tail -n +2 | uniq | tr '\n' ' ')" = "u4 u31 u208 " ] ||
  fail "raw user ids did not round-trip: $(cat some.csv)"
grep -E -q "^u4,1,i[0-9]+," some.csv || fail "items are not named by raw id: $(cat some.csv)"
grep -F "u4," top_1.csv | head -3 | cmp -s - <(grep -F "u4," some.csv) ||
  fail "a chosen user's list differs from its list among all users"
run 2 "$bin/recns_recommend" data.h5 -checkpoint "$checkpoint" -k 3 -user_sample 20 \
  -output sample.csv > /dev/null || fail "-user_sample failed"
sampled=$(tail -n +2 sample.csv | cut -d, -f1 | sort -u | wc -l)
[ "$sampled" -gt 3 ] && [ "$sampled" -lt 60 ] || fail "-user_sample 20 gave $sampled users"

# 4. -help, and bad inputs: exit 2 and one line on stderr naming the problem.
"$bin/recns_recommend" -help > help.txt 2>&1 || fail "-help exited non-zero"
for option in dataset checkpoint k users user_sample sample_seed exclude output output_format \
  eval_item_block progress_seconds; do
  grep -q -- "-$option " help.txt || fail "-help does not list -$option"
done
expect_error() {  # ranks expected-text args...
  local ranks=$1 expected=$2
  shift 2
  local code=0
  run "$ranks" "$bin/recns_recommend" "$@" > stdout.txt 2> stderr.txt || code=$?
  if [ "$code" -ne 2 ]; then fail "$* -> exit $code, expected 2: $(cat stderr.txt)"; return; fi
  if [ "$(wc -l < stderr.txt)" -ne 1 ] || ! grep -q -F -- "$expected" stderr.txt ||
     ! grep -q "^recns_recommend: error: " stderr.txt; then
    fail "$* -> stderr: $(cat stderr.txt) (expected one line with '$expected')"
  fi
}
head -c 2000 "$checkpoint" > truncated.h5
# Each check at 2 ranks (the message comes once, from rank 0); the first three at 1 rank too.
for ranks in 1 2; do
  expect_error $ranks "user 'u5' and 1 more is not a user of data.h5" data.h5 -checkpoint "$checkpoint" \
    -users u4,u5,nobody
  expect_error $ranks "-k 51 is larger than the catalogue of data.h5 (50 items)" data.h5 \
    -checkpoint "$checkpoint" -k 51
  expect_error $ranks "was written for another dataset" other.h5 -checkpoint "$checkpoint"
done
expect_error 2 "no checkpoint: give one with -checkpoint FILE" data.h5
expect_error 2 "-checkpoint missing.h5: no such file" data.h5 -checkpoint missing.h5
expect_error 2 "truncated.h5" data.h5 -checkpoint truncated.h5
expect_error 2 "Unknown option sometimes for -exclude" data.h5 -checkpoint "$checkpoint" \
  -exclude sometimes
expect_error 2 "-k must be >= 1" data.h5 -checkpoint "$checkpoint" -k 0
expect_error 2 "give -users or -user_sample, not both" data.h5 -checkpoint "$checkpoint" \
  -users u4 -user_sample 3
expect_error 2 "no dataset" -checkpoint "$checkpoint"
expect_error 2 "-output data.h5 is an input file" data.h5 -checkpoint "$checkpoint" -output data.h5
expect_error 2 "-output nofolder/x.csv: cannot write there" data.h5 -checkpoint "$checkpoint" \
  -output nofolder/x.csv
expect_error 2 "unexpected argument 'stray'" data.h5 stray -checkpoint "$checkpoint"

if [ "$failures" -ne 0 ]; then
  echo "recommend_cli: $failures failure(s)"
  exit 1
fi
echo "recommend_cli: all checks passed"
