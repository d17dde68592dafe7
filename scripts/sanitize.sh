#!/usr/bin/env bash
# Builds recns with AddressSanitizer (LeakSanitizer on) and UndefinedBehaviorSanitizer in
# build-sanitize/ and runs recns_unit_tests, then recns_mpi_tests at 1 and 2 ranks. Each process
# writes its reports to build-sanitize/sanitize-reports/report.<pid>; known reports of the
# libraries under us are suppressed by scripts/sanitize/lsan.supp (only Open MPI's leaks need it:
# its libraries, PMIx, PETSc and HDF5 give no other report in these runs). Ends with a summary and
# fails if a report or a test failure remains.
# A developer's check, not part of ctest: the MPI tests run several times slower here.
# Usage: scripts/sanitize.sh [extra cmake args]
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/env.sh"
build="$root/build-sanitize"
reports="$build/sanitize-reports"

mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRECNS_SANITIZE=ON "$@" \
  > "$build/build.log" 2>&1 || { cat "$build/build.log"; exit 1; }
cmake --build "$build" -j "$(nproc)" >> "$build/build.log" 2>&1 ||
  { tail -n 60 "$build/build.log"; exit 1; }
echo "sanitize: built (log in $build/build.log)"

rm -rf "$reports"
mkdir -p "$reports"
# mpirun is not instrumented; it passes these to the ranks it starts. Errors stop the process
# (UBSan's through -fno-sanitize-recover), so a report also fails its test run. Open MPI and
# PETSc are built without frame pointers: allocation stacks need the slow (DWARF) unwinder to
# reach the Open MPI functions the leak suppressions name.
common="log_path=$reports/report:print_suppressions=1"
export ASAN_OPTIONS="$common:detect_leaks=1:fast_unwind_on_malloc=0:check_initialization_order=1"
export LSAN_OPTIONS="$common:suppressions=$root/scripts/sanitize/lsan.supp"
export UBSAN_OPTIONS="$common:print_stacktrace=1"
export GTEST_COLOR=no
export RECNS_SHARED_DATA="${RECNS_SHARED_DATA:-$root/../shared/data}"
export RECNS_BIN_DIR="$build" RECNS_SOURCE_DIR="$root"

failed=()
run() {  # run NAME COMMAND...: in build-sanitize/tests as ctest does; output in $reports/NAME.log
  local name="$1" start=$SECONDS
  shift
  if (cd "$build/tests" && "$@") > "$reports/$name.log" 2>&1; then
    echo "sanitize: $name passed ($((SECONDS - start)) s)"
  else
    echo "sanitize: $name FAILED ($((SECONDS - start)) s; log in $reports/$name.log)"
    failed+=("$name")
  fi
}
run unit "$build/tests/recns_unit_tests"
run mpi.np1 mpirun -n 1 "$build/tests/recns_mpi_tests"
run mpi.np2 mpirun -n 2 "$build/tests/recns_mpi_tests"

# --- summary ------------------------------------------------------------------------------------
shopt -s nullglob
files=("$reports"/report.*)
shopt -u nullglob
echo "sanitize: ${#files[@]} processes wrote sanitizer output to $reports"
# A sanitizer report ends with one "SUMMARY: <Sanitizer>: ..." line; "Suppressions used:" is
# followed by "count bytes template" rows, summed here over every process.
unsuppressed=0
own=()
for f in "${files[@]}"; do
  n=$(grep -c '^SUMMARY: ' "$f")
  unsuppressed=$((unsuppressed + n))
  [ "$n" -gt 0 ] && echo "  $(basename "$f"): $(grep '^SUMMARY: ' "$f" | head -n 3 | tr '\n' ' ')"
  grep -qE "$root/(src|include|tests)/" "$f" && own+=("$(basename "$f")")
done
echo "sanitize: $unsuppressed unsuppressed reports, ${#own[@]} naming recns code${own[*]:+: ${own[*]}}"
echo "sanitize: suppressed leaks over all processes (count, bytes, lsan.supp pattern):"
[ ${#files[@]} -gt 0 ] && awk '/^Suppressions used:/ { on = 1; next }
     on && $1 == "count" { next }
     on && $1 ~ /^[0-9]+$/ && NF == 3 { count[$3] += $1; bytes[$3] += $2; next }
     { on = 0 }
     END { for (t in count) printf "  %8d %12d  %s\n", count[t], bytes[t], t }' "${files[@]}" |
  sort -k3
[ ${#failed[@]} -eq 0 ] || echo "sanitize: failed runs: ${failed[*]}"
[ "$unsuppressed" -eq 0 ] && [ ${#own[@]} -eq 0 ] && [ ${#failed[@]} -eq 0 ]
