"""Builds the BNS Table II reproduction from the runs of reproduce_bns_table.sh.

Usage: bns_table.py OUT_DIR --models M.. --samplers S.. --seeds N..
Reads OUT_DIR/<model>_<sampler>_s<seed>.{summary.json,metrics.h5}; writes OUT_DIR/table.md,
OUT_DIR/results.json (model -> sampler -> metric -> {mean, std}) and
OUT_DIR/sampling_quality.png (TNR and INF per epoch, mean over seeds).
"""
import argparse
import json
import os
import statistics

# BNS paper, Table II, MovieLens-100k: (P, R, NDCG) at 5, 10 and 20.
PAPER = {
    "mf": {
        "uniform": [.3900, .1301, .4143, .3363, .2164, .3967, .2724, .3298, .3962],
        "pns": [.2647, .0864, .2694, .2329, .1475, .2637, .1949, .2374, .2709],
        "aobpr": [.3970, .1375, .4186, .3308, .2165, .3942, .2700, .3369, .3980],
        "dns": [.4053, .1414, .4314, .3348, .2214, .4042, .2734, .3413, .4069],
        "srns": [.3951, .1342, .4176, .3394, .2174, .3998, .2747, .3374, .4013],
        "bns": [.4205, .1467, .4558, .3463, .2290, .4217, .2762, .3466, .4176],
    },
    "lightgcn": {
        "uniform": [.4261, .1453, .4544, .3571, .2319, .4275, .2867, .3490, .4248],
        "pns": [.3527, .1266, .3816, .3015, .2117, .3660, .2461, .3306, .3742],
        "aobpr": [.3911, .1407, .4200, .3315, .2276, .4007, .2680, .3505, .4064],
        "dns": [.4278, .1475, .4590, .3612, .2336, .4331, .2917, .3595, .4335],
        "srns": [.4195, .1440, .4509, .3564, .2333, .4275, .2834, .3520, .4244],
        "bns": [.4318, .1518, .4640, .3671, .2410, .4368, .2875, .3608, .4383],
    },
}
COLUMNS = [f"{m}@{k}" for k in (5, 10, 20) for m in ("precision", "recall", "ndcg")]
MODEL_NAMES = {"mf": "MF", "lightgcn": "LightGCN"}
SAMPLER_NAMES = {"uniform": "RNS", "pns": "PNS", "aobpr": "AOBPR", "dns": "DNS", "srns": "SRNS",
                 "bns": "BNS"}


def short(column):
    return column.replace("precision", "P").replace("recall", "R").replace("ndcg", "NDCG")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--samplers", nargs="+", required=True)
    parser.add_argument("--seeds", nargs="+", required=True)
    args = parser.parse_args()
    out = args.out

    results, lines = {}, []
    lines.append("Final-epoch test metrics, mean ± std over seeds "
                 f"{', '.join(args.seeds)}; Δ = relative difference of the mean from the paper.")
    lines.append("")
    lines.append("| model | sampler | source | " + " | ".join(short(c) for c in COLUMNS) +
                 " | ΔR@20 | ΔNDCG@20 |")
    lines.append("|---|---|---|" + "---|" * (len(COLUMNS) + 2))
    for model in args.models:
        results[model] = {}
        for sampler in args.samplers:
            runs = [json.load(open(path)) for path in
                    (f"{out}/{model}_{sampler}_s{seed}.summary.json" for seed in args.seeds)
                    if os.path.exists(path)]
            if not runs:
                continue  # not run (yet): the row is left out rather than guessed
            stats = {"seeds": len(runs)}
            for c in COLUMNS:
                values = [r["final"]["test"][c] for r in runs]
                stats[c] = {"mean": statistics.mean(values),
                            "std": statistics.stdev(values) if len(values) > 1 else 0.0}
            results[model][sampler] = stats
            paper = PAPER[model][sampler]
            name = f"| {MODEL_NAMES[model]} | {SAMPLER_NAMES[sampler]} |"
            lines.append(f"{name} paper | " + " | ".join(f"{v:.4f}" for v in paper) + " | | |")
            delta = [stats[c]["mean"] / paper[COLUMNS.index(c)] - 1 for c in ("recall@20", "ndcg@20")]
            def cell(c):
                if len(runs) == 1:
                    return f"{stats[c]['mean']:.4f}"
                return f"{stats[c]['mean']:.4f} ± {stats[c]['std']:.4f}"
            seeds = f"{len(runs)} seed" + ("s" if len(runs) > 1 else "")
            lines.append(f"{name} recns ({seeds}) | " + " | ".join(cell(c) for c in COLUMNS) +
                         f" | {delta[0]:+.1%} | {delta[1]:+.1%} |")
    json.dump(results, open(f"{out}/results.json", "w"), indent=2)
    open(f"{out}/table.md", "w").write("\n".join(lines) + "\n")
    plot_quality(out, args)


def plot_quality(out, args):
    import h5py
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figure, axes = plt.subplots(len(args.models), 2, figsize=(11, 4 * len(args.models)),
                                squeeze=False)
    for row, model in enumerate(args.models):
        for sampler in args.samplers:
            curves = {"sampling_tnr": [], "sampling_inf": []}
            for seed in args.seeds:
                if not os.path.exists(f"{out}/{model}_{sampler}_s{seed}.summary.json"):
                    continue
                with h5py.File(f"{out}/{model}_{sampler}_s{seed}.metrics.h5", "r") as f:
                    training = ~np.isnan(f["epochs/learning_rate"][:])  # drops the final test row
                    epochs = f["epochs/epoch"][:][training]
                    for key in curves:
                        curves[key].append(f[f"epochs/{key}"][:][training])
            if not curves["sampling_tnr"]:
                continue
            for column, key in enumerate(("sampling_tnr", "sampling_inf")):
                axes[row][column].plot(epochs, np.mean(curves[key], axis=0),
                                       label=SAMPLER_NAMES[sampler])
        for column, title in enumerate(("TNR (true-negative rate)", "INF (informativeness)")):
            axes[row][column].set_title(f"{MODEL_NAMES[model]}: {title}")
            axes[row][column].set_xlabel("epoch")
            axes[row][column].legend()
    figure.tight_layout()
    figure.savefig(f"{out}/sampling_quality.png", dpi=110)


if __name__ == "__main__":
    main()
