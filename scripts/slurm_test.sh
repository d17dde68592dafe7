#!/usr/bin/env bash
# End-to-end check of jobs/train.sbatch on a throwaway single-node Slurm (../shared/tools/slurm-local):
# a 2-rank training is submitted with a 2-minute walltime and --signal=USR1@80, so Slurm signals
# it mid-run; recns_train must checkpoint and exit 4, the job must requeue itself, resume
# ("restart: resuming from") and complete, with final test metrics equal (1e-9 relative) to an
# uninterrupted `mpirun -n 2` run of the same training. Prints PASS/FAIL/INFO lines and timings;
# exit 0 pass, 1 fail, 77 skipped (RECNS_SKIP_SLURM=1). Takes about 3 minutes on 2 cores.
# Needs root: the up script installs missing Slurm packages with apt-get and starts the daemons;
# the down script always runs at exit (it stops every job and daemon of that local cluster).
# Env: RECNS_BIN_DIR (default build/), RECNS_SHARED (default ../shared beside the repository),
#      RECNS_SLURM_TEST_EPOCHS (default: measured so that the uninterrupted run takes ~70 s).
set -euo pipefail
if [ "${RECNS_SKIP_SLURM:-0}" = 1 ]; then echo "SKIP: RECNS_SKIP_SLURM=1"; exit 77; fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
slurm_local="${RECNS_SHARED:-$root/../shared}/tools/slurm-local"
bin="${RECNS_BIN_DIR:-$root/build}"
source "$root/scripts/env.sh"
# A requeued job may start again cred_expire seconds later: 10 instead of the recipe's 30.
export SLURM_LOCAL_CRED_EXPIRE="${SLURM_LOCAL_CRED_EXPIRE:-10}"
[ "$(nproc)" -ge 2 ] || export SLURM_LOCAL_CPUS="${SLURM_LOCAL_CPUS:-2}"  # the job needs 2 tasks

walltime_min=2 signal_at=80   # Slurm signals 80-110 s before the end, i.e. 10-40 s into the run
target_seconds=70 min_seconds=55   # the uninterrupted run must outlast the signal comfortably
train_opts=(-model_type lightgcn -model_dim 32 -model_layers 2 -train_batch_size 256 -eval_interval 10)

t0=$EPOCHREALTIME
clock() { awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
info() { echo "INFO +$(clock)s: $*"; }
die() { fail "$*"; exit 1; }

work="" job="" up_started=0
cleanup() {
  local code=$?
  [ -z "$job" ] || timeout 10 scancel "$job" 2>/dev/null || true
  if [ "$code" -ne 0 ] || [ "$failures" -ne 0 ]; then
    [ ! -f "$work/job.out" ] || { echo "--- job output $work/job.out"; tail -n 40 "$work/job.out"; }
    local log="${SLURM_LOCAL_DIR:-/tmp/slurm-local}/log/slurmctld.log"
    [ ! -f "$log" ] || { echo "--- tail $log"; tail -n 20 "$log"; }
    [ -z "$work" ] || rmdir "$work" 2>/dev/null || echo "(work folder kept: $work)"
  elif [ -n "$work" ]; then
    rm -rf "$work"
  fi
  if [ "$up_started" = 1 ]; then
    local t=$EPOCHREALTIME
    timeout 120 bash "$slurm_local/slurm_local_down.sh" | sed 's/^/  /' || echo "WARNING: slurm_local_down.sh failed"
    echo "INFO: Slurm torn down in $(since "$t") s"
  fi
  echo "slurm_test: $([ "$code" -eq 0 ] && [ "$failures" -eq 0 ] && echo PASSED || echo FAILED) in $(clock) s"
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for f in recns_train recns_convert; do
  [ -x "$bin/$f" ] || die "$bin/$f not found (build first, or set RECNS_BIN_DIR)"
done
bin="$(cd "$bin" && pwd)"   # absolute: the job runs in the work folder
export RECNS_BIN_DIR="$bin"
[ -f "$slurm_local/slurm_local_up.sh" ] ||
  die "the local-Slurm recipe is not at $slurm_local (set RECNS_SHARED, or RECNS_SKIP_SLURM=1 to skip)"

work="$(mktemp -d /tmp/recns_slurm_test.XXXXXX)"

# 1. Slurm (installs slurmctld slurmd slurm-client munge libpmix-dev when missing).
t=$EPOCHREALTIME
up_started=1
timeout 300 bash "$slurm_local/slurm_local_up.sh" | sed 's/^/  /' ||
  die "could not start a local Slurm (root needed; packages from apt: slurmctld slurmd slurm-client munge libpmix-dev; scripts/install_deps.sh installs them). Set RECNS_SKIP_SLURM=1 to skip"
info "Slurm up in $(since "$t") s"

# 2. A small synthetic dataset and the uninterrupted reference run on 2 ranks.
"$bin/recns_convert" -format synthetic -synthetic_users 2000 -synthetic_items 1000 \
  -synthetic_mean_degree 20 -synthetic_communities 8 -valid_fraction 0.1 \
  -output "$work/data.h5" > "$work/convert.txt" || die "recns_convert failed: $(cat "$work/convert.txt")"
mkdir -p "$work/ref" "$work/job"
seconds=0
reference() {  # reference EPOCHS: trains uninterrupted, sets $seconds
  local t=$EPOCHREALTIME
  timeout 900 mpirun -q -n 2 "$bin/recns_train" "$work/data.h5" "${train_opts[@]}" -train_epochs "$1" \
    -metrics_file "$work/ref/metrics.h5" -summary "$work/ref/summary.json" \
    -checkpoint_dir "$work/ref/checkpoints" > "$work/ref/out.txt" 2>&1 ||
    die "the reference run (mpirun -n 2, $1 epochs) failed: $(tail -n 5 "$work/ref/out.txt")"
  seconds=$(since "$t")
  info "uninterrupted run, 2 ranks, $1 epochs: $seconds s"
}
if [ -n "${RECNS_SLURM_TEST_EPOCHS:-}" ]; then
  epochs=$RECNS_SLURM_TEST_EPOCHS
  reference "$epochs"
else  # measure 4 epochs, aim at target_seconds, and lengthen once if the machine got faster
  reference 4
  epochs=$(awk -v s="$seconds" -v t="$target_seconds" 'BEGIN { e = int(4 * t / s + 1); print (e < 8 ? 8 : e) }')
  reference "$epochs"
  if awk -v s="$seconds" -v m="$min_seconds" 'BEGIN { exit !(s < m) }'; then
    epochs=$(awk -v e="$epochs" -v s="$seconds" -v t="$target_seconds" 'BEGIN { print int(e * t / s + 1) }')
    reference "$epochs"
  fi
fi
reference_seconds=$seconds
awk -v s="$seconds" -v m="$min_seconds" 'BEGIN { exit !(s < m) }' &&
  info "WARNING: the uninterrupted run ($seconds s) may end before the signal (10-40 s after the start)"

# 3. The same training as a Slurm job that the walltime interrupts.
t_submit=$EPOCHREALTIME
job=$(timeout 30 sbatch --parsable -J recns-slurm-test -N 1 -n 2 -t "$walltime_min" \
  --signal="USR1@$signal_at" -o "$work/job.out" --chdir="$work" "$root/jobs/train.sbatch" \
  "$work/data.h5" "${train_opts[@]}" -train_epochs "$epochs" \
  -metrics_file "$work/job/metrics.h5" -summary "$work/job/summary.json") || die "sbatch failed"
info "submitted job $job: sbatch -n 2 -t $walltime_min --signal=USR1@$signal_at jobs/train.sbatch ... -train_epochs $epochs"
deadline=$(( $(date +%s) + 300 + 6 * ${reference_seconds%.*} ))  # generous: a busy machine slows the job
t_run1="" t_requeue="" t_run2="" state="" restarts=0 extended=0
while :; do
  line=$(timeout 10 scontrol -o show job "$job" 2>/dev/null || true)
  state=$(sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' <<< "$line")
  restarts=$(sed -n 's/.* Restarts=\([0-9]*\).*/\1/p' <<< "$line")
  restarts=${restarts:-0}
  case "$state" in
    RUNNING)
      if [ "$restarts" -eq 0 ] && [ -z "$t_run1" ]; then t_run1=$EPOCHREALTIME; info "run 1 started"; fi
      if [ "$restarts" -ge 1 ] && [ -z "$t_run2" ]; then t_run2=$EPOCHREALTIME; info "run 2 started"; fi ;;
    COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED) break ;;
  esac
  if [ "$restarts" -ge 1 ] && [ -z "$t_requeue" ]; then
    t_requeue=$EPOCHREALTIME; info "requeued (state $state)"
  fi
  # Give the resumed run time to finish, else the walltime signal would interrupt it once more.
  if [ -n "$t_requeue" ] && [ "$extended" = 0 ]; then
    minutes=$(awk -v r="$reference_seconds" 'BEGIN { print int(6 * r / 60) + 3 }')
    timeout 10 scontrol update JobId="$job" TimeLimit="$minutes" && extended=1 &&
      info "time limit of the requeued job raised to $minutes min"
  fi
  [ "$(date +%s)" -lt "$deadline" ] || { fail "job $job still $state after $(since "$t_submit") s"; break; }
  sleep 0.5
done
t_end=$EPOCHREALTIME
info "job $job ended: $state, restarts $restarts"

# 4. Verdict.
exit_code=$(timeout 10 scontrol -o show job "$job" 2>/dev/null | sed -n 's/.* ExitCode=\([0-9:]*\).*/\1/p' || true)
[ "$state" = COMPLETED ] && [ "$exit_code" = 0:0 ] && pass "job $job COMPLETED (ExitCode $exit_code)" ||
  fail "job $job ended $state (ExitCode $exit_code)"
[ "$restarts" -ge 1 ] && pass "requeued $restarts time(s) (scontrol Restarts=$restarts)" ||
  fail "never requeued: the training ended before the walltime signal, or did not exit 4 on it"
grep -q "recns_train exited with 4" "$work/job.out" 2>/dev/null &&
  pass "recns_train exited 4 after the signal, srun passed it on" || fail "no exit code 4 in the job output"
grep -q "^restart: resuming from " "$work/job.out" 2>/dev/null &&
  pass "the second run resumed: $(grep -m1 '^restart: resuming from ' "$work/job.out")" ||
  fail "no 'restart: resuming from' line in the job output"
[ "$(grep -c "^train.sbatch: job $job run " "$work/job.out" 2>/dev/null)" -ge 2 ] &&
  pass "both runs appended to one log" || fail "the log does not hold both runs (--open-mode=append?)"
if [ -f "$work/job/summary.json" ] &&
  /usr/bin/python3 - "$work/ref/summary.json" "$work/job/summary.json" <<'EOF'
import json, sys
ref, job = (json.load(open(path)) for path in sys.argv[1:3])
expected, got = ref["final"]["test"], job["final"]["test"]
bad = 0
for key in sorted(expected):
    a, b = expected[key], got.get(key)
    same = b is not None and (a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b)))
    bad += not same
    print(f"  final test {key}: uninterrupted {a!r}, requeued {b!r}{'' if same else '  DIFFERENT'}")
print(f"  epochs_run: uninterrupted {ref.get('epochs_run')}, requeued {job.get('epochs_run')}")
sys.exit(1 if bad or not expected else 0)
EOF
then pass "final test metrics equal the uninterrupted run's"
else fail "final test metrics differ from the uninterrupted run's (or no summary)"
fi
echo "--- job output, without the epoch lines"
grep -v '^epoch ' "$work/job.out" | sed 's/^/  /' || true

# 5. Timings.
if [ -n "$t_run1" ]; then
  echo "timings: reference run $reference_seconds s ($epochs epochs); submit to run 1 $(awk -v a="$t_submit" -v b="$t_run1" 'BEGIN { printf "%.1f", b - a }') s"
  [ -z "$t_requeue" ] || echo "  run 1 until requeued (signal, checkpoint, exit 4): $(awk -v a="$t_run1" -v b="$t_requeue" 'BEGIN { printf "%.1f", b - a }') s"
  [ -z "$t_run2" ] || echo "  requeued until run 2: $(awk -v a="$t_requeue" -v b="$t_run2" 'BEGIN { printf "%.1f", b - a }') s; run 2: $(awk -v a="$t_run2" -v b="$t_end" 'BEGIN { printf "%.1f", b - a }') s"
  echo "  whole job: $(awk -v a="$t_submit" -v b="$t_end" 'BEGIN { printf "%.1f", b - a }') s"
fi
[ "$failures" -eq 0 ]
