#!/usr/bin/env bash
# scripts/bench_report.py on a short real training run (its -log_view table, summary and log, on a
# small synthetic dataset standing for Gowalla) and hand-made micro-benchmark lines and sampler
# runs (no timing is measured here):
#  1. the samplers' table: medians, ratios to uniform, forward passes per step and peak memory
#     per rank from the summaries; a sampler without an exposure split, one whose run was killed
#     and one whose later run failed are rows saying so;
#  2. the epoch run's peak memory per rank, in a row labelled double;
#  3. without the samplers' runs (BENCH_SAMPLERS=0) the report says they were not measured, and
#     without uniform's runs the ratios are missing; neither is an error.
set -euo pipefail
bin="${RECNS_BIN_DIR:?}"
src="${RECNS_SOURCE_DIR:?}"
work="$(mktemp -d /tmp/recns_bench_report_cli.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cd "$work"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
py=/usr/bin/python3
report="$src/scripts/bench_report.py"

"$bin/recns_convert" -format synthetic -synthetic_users 80 -synthetic_items 60 \
  -synthetic_mean_degree 8 -synthetic_communities 4 -valid_fraction 0.1 -output data.h5 >/dev/null
mkdir bench
timeout 120 mpirun -q -n 2 "$bin/recns_train" data.h5 -model_type lightgcn -model_dim 8 \
  -model_layers 3 -train_batch_size 32 -train_epochs 1 -eval_interval 0 -checkpoint_dir "" \
  -metrics_file "" -summary bench/train_summary.json -log_view :bench/train_logview.txt \
  > bench/train.log || fail "the training run failed: $(cat bench/train.log)"
$py - <<'EOF'
import json
lines = [{"bench": "triad", "ranks": r, "array_mb": 16, "llc_mb": 0, "gb_per_s": 10.0 * r} for r in (1, 2)]
lines += [{"bench": "gemm", "ranks": r, "users": u, "items": 16384, "dim": 64, "gflop_per_s": 20.0 * r}
          for r in (1, 2) for u in (64, 256)]
lines += [{"order": o, "bench": "propagate", "ranks": 2, "rows": 140, "nnz": 1200, "dim": 64,
           "repeat": 4, "seconds_median": s, "seconds_best": s, "least_bytes": 1e6, "naive_bytes": 5e6,
           "ghost_rows_max": g, "off_diagonal_nnz_max": 100} for o, s, g in (("natural", 2e-4, 50),
                                                                            ("locality", 1e-4, 20))]
open("bench/micro.jsonl", "w").write("".join(json.dumps(l) + "\n" for l in lines))
EOF

# The samplers' runs as scripts/step_cost.sh leaves them: 5 steps, 2 runs each.
mkdir bench/samplers
$py - <<'EOF'
import json
folder = "bench/samplers"
json.dump({"steps": 5, "repeat": 2, "options": "-model_type lightgcn"}, open(f"{folder}/settings.json", "w"))
open(f"{folder}/samplers.tsv", "w").write(
    "uniform\t\ndns\t-sampler_dns_candidates 16\nexpns\t\nkilled\t\npartial\t\n")
def run(name, r, per_step, passes, rss, training=True, described=None):
    summary = {"steps_run": 5, "forward_passes": passes,
               "seconds": {"steps": 0.5 + 4 * per_step, "first_step": 0.5},
               "peak_rss_mb_per_rank": [x + 50 for x in rss]}
    if training:
        summary["peak_rss_mb_training_per_rank"] = rss
    json.dump(summary, open(f"{folder}/{name}.{r}.json", "w"))
    open(f"{folder}/{name}.{r}.log", "w").write(
        f"  model lightgcn | sampler {described or name + ' (k=1)'} | loss bpr, l2 0.0001\n")
run("uniform", 1, 0.10, 1, [100, 110])
run("uniform", 2, 0.12, 1, [105, 108])
run("dns", 1, 0.20, 6, [120, 130], described="dns (M=16) (k=1)")
run("dns", 2, 0.24, 6, [125, 129], described="dns (M=16) (k=1)")
open(f"{folder}/expns.1.log", "w").write(
    "recns_train: error: data.h5: -sampler_type expns draws from the users' exposures, but the "
    "dataset has no /exposure split\n")
open(f"{folder}/expns.exit", "w").write("2\n")
open(f"{folder}/killed.1.log", "w").write("Killed\n")
open(f"{folder}/killed.exit", "w").write("137\n")
run("partial", 1, 0.30, 1, [200, 210], training=False, described="partial (a|b) (k=1)")
open(f"{folder}/partial.2.log", "w").write("recns_train: error: cannot allocate the pools\n")
open(f"{folder}/partial.exit", "w").write("1\n")
EOF

# 1. The samplers' table.
$py "$report" bench 2 data.h5 > report.txt 2>&1 || fail "the report failed: $(cat report.txt)"
md=bench/bench.md
grep -q "^## The step of every sampler" $md || fail "no samplers' section: $(cat $md)"
grep -qF '| uniform | (defaults); trainer: uniform (k=1) | 0.1100 (0.1000, 0.1200) | 1.00 | 0.00 | 105 / 110 |' $md ||
  fail "uniform's row: $(grep '^| uniform' $md)"
grep -qF '| dns | `-sampler_dns_candidates 16`; trainer: dns (M=16) (k=1) | 0.2200 (0.2000, 0.2400) | 2.00 | 1.00 | 125 / 130 |' $md ||
  fail "DNS's row: $(grep '^| dns' $md)"
grep -qF '| expns | (defaults) | not run: needs an exposure split | | | |' $md ||
  fail "ExpNS's row: $(grep '^| expns' $md)"
grep -qF "| killed | (defaults) | failed: exit status 137 (log bench/samplers/killed.1.log) | | | |" $md ||
  fail "the killed run's row: $(grep '^| killed' $md)"
grep -qF '| partial | (defaults); trainer: partial (a\|b) (k=1) | 0.3000 (0.3000) (later runs failed: cannot allocate the pools) | 2.73 | 0.00 | 250 / 260 |' $md ||
  fail "the partly failed sampler's row: $(grep '^| partial' $md)"
$py - <<'EOF' || fail "bench.json's samplers differ from the summaries"
import json
s = json.load(open("bench/bench.json"))["samplers"]
assert (s["steps"], s["repeat"], s["precision"]) == (5, 2, "double"), s
rows = {r["sampler"]: r for r in s["rows"]}
assert list(rows) == ["uniform", "dns", "expns", "killed", "partial"], list(rows)
assert abs(rows["dns"]["seconds_per_step"] - 0.22) < 1e-12 and abs(rows["dns"]["ratio_to_uniform"] - 2) < 1e-12
assert rows["dns"]["forward_passes_per_step"] == 1 and rows["dns"]["peak_rss_mb_per_rank"] == [125, 130]
assert rows["expns"]["seconds_per_step"] is None and "/exposure split" in rows["expns"]["error"]
assert rows["killed"]["error"].startswith("exit status 137"), rows["killed"]
EOF

# 2. The epoch run's memory.
rss="$($py -c "import json; print(' / '.join(f'{v:.0f}' for v in json.load(open('bench/train_summary.json'))['peak_rss_mb_per_rank']))")"
grep -q "^| double | $rss | " $md || fail "the memory row (expected $rss): $(grep -A3 '^| precision' $md)"
$py -c "import json; m = json.load(open('bench/bench.json'))['memory']; assert [e['precision'] for e in m] == ['double'], m" ||
  fail "bench.json's memory is not one double entry"

# 3. Without the samplers' runs, and without uniform's.
cp -r bench skipped
rm -r skipped/samplers
$py "$report" skipped 2 data.h5 > skipped.txt 2>&1 || fail "the report without samplers failed: $(cat skipped.txt)"
grep -q "Samplers' steps: not measured in this run (BENCH_SAMPLERS=0)" skipped/bench.md ||
  fail "no note on the skipped samplers: $(tail -n 3 skipped/bench.md)"
grep -q "^| double | $rss | " skipped/bench.md || fail "no memory row without the samplers"
cp -r bench nouniform
rm nouniform/samplers/uniform.*
echo 1 > nouniform/samplers/uniform.exit
$py "$report" nouniform 2 data.h5 > nouniform.txt 2>&1 || fail "the report without uniform failed: $(cat nouniform.txt)"
grep -qF '| 0.2200 (0.2000, 0.2400) | missing |' nouniform/bench.md || fail "DNS's ratio without uniform: $(grep '^| dns' nouniform/bench.md)"

[ "$failures" -eq 0 ] || exit 1
echo "bench_report_cli: ok"
