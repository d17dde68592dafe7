"""The tables of reproduce_recns.sh, from its runs' summaries and logs.

Usage:
  recns_table.py search-lr OUT --models M..   the learning rate of uniform negatives per model
  recns_table.py search OUT --models M..      each sampler's setting; writes OUT/search.md
  recns_table.py options OUT --models M --sampler S   the chosen options of one table row
  recns_table.py table OUT --models M.. --seeds N..   OUT/table.md, results.json, recall.png
  recns_table.py region OUT --seeds N..       the Last.fm region study, appended to table.md
  recns_table.py alibaba OUT --seeds R..      OUT/alibaba.md from the step-cost runs R (repeats)
Every choice is made on the validation split: the best evaluated epoch's valid Recall@20 of a
seed-1 run (ties: the first setting listed). PinSage's search is of the learning rate of uniform
negatives alone; its DNS and RecNS rows take LightGCN's chosen sampler settings (without LightGCN's
rate and L2) at that rate, so --models must list lightgcn too.
"""
import argparse
import json
import os
import re
import statistics
import sys

import recns_runs

METRIC = "recall@20"
TABLE_METRICS = ["recall@20", "ndcg@20", "hr@20"]
SPLITS = [("test", "test split"), ("test_random", "random-exposure split")]
ROWS = [
    ("uniform", "Uniform (RNS)"),
    ("dns", "DNS"),
    ("expns", "ExpNS"),
    ("mixedns", "MixedNS"),
    ("recns", "RecNS"),
    ("recns_wo_pa", "RecNS w/o p-a"),
    ("recns_wo_ea", "RecNS w/o e-a"),
    ("recns_bpr", "RecNS's negatives, BPR loss"),
]
# The sampler whose chosen setting a table row uses, and what the row adds to it.
ROW_BASE = {"recns_wo_pa": ("recns", "-sampler_recns_positive_assisted false"),
            "recns_wo_ea": ("recns", "-sampler_recns_exposure_augmented false")}
MODEL_NAMES = {"lightgcn": "LightGCN", "ngcf": "NGCF", "mf": "MF", "pinsage": "PinSage"}
# The models whose search is of the learning rate alone, the model whose chosen sampler settings
# they take, and their table rows (every row of ROWS for the other models).
BORROWS_SETTINGS = {"pinsage": "lightgcn"}
MODEL_ROWS = {"pinsage": ["uniform", "dns", "recns"]}
# The options of a borrowed setting that stay the lending model's own.
NOT_BORROWED = ("-optimizer_lr", "-loss_l2")
# RecNS paper, Table 2, LightGCN (%), Recall / NDCG / HR @20: (Zhihu, Alibaba).
PAPER = {
    "uniform": ("4.32 / 4.92 / 50.47", "5.43 / 2.45 / 7.60"),
    "dns": ("4.79 / 5.45 / 54.28", "5.98 / 2.76 / 8.29"),
    "expns": ("0.76 / 0.84 / 11.35", "0.95 / 0.43 / 1.33"),
    "mixedns": ("3.67 / 4.25 / 46.65", "3.97 / 1.82 / 5.53"),
    "recns": ("4.91 / 5.55 / 55.37", "6.86 / 3.22 / 9.51"),
}


def fail(message):
    print(f"recns_table: error: {message}", file=sys.stderr)
    sys.exit(2)


def summary(out, name):
    return recns_runs.load_summary("recns_table", out, name)


def valid_score(run):
    return run["best"]["valid"][METRIC]


def search_runs(out, prefix):
    """name -> summary of every finished search run whose name starts with `prefix`."""
    return recns_runs.summaries("recns_table", out, prefix)


option_value = recns_runs.option_value


# The options that define a sampler's setting in the search (beyond -sampler_type).
SETTING_OPTIONS = {
    "uniform": [],
    "dns": ["-sampler_dns_candidates"],
    "expns": [],
    "mixedns": ["-sampler_mixedns_exposure_probability"],
    "recns": ["-loss_type", "-loss_hinge_margin", "-sampler_recns_weighting"],
    "recns_bpr": ["-loss_type", "-sampler_recns_weighting"],
}
# The sampler type of a setting whose name is not one.
SAMPLER_TYPE = {"recns_bpr": "recns"}


def load_chosen(out):
    path = os.path.join(out, "chosen.json")
    if not os.path.exists(path):
        fail(f"{path} is absent: run the search stage first")
    with open(path) as f:
        return json.load(f)


def save_chosen(out, chosen):
    with open(os.path.join(out, "chosen.json"), "w") as f:
        json.dump(chosen, f, indent=2, sort_keys=True)


def grid_models(models):
    """The models of the full search, in the order given."""
    return [m for m in models if m not in BORROWS_SETTINGS]


def borrowing_models(models):
    """The models whose search is of the learning rate alone; their lender must be listed."""
    borrowing = [m for m in models if m in BORROWS_SETTINGS]
    for model in borrowing:
        if BORROWS_SETTINGS[model] not in models:
            fail(f"--models {' '.join(models)}: {model} takes the chosen sampler settings of "
                 f"{BORROWS_SETTINGS[model]}, which must be listed too")
    return borrowing


def lr_rows(args, model, lines, rates):
    runs = search_runs(args.out, f"search_{model}_uniform_lr")
    if not runs:
        fail(f"no search_{model}_uniform_lr* runs in {args.out}")
    for run in runs.values():
        lines.append(f"| {MODEL_NAMES.get(model, model)} | {option_value(run, '-optimizer_lr')} | "
                     f"{run['best']['epoch']} | {valid_score(run):.4f} | "
                     f"{run['best']['valid']['ndcg@20']:.4f} |")
    best = max(runs, key=lambda name: valid_score(runs[name]))
    rates[model] = option_value(runs[best], "-optimizer_lr")
    return runs[best]


def lr_section(args):
    """The learning-rate search of uniform negatives: its lines and the chosen rate per model."""
    lines = ["# RecNS reproduction: the search on the validation split (seed 1)", ""]
    header = ["| model | lr | best epoch | valid Recall@20 | valid NDCG@20 |", "|---|---|---|---|---|"]
    rates = {}
    graph = grid_models(args.models)
    if graph:
        lines += ["## Learning rate, uniform negatives (L2 1e-4)", ""] + header
        for model in graph:
            lr_rows(args, model, lines, rates)
    for model in borrowing_models(args.models):
        name = MODEL_NAMES.get(model, model)
        lines += ([""] if graph else []) + [
            f"## Learning rate, {name}, uniform negatives (batch 512, features d = 50, width 256, "
            "fan-outs 10 and 25, gradient clipping at 5, no L2 on the features: the RecNS paper's "
            "PinSage settings)", ""] + header
        lr_rows(args, model, lines, rates)
    return lines, rates


def search_lr(args):
    lines, rates = lr_section(args)
    chosen = {model: {"lr": lr} for model, lr in rates.items()}
    save_chosen(args.out, chosen)
    for model, lr in rates.items():
        with open(os.path.join(args.out, f"chosen_{model}_lr.txt"), "w") as f:
            f.write(lr + "\n")
    with open(os.path.join(args.out, "search.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def search(args):
    """Each sampler's setting: the best of its runs (its own options at the chosen rate, then
    the learning rate and L2 around that setting). Rewrites search.md whole."""
    lines, rates = lr_section(args)
    chosen = {model: {"lr": lr} for model, lr in rates.items()}
    lines += ["", "## Each sampler's setting", "",
              "First at the chosen learning rate with L2 1e-4, then (uniform, DNS and RecNS) the "
              "best of those settings at other learning rates and L2 weights.", "",
              "| model | sampler | setting | best epoch | valid Recall@20 | valid NDCG@20 |",
              "|---|---|---|---|---|---|"]
    for model in grid_models(args.models):
        for sampler, own in SETTING_OPTIONS.items():
            options = ["-optimizer_lr", "-loss_l2"] + own
            runs = search_runs(args.out, f"search_{model}_{sampler}_")
            # "recns" is a prefix of "recns_bpr": each setting keeps its own runs.
            runs = {name: run for name, run in runs.items()
                    if not any(other != sampler and name.startswith(f"search_{model}_{other}_")
                               for other in SETTING_OPTIONS if other.startswith(sampler))}
            if not runs:
                fail(f"no search_{model}_{sampler}_* runs in {args.out}")
            best_name = max(runs, key=lambda name: valid_score(runs[name]))
            for name, run in runs.items():
                setting = " ".join(f"{o} {option_value(run, o)}" for o in options
                                   if option_value(run, o) is not None)
                mark = " (chosen)" if name == best_name else ""
                lines.append(f"| {MODEL_NAMES.get(model, model)} | {sampler} | {setting}{mark} | "
                             f"{run['best']['epoch']} | {valid_score(run):.4f} | "
                             f"{run['best']['valid']['ndcg@20']:.4f} |")
            best = runs[best_name]
            chosen[model][sampler] = {
                "options": " ".join(f"{o} {option_value(best, o)}" for o in options
                                    if option_value(best, o) is not None),
                "valid": valid_score(best)}
    for model in borrowing_models(args.models):
        lender = BORROWS_SETTINGS[model]
        name, lender_name = MODEL_NAMES.get(model, model), MODEL_NAMES.get(lender, lender)
        best = max(search_runs(args.out, f"search_{model}_uniform_lr").values(), key=valid_score)
        lines += ["", f"## {name}'s samplers", "",
                  f"Uniform at {name}'s chosen learning rate ({rates[model]}); DNS and RecNS with "
                  f"{lender_name}'s chosen setting (its own options, without {lender_name}'s "
                  f"learning rate and L2) at that rate, not searched again.", "",
                  "| model | sampler | setting | from | valid Recall@20 |", "|---|---|---|---|---|",
                  f"| {name} | uniform | -optimizer_lr {rates[model]} | {name}'s rate search | "
                  f"{valid_score(best):.4f} |"]
        chosen[model]["uniform"] = {"options": "", "valid": valid_score(best)}
        for sampler in MODEL_ROWS[model]:
            if sampler == "uniform":
                continue
            if sampler not in chosen[lender]:
                fail(f"no chosen setting for {sampler} ({lender}), which {model} takes")
            own = borrowed(chosen[lender][sampler]["options"])
            chosen[model][sampler] = {"options": own, "from": lender}
            lines.append(f"| {name} | {sampler} | -optimizer_lr {rates[model]} {own} | "
                         f"{lender_name}'s chosen setting | - |")
    save_chosen(args.out, chosen)
    with open(os.path.join(args.out, "search.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def borrowed(options):
    """A chosen setting's options less those (rate, L2) that stay the lending model's own."""
    tokens = options.split()
    pairs = [(tokens[i], tokens[i + 1]) for i in range(0, len(tokens) - 1, 2)]
    return " ".join(f"{o} {v}" for o, v in pairs if o not in NOT_BORROWED)


def options(args):
    chosen = load_chosen(args.out)
    model = args.models[0]
    if model not in chosen:
        fail(f"no chosen settings for {model} in {args.out}/chosen.json")
    sampler, extra = ROW_BASE.get(args.sampler, (args.sampler, ""))
    if sampler not in chosen[model]:
        fail(f"no chosen setting for {sampler} ({model}) in {args.out}/chosen.json")
    # A setting's own rate and L2, when it has them, come after (and so override) the rate.
    parts = [f"-optimizer_lr {chosen[model]['lr']}", f"-sampler_type {SAMPLER_TYPE.get(sampler, sampler)}",
             chosen[model][sampler]["options"], extra]
    print(" ".join(p for p in parts if p))


def mean_std(values):
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def model_rows(model):
    """The table rows (sampler, label) of a model."""
    if model not in MODEL_ROWS:
        return ROWS
    return [(row, label) for row, label in ROWS if row in MODEL_ROWS[model]]


def table(args):
    results = {}
    lines = ["# RecNS reproduction on Yahoo! R3", "",
             "Test metrics of the best validation epoch (Recall@20), mean ± std over seeds "
             f"{', '.join(args.seeds)}; settings chosen on the validation split (search.md).", ""]
    for model in args.models:
        results[model] = {}
        for split, split_name in SPLITS:
            lines += [f"## {MODEL_NAMES.get(model, model)}, {split_name}", "",
                      "| sampler | " + " | ".join(m.replace("recall", "Recall").replace("ndcg", "NDCG")
                                                  .replace("hr", "HR") for m in TABLE_METRICS) + " |",
                      "|---|" + "---|" * len(TABLE_METRICS)]
            for row, label in model_rows(model):
                runs = [summary(args.out, f"table_{model}_{row}_s{seed}") for seed in args.seeds]
                cells = []
                for metric in TABLE_METRICS:
                    values = []
                    for run in runs:
                        if split not in run["best"]:
                            fail(f"table_{model}_{row}: no {split} metrics in its summary")
                        values.append(run["best"][split][metric])
                    mean, std = mean_std(values)
                    results[model].setdefault(row, {}).setdefault(split, {})[metric] = {
                        "mean": mean, "std": std, "runs": values}
                    cells.append(f"{mean:.4f} ± {std:.4f}")
                lines.append(f"| {label} | " + " | ".join(cells) + " |")
            lines.append("")
    lines += ["The paper's Table 2 (LightGCN, %, Recall / NDCG / HR @20), for the ordering only "
              "(other data):", "", "| sampler | Zhihu | Alibaba |", "|---|---|---|"]
    lines += [f"| {label} | {PAPER[row][0]} | {PAPER[row][1]} |" for row, label in ROWS if row in PAPER]
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    plot(args, results)


# The bars: the other samplers grey, RecNS red, its variants light red.
BAR_COLOURS = {"uniform": "#888888", "dns": "#888888", "expns": "#888888", "mixedns": "#888888",
               "recns": "#c0392b"}


def plot(args, results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    models = list(results)
    fig, axes = plt.subplots(len(models), len(SPLITS), figsize=(5.5 * len(SPLITS), 3.6 * len(models)),
                             squeeze=False)
    for i, model in enumerate(models):
        for j, (split, split_name) in enumerate(SPLITS):
            ax = axes[i][j]
            rows = model_rows(model)
            labels = [label for row, label in rows]
            means = [results[model][row][split][METRIC]["mean"] for row, _ in rows]
            stds = [results[model][row][split][METRIC]["std"] for row, _ in rows]
            ax.bar(range(len(rows)), means, yerr=stds, capsize=3,
                   color=[BAR_COLOURS.get(row, "#e6a09a") for row, _ in rows])
            ax.set_xticks(range(len(rows)))
            ax.set_xticklabels(labels, rotation=35, ha="right", fontsize=8)
            ax.set_ylabel("Recall@20")
            low = min(m - s for m, s in zip(means, stds))
            ax.set_ylim(max(0.0, low * 0.9), max(m + s for m, s in zip(means, stds)) * 1.03)
            ax.set_title(f"{MODEL_NAMES.get(model, model)}, Yahoo! R3 {split_name}", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "recall.png"), dpi=110)


REGION_LINE = re.compile(r"recns sampler: (\w+) region.*size mean ([0-9.]+)")


def region_size(out, name):
    """The region's mean size per user, as the run's log reports it at set-up."""
    path = os.path.join(out, f"{name}.log")
    with open(path) as f:
        for line in f:
            match = REGION_LINE.search(line)
            if match:
                return float(match.group(2))
    fail(f"{path}: no region size line")


def region(args):
    rows = [("intermediate_k3", "intermediate, khop 3"), ("intermediate_k5", "intermediate, khop 5"),
            ("intermediate_k7", "intermediate, khop 7"), ("distant", "distant (khop 3)"),
            ("global", "all unobserved items")]
    lines = ["", "## Region study, Last.fm, LightGCN, RecNS w/o e-a", "",
             "Candidates drawn from each region (RecNS-Med, -Dis, -All); test metrics of the best "
             f"validation epoch, mean ± std over seeds {', '.join(args.seeds)}.", "",
             "| region | mean size per user | Recall@20 | NDCG@20 | HR@20 |", "|---|---|---|---|---|"]
    results = {}
    for row, label in rows:
        runs = [summary(args.out, f"region_{row}_s{seed}") for seed in args.seeds]
        size = region_size(args.out, f"region_{row}_s{args.seeds[0]}")
        cells = []
        for metric in TABLE_METRICS:
            mean, std = mean_std([run["best"]["test"][metric] for run in runs])
            results.setdefault(row, {"mean_size": size})[metric] = {"mean": mean, "std": std}
            cells.append(f"{mean:.4f} ± {std:.4f}")
        lines.append(f"| {label} | {size:.1f} | " + " | ".join(cells) + " |")
    with open(os.path.join(args.out, "table.md"), "a") as f:
        f.write("\n".join(lines) + "\n")
    path = os.path.join(args.out, "results.json")
    everything = json.load(open(path)) if os.path.exists(path) else {}
    everything["region_study_lastfm"] = results
    with open(path, "w") as f:
        json.dump(everything, f, indent=2)


BUILD_LINE = re.compile(r"recns sampler: .*size mean ([0-9.]+) min (\d+) max (\d+); built in "
                        r"([0-9.]+) s, ([0-9.]+) MB on the largest rank; (\d+) users")


def alibaba(args):
    folder = os.path.join(args.out, "alibaba")
    with open(os.path.join(folder, "step_cost.md")) as f:
        steps = f.read()
    lines = ["# RecNS at the Alibaba scale, 2 ranks", "", steps, "",
             "| run | region build (s) | region memory, largest rank (MB) | mean region size | "
             "users below M | peak RSS per rank (MiB) |", "|---|---|---|---|---|---|"]
    for sampler in ("uniform", "recns"):
        for repeat in args.seeds:
            name = f"{sampler}.{repeat}"
            with open(os.path.join(folder, f"{name}.json")) as f:
                rss = json.load(f)["peak_rss_mb_per_rank"]
            build = ["-"] * 4
            with open(os.path.join(folder, f"{name}.log")) as f:
                for line in f:
                    match = BUILD_LINE.search(line)
                    if match:
                        build = [match.group(4), match.group(5), match.group(1), match.group(6)]
            lines.append(f"| {name} | " + " | ".join(build[:4]) + " | " +
                         ", ".join(f"{r:.0f}" for r in rss) + " |")
    with open(os.path.join(args.out, "alibaba.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("stage", choices=["search-lr", "search", "options", "table", "region", "alibaba"])
    parser.add_argument("out")
    parser.add_argument("--models", nargs="+", default=["lightgcn"])
    parser.add_argument("--seeds", nargs="+", default=["1", "2", "3"])
    parser.add_argument("--sampler")
    args = parser.parse_args()
    {"search-lr": search_lr, "search": search, "options": options, "table": table,
     "region": region, "alibaba": alibaba}[args.stage](args)


if __name__ == "__main__":
    main()
