#!/usr/bin/env bash
# scripts/reproduce_learnable.sh end to end on tiny Gowalla-, ML-100k- and Last.fm-format folders,
# with one- or two-point grids and two epochs:
#  1. every stage's search and seed runs finish, and table.md has each row of every stage;
#  2. each row's chosen setting (results.json) is that of the search run with the best valid
#     Recall@20, recomputed here from the summaries (never a test figure), and the seed runs
#     were trained with it;
#  3. the SDNS validation curves and AutoSample's weights are drawn;
#  4. a second call repeats no run (every summary keeps its time);
#  5. `learnable_table.py choose` with no run is one error line and exit code 2.
set -euo pipefail
bin="${RECNS_BIN_DIR:?}"
src="${RECNS_SOURCE_DIR:?}"
work="$(mktemp -d /tmp/recns_learnable_cli.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cd "$work"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
py=/usr/bin/python3

mkdir -p data/gowalla data/lastfm data/ml-100k
$py - <<'EOF'
import random
random.seed(3)
for folder in ("gowalla", "lastfm"):
    files = [open(f"data/{folder}/{split}.txt", "w") for split in ("train", "valid", "test")]
    for u in range(60):
        items = random.sample(range(50), 12)
        for f, part in zip(files, (items[:8], items[8:10], items[10:])):
            f.write(" ".join(map(str, [u] + part)) + "\n")
train, test = open("data/ml-100k/train.csv", "w"), open("data/ml-100k/test.csv", "w")
for f in (train, test):
    f.write("user,item,rating\n")
for u in range(60):
    items = random.sample(range(50), 12)
    for i in items[:10]:
        train.write(f"{u},{i},4\n")
    for i in items[10:]:
        test.write(f"{u},{i},5\n")
EOF
reproduce() {
  RECNS_SHARED_DATA="$work/data" OUT="$work/out" RECNS_BIN_DIR="$bin" SEEDS="1 2" EPOCHS=2 EVAL=1 \
    PATIENCE=0 ANS_MODELS="mf lightgcn" DNS_MS="2 4" ANS_MS=4 ANS_GAMMAS="0 0.01" ANS_EPSILONS=0.1 \
    SDNS_HS=4 SDNS_TAUS="0.1 0.2" SDNS_LRS=1e-3 AUTO_MODELS=mf AUTO_LRS="1e-2 1e-3" \
    timeout 900 bash "$src/scripts/reproduce_learnable.sh"
}
reproduce > first.txt 2>&1 || fail "reproduce_learnable.sh failed: $(tail -n 20 first.txt)"

# 1. The rows of both stages.
for row in "MF | Uniform (RNS)" "MF | DNS" "MF | ANS" "LightGCN | Uniform (RNS)" "LightGCN | DNS" \
           "LightGCN | ANS" "LightGCN | DNS + BPR" "LightGCN | DNS + soft BPR (SDNS)" "MF | PNS" \
           "MF | AOBPR" "MF | AutoSample (retrain)"; do
  grep -q "^| $row | [0-9.]* ± " out/table.md || fail "table.md has no test row '$row'"
done

# 2. Chosen on the validation split, and trained with.
$py - "$work/out" > check.txt 2>&1 <<'EOF' || fail "$(cat check.txt)"
import glob, json, os, sys
out = sys.argv[1]
results = json.load(open(os.path.join(out, "results.json")))
problems = []
for stage, models in results.items():
    for model, rows in models.items():
        for row, record in rows.items():
            prefix = f"search_{stage}_{model}_{row}_"
            runs = {}
            for path in sorted(glob.glob(os.path.join(out, prefix + "*.summary.json"))):
                runs[os.path.basename(path)[:-len(".summary.json")]] = json.load(open(path))
            if not runs:
                problems.append(f"{prefix}: no search run")
                continue
            best = max(sorted(runs), key=lambda n: runs[n]["best"]["valid"]["recall@20"])
            expected = record["search"][best]["setting"]
            if record["setting"] != expected:
                problems.append(f"{prefix}: chose '{record['setting']}', the best valid run has '{expected}'")
            for seed in ("1", "2"):
                options = json.load(open(os.path.join(out, f"table_{stage}_{model}_{row}_s{seed}.summary.json")))["options"]
                for option, value in zip(expected.split()[::2], expected.split()[1::2]):
                    if f"{option} {value}" not in options:
                        problems.append(f"table_{stage}_{model}_{row}_s{seed} lacks {option} {value}")
print("\n".join(problems))
sys.exit(1 if problems else 0)
EOF

# 3. The curves and the weights; both AutoSample datasets.
[ -s out/sdns_curves.png ] || fail "no out/sdns_curves.png"
[ -s out/autosample_weights.png ] || fail "no out/autosample_weights.png"
for title in "ML-100k, BNS split" "Last.fm"; do
  grep -q "^## AutoSample against its candidates ($title)" out/table.md || fail "table.md has no AutoSample section for $title"
done

# 4. Nothing is repeated.
stat -c '%n %Y' out/*.summary.json > before.txt
sleep 1
reproduce > second.txt 2>&1 || fail "the second call failed: $(tail -n 20 second.txt)"
stat -c '%n %Y' out/*.summary.json | cmp -s - before.txt || fail "the second call repeated runs"

# 5. No run to choose from.
if $py "$src/scripts/learnable_table.py" choose out search_none_ > none.txt 2>&1; then
  fail "choose without runs succeeded"
else
  [ $? = 2 ] && [ "$(wc -l < none.txt)" = 1 ] || fail "choose without runs: $(cat none.txt)"
fi

[ "$failures" = 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "reproduce_learnable_cli: all checks passed"
