#!/usr/bin/env bash
# The after-training scripts on real runs and on a hand-made case:
#  1. two short runs (uniform and DNS negatives, -eval_per_user): scripts/plot_runs.py writes a
#     PNG, and scripts/compare_runs.py a table whose figures are SciPy's on the files' per-user
#     metrics;
#  2. a fixed case of five users whose t statistic, p-values and Wilcoxon statistic are computed
#     by hand here (Student's t CDF in closed form for 4 degrees of freedom, the exact Wilcoxon
#     distribution by enumerating the 2^5 sign patterns) and must equal the script's and SciPy's;
#  3. runs that evaluated different users or splits give a warning; bad inputs exit 2.
set -euo pipefail
bin="${RECNS_BIN_DIR:?}"
src="${RECNS_SOURCE_DIR:?}"
work="$(mktemp -d /tmp/recns_runs_scripts_cli.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cd "$work"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
py=/usr/bin/python3

"$bin/recns_convert" -format synthetic -synthetic_users 80 -synthetic_items 60 \
  -synthetic_mean_degree 8 -synthetic_communities 4 -valid_fraction 0.1 -output data.h5 >/dev/null
for sampler in uniform dns; do
  timeout 120 mpirun -q -n 2 "$bin/recns_train" data.h5 -model_type mf -model_dim 8 -train_epochs 4 \
    -train_batch_size 32 -sampler_type $sampler -eval_per_user -metrics_file "$sampler.h5" \
    -checkpoint_dir "" > "$sampler.txt" || fail "training with $sampler failed: $(cat "$sampler.txt")"
done

# 1. The plot and the table of the real runs.
$py "$src/scripts/plot_runs.py" uniform.h5 dns.h5 -o runs.png --metrics recall@20,ndcg@10 > plot.txt ||
  fail "plot_runs.py failed: $(cat plot.txt)"
$py - <<'EOF' || fail "runs.png is not a PNG image"
data = open("runs.png", "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, len(data)
EOF
$py "$src/scripts/compare_runs.py" uniform.h5 dns.h5 --metrics recall@20,ndcg@20 -o table.md \
  --json table.json 2> compare.err || fail "compare_runs.py failed: $(cat compare.err)"
[ ! -s compare.err ] || fail "runs of one split gave warnings: $(cat compare.err)"
grep -q "| recall@20 | dns · mf |" table.md || fail "table lacks the DNS row: $(cat table.md)"
$py - <<'EOF' || fail "the table's figures are not SciPy's on the per-user metrics"
import json, h5py, numpy as np
from scipy import stats
figures = json.load(open("table.json"))["metrics"]
with h5py.File("uniform.h5") as a, h5py.File("dns.h5") as b:
    assert (a["test_users/user"][:] == b["test_users/user"][:]).all()
    for metric in ("recall@20", "ndcg@20"):
        x, y = a[f"test_users/{metric}"][:], b[f"test_users/{metric}"][:]
        got = figures[metric]["dns · mf"]
        t, w = stats.ttest_rel(y, x), stats.wilcoxon(y, x)
        assert got["n"] == len(x) and abs(got["mean"] - y.mean()) < 1e-15, got
        assert abs(got["diff"] - (y - x).mean()) < 1e-15, got
        assert got["t"] == t.statistic and got["p_t"] == t.pvalue, (got, t)
        assert got["w"] == w.statistic and got["p_w"] == w.pvalue, (got, w)
        # The summed per-user metrics are the run's mean test metric (the final row).
        final = b["epochs/test_" + metric][-1]
        assert abs(y.mean() - final) < 1e-12, (y.mean(), final)
EOF

# 2. A case computed by hand: five users, differences 0.3, -0.1, 0.2, 0.5, 0.4.
$py - <<'EOF'
import h5py, numpy as np
def write(path, users, values, fingerprint="f0"):
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "recns-metrics"; f.attrs["version"] = 1
        f.attrs["sampler_type"] = path[:-3]; f.attrs["model_type"] = "mf"
        f.create_group("epochs")
        g = f.create_group("test_users")
        g.attrs["split"] = "test"; g.attrs["dataset_name"] = "hand"; g.attrs["train_fingerprint"] = fingerprint
        g["user"] = np.array(users, dtype=np.int64)
        g["truth_items"] = np.ones(len(users), dtype=np.int32)
        g["recall@20"] = np.array(values, dtype=np.float64)
base = [0.1, 0.5, 0.2, 0.3, 0.1]
write("a.h5", [0, 2, 3, 5, 8], base)
write("b.h5", [0, 2, 3, 5, 8], [x + d for x, d in zip(base, [0.3, -0.1, 0.2, 0.5, 0.4])])
write("c.h5", [0, 2, 3, 5, 9], base)                    # another user
write("d.h5", [0, 2, 3, 5, 8], base, fingerprint="f1")  # other training pairs
EOF
$py "$src/scripts/compare_runs.py" a.h5 b.h5 --metrics recall@20 --json hand.json -o hand.md \
  2> hand.err || fail "compare_runs.py failed on the hand case: $(cat hand.err)"
$py - <<'EOF' || fail "the hand case's figures differ from the hand computation or SciPy"
import itertools, json, math
from scipy import stats
got = json.load(open("hand.json"))["metrics"]["recall@20"]["b · mf"]
d = [0.3, -0.1, 0.2, 0.5, 0.4]
n = len(d)
mean = sum(d) / n                                           # 0.26
sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))   # sqrt(0.233 / 4)
t = mean / (sd / math.sqrt(n))                              # 2.4088...
# Student's t with 4 degrees of freedom: P(|T| < t) = (3/4) x (1 - t^2 / (12 (1 + t^2/4))),
# x = t / sqrt(1 + t^2/4).
x = t / math.sqrt(1 + t * t / 4)
p_t = 1 - 0.75 * x * (1 - t * t / (12 * (1 + t * t / 4)))
# Wilcoxon: |d| ranks 3, 1, 2, 5, 4; the negative one has rank 1, so W = min(W+, W-) = 1. Exact
# two-sided p: twice the share of the 2^5 sign patterns whose negative rank sum is at most 1.
w = 1.0
sums = [sum(r for r, s in zip(range(1, 6), signs) if s) for signs in itertools.product([0, 1], repeat=5)]
p_w = 2 * sum(1 for s in sums if s <= w) / len(sums)        # 2 * 2/32 = 0.125
assert abs(got["t"] - t) < 1e-12 and abs(got["p_t"] - p_t) < 1e-12, (got, t, p_t)
assert got["w"] == w and abs(got["p_w"] - p_w) < 1e-15, (got, p_w)
assert abs(got["diff"] - mean) < 1e-15 and got["n"] == 5
base = [0.1, 0.5, 0.2, 0.3, 0.1]
run = [b + x for b, x in zip(base, d)]
st, sw = stats.ttest_rel(run, base), stats.wilcoxon(run, base)
assert abs(st.statistic - t) < 1e-12 and abs(st.pvalue - p_t) < 1e-12, st
assert sw.statistic == w and abs(sw.pvalue - p_w) < 1e-15, sw
EOF
grep -q "0.1250" hand.md || fail "the table does not show the Wilcoxon p 0.125: $(cat hand.md)"

# 3. Warnings for other users and other splits; bad inputs.
$py "$src/scripts/compare_runs.py" a.h5 c.h5 --metrics recall@20 > other.md 2> other.err ||
  fail "compare_runs.py failed on different users"
grep -q "warning: .*evaluated different users" other.err || fail "no warning for other users: $(cat other.err)"
grep -q "> warning: .*evaluated different users" other.md || fail "the table lacks the warning"
$py "$src/scripts/compare_runs.py" a.h5 d.h5 --metrics recall@20 > /dev/null 2> split.err ||
  fail "compare_runs.py failed on other training pairs"
grep -q "warning: .*different training pairs" split.err || fail "no warning for another split: $(cat split.err)"
code=0
$py "$src/scripts/compare_runs.py" a.h5 --metrics recall@20 > /dev/null 2> bad.err || code=$?
[ "$code" -eq 2 ] && grep -q "at least two" bad.err || fail "one file: exit $code, $(cat bad.err)"
timeout 120 mpirun -q -n 1 "$bin/recns_train" data.h5 -model_type mf -model_dim 8 -train_epochs 1 \
  -metrics_file plain.h5 -checkpoint_dir "" > /dev/null || fail "a run without -eval_per_user failed"
code=0
$py "$src/scripts/compare_runs.py" uniform.h5 plain.h5 > /dev/null 2> bad.err || code=$?
[ "$code" -eq 2 ] && [ "$(wc -l < bad.err)" -eq 1 ] && grep -q "train with -eval_per_user" bad.err ||
  fail "a file without per-user metrics: exit $code, $(cat bad.err)"
code=0
$py "$src/scripts/plot_runs.py" uniform.h5 --metrics recall@50 -o x.png > /dev/null 2> bad.err || code=$?
[ "$code" -eq 2 ] && grep -q "no metric recall@50" bad.err || fail "an unknown metric: exit $code, $(cat bad.err)"

if [ "$failures" -ne 0 ]; then
  echo "runs_scripts_cli: $failures failure(s)"
  exit 1
fi
echo "runs_scripts_cli: all checks passed"
