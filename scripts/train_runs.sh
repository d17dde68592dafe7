# Sourced by the reproduction scripts: trainings listed one per line, run JOBS at a time, each
# skipped when its summary exists, and resumed from its newest checkpoint when it has one (a
# stopped reproduction resumes where it was: -checkpoint_every_minutes bounds what a kill loses).
# The caller sets
# and exports: out (the results folder), bin (recns_train's folder), tool (its name, for
# messages), run_ranks (ranks per training), jobs.
#
# train_run NAME DATASET OPTIONS...: one training, its files OUT/NAME.{log,summary.json,metrics.h5};
# the summary appears only once the run is complete.
train_run() {
  local name="$1" data="$2"
  shift 2
  [ -f "$out/$name.summary.json" ] && return 0
  mpirun -q --bind-to none -n "$run_ranks" "$bin/recns_train" "$data" "$@" \
    -metrics_file "$out/$name.metrics.h5" -summary "$out/$name.summary.json.part" \
    -checkpoint_dir "$out/checkpoints/$name" -restart auto >> "$out/$name.log" 2>&1 ||
    { echo "$tool: $name failed, see $out/$name.log" >&2; return 1; }
  mv "$out/$name.summary.json.part" "$out/$name.summary.json"
  rm -rf "$out/checkpoints/$name"
  echo "$tool: $name done ($(grep '^best epoch' "$out/$name.log" | head -n 1))"
}
export -f train_run

# Lines "NAME DATASET OPTIONS..." on standard input, each through the function named by $1
# (default train_run), JOBS at a time.
train_run_all() { xargs -P "$jobs" -L 1 bash -c "${1:-train_run}"' "$@"' _; }
