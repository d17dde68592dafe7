"""The tables of reproduce_learnable.sh, from its runs' summaries.

Usage:
  learnable_table.py choose OUT PREFIX        the setting of the best search run OUT/PREFIX*
  learnable_table.py table OUT --seeds N..    OUT/table.md and OUT/results.json
  learnable_table.py weights OUT -o PNG       AutoSample's weights per epoch, seed-1 runs
A search run is named search_<stage>_<model>_<row>_<setting>, a table run
table_<stage>_<model>_<row>_s<seed>. Every choice is made on the validation split: the best
evaluated epoch's valid Recall@20 of a seed-1 run (ties: the first by name); `choose` prints the
options of SETTING_OPTIONS the chosen run has. The table gives the best validation epoch's test
metrics, mean and standard deviation over the seeds; an AutoSample row adds the weights its
seed-1 search ended with (its log's "search over" line).
"""
import argparse
import json
import math
import os
import re
import statistics
import sys

import recns_runs

TOOL = "learnable_table"
METRIC = "recall@20"
TABLE_METRICS = ["recall@20", "ndcg@20", "recall@50", "ndcg@50"]
# The options that tell one searched setting from another.
SETTING_OPTIONS = ["-optimizer_lr", "-loss_soft_bpr_tau", "-sampler_dns_candidates",
                   "-sampler_ans_candidates", "-sampler_ans_gamma", "-sampler_ans_epsilon",
                   "-sampler_autosample_lr"]
AUTOSAMPLE_ROWS = [("uniform", "Uniform (RNS)"), ("pns", "PNS"), ("dns", "DNS"), ("aobpr", "AOBPR"),
                   ("autosample", "AutoSample (retrain)")]
STAGES = {
    "ans": ("ANS against DNS and uniform negatives (Gowalla)",
            [("uniform", "Uniform (RNS)"), ("dns", "DNS"), ("ans", "ANS")]),
    "sdns": ("DNS with BPR against DNS with soft BPR (SDNS; Gowalla)",
             [("dns_bpr", "DNS + BPR"), ("dns_soft", "DNS + soft BPR (SDNS)")]),
    "auto_ml100k": ("AutoSample against its candidates (ML-100k, BNS split)", AUTOSAMPLE_ROWS),
    "auto_lastfm": ("AutoSample against its candidates (Last.fm)", AUTOSAMPLE_ROWS),
}
SEARCH_OVER = re.compile(r"^autosample: search over after (\d+) epochs \(alpha: (.*)\);")
MODEL_NAMES = {"mf": "MF", "lightgcn": "LightGCN"}
# ANS paper, Table 2, Gowalla (its own split), Recall@20.
PAPER = {("ans", "mf"): {"uniform": "0.1389", "dns": "0.1708", "ans": "0.1778"}}


def valid_score(run):
    return run["best"]["valid"][METRIC]


def setting(run):
    return " ".join(f"{o} {recns_runs.option_value(run, o)}" for o in SETTING_OPTIONS
                    if recns_runs.option_value(run, o) is not None)


def best_run(runs):
    """The name of the run of the best valid Recall@20; ties keep the first by name."""
    best = None
    for name in sorted(runs):
        if best is None or valid_score(runs[name]) > valid_score(runs[best]):
            best = name
    return best


def search_weights(out, name):
    """(epochs, {candidate: weight}) of the run's last "search over" line, or None."""
    found = None
    try:
        with open(os.path.join(out, f"{name}.log")) as f:
            for line in f:
                match = SEARCH_OVER.match(line)
                if match:
                    pairs = [item.rsplit(" ", 1) for item in match.group(2).split(", ")]
                    found = (int(match.group(1)), {k: float(v) for k, v in pairs})
    except OSError:
        return None
    return found


def choose(args):
    runs = recns_runs.summaries(TOOL, args.out, args.prefix)
    if not runs:
        recns_runs.fail(TOOL, f"no finished search run {os.path.join(args.out, args.prefix)}*")
    print(setting(runs[best_run(runs)]))


def present(out, stage):
    """(model, row) pairs of `stage` with a search run, in table order."""
    found = []
    for model in MODEL_NAMES:
        for row, _ in STAGES[stage][1]:
            if recns_runs.summaries(TOOL, out, f"search_{stage}_{model}_{row}_"):
                found.append((model, row))
    return found


def table(args):
    lines, results = [], {}
    for stage, (title, rows) in STAGES.items():
        pairs = present(args.out, stage)
        if not pairs:
            continue
        labels = dict(rows)
        results[stage] = {}
        lines += [f"## {title}", "", "Search (seed 1; valid Recall@20 of the best evaluated epoch; "
                  "the chosen setting in bold):", "",
                  "| model | sampler | setting | best epoch | valid Recall@20 |", "|---|---|---|---|---|"]
        for model, row in pairs:
            runs = recns_runs.summaries(TOOL, args.out, f"search_{stage}_{model}_{row}_")
            chosen = best_run(runs)
            for name in sorted(runs):
                cell = setting(runs[name]) or "(defaults)"
                if name == chosen:
                    cell = f"**{cell}**"
                lines.append(f"| {MODEL_NAMES[model]} | {labels[row]} | {cell} | "
                             f"{runs[name]['best']['epoch']} | {valid_score(runs[name]):.4f} |")
            results[stage].setdefault(model, {})[row] = {
                "setting": setting(runs[chosen]),
                "search": {name: {"setting": setting(run), "valid": valid_score(run),
                                  "best_epoch": run["best"]["epoch"]} for name, run in runs.items()}}
        with_paper = any((stage, m) in PAPER for m, _ in pairs)
        header = "| model | sampler | " + " | ".join(TABLE_METRICS) + (" | paper Recall@20 |" if with_paper else " |")
        lines += ["", f"Test split, best validation epoch, mean ± standard deviation over seeds "
                  f"{', '.join(args.seeds)}:", "", header,
                  "|" + "---|" * (header.count("|") - 1)]
        for model, row in pairs:
            names = [f"table_{stage}_{model}_{row}_s{seed}" for seed in args.seeds]
            if not all(os.path.exists(os.path.join(args.out, f"{n}.summary.json")) for n in names):
                continue
            runs = [recns_runs.load_summary(TOOL, args.out, n) for n in names]
            cells, record = [], results[stage][model][row]
            record["test"] = {}
            for metric in TABLE_METRICS:
                values = [run["best"]["test"][metric] for run in runs]
                mean = statistics.mean(values)
                spread = statistics.stdev(values) if len(values) > 1 else 0.0
                record["test"][metric] = {"values": values, "mean": mean, "std": spread}
                cells.append(f"{mean:.4f} ± {spread:.4f}")
            record["best_epochs"] = [run["best"]["epoch"] for run in runs]
            if row == "autosample":
                weights = search_weights(args.out, names[0])
                record["search_weights_seed1"] = weights and {"epochs": weights[0], "alpha": weights[1]}
            tail = f" | {PAPER.get((stage, model), {}).get(row, '-')} |" if with_paper else " |"
            lines.append(f"| {MODEL_NAMES[model]} | {labels[row]} | " + " | ".join(cells) + tail)
        for model, row in pairs:
            record = results[stage][model][row]
            if record.get("search_weights_seed1"):
                if lines[-1]:
                    lines.append("")
                alpha = record["search_weights_seed1"]["alpha"]
                lines.append(f"{MODEL_NAMES[model]}: the seed-1 search ended after "
                             f"{record['search_weights_seed1']['epochs']} epochs with weights " +
                             ", ".join(f"{k} {v:.3f}" for k, v in alpha.items()) + ".")
        lines.append("")
    if not results:
        recns_runs.fail(TOOL, f"{args.out}: no finished search run of any stage")
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print("\n".join(lines))


def weights(args):
    """AutoSample's weights (its metrics columns sampler_autosample_alpha_*) per epoch, one panel
    per seed-1 table run."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    runs = []
    for stage in STAGES:
        for model in MODEL_NAMES:
            path = os.path.join(args.out, f"table_{stage}_{model}_autosample_s1.metrics.h5")
            if os.path.exists(path):
                runs.append((f"{STAGES[stage][0].split('(')[-1].rstrip(')')}, {MODEL_NAMES[model]}", path))
    if not runs:
        recns_runs.fail(TOOL, f"{args.out}: no seed-1 AutoSample run with a metrics file")
    figure, axes = plt.subplots(1, len(runs), figsize=(4.5 * len(runs), 3.5), squeeze=False)
    for axis, (title, path) in zip(axes[0], runs):
        with recns_runs.open_metrics(TOOL, path, ("epochs", "no epoch rows")) as f:
            columns = {name: f["epochs"][name][:] for name in f["epochs"]}
        alpha = sorted(c for c in columns if c.startswith("sampler_autosample_alpha_"))
        rows = [r for r, v in enumerate(columns["learning_rate"]) if not math.isnan(v)]
        for name in alpha:
            axis.plot([columns["epoch"][r] for r in rows], [columns[name][r] for r in rows],
                      label=name[len("sampler_autosample_alpha_"):])
        axis.set_title(title)
        axis.set_xlabel("epoch")
        axis.set_ylabel("weight")
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(args.output, dpi=90)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    choose_parser = sub.add_parser("choose")
    choose_parser.add_argument("out")
    choose_parser.add_argument("prefix")
    table_parser = sub.add_parser("table")
    table_parser.add_argument("out")
    table_parser.add_argument("--seeds", nargs="+", default=["1", "2", "3"])
    weights_parser = sub.add_parser("weights")
    weights_parser.add_argument("out")
    weights_parser.add_argument("-o", "--output", default="autosample_weights.png")
    args = parser.parse_args()
    {"choose": choose, "table": table, "weights": weights}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
