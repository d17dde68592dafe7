#!/usr/bin/env bash
# Benchmark (not a test): the cost of a training step of several configurations side by side, on
# one machine in one run. Each configuration trains -train_max_steps steps (no evaluation, no
# checkpoint); the configurations alternate, REPEAT times, and OUT/step_cost.md gets each one's
# median seconds per step (the summary's seconds.steps over its steps, the first step left out)
# and its ratio to the first configuration's, with the processor's name (scripts/step_cost.py).
# Usage: scripts/step_cost.sh DATASET.h5 'NAME|BINARY|OPTIONS' ['NAME|BINARY|OPTIONS' ...]
# Environment: RANKS (2), STEPS (40), REPEAT (3), OUT (results/step_cost); KEEP_GOING=1: a failed
# run does not stop the script: its exit status goes to OUT/NAME.exit, its configuration is left
# out of the later repeats, and the table says why (the trainer's error line).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/env.sh"
dataset="$1"
shift
out="${OUT:-$root/results/step_cost}"
mkdir -p "$out"
names=()
for repeat in $(seq "${REPEAT:-3}"); do
  for config in "$@"; do
    IFS='|' read -r name binary options <<<"$config"
    if [ "$repeat" = 1 ]; then
      names+=("$name")
      rm -f "$out/$name".*
    fi
    [ -f "$out/$name.exit" ] && continue
    echo "step_cost: $name, run $repeat"
    status=0
    # shellcheck disable=SC2086
    mpirun -q -n "${RANKS:-2}" "$binary" "$dataset" $options -train_max_steps "${STEPS:-40}" \
      -train_epochs 1 -eval_interval 0 -checkpoint_dir "" -metrics_file "" -eval_ks 20 \
      -summary "$out/$name.$repeat.json" > "$out/$name.$repeat.log" 2>&1 || status=$?
    if [ "$status" != 0 ]; then
      tail -n 20 "$out/$name.$repeat.log" >&2
      [ "${KEEP_GOING:-0}" = 1 ] || exit "$status"
      echo "$status" > "$out/$name.exit"
    fi
  done
done
/usr/bin/python3 "$root/scripts/step_cost.py" "$out" "${REPEAT:-3}" "${names[@]}"
