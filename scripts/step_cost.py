"""Seconds per training step of scripts/step_cost.sh's runs, and its table OUT/step_cost.md.

Usage: step_cost.py OUT REPEAT NAME [NAME ...]
Reads OUT/NAME.R.json (recns_train's summary) and OUT/NAME.R.log for R = 1..REPEAT. A step's cost
is the summary's seconds.steps over its steps, the first step left out. A configuration whose run
failed (no summary) keeps the runs it made, and its error: the trainer's one-line error message
when the log has one, else its exit status (OUT/NAME.exit). scripts/bench_report.py reads the same
runs through measure().
"""
import json
import os
import re
import statistics
import sys


def seconds_per_step(summary):
    """Seconds per step after the first, or None when the run made fewer than two steps."""
    seconds, steps = summary.get("seconds", {}), summary.get("steps_run", 0)
    if steps < 2 or "steps" not in seconds or "first_step" not in seconds:
        return None
    return (seconds["steps"] - seconds["first_step"]) / (steps - 1)


def run_error(out, name):
    """Why NAME's runs stopped: the trainer's error line ("recns_train: error: ..."), else its exit
    status; None when none of its runs failed."""
    exit_file = f"{out}/{name}.exit"
    if not os.path.exists(exit_file):
        return None
    status = open(exit_file).read().strip()
    logs = sorted(f for f in os.listdir(out) if f.startswith(f"{name}.") and f.endswith(".log"))
    for log in logs:
        for line in open(f"{out}/{log}", errors="replace"):
            m = re.search(r"\berror: (.*)$", line)
            if m:
                # A message about the dataset names it first ("path: what went wrong").
                head, _, rest = m.group(1).partition(": ")
                return (rest if rest and (head.endswith(".h5") or os.path.exists(head))
                        else m.group(1)).strip()
    return f"exit status {status} (log {out}/{logs[-1] if logs else name + '.*.log'})"


def measure(out, names, repeat):
    """{name: {"runs": [s/step of each run], "median": s/step or None, "summaries": [summary of
    each run], "error": None or why its runs stopped}}."""
    result = {}
    for name in names:
        runs, summaries = [], []
        for r in range(1, repeat + 1):
            path = f"{out}/{name}.{r}.json"
            if not os.path.exists(path):
                continue
            summary = json.load(open(path))
            summaries.append(summary)
            value = seconds_per_step(summary)
            if value is not None:
                runs.append(value)
        result[name] = {"runs": runs, "median": statistics.median(runs) if runs else None,
                        "summaries": summaries, "error": run_error(out, name)}
    return result


def main(out, repeat, names):
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "?")
    measured = measure(out, names, repeat)
    base = measured[names[0]]["median"]
    lines = [f"Seconds per training step (median of {repeat}, alternating; first step left out); {cpu}", "",
             "| configuration | s/step (runs) | median | ratio to " + names[0] + " |", "|---|---|---|---|"]
    for name in names:
        m = measured[name]
        if m["median"] is None:
            lines.append(f"| {name} | not measured: {m['error'] or 'fewer than two steps'} | | |")
            continue
        ratio = f"{m['median'] / base:.2f}" if base else "missing"
        lines.append(f"| {name} | {', '.join(f'{v:.4f}' for v in m['runs'])} | {m['median']:.4f} | {ratio} |")
    open(f"{out}/step_cost.md", "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
