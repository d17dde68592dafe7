#!/usr/bin/env bash
# scripts/alibaba_report.py on hand-made run files (a small synthetic dataset stands for the
# Alibaba one; no training):
#  1. without PinSage's runs (alibaba_scale.sh with PINSAGE=0) the report has no PinSage part;
#  2. with them, PinSage's seconds per step are the mean over the steps after the first, its peak
#     RSS is checked against 2 GiB per rank (LightGCN's against 6 GiB), and so is its peak up to
#     the end of training when the summary has it; LightGCN's figures are those of the report
#     without PinSage;
#  3. PinSage's model: at 1 rank the measured step; at 2 ranks the measured step plus the network
#     terms alone (its exchange is calibrated there); the halo rows h(P) = h(2)·4(P-1)/P²; the
#     sampled graph's halo values measured at 2 ranks, when the summary has them, for its volume;
#  4. an incomplete set of PinSage's files is an error.
set -euo pipefail
bin="${RECNS_BIN_DIR:?}"
src="${RECNS_SOURCE_DIR:?}"
work="$(mktemp -d /tmp/alibaba_report_cli.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cd "$work"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
py=/usr/bin/python3
report="$src/scripts/alibaba_report.py"

"$bin/recns_convert" -format synthetic -synthetic_users 300 -synthetic_items 200 \
  -synthetic_mean_degree 8 -synthetic_communities 4 -output data.h5 > /dev/null

# run FOLDER NAME RANKS STEP_SECONDS RSS HALO [TRAINING_RSS]: a training run's summary (11 steps,
# the first of 0.5 s; per later step the phases below, the rest "other"), its log and an empty
# -log_view.
run() {
  $py - "$@" <<'EOF'
import json, sys
folder, name, ranks, step, rss, halo = sys.argv[1:7]
training = sys.argv[7] if len(sys.argv) > 7 else None
ranks, step = int(ranks), float(step)
phases = {"batch": 0.001, "sample": 0.01, "forward": 0.03, "halo": 0.005, "loss": 0.01,
          "backward": 0.03, "optimize": 0.01}
first = {k: 0.05 for k in phases}
seconds = {k: first[k] + 10 * v for k, v in phases.items()}
seconds.update(total=20.0, evaluate=2.0, steps=0.5 + 10 * step, first_step=0.5)
summary = {"ranks": ranks, "steps_run": 11, "seconds": seconds, "first_step_seconds": first,
           "peak_rss_mb_per_rank": [float(x) for x in rss.split(",")],
           "halo_item_rows_per_step_per_rank": [float(halo)] * ranks, "eval_users": 100}
if training:
    summary["peak_rss_mb_training_per_rank"] = [float(x) for x in training.split(",")]
json.dump(summary, open(f"{folder}/{name}_summary.json", "w"))
open(f"{folder}/{name}_logview.txt", "w").close()
open(f"{folder}/{name}.log", "w").write("final (epoch 1) test: recall@20 0.0100\n")
EOF
}
bench() {  # FOLDER RANKS: recns_bench -bench propagate's line
  echo "{\"ranks\": $2, \"nnz\": 3838, \"seconds_median\": 0.01, \"ghost_rows_max\": 150," \
    "\"ghost_rows_mean\": 140, \"local_nnz_max\": 2000, \"neighbour_ranks_max\": $(($2 - 1))," \
    "\"halo_bytes_max\": $((150 * 64 * 8 * ($2 - 1))), \"halo_seconds_median\": 0.001}" > "$1/propagate_$2.jsonl"
}
mkdir lightgcn
for ranks in 1 2; do bench lightgcn $ranks; done
run lightgcn train_1 1 0.2 3000 0
run lightgcn train_2 2 0.12 1600,1700 40

# 1. LightGCN alone.
$py "$report" lightgcn data.h5 > /dev/null || fail "the report without PinSage failed"
grep -q PinSage lightgcn/alibaba.md && fail "a PinSage part without PinSage's runs"
$py -c "import json, sys; sys.exit('pinsage' in json.load(open('lightgcn/alibaba.json')))" ||
  fail "alibaba.json has a pinsage entry without PinSage's runs"

# 2. With PinSage: 0.1 s per step at 1 rank, 0.07 at 2; 2100 MiB on one of the 2 ranks.
cp -r lightgcn both
rm both/alibaba.md both/alibaba.json
run both pinsage_1 1 0.1 1900 0
run both pinsage_2 2 0.07 2100,1500 100
$py "$report" both data.h5 > /dev/null || fail "the report with PinSage failed"
grep -q "^## PinSage beside LightGCN" both/alibaba.md || fail "no PinSage section: $(cat both/alibaba.md)"
grep -q "^| \*\*step\*\* | \*\*0.200\*\* | \*\*0.120\*\* | \*\*0.100\*\* | \*\*0.070\*\* |" both/alibaba.md ||
  fail "the step row: $(grep 'step\*\*' both/alibaba.md)"
grep -q "^| 1 | 1900 | yes | 3000 |" both/alibaba.md && grep -q "^| 2 | 2100, 1500 | \*\*NO\*\* | 1600, 1700 |" both/alibaba.md ||
  fail "PinSage's memory rows: $(grep -A4 'PinSage peak RSS' both/alibaba.md)"
grep -q "no peak up to the end of training" both/alibaba.md || fail "no note on the missing training peak"
diff <(sed '1d; /^## PinSage beside/,$d' both/alibaba.md | sed '$d') <(sed 1d lightgcn/alibaba.md) > /dev/null ||
  fail "LightGCN's part changed with PinSage's runs"
# The peak up to the end of training, when the summaries have it.
cp -r both training
run training pinsage_1 1 0.1 1900 0 1800
run training pinsage_2 2 0.07 2100,1500 100 1500,1400
$py "$report" training data.h5 > /dev/null || fail "the report with PinSage's training peaks failed"
grep -q "^| 2 | 2100, 1500 | \*\*NO\*\* | 1500, 1400 | yes | 1600, 1700 |" training/alibaba.md ||
  fail "PinSage's memory rows with training peaks: $(grep -A4 'PinSage peak RSS' training/alibaba.md)"
$py -c "import json; c = json.load(open('training/alibaba.json'))['pinsage']['checks']
assert c == {'within_2_gib': False, 'training_within_2_gib': True}, c" || fail "the training peak's check"

# 3. The model.
$py - <<'EOF' || fail "PinSage's model"
import json, math
with_ps, alone = json.load(open("both/alibaba.json")), json.load(open("lightgcn/alibaba.json"))
ps = with_ps.pop("pinsage")
for r in (with_ps, alone):
    r["machine"].pop("load_average_at_report")
assert with_ps == alone, "LightGCN's figures changed"
assert ps["checks"] == {"within_2_gib": False}, ps["checks"]
rows = {r["ranks"]: r for r in ps["model"]["predicted"]}
assert abs(rows[1]["seconds_per_step"] - 0.1) < 1e-9, rows[1]
B, alpha = 3e9, 2e-6
volume = 0.5 * (3 * 512 / 2) * 10 * (26 * 50 + 256) * 8 * 2 + 100 * (2 * 256 + 1) * 8
network = volume / B + alpha * (10 * 1 + 1 * 1)
assert abs(rows[2]["seconds_per_step"] - (0.07 + network)) < 1e-9, (rows[2], network)
assert abs(rows[64]["halo_rows"] - 100 * 4 * 63 / 64 ** 2) < 1e-9, rows[64]
assert abs(rows[64]["terms"]["sampled_graph"] - 0.08 / 64) < 1e-12, rows[64]["terms"]
EOF

# The sampled graph's halo values, when the runs report them, replace the upper bound:
# V(P) = m(2)·4(P-1)/P²·8·2 bytes.
cp -r both measured
$py - <<'EOF' || fail "the measured halo's input"
import json
path = "measured/pinsage_2_summary.json"
summary = json.load(open(path))
summary["model_halo_values_per_step_per_rank"] = [1000.0, 3000.0]
json.dump(summary, open(path, "w"))
EOF
$py "$report" measured data.h5 > /dev/null || fail "the report with measured halos"
$py - <<'EOF' || fail "PinSage's model with measured halos"
import json
ps = json.load(open("measured/alibaba.json"))["pinsage"]
rows = {r["ranks"]: r for r in ps["model"]["predicted"]}
assert ps["model"]["inputs"]["sampled_graph_halo_values_2_ranks"] == 2000.0, ps["model"]["inputs"]
volume = 2000.0 * 8 * 2 * 4 * 1 / 4 + 100 * (2 * 256 + 1) * 8
network = volume / 3e9 + 2e-6 * (10 * 1 + 1 * 1)
assert abs(rows[2]["seconds_per_step"] - (0.07 + network)) < 1e-9, (rows[2], network)
assert abs(rows[64]["exchange_mb_per_step"] * 1e6
           - (2000.0 * 8 * 2 * 4 * 63 / 64 ** 2 + rows[64]["halo_rows"] * (2 * 256 + 1) * 8)) < 1e-3
assert "model_halo_values_per_step_per_rank" in open("measured/alibaba.md").read()
EOF

# 4. Incomplete PinSage files.
rm both/pinsage_2_logview.txt
if $py "$report" both data.h5 > /dev/null 2> incomplete.err; then fail "incomplete PinSage runs passed"; fi
grep -q "pinsage_2_logview.txt" incomplete.err || fail "the incomplete runs' error: $(cat incomplete.err)"

[ "$failures" = 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "alibaba_report_cli: all checks passed"
