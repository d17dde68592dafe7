"""Plots training curves of one or more recns runs from their metrics files.

Usage: plot_runs.py METRICS.h5 [METRICS.h5 ...] [-o runs.png] [--metrics recall@20,ndcg@20]
                    [--labels A,B,...] [--title TEXT]

One panel for the training loss and one per metric, against the epoch; one line per run,
labelled by the run's sampler and model as its metrics file records them (and its seed when two
runs would share a label). Metrics are those of the split the run evaluated during training
(valid when the dataset has one, else test). Each run's best epoch by its -eval_metric is marked
with a star in every panel. Needs Debian's python3-matplotlib and python3-h5py.
Exit codes: 0 written; 2 bad input (one line naming the file and the problem).
"""
import argparse
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import recns_runs  # noqa: E402


def fail(message):
    recns_runs.fail("plot_runs", message)


def read_run(path, metrics):
    """The run's label parts, its epoch rows (epoch, loss, {metric: values}) and best epoch."""
    with recns_runs.open_metrics("plot_runs", path, ("epochs", "not a recns metrics file")) as f:
        columns = {name: f["epochs"][name][:] for name in f["epochs"]}
        attrs = {key: recns_runs.text(value) for key, value in f.attrs.items()}
    # Rows with a learning rate are epochs (a partial one too); the final test row has none.
    rows = [r for r, lr in enumerate(columns["learning_rate"]) if not math.isnan(lr)]
    if not rows:
        fail(f"{path}: holds no epoch rows")
    split = attrs.get("eval_split")
    if split is None:  # files of older builds: the split whose columns hold values
        split = "valid" if any(not math.isnan(v) for v in columns.get("valid_recall@20", [])) else "test"
    curves = {}
    for metric in metrics:
        name = f"{split}_{metric}"
        if name not in columns:
            # The random test split's columns (test_random_*) share the prefix test_.
            known = sorted(c[len(split) + 1:] for c in columns
                           if c.startswith(split + "_") and not c.startswith("test_random_"))
            fail(f"{path}: no metric {metric} (it has {', '.join(known)}; see -eval_ks)")
        curves[metric] = [columns[name][r] for r in rows]
    epochs = [columns["epoch"][r] for r in rows]
    loss = [columns["loss"][r] for r in rows]
    watched = f"{split}_{attrs.get('eval_metric', 'recall@20')}"
    best = None
    if watched in columns:
        values = [(columns[watched][r], columns["epoch"][r]) for r in rows if not math.isnan(columns[watched][r])]
        if values:
            best = max(values, key=lambda pair: (pair[0], -pair[1]))[1]
    return {"path": path, "attrs": attrs, "split": split, "epochs": epochs, "loss": loss,
            "curves": curves, "best": best}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", help="metrics files (recns_train -metrics_file)")
    parser.add_argument("-o", "--output", default="runs.png", help="PNG to write (default runs.png)")
    parser.add_argument("--metrics", default="recall@20,ndcg@20",
                        help="comma-separated metrics to plot (default recall@20,ndcg@20)")
    parser.add_argument("--labels", help="comma-separated labels, one per file (default: from the files)")
    parser.add_argument("--title", help="figure title")
    args = parser.parse_args()
    metrics = [m for m in args.metrics.split(",") if m]
    runs = [read_run(path, metrics) for path in args.files]
    labels = recns_runs.run_labels(runs)
    if args.labels:
        labels = args.labels.split(",")
        if len(labels) != len(runs):
            fail(f"--labels gives {len(labels)} labels for {len(runs)} files")

    panels = ["loss"] + metrics
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for run, label, color in zip(runs, labels, plt.rcParams["axes.prop_cycle"].by_key()["color"] * 10):
        for axis, panel in zip(axes[0], panels):
            values = run["loss"] if panel == "loss" else run["curves"][panel]
            points = [(e, v) for e, v in zip(run["epochs"], values) if not math.isnan(v)]
            if not points:
                continue
            axis.plot([e for e, _ in points], [v for _, v in points], color=color, label=label,
                      marker="." if len(points) < 30 else None, linewidth=1.4)
            if run["best"] is not None:
                at = [v for e, v in points if e == run["best"]]
                if at:
                    axis.plot([run["best"]], at, marker="*", markersize=12, color=color,
                              markeredgecolor="black", linestyle="none")
    splits = sorted({r["split"] for r in runs})
    for axis, panel in zip(axes[0], panels):
        axis.set_xlabel("epoch")
        axis.set_title("training loss" if panel == "loss" else f"{'/'.join(splits)} {panel}")
        axis.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    figure.suptitle(args.title or "★ best epoch by each run's -eval_metric", fontsize=10)
    figure.tight_layout()
    try:
        figure.savefig(args.output, dpi=90)
    except OSError as error:
        fail(f"{args.output}: cannot be written ({error})")
    print(f"plot_runs: wrote {args.output} ({len(runs)} runs; {', '.join(panels)})")


if __name__ == "__main__":
    main()
