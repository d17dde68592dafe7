#!/usr/bin/env bash
# Benchmark (not a test): the cost of a training step of several configurations side by side, on
# one machine in one run. Each configuration trains -train_max_steps steps (no evaluation, no
# checkpoint); the configurations alternate, REPEAT times, and OUT/step_cost.md gets each one's
# median seconds per step (the summary's seconds.steps over its steps, the first step left out)
# and its ratio to the first configuration's, with the processor's name.
# Usage: scripts/step_cost.sh DATASET.h5 'NAME|BINARY|OPTIONS' ['NAME|BINARY|OPTIONS' ...]
# Environment: RANKS (2), STEPS (40), REPEAT (3), OUT (results/step_cost).
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
    [ "$repeat" = 1 ] && names+=("$name")
    echo "step_cost: $name, run $repeat"
    # shellcheck disable=SC2086
    mpirun -q -n "${RANKS:-2}" "$binary" "$dataset" $options -train_max_steps "${STEPS:-40}" \
      -train_epochs 1 -eval_interval 0 -checkpoint_dir "" -metrics_file "" -eval_ks 20 \
      -summary "$out/$name.$repeat.json" > "$out/$name.$repeat.log"
  done
done
/usr/bin/python3 - "$out" "${REPEAT:-3}" "${names[@]}" <<'PY'
import json, statistics, sys
out, repeat, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
per_step = {}
for name in names:
    values = []
    for r in range(1, repeat + 1):
        s = json.load(open(f"{out}/{name}.{r}.json"))
        values.append((s["seconds"]["steps"] - s["seconds"]["first_step"]) / (s["steps_run"] - 1))
    per_step[name] = values
base = statistics.median(per_step[names[0]])
lines = [f"Seconds per training step (median of {repeat}, alternating; first step left out); {cpu}", "",
         "| configuration | s/step (runs) | median | ratio to " + names[0] + " |", "|---|---|---|---|"]
for name in names:
    m = statistics.median(per_step[name])
    lines.append(f"| {name} | {', '.join(f'{v:.4f}' for v in per_step[name])} | {m:.4f} | {m / base:.2f} |")
open(f"{out}/step_cost.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
