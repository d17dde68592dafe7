#!/usr/bin/env bash
# recns_convert against the faults of the reliability issue: an output that is one of the inputs
# (by any name), CSV headers that name the columns, CRLF line ends, string ids, synthetic sizes
# that cannot be met or do not fit a PetscInt, and stop signals in the middle of writing. A bad
# input exits with code 2 and one line "recns_convert: error: ..." at any rank count, leaves
# every input byte-identical and no file behind; a conversion stopped by a signal while it
# writes leaves no temporary file. Every check runs and failures are counted. Exit 77 (skip)
# when the program or h5dump is missing.
set -uo pipefail

bin="${RECNS_BIN_DIR:-}/recns_convert"
[[ -x $bin ]] || { echo "skipping: $bin is not built"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

in="$work/in" out="$work/out"
mkdir -p "$in/lg" "$out"

# Files in $in and their checksums, and anything in $out or a temporary file anywhere.
inputs_sum() { (cd "$in" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
strays() { find "$out" "$in" \( -name '*.tmp.*' -o -path "$out/*" \) -print; }

# expect_bad TEXT ARGS...: exit code 2, one line "recns_convert: error: ...TEXT...", the inputs
# unchanged and nothing new left behind. RUNNER launches under mpiexec.
expect_bad() {
  local text=$1 code=0 before
  shift
  before=$(inputs_sum)
  ${RUNNER:-} "$bin" "$@" >"$work/log" 2>&1 || code=$?
  local what="${RUNNER:+$RUNNER }recns_convert $*"
  [[ $code -eq 2 ]] || fail "exit $code, expected 2, for $what: $(head -c 300 "$work/log")"
  [[ $(wc -l <"$work/log") -eq 1 ]] || fail "not one line for $what: $(head -c 300 "$work/log")"
  grep -q "^recns_convert: error: " "$work/log" || fail "no error line for $what"
  grep -qF -- "$text" "$work/log" || fail "'$text' not in: $(head -c 300 "$work/log")"
  [[ $(inputs_sum) == "$before" ]] || fail "an input changed after $what"
  [[ -z $(strays) ]] || fail "files left after $what: $(strays)"
  # So that one failure does not spill into the next checks.
  find "$out" -mindepth 1 -delete
  make_inputs
}

# convert OUTPUT ARGS...: a conversion that must succeed.
convert() {
  local output=$1
  shift
  "$bin" "$@" -output "$output" >"$work/log" 2>&1 ||
    fail "exit $? for $*: $(head -c 300 "$work/log")"
}

# dump FILE [OBJECT]: the file's contents (or one object), without the line naming the file.
dump() {
  if [[ -n ${2:-} ]]; then h5dump -d "$2" "$1" | tail -n +2; else h5dump "$1" | tail -n +2; fi
}
command -v h5dump >/dev/null || { echo "skipping: h5dump is not installed"; exit 77; }

# make_inputs: (re)writes the inputs every check starts from.
make_inputs() {
  printf 'user,item,rating\n0,0,5\n0,1,2\n1,1,4\n1,2,5\n2,0,1\n2,2,4\n' >"$in/train.csv"
  printf 'user,item,rating\n0,2,5\n1,0,4\n2,1,5\n' >"$in/test.csv"
  printf '0 0 1 2\n1 1 3\n2 0 4\n' >"$in/lg/train.txt"
  printf '0 4\n1 0\n2 3\n' >"$in/lg/test.txt"
  if [[ -f $work/data.h5 ]]; then cp "$work/data.h5" "$in/data.h5"; fi
}
make_inputs
convert "$work/data.h5" -format csv -train "$in/train.csv" -test "$in/test.csv"
make_inputs

# --- 1. the output is never an input, whatever its name -----------------------------------------
ln -s train.csv "$in/symlink.csv"
ln "$in/train.csv" "$in/hardlink.csv"
mkdir -p "$in/sub"
for output in train.csv symlink.csv hardlink.csv sub/../train.csv; do
  expect_bad "$in/$output: the output is the input $in/train.csv" -format csv \
    -train "$in/train.csv" -test "$in/test.csv" -output "$in/$output"
done
expect_bad "$in/test.csv: the output is the input $in/test.csv" -format csv \
  -train "$in/train.csv" -test "$in/test.csv" -output "$in/test.csv"
expect_bad "$in/train.csv: the output is the input $in/train.csv" -format csv \
  -input "$in/train.csv" -output "$in/train.csv"
expect_bad "$in/data.h5: the output is the input $in/data.h5" -format recns -input "$in/data.h5" \
  -output "$in/data.h5"
expect_bad "$in/lg/train.txt: the output is the input $in/lg/train.txt" -format lightgcn \
  -input "$in/lg" -output "$in/lg/train.txt"
rm "$in/symlink.csv" "$in/hardlink.csv"

# --- 2. a header names the columns ---------------------------------------------------------------
awk -F, -v OFS=, '{ print $2, $1, $3 }' "$in/train.csv" >"$in/swapped.csv"
convert "$out/swapped.h5" -format csv -train "$in/swapped.csv" -test "$in/test.csv"
[[ $(dump "$out/swapped.h5" /train/indices) == $(dump "$work/data.h5" /train/indices) &&
  $(dump "$out/swapped.h5" /train/indptr) == $(dump "$work/data.h5" /train/indptr) ]] ||
  fail "header item,user,rating: users and items are not read by name"
rm -f "$out/swapped.h5"
printf 'who,what,stars\n0,0,5\n1,1,4\n' >"$in/unknown.csv"
expect_bad "$in/unknown.csv:1: unknown header" -format csv -train "$in/unknown.csv" \
  -test "$in/test.csv" -output "$out/x.h5"
printf 'who,what\n0,0\n1,1\n' >"$in/unknown2.csv"
expect_bad "$in/unknown2.csv:1: unknown header" -format csv -train "$in/unknown2.csv" \
  -test "$in/test.csv" -output "$out/x.h5"
printf 'customer,item,rating\n0,0,5\n' >"$in/nouser.csv"
expect_bad "$in/nouser.csv:1: the header names no user column" -format csv \
  -train "$in/nouser.csv" -test "$in/test.csv" -output "$out/x.h5"

# --- 3. CRLF (and CR CR LF) line ends read as LF ------------------------------------------------
for ends in '\r\n' '\r\r\n'; do
  awk -v e="$ends" '{ printf "%s" e, $0 }' "$in/train.csv" >"$in/crlf.csv"
  convert "$out/crlf.h5" -format csv -train "$in/crlf.csv" -test "$in/test.csv" -name data
  [[ $(dump "$out/crlf.h5") == $(dump "$work/data.h5") ]] ||
    fail "line ends '$ends': not the dataset of the LF file: $(cat "$work/log")"
  rm -f "$out/crlf.h5"
done
printf '0,1,5\n0,0,4\r\x01\n' >"$in/control.csv"
expect_bad "$in/control.csv:2: rating '4\\r\\x01' is not a number" -format csv \
  -train "$in/control.csv" -test "$in/test.csv" -output "$out/x.h5"

# --- 4. string ids are tokens, kept as raw ids ------------------------------------------------
printf 'U10001,N5523,5\nU7,N5523,4\nU7,N1,3\n' >"$in/strings.csv"
printf 'U10001,N1,5\n' >"$in/strings_test.csv"
convert "$out/strings.h5" -format csv -train "$in/strings.csv" -test "$in/strings_test.csv"
dump "$out/strings.h5" /users/raw_id 2>/dev/null | grep -q '"U10001", "U7"' ||
  fail "string user ids not kept: $(cat "$work/log")"
dump "$out/strings.h5" /items/raw_id 2>/dev/null | grep -q '"N5523", "N1"' ||
  fail "string item ids not kept"
rm -f "$out/strings.h5"

# --- 5, 6. synthetic sizes that cannot be met or do not fit -----------------------------------
expect_bad "synthetic interactions (100 per user) plus exposures (0 per user) exceed the cap of 2" \
  -format synthetic -synthetic_users 10 -synthetic_items 5 -synthetic_mean_degree 100 \
  -output "$out/x.h5"
for option in synthetic_items synthetic_users synthetic_total_interactions; do
  expect_bad "-$option 1000000000000 is out of range: integer options go from" \
    -format synthetic -$option 1000000000000 -output "$out/x.h5"
done
expect_bad "-synthetic_users -99999999999999999999 is out of range" \
  -format synthetic -synthetic_users -99999999999999999999 -output "$out/x.h5"

# The same errors on two ranks: one line, every rank exits with code 2.
if command -v mpiexec >/dev/null; then
  RUNNER="mpiexec --quiet -n 2" expect_bad "$in/train.csv: the output is the input" -format csv \
    -train "$in/train.csv" -test "$in/test.csv" -output "$in/train.csv"
  RUNNER="mpiexec --quiet -n 2" expect_bad "is out of range: integer options go from" \
    -format synthetic -synthetic_items 1000000000000 -output "$out/x.h5"
  RUNNER="mpiexec --quiet -n 2" expect_bad "exceed the cap" -format synthetic \
    -synthetic_users 10 -synthetic_items 5 -synthetic_mean_degree 100 -output "$out/x.h5"
fi

# --- 7. stopped in the middle of writing: no temporary file, no partial output --------------
big=(-format synthetic -synthetic_users 100000 -synthetic_items 50000 -synthetic_mean_degree 20
  -synthetic_exposures 20 -output "$out/big.h5")

# freeze_writer: waits (up to a minute) for the temporary file of $out/big.h5, stops the process
# that writes it (its name ends in that process id) at once, and prints the file's name; nothing
# when the file never appeared. A tight loop, as the write lasts a fraction of a second.
freeze_writer() {
  /usr/bin/python3 - "$out" <<'PY'
import os, signal, sys, time
folder, end = sys.argv[1], time.time() + 60
while time.time() < end:
    for name in os.listdir(folder):
        if name.startswith("big.h5.tmp."):
            try:
                os.kill(int(name.rsplit(".", 1)[1]), signal.SIGSTOP)
            except ProcessLookupError:
                continue
            print(os.path.join(folder, name))
            sys.exit(0)
PY
}

# stop_mid_write SIGNAL TARGET [LAUNCHER...]: starts a big conversion, freezes its writing process
# (rank 0) while the temporary file exists, sends SIGNAL to that process ("process") or to the
# launcher ("launcher"), lets it go on, and checks that it ended and left no file behind. Job
# control (set -m) keeps SIGINT as a terminal would deliver it (a background job of a script
# ignores it); `timeout` passes the signal on to the launcher and ends a process that hangs.
stop_mid_write() {
  local signal=$1 target=$2 temporary pid code=0
  shift 2
  set -m
  timeout -k 5 60 "$@" "$bin" "${big[@]}" >"$work/log" 2>&1 &
  local launched=$!
  set +m
  temporary=$(freeze_writer)
  if [[ -z $temporary ]]; then
    wait "$launched"
    fail "$signal to $target: no temporary file seen: $(head -c 300 "$work/log")"
    return
  fi
  pid=${temporary##*.}
  if [[ ! -e $temporary ]]; then  # renamed between the look and the stop
    kill -CONT "$pid"
    wait "$launched"
    echo "note: $signal to $target: the write ended before the signal; not checked"
    rm -f "$out/big.h5"
    return
  fi
  if [[ $target == process ]]; then kill -"$signal" "$pid"; else kill -"$signal" "$launched"; fi
  sleep 0.2
  kill -CONT "$pid" 2>/dev/null
  wait "$launched" 2>/dev/null || code=$?
  [[ $code -ne 0 ]] || fail "$signal to $target: exit 0 after the signal"
  [[ $code -ne 124 && $code -ne 137 ]] || fail "$signal to $target: hung, ended by timeout"
  [[ ! -e $out/big.h5 ]] || h5dump -H "$out/big.h5" >/dev/null 2>&1 ||
    fail "$signal to $target: a half-written $out/big.h5"
  [[ -z $(compgen -G "$out/big.h5.tmp.*") ]] ||
    fail "$signal to $target: temporary file left: $(ls "$out")"
  find "$out" -mindepth 1 -delete
}
for signal in TERM INT HUP; do stop_mid_write "$signal" process; done
if command -v mpiexec >/dev/null; then
  for signal in TERM INT; do stop_mid_write "$signal" launcher mpiexec --quiet -n 2; done
  stop_mid_write TERM process mpiexec --quiet -n 2
fi

if ((failures > 0)); then
  echo "convert_faults_cli: $failures check(s) failed" >&2
  exit 1
fi
echo "convert_faults_cli: all checks passed"
