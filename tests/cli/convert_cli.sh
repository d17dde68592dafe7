#!/usr/bin/env bash
# recns_convert end to end: conversions that succeed; bad input that exits with code 2 and prints
# exactly one line "recns_convert: error: ..." naming the file, leaving no output behind; -help
# listing every option. Exit 77 (skip) when the program is not built.
set -euo pipefail

bin="${RECNS_BIN_DIR:-}/recns_convert"
[[ -x $bin ]] || { echo "skipping: $bin is not built"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# expect_ok OUTPUT ARGS...: the conversion succeeds, writes OUTPUT and prints its summary line.
expect_ok() {
  local output=$1
  shift
  "$bin" "$@" -output "$output" >"$work/log" 2>&1 || fail "exit $? for $*: $(cat "$work/log")"
  [[ -f $output ]] || fail "no $output after $*"
  grep -q "^recns_convert: wrote $output: .* users, .* items; nnz train" "$work/log" ||
    fail "no summary line for $*: $(cat "$work/log")"
}

# expect_bad TEXT ARGS...: exit code 2, one line of output "recns_convert: error: ...TEXT...",
# and neither the output nor a temporary file left behind. Set RUNNER to launch under mpiexec.
expect_bad() {
  local text=$1 code=0
  shift
  ${RUNNER:-} "$bin" "$@" >"$work/log" 2>&1 || code=$?
  [[ $code -eq 2 ]] || fail "exit $code, expected 2, for $*: $(cat "$work/log")"
  [[ $(wc -l <"$work/log") -eq 1 ]] || fail "not one line for $*: $(cat "$work/log")"
  grep -qF "recns_convert: error: " "$work/log" || fail "no error line for $*: $(cat "$work/log")"
  grep -qF -- "$text" "$work/log" || fail "'$text' not in: $(cat "$work/log")"
  if compgen -G "$work/out/*" >/dev/null; then fail "files left in $work/out after $*"; fi
}

# --- inputs ---
mkdir -p "$work/lg" "$work/out" "$work/bad_lg"
printf '0 0 1 2\n1 1 3\n2 0 4\n' >"$work/lg/train.txt"
printf '0 3\n2 2\n' >"$work/lg/valid.txt"
printf '0 4\n1 0\n2 3\n' >"$work/lg/test.txt"
printf 'user,item,rating\n0,0,5\n0,1,2\n1,1,4\n1,2,5\n2,0,1\n2,2,4\n' >"$work/train.csv"
printf 'user,item,rating\n0,2,5\n1,0,4\n2,1,5\n' >"$work/test.csv"
{
  echo 'user,item,rating'
  for u in 0 1 2 3 4 5; do for i in 0 1 2 3 4 5 6 7; do echo "$u,$(((u + i) % 9)),$((1 + (u * i) % 5))"; done; done
} >"$work/all.csv"
{
  printf 'user_id:token\titem_id:token\trating:float\ttimestamp:float\n'
  for u in 1 2 3 4; do for i in 1 2 3 4 5 6; do printf '%s\t%s\t%s\t%s\n' "$u" "$((u + i))" "$((1 + (u + i) % 5))" 1000; done; done
} >"$work/x.inter"
printf '0 1\n1 2\n' >"$work/bad_lg/train.txt"
printf 'user,item\n0,1\n1,2\n3\n' >"$work/malformed.csv"
printf 'user_id:token\titem_id:token\n1\t2\n' >"$work/norating.inter"

# --- conversions that succeed ---
expect_ok "$work/lg.h5" -format lightgcn -input "$work/lg"
expect_ok "$work/csv.h5" -format csv -train "$work/train.csv" -test "$work/test.csv" \
  -rating_threshold 4 -exposure_threshold 2 -name tiny
expect_ok "$work/single.h5" -format csv -input "$work/all.csv" -valid_fraction 0.2 \
  -test_fraction 0.2 -split_seed 3
expect_ok "$work/inter.h5" -format recbole -input "$work/x.inter" -rating_threshold 3 -kcore 1
expect_ok "$work/syn.h5" -format synthetic -synthetic_users 200 -synthetic_items 300 \
  -synthetic_mean_degree 10 -synthetic_communities 4 -synthetic_exposures 5 -synthetic_seed 9
if grep -q "exposure 0;" "$work/log"; then fail "synthetic exposures missing"; fi
# A recns dataset renumbered for locality keeps every split's sizes; twice gives the same file.
expect_ok "$work/syn_local.h5" -format recns -input "$work/syn.h5" -order locality \
  -order_part_nodes 32 -name syn
sizes() { grep -o "[0-9]* users.*exposure [0-9]*" "$1"; }
"$bin" -format recns -input "$work/syn.h5" -output "$work/syn_copy.h5" >"$work/copy.log" 2>&1 ||
  fail "copy: $(cat "$work/copy.log")"
[[ $(sizes "$work/log") == $(sizes "$work/copy.log") ]] ||
  fail "locality order changed the sizes: $(sizes "$work/log") vs $(sizes "$work/copy.log")"
"$bin" -format recns -input "$work/syn.h5" -order locality -order_part_nodes 32 -name syn \
  -output "$work/syn_local2.h5" >/dev/null 2>&1 || fail "second locality order"
if command -v h5dump >/dev/null; then
  cmp <(h5dump "$work/syn_local.h5" | tail -n +2) <(h5dump "$work/syn_local2.h5" | tail -n +2) >/dev/null ||
    fail "the locality order is not deterministic"
fi

# --- bad input: exit code 2, one line naming the file, nothing left behind ---
out="$work/out/x.h5"
expect_bad "$work/bad_lg/test.txt: no such file" -format lightgcn -input "$work/bad_lg" -output "$out"
expect_bad "$work/malformed.csv:4: malformed line" -format csv -input "$work/malformed.csv" -output "$out"
expect_bad "$work/nothere.csv: no such file" -format csv -train "$work/nothere.csv" \
  -test "$work/test.csv" -output "$out"
expect_bad "$work/norating.inter:1: no column rating" -format recbole -input "$work/norating.inter" \
  -rating_threshold 3 -output "$out"
expect_bad "$work/missing/x.h5: cannot create the file" -format lightgcn -input "$work/lg" \
  -output "$work/missing/x.h5"
expect_bad "Available options: lightgcn csv recbole synthetic" -format parquet -input "$work/lg" \
  -output "$out"
expect_bad "option -output FILE.h5 is required" -format lightgcn -input "$work/lg"
expect_bad "unknown option -kcor" -format lightgcn -input "$work/lg" -kcor 3 -output "$out"
expect_bad "-format csv needs either -input FILE or -train FILE -test FILE" -format csv \
  -output "$out"
expect_bad "-order_part_nodes must be at least 1, not 0" -format recns -input "$work/syn.h5" \
  -order locality -order_part_nodes 0 -output "$out"
expect_bad "Available options: natural locality" -format recns -input "$work/syn.h5" \
  -order random -output "$out"
expect_bad "$work/none.h5" -format recns -input "$work/none.h5" -output "$out"

# With several ranks only rank 0 converts; an error still ends every rank with one line.
if command -v mpiexec >/dev/null; then
  RUNNER="mpiexec --quiet -n 2" expect_bad "$work/malformed.csv:4: malformed line" -format csv \
    -input "$work/malformed.csv" -output "$out"
  mpiexec --quiet -n 2 "$bin" -format lightgcn -input "$work/lg" -output "$work/lg2.h5" >"$work/log" 2>&1 ||
    fail "two ranks: $(cat "$work/log")"
  [[ $(grep -c "^recns_convert: wrote" "$work/log") -eq 1 ]] || fail "two ranks: $(cat "$work/log")"
fi

# --- -help lists every option ---
"$bin" -help >"$work/help" 2>&1 || fail "-help exited with $?"
for option in format input train valid test test_random exposure output name rating_threshold \
  exposure_threshold kcore valid_fraction test_fraction split_seed synthetic_users synthetic_items \
  synthetic_mean_degree synthetic_communities synthetic_exposures synthetic_seed order \
  order_part_nodes; do
  grep -q -- "-$option " "$work/help" || fail "-help does not list -$option"
done
echo "convert_cli: all checks passed"
