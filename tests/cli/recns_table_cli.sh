#!/usr/bin/env bash
# scripts/recns_table.py, the tables of scripts/reproduce_recns.sh, on hand-made run summaries:
#  1. the search picks each setting of the best validation Recall@20 (never a test figure), and
#     a table row's options put the setting after the learning rate, which it may override;
#  2. the table's means and standard deviations are those computed here, on both test splits;
#  3. the region study reads each region's size from the run's set-up line;
#  4. a missing run is one error line and exit code 2;
#  5. PinSage: its rate search alone, its DNS and RecNS rows with LightGCN's chosen sampler
#     settings (not LightGCN's rate or L2) at its own rate, its three rows in the table and in
#     results.json, and pinsage without lightgcn is an error.
set -euo pipefail
src="${RECNS_SOURCE_DIR:?}"
work="$(mktemp -d /tmp/recns_table_cli.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cd "$work"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
py=/usr/bin/python3
table="$src/scripts/recns_table.py"

# summary NAME OPTIONS VALID_RECALL TEST_RECALL [RANDOM_RECALL]: a run's summary JSON, the same
# figure for every metric of a split.
summary() {
  $py - "$@" <<'EOF'
import json, sys
name, options, valid, test = sys.argv[1:5]
random = sys.argv[5] if len(sys.argv) > 5 else test
split = lambda v: {m: float(v) for m in ("recall@20", "ndcg@20", "hr@20", "precision@20")}
best = {"epoch": 10, "valid": split(valid), "test": split(test), "test_random": split(random)}
json.dump({"options": options, "best": best}, open(f"{name}.summary.json", "w"))
EOF
}

# 1. The search. A test figure that would pick another setting must not count.
summary search_lightgcn_uniform_lr2e-3 "-loss_l2 1e-4 -optimizer_lr 2e-3" 0.40 0.99
summary search_lightgcn_uniform_lr5e-3 "-loss_l2 1e-4 -optimizer_lr 5e-3" 0.45 0.10
$py "$table" search-lr . --models lightgcn || fail "search-lr failed"
[ "$(cat chosen_lightgcn_lr.txt)" = 5e-3 ] || fail "the chosen rate is $(cat chosen_lightgcn_lr.txt), not 5e-3"
summary search_lightgcn_uniform_reg_lr2e-3_l21e-3 "-loss_l2 1e-3 -optimizer_lr 2e-3" 0.46 0.10
summary search_lightgcn_dns_M2 "-loss_l2 1e-4 -optimizer_lr 5e-3 -sampler_dns_candidates 2" 0.47 0.90
summary search_lightgcn_dns_M5 "-loss_l2 1e-4 -optimizer_lr 5e-3 -sampler_dns_candidates 5" 0.48 0.10
summary search_lightgcn_expns_default "-loss_l2 1e-4 -optimizer_lr 5e-3" 0.30 0.30
summary search_lightgcn_mixedns_w0.5 "-loss_l2 1e-4 -optimizer_lr 5e-3 -sampler_mixedns_exposure_probability 0.5" 0.41 0.41
summary search_lightgcn_recns_sigmoid "-loss_l2 1e-4 -loss_type hinge -optimizer_lr 5e-3 -sampler_recns_weighting sigmoid" 0.44 0.44
summary search_lightgcn_recns_bpr_sigmoid "-loss_l2 1e-4 -loss_type bpr -optimizer_lr 5e-3" 0.49 0.49
$py "$table" search . --models lightgcn || fail "search failed"
grep -q "lr 2e-3 -loss_l2 1e-3 (chosen)" search.md || fail "uniform's best setting is not chosen: $(cat search.md)"
grep -q "dns_candidates 5 (chosen)" search.md || fail "DNS's best setting is not chosen: $(cat search.md)"
grep -q "| recns | .*hinge.*(chosen)" search.md || fail "RecNS's runs took the BPR run as theirs: $(cat search.md)"
options="$($py "$table" options . --models lightgcn --sampler recns_wo_ea)"
[ "$options" = "-optimizer_lr 5e-3 -sampler_type recns -optimizer_lr 5e-3 -loss_l2 1e-4 -loss_type hinge -sampler_recns_weighting sigmoid -sampler_recns_exposure_augmented false" ] ||
  fail "the options of RecNS w/o e-a are: $options"
options="$($py "$table" options . --models lightgcn --sampler uniform)"
[ "$options" = "-optimizer_lr 5e-3 -sampler_type uniform -optimizer_lr 2e-3 -loss_l2 1e-3" ] ||
  fail "the options of uniform are: $options"

# 5. PinSage's search: the rate of the best validation figure, LightGCN's settings unchanged.
summary search_pinsage_uniform_lr1e-3 "-optimizer_lr 1e-3" 0.30 0.99
summary search_pinsage_uniform_lr3e-3 "-optimizer_lr 3e-3" 0.35 0.10
cp chosen.json chosen_lightgcn_only.json
$py "$table" search-lr . --models lightgcn pinsage || fail "search-lr with pinsage failed"
[ "$(cat chosen_pinsage_lr.txt)" = 3e-3 ] || fail "PinSage's chosen rate is $(cat chosen_pinsage_lr.txt), not 3e-3"
$py "$table" search . --models lightgcn pinsage || fail "search with pinsage failed"
$py - <<'EOF2' || fail "pinsage changed LightGCN's chosen settings"
import json
assert json.load(open("chosen.json"))["lightgcn"] == json.load(open("chosen_lightgcn_only.json"))["lightgcn"]
EOF2
grep -q "## Learning rate, PinSage" search.md || fail "no PinSage rate section: $(cat search.md)"
grep -q "lr 2e-3 -loss_l2 1e-3 (chosen)" search.md || fail "LightGCN's search changed with pinsage: $(cat search.md)"
options="$($py "$table" options . --models pinsage --sampler dns)"
[ "$options" = "-optimizer_lr 3e-3 -sampler_type dns -sampler_dns_candidates 5" ] ||
  fail "the options of PinSage's DNS are: $options"
options="$($py "$table" options . --models pinsage --sampler recns)"
[ "$options" = "-optimizer_lr 3e-3 -sampler_type recns -loss_type hinge -sampler_recns_weighting sigmoid" ] ||
  fail "the options of PinSage's RecNS are: $options"
options="$($py "$table" options . --models pinsage --sampler uniform)"
[ "$options" = "-optimizer_lr 3e-3 -sampler_type uniform" ] || fail "the options of PinSage's uniform are: $options"
if $py "$table" search-lr . --models pinsage 2> alone.err; then fail "pinsage without lightgcn passed"; fi
grep -q "lightgcn, which must be listed" alone.err || fail "pinsage alone's error: $(cat alone.err)"
$py "$table" search . --models lightgcn pinsage || fail "search with pinsage failed"

# 2. The table: three seeds, test recall 0.1, 0.2, 0.3 + row/100 (mean 0.2 + row/100, std 0.1),
#    and the random split 0.05 for every seed (std 0).
row=0
for sampler in uniform dns expns mixedns recns recns_wo_pa recns_wo_ea recns_bpr; do
  for seed in 1 2 3; do
    summary "table_lightgcn_${sampler}_s$seed" "-sampler_type x" 0.5 \
      "$($py -c "print($seed / 10 + $row / 100)")" 0.05
  done
  row=$((row + 1))
done
row=0
for sampler in uniform dns recns; do
  for seed in 1 2 3; do
    summary "table_pinsage_${sampler}_s$seed" "-sampler_type x" 0.5 \
      "$($py -c "print($seed / 10 + $row / 100 + 0.5)")" 0.07
  done
  row=$((row + 1))
done
$py "$table" table . --models lightgcn pinsage --seeds 1 2 3 || fail "table failed"
grep -q "| DNS | 0.2100 ± 0.1000 |" table.md || fail "DNS's test row: $(grep DNS table.md)"
sed -n '/^## PinSage, test split/,/^## PinSage, random/p' table.md > pinsage_test.md
grep -q "| RecNS | 0.7200 ± 0.1000 |" pinsage_test.md && [ "$(grep -c '^| [A-Z]' pinsage_test.md)" = 3 ] ||
  fail "PinSage's test rows: $(cat table.md)"
grep -q "^## PinSage, random-exposure split" table.md || fail "no PinSage random-exposure rows: $(cat table.md)"
grep -q "| RecNS w/o e-a | 0.0500 ± 0.0000 |" table.md || fail "the random split's rows: $(cat table.md)"
$py - <<'EOF' || fail "results.json or recall.png is wrong"
import json
results = json.load(open("results.json"))
r = results["lightgcn"]["recns"]["test"]["recall@20"]
assert abs(r["mean"] - 0.24) < 1e-12 and abs(r["std"] - 0.1) < 1e-12, r
assert sorted(results["pinsage"]) == ["dns", "recns", "uniform"], results["pinsage"].keys()
r = results["pinsage"]["dns"]["test_random"]["recall@20"]
assert abs(r["mean"] - 0.07) < 1e-12, r
assert open("recall.png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"
EOF

# 3. The region study.
for region in intermediate_k3 intermediate_k5 intermediate_k7 distant global; do
  summary "region_${region}_s1" "-sampler_type recns" 0.3 0.3
  echo "recns sampler: $region region, khop 3: 100 users, size mean 12.5 min 0 max 40; built in 0.1 s, 0.0 MB on the largest rank; 2 users with fewer than M = 20 items in it draw uniform candidates" \
    > "region_${region}_s1.log"
done
$py "$table" region . --seeds 1 || fail "region failed"
grep -q "| intermediate, khop 5 | 12.5 | 0.3000 ± 0.0000 |" table.md || fail "the region rows: $(tail -8 table.md)"

# 4. A missing run.
rm table_lightgcn_dns_s2.summary.json
if $py "$table" table . --models lightgcn --seeds 1 2 3 2> missing.err; then fail "a missing run passed"; fi
[ "$(wc -l < missing.err)" = 1 ] && grep -q "table_lightgcn_dns_s2.summary.json" missing.err ||
  fail "the missing run's error: $(cat missing.err)"

[ "$failures" = 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "recns_table_cli: all checks passed"
