"""Builds results/bench/bench.json and bench.md from one scripts/bench.sh run.

Usage: bench_report.py OUT_DIR RANKS [GOWALLA.h5]
Reads OUT_DIR/micro.jsonl (recns_bench's JSON lines), and with a Gowalla file
OUT_DIR/train_logview.txt (recns_train -log_view), OUT_DIR/train_summary.json and OUT_DIR/train.log,
and when bench.sh measured the samplers' steps, OUT_DIR/samplers/ (samplers.tsv: each sampler and
its options; settings.json: steps, repeat and the common options; scripts/step_cost.sh's runs).
"""
import json
import math
import os
import platform
import re
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import step_cost  # noqa: E402

LAYERS, DIM = 3, 64
# Training phases: (label, -log_view events of the Train stage whose times add up).
PHASES = [("propagate (forward)", ["Propagate"]), ("backward", ["Backward"]),
          ("sample", ["Sample"]), ("halo", ["HaloBcast", "HaloReduce"]), ("loss", ["Loss"]),
          ("optimizer", ["Optimize"]), ("batch", ["Batch"])]
# The trainer's own wall-clock timers (rank 0) in the summary, for the same phases.
TIMERS = {"propagate (forward)": "forward", "backward": "backward", "sample": "sample",
          "halo": "halo", "loss": "loss", "optimizer": "optimize", "batch": "batch"}
PROPAGATION = ("propagate (forward)", "backward")


def parse_log_view(path):
    """{stage: {"seconds": avg time, "events": {name: (count max, time max)}}}."""
    stages, current, events_done = {}, None, False
    number = r"([0-9.]+(?:e[+-]?\d+)?)"
    for line in open(path):
        m = re.match(r"^\s*\d+:\s+(.+?):\s+" + number + r"\s", line)
        if m and not events_done and current is None:
            stages[m.group(1)] = {"seconds": float(m.group(2)), "events": {}}
            continue
        if line.startswith("Object Type"):
            events_done = True
        m = re.match(r"^--- Event Stage \d+: (.+)$", line)
        if m and not events_done:
            current = stages.setdefault(m.group(1).strip(), {"seconds": math.nan, "events": {}})
            continue
        m = re.match(r"^(\S+)\s+(\d+)\s+" + number + r"\s+" + number + r"\s", line)
        if m and current is not None and not events_done:
            current["events"][m.group(1)] = (int(m.group(2)), float(m.group(4)))
    return stages


def split_users(path):
    with h5py.File(path, "r") as f:
        users = {s: int(np.count_nonzero(np.diff(f[s]["indptr"][:])))
                 for s in ("train", "valid", "test") if s in f}
        return users, int(f.attrs["num_items"]), int(f["train"]["indices"].shape[0])


def machine_info():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
               platform.processor())
    try:
        commit = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {"host": platform.node(), "cpu": cpu, "cores": os.cpu_count(), "commit": commit,
            "load_average_at_report": os.getloadavg()[0]}


def cache_ratio(triad):
    """The triad's array size against the last-level cache, or why it is missing (some machines'
    sysfs gives no cache size, and recns_bench then records 0)."""
    if triad["llc_mb"] <= 0:
        return "last-level cache size unknown: this machine's sysfs gives none"
    return f"{triad['array_mb'] / triad['llc_mb']:.1f} × the {triad['llc_mb']:.0f} MB last-level cache"


def main(out, ranks, gowalla):
    ranks = int(ranks)
    micro = [json.loads(l) for l in open(f"{out}/micro.jsonl") if l.startswith("{")]
    triad = {m["ranks"]: m for m in micro if m["bench"] == "triad"}
    gemm = [m for m in micro if m["bench"] == "gemm"]
    bw = triad[ranks]["gb_per_s"] * 1e9
    result = {"ranks": ranks, "machine": machine_info(),
              "triad": {"array_mb": triad[1]["array_mb"], "llc_mb": triad[1]["llc_mb"],
                        "gb_per_s": {str(r): triad[r]["gb_per_s"] for r in sorted(triad)}},
              "gemm": [{k: m[k] for k in ("ranks", "users", "items", "dim", "gflop_per_s")} for m in gemm]}
    md = ["# recns benchmark", "",
          f"{ranks} rank(s) on {result['machine']['host']} ({result['machine']['cpu']}, "
          f"{result['machine']['cores']} cores), commit {result['machine']['commit']}; load average "
          f"{result['machine']['load_average_at_report']:.1f} when the report was made.", "",
          "## Machine", "",
          f"STREAM triad a = b + s·c (24 bytes per element), each rank its own three arrays of "
          f"{triad[1]['array_mb']:.0f} MB ({cache_ratio(triad[1])}), "
          "best of the repetitions:", "",
          "| ranks | GB/s |", "|---|---|"]
    md += [f"| {r} | {triad[r]['gb_per_s']:.2f} |" for r in sorted(triad)]
    md += ["", "Dense GEMM scores = U·Iᵀ (Eigen, double, d = 64), GFLOP/s (2·users·items·d per "
           "product; at several ranks, the sum over ranks running at once), best of the repetitions:", "",
           "| users × items | 1 rank | " + (f"{ranks} ranks |" if ranks > 1 else ""),
           "|---|---|" + ("---|" if ranks > 1 else "")]
    shapes = sorted({(m["users"], m["items"]) for m in gemm}, key=lambda s: (s[1], s[0]))
    rate = {(m["users"], m["items"], m["ranks"]): m["gflop_per_s"] for m in gemm}
    for u, i in shapes:
        md.append(f"| {u} × {i} | {rate[(u, i, 1)]:.2f} |" +
                  (f" {rate[(u, i, ranks)]:.2f} |" if ranks > 1 else ""))
    gemm_best = max(rate[(u, i, ranks)] for u, i in shapes)

    if not gowalla:
        md += ["", "Gowalla figures skipped: no Gowalla dataset (see scripts/bench.sh)."]
        return write(out, result, md)

    users, items, train_nnz = split_users(gowalla)
    products = {m.get("order", "natural"): m for m in micro if m["bench"] == "propagate"}
    p = products.get("locality", products.get("natural"))
    least_time, naive_time = p["least_bytes"] / bw, p["naive_bytes"] / bw
    result["propagate"] = dict(p, least_traffic_seconds=least_time, naive_traffic_seconds=naive_time,
                               ratio_to_least_traffic=p["seconds_median"] / least_time,
                               ratio_to_naive_traffic=p["seconds_median"] / naive_time,
                               effective_gb_per_s=p["least_bytes"] / p["seconds_median"] / 1e9)
    q = result["propagate"]
    md += ["", f"## One propagation product (Gowalla, d = {p['dim']}, {ranks} rank(s))", "",
           f"`recns::Propagator::Apply`, out = Â·in with Â of {p['rows']:,.0f} rows and "
           f"{p['nnz']:,.0f} non-zeros; median of {p['repeat']:.0f} products (slowest rank).", "",
           "| figure | value |", "|---|---|",
           f"| seconds, median (best) | {p['seconds_median']:.4f} ({p['seconds_best']:.4f}) |",
           f"| least bytes: matrix once, input and output rows once | {p['least_bytes'] / 1e6:.1f} MB |",
           f"| naive bytes: every gathered row, matrix, output | {p['naive_bytes'] / 1e6:.1f} MB |",
           f"| least-traffic time at {ranks}-rank triad bandwidth | {least_time:.4f} s |",
           f"| **ratio of the product's time to the least-traffic time** | **{q['ratio_to_least_traffic']:.1f}** |",
           f"| ratio to the naive-traffic time ({naive_time:.4f} s) | {q['ratio_to_naive_traffic']:.2f} |",
           f"| least bytes / time | {q['effective_gb_per_s']:.2f} GB/s |"]
    if "natural" in products and p is not products["natural"]:
        n = products["natural"]
        result["propagate_natural_order"] = dict(n, ratio_to_least_traffic=n["seconds_median"] / least_time)
        md += ["", "The product above is on the locality-ordered graph (`recns_convert -order locality`), "
               "the epoch and the evaluation below too. The same graph numbered as converted, in the same run:", "",
               "| numbering | seconds, median (best) | ratio to least traffic | ghost rows (largest rank) | off-diagonal nonzeros (largest rank) |",
               "|---|---|---|---|---|"]
        for name, m in (("as converted", n), ("locality", p)):
            md.append(f"| {name} | {m['seconds_median']:.4f} ({m['seconds_best']:.4f}) | "
                      f"{m['seconds_median'] / least_time:.1f} | {m['ghost_rows_max']:,.0f} | "
                      f"{m['off_diagonal_nnz_max']:,.0f} |")

    stages = parse_log_view(f"{out}/train_logview.txt")
    summary = json.load(open(f"{out}/train_summary.json"))
    train, ev = stages.get("Train", {"events": {}}), stages.get("Eval", {"events": {}})
    log = open(f"{out}/train.log").read()
    m = re.search(r"\((\d+) of (\d+) steps\)", log)
    steps_full = re.search(r"batch \d+, (\d+) steps/epoch", log)
    steps_epoch = int(m.group(2)) if m else int(steps_full.group(1))
    steps_run = int(m.group(1)) if m else steps_epoch
    scale = steps_epoch / steps_run
    label = (f"extrapolated from {steps_run} of {steps_epoch} steps (× {scale:.2f})" if scale != 1
             else f"measured over the full epoch ({steps_epoch} steps)")
    stage_seconds = train["seconds"] * scale
    phases = {}
    for name, events in PHASES:
        seconds = sum(train["events"].get(e, (0, 0.0))[1] for e in events) * scale
        phases[name] = seconds
    phases["other"] = stage_seconds - sum(phases.values())
    non_prop = 1 - sum(phases[n] for n in PROPAGATION) / stage_seconds
    prop_events = train["events"].get("Propagate", (0, math.nan))
    per_apply = prop_events[1] / max(prop_events[0], 1) / LAYERS
    result["epoch"] = {"steps_run": steps_run, "steps_per_epoch": steps_epoch,
                       "extrapolated": scale != 1, "seconds": stage_seconds,
                       "phase_seconds": phases, "non_propagation_fraction": non_prop,
                       "propagate_seconds_per_apply_in_training": per_apply,
                       "trainer_timers_rank0_seconds": summary.get("seconds", {})}
    md += ["", f"## LightGCN + uniform training epoch (Gowalla, d = 64, 3 layers, batch 2048, {ranks} rank(s))", "",
           f"Seconds per epoch, {label}, from the `-log_view` events of the Train stage (slowest "
           "rank per event; the stage time is the ranks' mean). `other` is the stage time not in "
           "these events (halo set-up, L2, the step's reduction). The last column is the trainer's "
           "own timers on rank 0 (summary `seconds`), scaled alike, as a cross-check.", "",
           "| phase | events | s/epoch | ms/step | share | trainer timer s/epoch |", "|---|---|---|---|---|---|"]
    timers = summary.get("seconds", {})
    for name, events in PHASES + [("other", [])]:
        timer = timers.get(TIMERS.get(name, ""), None)
        md.append(f"| {name} | {', '.join(events)} | {phases[name]:.2f} | "
                  f"{1e3 * phases[name] / steps_epoch:.1f} | {phases[name] / stage_seconds:.1%} | "
                  + (f"{timer * scale:.2f}" if timer is not None else "") + " |")
    md += [f"| **epoch** | Train stage | **{stage_seconds:.2f}** | {1e3 * stage_seconds / steps_epoch:.1f} | 100% | |",
           "", f"Non-propagation phases (everything but Propagate and Backward): **{non_prop:.1%}** of the epoch.",
           f"In training, a forward pass costs {per_apply:.4f} s per layer (Propagate event / calls / "
           f"{LAYERS} layers), against {p['seconds_median']:.4f} s for one full product alone; with "
           "-train_needed_rows_only (the default) a forward pass computes only the rows the step reads."]

    md += evaluation(result, ev, users, items, rate, ranks, gemm_best)
    md += memory(result, summary)
    md += sampler_steps(result, f"{out}/samplers", ranks)
    return write(out, result, md)


def evaluation(result, ev, users, items, rate, ranks, gemm_best):
    """The evaluation's figures into result["evaluation"]; its Markdown lines."""
    count, seconds = ev["events"].get("Evaluate", (0, math.nan))
    if count == 0:
        return ["", "Evaluation: no `Evaluate` event in the Eval stage of the -log_view table."]
    ranked = ["test"] if count == 1 else (["valid", "test"] if "valid" in users and count == 2
                                          else ["test"] * count)
    users_ranked = sum(users[s] for s in ranked)
    flops = users_ranked * items * DIM * 2
    eval_rate = flops / seconds / 1e9
    one_test = seconds * users["test"] / users_ranked
    g64 = rate.get((64, 16384, ranks), math.nan)
    result["evaluation"] = {"evaluations": ranked, "users_ranked": users_ranked, "items": items,
                            "seconds": seconds, "test_users": users["test"],
                            "seconds_one_test_evaluation": one_test,
                            "scoring_gflop_per_s": eval_rate,
                            "fraction_of_gemm_64x16384": eval_rate / g64,
                            "fraction_of_best_gemm": eval_rate / gemm_best,
                            "eval_forward_seconds": ev["events"].get("Propagate", (0, math.nan))[1]}
    e = result["evaluation"]
    return ["", f"## Full-ranking evaluation (Gowalla, {ranks} rank(s))", "",
            f"The `Evaluate` event of the same run's Eval stage: {count} evaluation(s) "
            f"({' + '.join(ranked)}), {users_ranked:,} users × {items:,} items ranked.", "",
            "| figure | value |", "|---|---|",
            f"| seconds, all evaluations | {seconds:.2f} |",
            f"| one evaluation of all {users['test']:,} test users"
            + (" (scaled by users)" if len(ranked) > 1 else "") + f" | {one_test:.2f} s |",
            f"| scoring rate users·items·d·2 / s | {eval_rate:.2f} GFLOP/s |",
            f"| against GEMM 64 × 16384 at {ranks} rank(s) ({g64:.2f}) | {e['fraction_of_gemm_64x16384']:.1%} |",
            f"| against the best GEMM shape at {ranks} rank(s) ({gemm_best:.2f}) | {e['fraction_of_best_gemm']:.1%} |",
            f"| forward pass before it (Eval stage Propagate) | {e['eval_forward_seconds']:.2f} s |"]


def per_rank(values):
    """"a / b / ..." MB, or "missing"."""
    return " / ".join(f"{v:.0f}" for v in values) if values else "missing"


def memory(result, summary):
    """The epoch run's peak memory per rank into result["memory"] (one entry per precision the
    run's parameters were in; this trainer computes in double); its Markdown lines."""
    entry = {"precision": "double", "peak_rss_mb": summary.get("peak_rss_mb"),
             "peak_rss_mb_per_rank": summary.get("peak_rss_mb_per_rank"),
             "peak_rss_mb_training_per_rank": summary.get("peak_rss_mb_training_per_rank")}
    result["memory"] = [entry]
    result["peak_rss_mb"] = entry["peak_rss_mb"]
    return ["", "## Memory", "",
            "Peak resident memory of the epoch's run per rank (`getrusage` ru_maxrss, MB, rank 0 "
            "first): over the whole run, the final evaluation included (summary "
            "`peak_rss_mb_per_rank`), and up to the end of training (`peak_rss_mb_training_per_rank`).", "",
            "| precision | peak per rank, whole run | peak per rank, training |", "|---|---|---|",
            f"| {entry['precision']} | {per_rank(entry['peak_rss_mb_per_rank'])} | "
            f"{per_rank(entry['peak_rss_mb_training_per_rank'])} |"]


def cell(text):
    """TEXT in a Markdown table's cell."""
    return text.replace("|", "\\|")


def trainer_description(log):
    """The sampler as the trainer's header line describes it ("dns (M=16) (k=1)"), or None."""
    if not os.path.exists(log):
        return None
    m = re.search(r"\| sampler (.*?) \| loss ", open(log, errors="replace").read())
    return m.group(1) if m else None


def sampler_steps(result, folder, ranks):
    """The step of every sampler against uniform's (scripts/bench.sh's runs in FOLDER, made by
    scripts/step_cost.sh) into result["samplers"]; its Markdown lines, which say so when bench.sh
    did not run them (BENCH_SAMPLERS=0)."""
    if not os.path.exists(f"{folder}/samplers.tsv") or not os.path.exists(f"{folder}/settings.json"):
        return ["", "Samplers' steps: not measured in this run (BENCH_SAMPLERS=0)."]
    settings = json.load(open(f"{folder}/settings.json"))
    rows = [l.rstrip("\n").split("\t") for l in open(f"{folder}/samplers.tsv") if l.strip()]
    if not rows:
        return ["", "Samplers' steps: not measured: `recns_train -help` listed no `-sampler_type`."]
    options = {r[0]: (r[1] if len(r) > 1 else "") for r in rows}
    measured = step_cost.measure(folder, list(options), settings["repeat"])
    base = measured.get("uniform", {}).get("median")
    table = []
    md = ["", f"## The step of every sampler (Gowalla, LightGCN d = 64, 3 layers, batch 2048, {ranks} rank(s))", "",
          f"Every sampler `recns_train -help` lists, {settings['steps']} steps each "
          f"(`-train_max_steps`; the first step left out), the samplers alternating, the median of "
          f"{settings['repeat']} run(s) (`scripts/step_cost.sh`). Forward passes per step: the "
          "summary's `forward_passes` (full forward passes over every row) less the final "
          "evaluation's one, over the steps. Peak memory: the summary's "
          "`peak_rss_mb_training_per_rank`, up to the end of training (or `peak_rss_mb_per_rank`, "
          "the whole run, from a trainer without it), MB, rank 0 first, the largest of the runs.", "",
          "| sampler | options | s/step median (runs) | ratio to uniform | forward passes per step | peak memory per rank (MB) |",
          "|---|---|---|---|---|---|"]
    for name, opts in options.items():
        m = measured[name]
        summaries = m["summaries"]
        row = {"sampler": name, "options": opts, "seconds_per_step_runs": m["runs"],
               "seconds_per_step": m["median"], "error": m["error"]}
        row["ratio_to_uniform"] = m["median"] / base if m["median"] is not None and base else None
        passes = [(s["forward_passes"] - 1) / s["steps_run"] for s in summaries
                  if "forward_passes" in s and s.get("steps_run")]
        row["forward_passes_per_step"] = passes[0] if passes else None
        rss = [s.get("peak_rss_mb_training_per_rank") or s.get("peak_rss_mb_per_rank") for s in summaries]
        rss = [r for r in rss if r]
        row["peak_rss_mb_per_rank"] = [max(r[k] for r in rss) for k in range(len(rss[0]))] if rss else None
        table.append(row)
        described = trainer_description(f"{folder}/{name}.1.log")
        row["described"] = described
        shown_options = (f"`{opts}`" if opts else "(defaults)") + (
            f"; trainer: {cell(described)}" if described else "")
        if m["median"] is None:
            why = m["error"]
            label = ("not measured: fewer than two steps per run" if why is None else
                     "not run: needs an exposure split" if "/exposure split" in why else
                     f"failed: {cell(why)}")
            md.append(f"| {name} | {shown_options} | {label} | | | |")
            continue
        ratio = f"{row['ratio_to_uniform']:.2f}" if row["ratio_to_uniform"] is not None else "missing"
        note = f" (later runs failed: {cell(m['error'])})" if m["error"] else ""
        md.append(f"| {name} | {shown_options} | {m['median']:.4f} "
                  f"({', '.join(f'{v:.4f}' for v in m['runs'])}){note} | {ratio} | "
                  + (f"{row['forward_passes_per_step']:.2f}" if passes else "missing")
                  + f" | {per_rank(row['peak_rss_mb_per_rank'])} |")
    result["samplers"] = {"steps": settings["steps"], "repeat": settings["repeat"],
                          "options": settings.get("options", ""), "precision": "double", "rows": table}
    return md


def write(out, result, md):
    json.dump(result, open(f"{out}/bench.json", "w"), indent=2)
    open(f"{out}/bench.md", "w").write("\n".join(md) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")
