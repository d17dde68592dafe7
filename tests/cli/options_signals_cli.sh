#!/usr/bin/env bash
# Whole-program checks of option checking, memory errors and stop signals, at 2 ranks:
#  1. an option nothing reads (command line, options file; recns_train and recns_recommend) stops
#     the run before any work with one line naming it and the option probably meant; options of
#     another type, PETSc's own and a wrapper's (with -allow_unknown_options) still run;
#  2. -restart without a value is an error, not a fresh start;
#  3. an integer option beyond PetscInt's range, a model larger than the node's memory, and an
#     allocation that fails, give one error line (per failing rank for the allocation) and exit
#     2, not a wrapped value or a backtrace;
#  4. stop signals: SIGINT to one rank and SIGUSR1 to mpirun checkpoint and exit 4; SIGTERM and
#     SIGINT to mpirun checkpoint within OMPI_MCA_odls_base_sigkill_timeout and mpirun exits 1;
#     every stopped run resumes with -restart auto.
# Exit 77 (skip) when the programs are not built.
set -euo pipefail
bin="${RECNS_BIN_DIR:?}"
[[ -x $bin/recns_train && -x $bin/recns_convert ]] || { echo "skipping: $bin is not built"; exit 77; }
work="$(mktemp -d /tmp/recns_options_signals_cli.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cd "$work"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
limit_kb=""  # when set, the address-space limit (ulimit -v) of a run
run() { (if [ -n "$limit_kb" ]; then ulimit -v "$limit_kb"; fi; exec timeout 120 mpirun -q -n "$@"); }

"$bin/recns_convert" -format synthetic -synthetic_users 60 -synthetic_items 90 \
  -synthetic_mean_degree 8 -synthetic_communities 4 -valid_fraction 0.1 -output small.h5 >/dev/null
small=(small.h5 -model_dim 8 -train_epochs 1 -metrics_file "" -checkpoint_dir "")

# expect PROGRAM CODE LINE-REGEX args...: exit CODE, and every stderr line matching LINE-REGEX
# (one line unless the regex allows a rank number); nothing trained.
expect() {
  local program=$1 expected=$2 regex=$3
  shift 3
  local code=0
  run 2 "$bin/$program" "$@" > stdout.txt 2> stderr.txt || code=$?
  if [ "$code" -ne "$expected" ]; then fail "$program $* -> exit $code, expected $expected"; return; fi
  [ "$expected" -ne 0 ] || return 0
  local lines
  lines=$(wc -l < stderr.txt)
  if [ "$lines" -lt 1 ] || [ "$lines" -gt 2 ] || grep -qv "^$program: error: $regex" stderr.txt ||
    { [ "$lines" -eq 2 ] && [[ $regex != *rank* ]]; }; then
    fail "$program $* -> stderr: $(cat stderr.txt) (expected one line matching '$regex')"
  fi
  if grep -q "^epoch" stdout.txt; then fail "$program $* trained before failing"; fi
}

# 1. Unknown options.
expect recns_train 2 "unknown option -model_dm (did you mean -model_dim?)" "${small[@]}" -model_dm 8
echo "-train_epoch 3" > typo.opts
expect recns_train 2 "unknown option -train_epoch (did you mean -train_epochs?)" "${small[@]}" \
  -options_file typo.opts
expect recns_train 2 "unknown options -sampler_dns_candidate (did you mean -sampler_dns_candidates?), -zzz " \
  "${small[@]}" -sampler_type dns -sampler_dns_candidate 4 -zzz 1
expect recns_recommend 2 "unknown option -kk (did you mean -k?)" small.h5 -checkpoint none.h5 -kk 5
expect recns_train 0 "" "${small[@]}" -allow_unknown_options -wrapper_flag 1
grep -q "option -wrapper_flag was given but never used" stdout.txt ||
  fail "-allow_unknown_options: no report of -wrapper_flag at the end"
expect recns_train 0 "" "${small[@]}" -model_type mf -model_layers 2 -sampler_srns_warmup 1
expect recns_train 0 "" "${small[@]}" -sf_type basic -graph_mat_type aij -options_left no

# 2. -restart without a value.
expect recns_train 2 "-restart needs a value" "${small[@]}" -checkpoint_dir ck -restart

# 3. Integer ranges and memory.
expect recns_train 2 "-model_dim 3000000000 is out of range" "${small[@]}" -model_dim 3000000000
expect recns_train 2 "-eval_ks 99999999999 is out of range" "${small[@]}" -eval_ks 10,99999999999
# The estimate made before allocating the rows (10 TB here) against what the node has left...
expect recns_train 2 "not enough memory: the model's rows (-model_dim 1000000000, 3 layers) needs .* GiB available" \
  "${small[@]}" -model_dim 1000000000
# ... and an allocation that fails all the same (2.2 GB per rank under a 2 GB address space).
limit_kb=2000000
expect recns_train 2 "out of memory on rank [01]: " "${small[@]}" -model_dim 400000
limit_kb=""

# 4. Stop signals. An epoch of this run takes well under a second, and 2000 of them far longer than
# any check here (mpirun delays SIGTERM by the kill timeout); each run is signalled once its first
# epoch is done, and resumed for a few steps.
"$bin/recns_convert" -format synthetic -synthetic_users 2000 -synthetic_items 1500 \
  -synthetic_mean_degree 20 -synthetic_communities 8 -valid_fraction 0.1 -output mid.h5 >/dev/null
long=(mid.h5 -model_dim 16 -model_layers 1 -train_epochs 2000 -train_batch_size 512 -eval_interval 0
  -eval_user_sample 50 -metrics_file "" -checkpoint_every_epochs 0)
# signalled NAME SIGNAL TARGET EXPECTED-CODE [ENV=VALUE]: TARGET is mpirun or rank0.
signalled() {
  local name=$1 signal=$2 target=$3 expected=$4
  shift 4
  env "$@" timeout 120 mpirun -q -n 2 "$bin/recns_train" "${long[@]}" -checkpoint_dir "$name" \
    > "$name.txt" 2>&1 &
  local runner=$! pid
  for _ in $(seq 600); do grep -q "^epoch    1/" "$name.txt" 2>/dev/null && break; sleep 0.1; done
  pid=$(pgrep -x -P "$runner" mpirun || true)
  [ "$target" = mpirun ] || pid=$(pgrep -P "$pid" -f "recns_train" | sort -n | head -n 1 || true)
  [ -n "$pid" ] || { fail "$name: no process to signal"; wait "$runner" || true; return; }
  kill "-$signal" "$pid"
  local code=0
  wait "$runner" || code=$?
  [ "$code" -eq "$expected" ] || fail "$name: SIG$signal to $target: exit $code, expected $expected: $(tail -n 2 "$name.txt")"
  grep -q "stopped by a signal after .* steps: resume with -restart auto" "$name.txt" ||
    fail "$name: no stop line: $(tail -n 2 "$name.txt")"
  local newest steps
  newest=$(ls "$name"/checkpoint-*.h5 2>/dev/null | tail -n 1)
  [ -n "$newest" ] || { fail "$name: no checkpoint written"; return; }
  steps=$(basename "$newest" .h5)
  steps=$((10#${steps##*-s}))  # the steps done, in the name: resume for a few more
  run 2 "$bin/recns_train" "${long[@]}" -checkpoint_dir "$name" -restart auto -train_max_steps $((steps + 5)) \
    > "$name.resumed.txt" 2>&1 || fail "$name: resuming failed: $(tail -n 2 "$name.resumed.txt")"
  grep -q "restart: resuming from $name/checkpoint-" "$name.resumed.txt" || fail "$name: the resume did not restart"
}
signalled int_rank INT rank0 4
signalled usr1_mpirun USR1 mpirun 4
signalled term_mpirun TERM mpirun 1 OMPI_MCA_odls_base_sigkill_timeout=3
signalled int_mpirun INT mpirun 1 OMPI_MCA_odls_base_sigkill_timeout=3

if [ "$failures" -ne 0 ]; then
  echo "options_signals_cli: $failures failure(s)"
  exit 1
fi
echo "options_signals_cli: all checks passed"
