"""Compares two or more recns runs user by user: means, differences and significance tests.

Usage: compare_runs.py BASE.h5 OTHER.h5 [OTHER.h5 ...] [--metrics recall@20,ndcg@20]
                       [--labels A,B,...] [-o table.md] [--json results.json]

Reads the per-user metrics of each run's final test evaluation (/test_users of the metrics file,
written by recns_train -eval_per_user) and writes a markdown table: per metric, each run's mean,
and for every run after the first its difference from the first run (absolute and relative), a
paired t-test (scipy.stats.ttest_rel) and a Wilcoxon signed-rank test (scipy.stats.wilcoxon,
two-sided; differences of zero are dropped, exact p-values up to 50 users without ties) on the
users both runs evaluated. No correction for testing several metrics or runs is applied. A
warning (on stderr and in the table) says when runs evaluated different users, when a user has
another number of test items, or when the dataset name or training pairs differ: the runs then
do not share a split and the tests compare unlike things. Needs Debian's python3-h5py and
python3-scipy.
Exit codes: 0 written; 2 bad input (one line naming the file and the problem).
"""
import argparse
import json
import math
import sys
import warnings as python_warnings

import numpy as np
from scipy import stats

import recns_runs


def fail(message):
    recns_runs.fail("compare_runs", message)


def read_run(path, metrics):
    missing = "no per-user metrics (/test_users): train with -eval_per_user"
    with recns_runs.open_metrics("compare_runs", path, ("test_users", missing)) as f:
        group = f["test_users"]
        for metric in metrics:
            if metric not in group:
                known = sorted(n for n in group if n not in ("user", "truth_items"))
                fail(f"{path}: no per-user {metric} (it has {', '.join(known)}; see -eval_ks)")
        return {
            "path": path,
            "attrs": {k: recns_runs.text(v) for k, v in f.attrs.items()},
            "split": {k: recns_runs.text(v) for k, v in group.attrs.items()},
            "users": group["user"][:],
            "truth": group["truth_items"][:],
            "values": {m: group[m][:] for m in metrics},
        }


def warnings_for(base, run, base_label, label):
    found = []
    common, base_at, run_at = np.intersect1d(base["users"], run["users"], return_indices=True)
    if len(common) < max(len(base["users"]), len(run["users"])):
        found.append(f"{label} and {base_label} evaluated different users ({len(run['users'])} and "
                     f"{len(base['users'])}, {len(common)} in common): only those in common are compared")
    if (base["truth"][base_at] != run["truth"][run_at]).any():
        found.append(f"{label} and {base_label}: some users have another number of test items, "
                     "so the runs used different test splits")
    for key, what in (("dataset_name", "dataset names"), ("train_fingerprint", "training pairs")):
        a, b = base["split"].get(key), run["split"].get(key)
        if a is not None and b is not None and a != b:
            found.append(f"{label} and {base_label} have different {what} ({b} and {a}): "
                         "they did not train and test on the same split")
    return found, base_at, run_at


def compare(base_values, run_values):
    """Means, difference and the two paired tests of run - base (same users, same order)."""
    differences = run_values - base_values
    result = {"n": int(len(differences)), "base_mean": float(np.mean(base_values)),
              "mean": float(np.mean(run_values)), "diff": float(np.mean(differences))}
    result["relative"] = result["diff"] / result["base_mean"] if result["base_mean"] != 0 else math.nan
    if len(differences) < 2 or np.all(differences == differences[0]):
        result.update(t=math.nan, p_t=math.nan)  # no variance: the t statistic is undefined
    else:
        t = stats.ttest_rel(run_values, base_values)
        result.update(t=float(t.statistic), p_t=float(t.pvalue))
    if np.all(differences == 0):
        result.update(w=math.nan, p_w=math.nan)
    else:
        # SciPy warns when few users remain for its normal approximation (ties or zero
        # differences rule out the exact distribution); the table notes it instead.
        with python_warnings.catch_warnings(record=True) as caught:
            python_warnings.simplefilter("always")
            w = stats.wilcoxon(run_values, base_values)
        result.update(w=float(w.statistic), p_w=float(w.pvalue))
        if caught:
            result["note"] = "; ".join(sorted({str(c.message) for c in caught}))
    return result


def number(value, digits=4):
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def pvalue(value):
    if value is None or math.isnan(value):
        return "—"
    return f"{value:.2e}" if value < 1e-3 else f"{value:.4f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", help="metrics files with /test_users; the first is the baseline")
    parser.add_argument("--metrics", default="recall@20,ndcg@20",
                        help="comma-separated metrics (default recall@20,ndcg@20)")
    parser.add_argument("--labels", help="comma-separated labels, one per file (default: from the files)")
    parser.add_argument("-o", "--output", help="markdown file to write (default: standard output)")
    parser.add_argument("--json", help="also write the figures as JSON")
    args = parser.parse_args()
    if len(args.files) < 2:
        fail("give at least two metrics files")
    metrics = [m for m in args.metrics.split(",") if m]
    runs = [read_run(path, metrics) for path in args.files]
    labels = args.labels.split(",") if args.labels else recns_runs.run_labels(runs)
    if len(labels) != len(runs):
        fail(f"--labels gives {len(labels)} labels for {len(runs)} files")

    base, warnings, figures = runs[0], [], {}
    pairs = []
    for run, label in zip(runs[1:], labels[1:]):
        found, base_at, run_at = warnings_for(base, run, labels[0], label)
        warnings += found
        pairs.append((run, label, base_at, run_at))
    for message in warnings:
        print(f"compare_runs: warning: {message}", file=sys.stderr)

    lines = [f"Per-user test metrics; baseline {labels[0]} ({len(base['users'])} users). "
             "Δ = run − baseline over the users both evaluated; paired t-test and Wilcoxon "
             "signed-rank test, two-sided, no correction for multiple comparisons.", ""]
    lines += [f"> warning: {message}" for message in warnings]
    if warnings:
        lines.append("")
    lines += ["| metric | run | users | mean | Δ | Δ% | t | p (t-test) | W | p (Wilcoxon) |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for metric in metrics:
        figures[metric] = {labels[0]: {"n": int(len(base["users"])),
                                       "mean": float(np.mean(base["values"][metric]))}}
        lines.append(f"| {metric} | {labels[0]} (baseline) | {len(base['users'])} | "
                     f"{number(figures[metric][labels[0]]['mean'])} | | | | | | |")
        for run, label, base_at, run_at in pairs:
            result = compare(base["values"][metric][base_at], run["values"][metric][run_at])
            figures[metric][label] = result
            lines.append(f"| {metric} | {label} | {result['n']} | {number(result['mean'])} | "
                         f"{result['diff']:+.4f} | {100 * result['relative']:+.1f}% | "
                         f"{number(result['t'], 3)} | {pvalue(result['p_t'])} | {number(result['w'], 1)} | "
                         f"{pvalue(result['p_w'])} |")
    notes = sorted({f"{metric}, {label}: Wilcoxon: {result['note']}"
                    for metric, by_run in figures.items() for label, result in by_run.items() if "note" in result})
    if notes:
        lines += [""] + [f"Note: {note}" for note in notes]
    table = "\n".join(lines) + "\n"
    if args.output:
        with open(args.output, "w") as out:
            out.write(table)
    else:
        sys.stdout.write(table)
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"baseline": labels[0], "warnings": warnings, "metrics": figures}, out, indent=1)


if __name__ == "__main__":
    main()
