"""Builds results/alibaba/alibaba.json and alibaba.md from one scripts/alibaba_scale.sh run.

Usage: alibaba_report.py OUT_DIR ALIBABA.h5
Reads OUT_DIR/make_alibaba.log, propagate_{1,2}.jsonl (recns_bench -bench propagate),
train_{1,2}.log, train_{1,2}_summary.json and train_{1,2}_logview.txt (recns_train), load.txt,
and when present (alibaba_scale.sh without PINSAGE=0) the PinSage runs' pinsage_{1,2}.log,
pinsage_{1,2}_summary.json and pinsage_{1,2}_logview.txt: their seconds per step, phases and peak
RSS beside LightGCN's, against 2 GiB per rank, and a model of their step time at P ranks from the
sampled computation graph (compute 1/P at the fixed global batch, the exchange by the measured
halo rows; see the report).
From the dataset itself (h5py) it computes, with the ownership rule of src/graph/layout.cpp, the
exact ghost rows, neighbour ranks and non-zeros per rank of the propagation at P = 1..64 ranks and
the expected per-step item halo, and feeds them with the measured 1- and 2-rank figures into a
model of the step time at P ranks. The network figures of the model (not measurable on one
machine) come from MODEL_NET_GBPS (GB/s per rank, default 3) and MODEL_NET_LATENCY_US (default 2),
with a pessimistic variant at a third of the bandwidth and five times the latency.
"""
import json
import math
import os
import re
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_report import machine_info, parse_log_view  # noqa: E402

DIM, LAYERS, BATCH, NEGATIVES = 64, 3, 2048, 1
# PinSage's runs: features, aggregator width, batch, fan-outs (hop 1, hop 2), memory limit (MiB).
PS_DIM, PS_WIDTH, PS_BATCH, PS_FANOUTS = 50, 256, 512, (10, 25)
PS_LIMIT_MB = 2 * 1024
# Exchanges per PinSage step with each rank it shares rows with: the two halo set-ups of the
# sampled graph, the compaction of the hop-1 roots, the feature and hop-1 broadcasts and their
# gradient reductions, and the loss's item halo (set-up, broadcast, reduction); then the step's
# one allreduce (the loss with the shared weights' gradients; clipping is per entry, no norm).
PS_EXCHANGES, PS_ALLREDUCES = 10, 1
PRODUCTS = 2 * LAYERS  # Â products per step: LAYERS forward, LAYERS backward
LIMIT_MB = 6 * 1024  # 6 GiB per rank, in MiB (ru_maxrss / 1024)
RANKS = (1, 2)
MODEL_P = (1, 2, 4, 8, 16, 32, 64)
NET_GBPS = float(os.environ.get("MODEL_NET_GBPS", "3"))
NET_LATENCY = float(os.environ.get("MODEL_NET_LATENCY_US", "2")) * 1e-6
PHASES = ["forward", "backward", "sample", "halo", "loss", "optimize", "batch"]
LABELS = {"forward": "propagate (forward)", "backward": "backward (+ L2, allreduce)",
          "sample": "sample", "halo": "item halo + row counting (CountRows: zeroing, flags)",
          "loss": "loss", "optimize": "optimizer",
          "batch": "batch", "other": "other (step overhead)"}
LOG_EVENTS = {"forward": ["Propagate"], "backward": ["Backward"], "sample": ["Sample"],
              "halo": ["HaloBcast", "HaloReduce"], "loss": ["Loss"], "optimize": ["Optimize"],
              "batch": ["Batch"]}


# --- the dataset and its partition ----------------------------------------------------------------

def load_dataset(path):
    with h5py.File(path, "r") as f:
        data = {"users": int(f.attrs["num_users"]), "items": int(f.attrs["num_items"]),
                "indptr": f["train/indptr"][:].astype(np.int64),
                "indices": f["train/indices"][:].astype(np.int64)}
        for split in ("valid", "test", "exposure"):
            if split in f:
                data[split + "_indptr"] = f[split + "/indptr"][:].astype(np.int64)
        data["nnz"] = {s: int(f[s + "/indices"].shape[0]) for s in ("train", "valid", "test", "exposure")
                       if s in f}
    data["pair_user"] = np.repeat(np.arange(data["users"], dtype=np.int64), np.diff(data["indptr"]))
    return data


def split_by_pairs(pairs_before, size):
    """Block starts of src/graph/layout.cpp (Layout::SplitByPairs) for a CSR row-start array."""
    count, total = len(pairs_before) - 1, int(pairs_before[-1])
    begin = [0] * (size + 1)
    begin[size] = count
    for r in range(1, size):
        i = int(np.searchsorted(pairs_before[:-1], (total * r) // size, side="left"))  # std::lower_bound
        i = max(i, begin[r - 1] + 1)
        i = min(i, count - (size - r))
        begin[r] = i
    return np.array(begin, dtype=np.int64)


def layout(data, size):
    """User and item block starts of src/graph/layout.cpp (Layout::Create): both by pairs."""
    degree = np.bincount(data["indices"], minlength=data["items"])
    item_pairs_before = np.concatenate([[0], np.cumsum(degree)])
    return split_by_pairs(data["indptr"], size), split_by_pairs(item_pairs_before, size)


def partition_figures(data, size):
    """Per rank: rows, non-zeros of Â, ghost rows (off-diagonal columns), neighbour ranks, training
    pairs, and the expected distinct remote items of one step's item halo."""
    users, items = data["users"], data["items"]
    ub, ib = layout(data, size)
    pu, pi = data["pair_user"], data["indices"]
    ru = np.searchsorted(ub, pu, side="right") - 1
    ri = np.searchsorted(ib, pi, side="right") - 1
    rows = np.diff(ub) + np.diff(ib)
    pairs = np.bincount(ru, minlength=size)
    nnz = pairs + np.bincount(ri, minlength=size)  # user rows + item rows
    cross = ru != ri
    # A user row of rank ru needs item i when ri != ru; an item row of rank ri needs user u.
    ghost_items = np.unique(ru[cross] * items + pi[cross])
    ghost_users = np.unique(ri[cross] * users + pu[cross])
    ghosts = np.bincount(ghost_items // items, minlength=size) + \
        np.bincount(ghost_users // users, minlength=size)
    off_nnz = np.bincount(ru[cross], minlength=size) + np.bincount(ri[cross], minlength=size)
    links = np.unique(np.concatenate([ru[cross] * size + ri[cross], ri[cross] * size + ru[cross]]))
    neighbours = np.bincount(links // size, minlength=size)
    # Item halo of one step: rank r trains ~BATCH·pairs_r/nnz positives, their items drawn from its
    # own pairs, and as many uniform negatives (k = 1); E[distinct items outside its block].
    total = int(data["indptr"][-1])
    halo = np.zeros(size)
    if size > 1:
        for r in range(size):
            mine = ru == r
            count = np.bincount(pi[mine], minlength=items).astype(float)
            n = BATCH * pairs[r] / total
            q = count / max(pairs[r], 1)
            miss = (1 - q) ** n * (1 - 1 / items) ** (n * NEGATIVES)
            remote = np.ones(items, dtype=bool)
            remote[ib[r]:ib[r + 1]] = False
            halo[r] = float(np.sum(1 - miss[remote]))
    # Non-training rows each rank reads (test, exposure), for the memory model.
    other = np.zeros(size)
    for split in ("valid", "test", "exposure"):
        key = split + "_indptr"
        if key in data:
            other += data[key][ub[1:]] - data[key][ub[:-1]]
    return {"ranks": size, "rows": rows, "nnz": nnz, "ghost_rows": ghosts, "off_diagonal_nnz": off_nnz,
            "neighbours": neighbours, "pairs": pairs, "item_halo_expected": halo,
            "other_split_nnz": other}


# --- measured figures ---------------------------------------------------------------------------

def read_runs(out):
    runs = {}
    for p in RANKS:
        bench = [json.loads(l) for l in open(f"{out}/propagate_{p}.jsonl") if l.startswith("{")]
        runs[p] = {"propagate": bench[0], **read_train(out, f"train_{p}", LIMIT_MB, "within_6_gib")}
    return runs


def read_pinsage(out):
    """The PinSage runs by rank count, or None when alibaba_scale.sh ran without them."""
    files = [f"{out}/pinsage_{p}{suffix}" for p in RANKS
             for suffix in (".log", "_summary.json", "_logview.txt")]
    present = [f for f in files if os.path.exists(f)]
    if not present:
        return None
    if len(present) < len(files):
        sys.exit(f"alibaba_report: PinSage's runs are incomplete, missing "
                 f"{', '.join(f for f in files if f not in present)}")
    runs = {p: read_train(out, f"pinsage_{p}", PS_LIMIT_MB, "within_2_gib") for p in RANKS}
    for run in runs.values():
        # Newer trainers also report each rank's peak up to the end of training.
        training = run["summary"].get("peak_rss_mb_training_per_rank")
        run["peak_rss_mb_training_per_rank"] = training
        run["training_within_2_gib"] = (all(x <= PS_LIMIT_MB for x in training)
                                        if training is not None else None)
    return runs


def read_train(out, name, limit_mb, limit_key):
    """One training run's figures: OUT/NAME.log, NAME_summary.json and NAME_logview.txt."""
    summary = json.load(open(f"{out}/{name}_summary.json"))
    stages = parse_log_view(f"{out}/{name}_logview.txt")
    log = open(f"{out}/{name}.log").read()
    steps = int(summary["steps_run"])
    sec, first = summary["seconds"], summary["first_step_seconds"]
    rest = steps - 1
    step_mean = (sec["steps"] - sec["first_step"]) / rest
    phases = {k: (sec[k] - first[k]) / rest for k in PHASES}
    phases["other"] = step_mean - sum(phases.values())
    train_events = stages.get("Train", {"events": {}})["events"]
    log_view = {k: sum(train_events.get(e, (0, 0.0))[1] for e in ev) / steps
                for k, ev in LOG_EVENTS.items()}
    eval_events = stages.get("Eval", {"events": {}})["events"]
    evaluate = eval_events.get("Evaluate", (0, math.nan))[1]
    eval_forward = eval_events.get("Propagate", (0, math.nan))[1]
    users = int(summary.get("eval_users", 0))
    m = re.search(r"final \(epoch \d+\) test: (.*)", log)
    return {
        "summary": summary, "steps": steps,
        "seconds_per_step": step_mean, "first_step_seconds": sec["first_step"],
        "phase_seconds_per_step": phases, "log_view_max_seconds_per_step": log_view,
        "eval": {"users": users, "seconds_total": sec["evaluate"], "seconds_evaluator": evaluate,
                 "seconds_forward": eval_forward,
                 "users_per_second": users / evaluate if evaluate > 0 else math.nan,
                 "users_per_second_with_forward": users / sec["evaluate"],
                 "metrics": m.group(1) if m else ""},
        "peak_rss_mb_per_rank": summary["peak_rss_mb_per_rank"],
        limit_key: all(x <= limit_mb for x in summary["peak_rss_mb_per_rank"]),
        "item_halo_rows_per_step_per_rank": summary["halo_item_rows_per_step_per_rank"],
        # Values the model's own halos bring per step (PinSage's sampled graph), when reported.
        "model_halo_values_per_step_per_rank": summary.get("model_halo_values_per_step_per_rank"),
        "load_seconds": stages.get("Load", {}).get("seconds", math.nan),
        "wall_seconds": sec["total"]}


# --- the model ------------------------------------------------------------------------------------

def model(runs, parts, data, bandwidth, latency):
    """Step seconds at P ranks, by term, from the 1- and 2-rank measurements (see the report)."""
    one, two = runs[1], runs[2]
    p1, p2 = parts[1], parts[2]
    nnz_total, rows_total = float(p1["nnz"][0]), float(p1["rows"][0])
    # Propagation compute: forward + backward per step (dense row updates included) per non-zero,
    # from 1 rank (r1, the main figure) and from 2 ranks less their 6 ghost exchanges (r2: both
    # cores busy, memory bus and the machine's other jobs shared).
    t_sf2 = two["propagate"]["halo_seconds_median"]
    bytes2 = two["propagate"]["halo_bytes_max"]
    fb2 = two["phase_seconds_per_step"]["forward"] + two["phase_seconds_per_step"]["backward"]
    comp2 = fb2 - PRODUCTS * t_sf2
    rate2 = PRODUCTS * p2["nnz"].max() / comp2  # non-zeros per second per rank, 2 ranks
    fb1 = one["phase_seconds_per_step"]["forward"] + one["phase_seconds_per_step"]["backward"]
    rate1 = PRODUCTS * nnz_total / fb1  # the same, one rank alone on the machine
    pack = t_sf2 / bytes2  # s per ghost byte: the owner's copy into the reader's window (shared memory, 2 ranks)
    ph1 = one["phase_seconds_per_step"]
    h2 = float(np.mean(two["item_halo_rows_per_step_per_rank"]))
    # The trainer's halo phase also holds the step's row counting (zeroing the gradient, row
    # flags: O(owned rows)), all there is of it at 1 rank; the rest at 2 ranks is the item halo.
    count2 = ph1["halo"] * p2["rows"].max() / rows_total
    per_row = max(two["phase_seconds_per_step"]["halo"] - count2, 0.0) / h2
    inputs = {"nnz_per_s_per_rank_2_ranks": rate2, "nnz_per_s_per_rank_1_rank": rate1,
              "forward_backward_s_per_step_2_ranks": fb2, "ghost_exchange_s_2_ranks": t_sf2,
              "ghost_bytes_2_ranks": bytes2, "pack_s_per_byte": pack,
              "item_halo_s_per_row_2_ranks": per_row, "item_halo_rows_2_ranks": h2,
              "row_counting_s_per_step_1_rank": ph1["halo"],
              "net_bytes_per_s": bandwidth, "net_latency_s": latency,
              "sample_loss_s_per_step_1_rank": ph1["sample"] + ph1["loss"],
              "batch_s_per_step_1_rank": ph1["batch"], "optimizer_s_per_step_1_rank": ph1["optimize"],
              "other_s_per_step_1_rank": ph1["other"]}
    rows = []
    for p in MODEL_P:
        q = parts[p]
        nnz_max, rows_max, ghost_max = q["nnz"].max(), q["rows"].max(), q["ghost_rows"].max()
        neigh_max, pairs_max = q["neighbours"].max(), q["pairs"].max()
        halo_rows = q["item_halo_expected"].max()
        log_p = math.log2(p) if p > 1 else 0.0
        terms = {
            "propagation": PRODUCTS * nnz_max / rate1,
            "ghost_exchange": PRODUCTS * (ghost_max * DIM * 8 * (1 / bandwidth + pack)
                                          + latency * neigh_max) if p > 1 else 0.0,
            "item_halo": (halo_rows * per_row + halo_rows * (2 * DIM + 1) * 8 / bandwidth
                          + latency * (3 * min(p - 1, halo_rows) + 2 * log_p)) if p > 1 else 0.0,
            "sample_loss": (ph1["sample"] + ph1["loss"]) * pairs_max / float(p1["pairs"][0]),
            "batch": ph1["batch"],
            "optimizer": ph1["optimize"] * rows_max / rows_total,
            "row_counting": ph1["halo"] * rows_max / rows_total,
            "other": ph1["other"] * rows_max / rows_total,
            "allreduce": 2 * latency * log_p,
        }
        total = sum(terms.values())
        contended = total - terms["propagation"] + PRODUCTS * nnz_max / rate2
        rows.append({"ranks": p, "nnz_max": int(nnz_max), "nnz_imbalance": nnz_max / q["nnz"].mean(),
                     "rows_max": int(rows_max),
                     "ghost_rows_max": int(ghost_max), "ghost_rows_mean": float(q["ghost_rows"].mean()),
                     "ghost_mb_per_product_max": ghost_max * DIM * 8 / 1e6,
                     "neighbours_max": int(neigh_max), "item_halo_rows_max": halo_rows,
                     "terms": terms, "seconds_per_step": total,
                     "seconds_per_step_at_2_rank_rate": contended})
    return inputs, rows


def memory_model(runs, parts):
    """Peak RSS per rank = fixed + per owned row + per ghost row + per non-zero + per other-split
    id, with the per-unit bytes from the data structures; the fixed part fitted at 1 rank."""
    work = max(LAYERS, 2)  # LightGCN's work arrays: one per layer, at least two
    # ego, final, grad_final, the work arrays, grad, Adam m and v; the row count
    per_row = ((6 + work) * DIM) * 8 + 8
    # The Propagator's ghost rows (its RMA window) and, on one node, as many rows of its readers'
    # windows that it puts into: shared pages count in the resident set of every rank touching them.
    per_ghost = 2 * DIM * 8
    per_nnz = 2 * (8 + 4)  # Â twice (PETSc AIJ and the Propagator's copy), 32-bit PetscInt
    per_id = 4  # the rank's users' train, test and exposure item ids

    def structural(q, r):
        return (q["rows"][r] * per_row + q["ghost_rows"][r] * per_ghost + q["nnz"][r] * per_nnz
                + (q["pairs"][r] + q["other_split_nnz"][r]) * per_id) / 2**20
    fixed = max(runs[1]["peak_rss_mb_per_rank"]) - structural(parts[1], 0)
    table = []
    for p in MODEL_P:
        q = parts[p]
        table.append({"ranks": p, "predicted_peak_mb_max": fixed + max(structural(q, r) for r in range(p))})
    return fixed, table


def pinsage_model(ps, parts, bandwidth, latency):
    """PinSage's step seconds at P ranks, by term, from its 1- and 2-rank runs (see the report).
    Its step computes the sampled computation graph of the rank's targets (about 3·batch/P rows:
    its users' pairs, the positive and negative items it owns) with fixed fan-outs, so at the fixed
    global batch the compute falls as 1/P, and the rows it exchanges are the remote share (1 - 1/P)
    of that graph: per rank (P - 1)/P² of the whole, scaled from the rows measured at 2 ranks."""
    one, two = ps[1], ps[2]
    ph1 = one["phase_seconds_per_step"]
    rows_total = float(parts[1]["rows"][0])
    graph1 = ph1["sample"] + ph1["forward"] + ph1["backward"] + ph1["loss"]
    rows1 = ph1["optimize"] + ph1["halo"] + ph1["other"]
    batch1 = ph1["batch"]
    f1, f2 = PS_FANOUTS

    def compute(p):
        return graph1 / p, rows1 * float(parts[p]["rows"].max()) / rows_total

    g2, r2 = compute(2)
    exchange2 = max(two["seconds_per_step"] - g2 - r2 - batch1, 0.0)
    h2 = float(np.mean(two["item_halo_rows_per_step_per_rank"]))
    per_row = exchange2 / h2 if h2 > 0 else math.nan

    def halo_rows(p):  # h(P) = h(2)·[(P - 1)/P²] / [(2 - 1)/2²]
        return h2 * 4 * (p - 1) / p ** 2 if p > 1 else 0.0

    measured = two.get("model_halo_values_per_step_per_rank")
    m2 = float(np.mean(measured)) if measured else math.nan

    def sampled_bytes(p):  # features of N1 ∪ N2 and hop-1 rows out, their gradients back
        if measured:  # the values measured at 2 ranks, scaled as the halo rows
            return m2 * 8 * 2 * 4 * (p - 1) / p ** 2
        return (1 - 1 / p) * (3 * PS_BATCH / p) * f1 * ((1 + f2) * PS_DIM + PS_WIDTH) * 8 * 2

    inputs = {"sampled_graph_s_per_step_1_rank": graph1, "per_row_s_per_step_1_rank": rows1,
              "batch_s_per_step_1_rank": batch1, "exchange_s_per_step_2_ranks": exchange2,
              "halo_rows_2_ranks": h2, "exchange_s_per_halo_row_2_ranks": per_row,
              "sampled_graph_halo_values_2_ranks": m2,
              "net_bytes_per_s": bandwidth, "net_latency_s": latency}
    rows = []
    for p in MODEL_P:
        graph, per_rows = compute(p)
        h = halo_rows(p)
        log_p = math.log2(p) if p > 1 else 0.0
        volume = sampled_bytes(p) + h * (2 * PS_WIDTH + 1) * 8 if p > 1 else 0.0
        terms = {"sampled_graph": graph, "per_row": per_rows, "batch": batch1,
                 "exchange": (h * per_row + volume / bandwidth
                              + latency * (PS_EXCHANGES * min(p - 1, h) + PS_ALLREDUCES * log_p))
                 if p > 1 else 0.0}
        rows.append({"ranks": p, "halo_rows": h, "exchange_mb_per_step": volume / 1e6,
                     "terms": terms, "seconds_per_step": sum(terms.values())})
    return inputs, rows


def pinsage_report(ps, runs, predicted, parts):
    """alibaba.json's "pinsage" entry and alibaba.md's PinSage sections."""
    bandwidth = NET_GBPS * 1e9
    inputs, rows = pinsage_model(ps, parts, bandwidth, NET_LATENCY)
    _, pessimistic = pinsage_model(ps, parts, bandwidth / 3, NET_LATENCY * 5)
    checks = {"within_2_gib": all(ps[p]["within_2_gib"] for p in RANKS)}
    training = all(ps[p]["peak_rss_mb_training_per_rank"] is not None for p in RANKS)
    if training:
        checks["training_within_2_gib"] = all(ps[p]["training_within_2_gib"] for p in RANKS)
    result = {"runs": {str(p): {k: v for k, v in r.items() if k != "summary"} for p, r in ps.items()},
              "model": {"inputs": inputs, "predicted": rows, "pessimistic": pessimistic},
              "checks": checks}
    f1, f2 = PS_FANOUTS
    labels = {"forward": "forward (LightGCN: propagation; PinSage: neighbour samples, feature and "
                         "hop-1 halos, both aggregators)",
              "backward": "backward (PinSage: with the halos' gradient reductions)",
              "sample": "sample (negatives)", "halo": "item halo of the loss + row counting",
              "loss": "loss", "optimize": "optimizer", "batch": "batch", "other": "other (step overhead)"}
    md = ["", f"## PinSage beside LightGCN (d = {PS_DIM}, width {PS_WIDTH}, fan-outs {f1} and {f2}, "
          f"uniform sampler, batch {PS_BATCH}, clipping at 5)", "",
          f"PinSage runs of {ps[1]['steps']} steps with the same evaluation and timers as LightGCN's "
          "above (seconds per step: the mean over the steps after the first). PinSage trains on the "
          "sampled computation graph of the rows the step reads (each target's hop-1 sample, each "
          "hop-1 node's hop-2 sample), not on products of the whole graph; its batch, the RecNS "
          f"paper's, is {BATCH // PS_BATCH} times smaller than LightGCN's here, so the table also "
          "gives seconds per 1,000 training pairs.", "",
          "| per step, seconds | LightGCN 1 rank | LightGCN 2 ranks | PinSage 1 rank | PinSage 2 ranks |",
          "|---|---|---|---|---|",
          "| **step** | " + " | ".join(f"**{fmt(r[p]['seconds_per_step'])}**" for r in (runs, ps) for p in RANKS) + " |",
          "| first step | " + " | ".join(fmt(r[p]['first_step_seconds']) for r in (runs, ps) for p in RANKS) + " |",
          "| mean over all steps | " + " | ".join(fmt(r[p]['summary']['seconds']['steps'] / r[p]['steps'])
                                             for r in (runs, ps) for p in RANKS) + " |"]
    for k in PHASES + ["other"]:
        md.append(f"| {labels[k]} | " + " | ".join(fmt(r[p]['phase_seconds_per_step'][k], 4)
                                                  for r in (runs, ps) for p in RANKS) + " |")
    md += ["| seconds per 1,000 training pairs | "
           + " | ".join(fmt(r[p]['seconds_per_step'] * 1000 / b, 4)
                        for r, b in ((runs, BATCH), (ps, PS_BATCH)) for p in RANKS) + " |",
           "", f"Speed-up of PinSage's step from 1 to 2 ranks: "
           f"{ps[1]['seconds_per_step'] / ps[2]['seconds_per_step']:.2f}. The loss's item halo "
           "(summary `halo_item_rows_per_step_per_rank`): "
           + ", ".join(f"{x:.0f}" for x in ps[2]["item_halo_rows_per_step_per_rank"])
           + " rows per rank per step at 2 ranks.", "",
           "Evaluation (the same user sample; PinSage ranks with full-neighbourhood rows, two "
           "distributed products of the whole graph):", "",
           "| | PinSage 1 rank | PinSage 2 ranks |", "|---|---|---|",
           "| users evaluated | " + " | ".join(f"{ps[p]['eval']['users']:,}" for p in RANKS) + " |",
           "| **users/s** (evaluator) | " + " | ".join(f"**{ps[p]['eval']['users_per_second']:.0f}**" for p in RANKS) + " |",
           "| users/s with the forward pass | "
           + " | ".join(f"{ps[p]['eval']['users_per_second_with_forward']:.0f}" for p in RANKS) + " |",
           "", "### PinSage's memory", "",
           "Peak resident memory per rank (summary `peak_rss_mb_per_rank`, the evaluation's "
           f"full-neighbourhood pass included), limit 2 GiB = {PS_LIMIT_MB} MiB for PinSage "
           "(LightGCN's limit stays 6 GiB):", "",
           "| ranks | PinSage peak RSS per rank, MiB | <= 2 GiB | "
           + ("PinSage peak up to the end of training, MiB | <= 2 GiB | " if training else "")
           + "LightGCN peak RSS per rank, MiB |",
           "|---|---|---|" + ("---|---|" if training else "") + "---|"]
    for p in RANKS:
        cells = [", ".join(f"{x:.0f}" for x in ps[p]["peak_rss_mb_per_rank"]),
                 "yes" if ps[p]["within_2_gib"] else "**NO**"]
        if training:
            cells += [", ".join(f"{x:.0f}" for x in ps[p]["peak_rss_mb_training_per_rank"]),
                      "yes" if ps[p]["training_within_2_gib"] else "**NO**"]
        cells.append(", ".join(f"{x:.0f}" for x in runs[p]["peak_rss_mb_per_rank"]))
        md.append(f"| {p} | " + " | ".join(cells) + " |")
    if not training:
        md += ["", "(This trainer's summary has no peak up to the end of training "
               "(`peak_rss_mb_training_per_rank`): the peak above includes the evaluation.)"]
    md += ["", "### PinSage's scaling model", "",
           "Step time at P ranks, for a rank of the fixed global batch of "
           f"{PS_BATCH} pairs:", "",
           "    T(P) = t_graph(1)/P                                     sampled graph: sample, forward, backward, loss",
           "         + t_rows(1)·rows_max(P)/rows                       optimizer, row counting, rest",
           "         + t_batch(1)                                       batch",
           "         + h(P)·c_h + V(P)/B + α·(10·min(P-1, h(P)) + log2 P)     exchange", "",
           "Assumptions. (1) The compute is that of the sampled computation graph: a rank's "
           f"targets are about 3·{PS_BATCH}/P rows (its users' pairs, and the positive and negative "
           f"items it owns), each with {f1} hop-1 neighbours and each of those with {f2} hop-2 "
           "neighbours, whatever P, so at the fixed global batch the work per rank falls as 1/P "
           "(t_graph(1): the 1-rank sample + forward + backward + loss phases; the graph's rows are "
           "taken as evenly spread over the ranks, which the partition balances by training pairs). "
           "The per-row phases (optimizer over the rank's feature rows, row counting, the rest) "
           "scale with the rank's rows, exactly from the partition; the batch phase, in which every "
           "rank walks the whole global batch, does not scale. (2) The exchange: the rows a rank "
           "receives are the sampled nodes other ranks own, a share 1 - 1/P of its graph of "
           "~batch/P targets, so h(P) = h(2)·4(P-1)/P², from h(2), the item-halo rows per rank "
           "measured at 2 ranks (the sampled graph's feature and hop-1 halos are drawn for the "
           "same targets and scale alike). c_h, the seconds per such row, is the whole 2-rank step less its compute by (1) "
           "(half the 1-rank graph, the per-row phases at 2 ranks, the batch) over h(2): it holds "
           "the halo set-ups, the shared-memory copies of both halos and the loss's, the waiting "
           "for the slower rank and the two ranks' contention for the machine: the model charges all "
           "of the 2-rank overhead to the exchange and scales it with h(P). Repeated nodes "
           "are deduplicated in the halos, more so in the large samples of 2 ranks than at 64, so "
           "h(P) may be low at large P by up to that deduplication. (3) The network (not "
           "measurable here): V(P) = "
           + (f"m(2)·4(P-1)/P²·8·2 bytes, from m(2) = {inputs['sampled_graph_halo_values_2_ranks']:,.0f} "
              "values that the sampled graph's feature and hop-1 halos brought to a rank per step at "
              "2 ranks (summary `model_halo_values_per_step_per_rank`), out and their gradients back,"
              if not math.isnan(inputs['sampled_graph_halo_values_2_ranks']) else
              f"(1 - 1/P)·(3·batch/P)·{f1}·(({f2} + 1)·{PS_DIM} + {PS_WIDTH})·8·2 bytes (features of "
              "the hop-1 and hop-2 samples and the hop-1 rows, out and their gradients back, without "
              "deduplication: an upper bound, as the runs did not report their halos),")
           + f" + h(P)·(2·{PS_WIDTH} + 1)·8 (the loss's rows), at B = {NET_GBPS:g} GB/s per "
           f"rank, and α = {NET_LATENCY * 1e6:g} µs for each of the step's 10 exchanges with every "
           "other rank (the sampled graph's two halo set-ups, the roots' compaction, two "
           "broadcasts, two reductions; the loss's halo set-up, broadcast and reduction) and its "
           "one allreduce (the loss with the shared weights' gradients); pessimistic column: B/3, 5α.", "",
           f"Measured inputs: t_graph(1) = {inputs['sampled_graph_s_per_step_1_rank']:.4f} s, "
           f"t_rows(1) = {inputs['per_row_s_per_step_1_rank']:.4f} s, t_batch(1) = "
           f"{inputs['batch_s_per_step_1_rank']:.4f} s; at 2 ranks the exchange "
           f"{inputs['exchange_s_per_step_2_ranks']:.4f} s over h(2) = {inputs['halo_rows_2_ranks']:.0f} "
           f"rows: c_h = {inputs['exchange_s_per_halo_row_2_ranks'] * 1e6:.2f} µs per row.", "",
           "| P | h(P) rows | exchange MB/step | sampled graph s | per-row phases s | batch s | "
           "exchange s | **T(P) s/step** | pessimistic net | measured s/step | LightGCN T(P) s/step |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row, pess, lg in zip(rows, pessimistic, predicted):
        t = row["terms"]
        measured = f"{ps[row['ranks']]['seconds_per_step']:.4f}" if row["ranks"] in ps else ""
        md.append(f"| {row['ranks']} | {row['halo_rows']:.0f} | {row['exchange_mb_per_step']:.2f} | "
                  f"{t['sampled_graph']:.4f} | {t['per_row']:.4f} | {t['batch']:.4f} | "
                  f"{t['exchange']:.4f} | **{row['seconds_per_step']:.4f}** | "
                  f"{pess['seconds_per_step']:.4f} | {measured} | {lg['seconds_per_step']:.3f} |")
    t64 = rows[-1]
    md += ["", f"Predicted at {t64['ranks']} ranks: {t64['seconds_per_step']:.4f} s per PinSage step "
           f"(a speed-up of {ps[1]['seconds_per_step'] / t64['seconds_per_step']:.1f} over the "
           f"measured 1-rank step), of which the exchange is "
           f"{t64['terms']['exchange'] / t64['seconds_per_step'] * 100:.0f}%; "
           f"{t64['seconds_per_step'] * 1000 / PS_BATCH:.4f} s per 1,000 training pairs against "
           f"LightGCN's {predicted[-1]['seconds_per_step'] * 1000 / BATCH:.4f}."]
    return result, md


# --- the report -----------------------------------------------------------------------------------

def fmt(x, digits=3):
    return f"{x:.{digits}f}"


def main(out, dataset):
    data = load_dataset(dataset)
    parts = {p: partition_figures(data, p) for p in MODEL_P}
    runs = read_runs(out)
    ps = read_pinsage(out)
    make_log = open(f"{out}/make_alibaba.log").read() if os.path.exists(f"{out}/make_alibaba.log") else ""
    m = re.search(r"make_alibaba: ([0-9.]+) million interactions/s over ([0-9.]+) s wall", make_log)
    generation = ({"million_interactions_per_s": float(m.group(1)), "wall_seconds": float(m.group(2)),
                   "line": next(l for l in make_log.splitlines() if l.startswith("make_alibaba:"))}
                  if m else {"note": make_log.strip() or "not run"})
    load = open(f"{out}/load.txt").read().strip().splitlines() if os.path.exists(f"{out}/load.txt") else []
    bandwidth = NET_GBPS * 1e9
    inputs, predicted = model(runs, parts, data, bandwidth, NET_LATENCY)
    _, pessimistic = model(runs, parts, data, bandwidth / 3, NET_LATENCY * 5)
    fixed_mb, memory = memory_model(runs, parts)

    # Checks of the partition model against what the code measured at 2 ranks.
    bench2 = runs[2]["propagate"]
    checks = {"ghost_rows_max_computed": int(parts[2]["ghost_rows"].max()),
              "ghost_rows_max_measured": int(bench2["ghost_rows_max"]),
              "nnz_max_computed": int(parts[2]["nnz"].max()),
              "nnz_max_measured": int(bench2["local_nnz_max"]),
              "item_halo_rows_expected_mean": float(parts[2]["item_halo_expected"].mean()),
              "item_halo_rows_measured_mean": float(np.mean(runs[2]["item_halo_rows_per_step_per_rank"]))}
    result = {"machine": machine_info(), "load": load, "dataset": dataset,
              "sizes": {"users": data["users"], "items": data["items"], **data["nnz"]},
              "generation": generation,
              "runs": {str(p): {k: v for k, v in r.items() if k not in ("summary",)} for p, r in runs.items()},
              "partition": {str(p): {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                                     for k, v in q.items()} for p, q in parts.items()},
              "model": {"inputs": inputs, "predicted": predicted, "pessimistic": pessimistic,
                        "memory_fixed_mb": fixed_mb, "memory": memory},
              "checks": checks}
    if ps is not None:
        result["pinsage"], ps_md = pinsage_report(ps, runs, predicted, parts)
    with open(f"{out}/alibaba.json", "w") as f:
        json.dump(result, f, indent=1, default=float)

    mc = result["machine"]
    md = ["# LightGCN at Alibaba scale" + (", and PinSage" if ps is not None else ""), "",
          f"Dataset `{dataset}`: {data['users']:,} users, {data['items']:,} items, "
          f"{data['nnz']['train']:,} training + {data['nnz']['test']:,} test interactions "
          f"(= {data['nnz']['train'] + data['nnz']['test']:,}), {data['nnz'].get('exposure', 0):,} exposures.",
          "",
          f"Machine: {mc['host']} ({mc['cpu']}, {mc['cores']} cores), commit {mc['commit']}. "
          "The machine was shared with other jobs during the runs; load averages (1, 5, 15 min):", ""]
    md += [f"- {l}" for l in load]
    md += ["", "## Generation", "",
           (f"`scripts/make_alibaba.sh`: **{generation['million_interactions_per_s']:.2f} million "
            f"interactions/s** of wall time (at least 1 million required). Its report: "
            f"`{generation['line']}`" if m else
            f"`scripts/make_alibaba.sh` not run by this benchmark: {generation['note']}.")]

    md += ["", "## Training step (LightGCN, d = 64, 3 layers, uniform sampler, batch 2048)", "",
           f"Runs of {runs[1]['steps']} steps (`-train_max_steps`, with the trainer's defaults otherwise, "
           "among them -train_needed_rows_only: products on the rows the step reads only); seconds "
           "per step are the mean over "
           "the steps after the first (the first, which may pay first touches of work arrays, is "
           "reported apart, and the mean over all steps too), from the "
           "trainer's wall-clock timers on rank 0 (summary JSON: `seconds` less `first_step_seconds`). "
           "Rank 0's timers include waiting for the other rank at the phase's first collective; "
           "the -log_view column is the event time, max over ranks, over all steps (first included).", "",
           "| per step, seconds | 1 rank | 2 ranks | 1 rank (-log_view) | 2 ranks (-log_view) |",
           "|---|---|---|---|---|",
           f"| **step** | **{fmt(runs[1]['seconds_per_step'])}** | **{fmt(runs[2]['seconds_per_step'])}** | | |",
           f"| first step | {fmt(runs[1]['first_step_seconds'])} | {fmt(runs[2]['first_step_seconds'])} | | |",
           "| mean over all steps | " + " | ".join(fmt(runs[p]['summary']['seconds']['steps'] / runs[p]['steps'])
                                              for p in RANKS) + " | | |"]
    for k in PHASES + ["other"]:
        lv = [runs[p]["log_view_max_seconds_per_step"].get(k) for p in RANKS]
        md.append(f"| {LABELS[k]} | {fmt(runs[1]['phase_seconds_per_step'][k], 4)} | "
                  f"{fmt(runs[2]['phase_seconds_per_step'][k], 4)} | "
                  + " | ".join("" if v is None else fmt(v, 4) for v in lv) + " |")
    md += ["", f"Speed-up of the step from 1 to 2 ranks: "
           f"{runs[1]['seconds_per_step'] / runs[2]['seconds_per_step']:.2f}.", "",
           "## Evaluation (test split, seeded user sample, full ranking of all items, streamed)", "",
           "| | 1 rank | 2 ranks |", "|---|---|---|",
           "| users evaluated | " + " | ".join(f"{runs[p]['eval']['users']:,}" for p in RANKS) + " |",
           "| evaluator seconds (-log_view Evaluate, max over ranks) | "
           + " | ".join(fmt(runs[p]['eval']['seconds_evaluator'], 2) for p in RANKS) + " |",
           "| forward pass before it (3 products) | "
           + " | ".join(fmt(runs[p]['eval']['seconds_forward'], 2) for p in RANKS) + " |",
           "| **users/s** (evaluator) | " + " | ".join(f"**{runs[p]['eval']['users_per_second']:.0f}**" for p in RANKS) + " |",
           "| users/s with the forward pass | "
           + " | ".join(f"{runs[p]['eval']['users_per_second_with_forward']:.0f}" for p in RANKS) + " |",
           "", "Metrics after these few steps are not meaningful (the model is barely trained); "
           "they are in the logs.", "",
           "## Memory", "",
           "Peak resident memory per rank (`getrusage` ru_maxrss, summary `peak_rss_mb_per_rank`), "
           "limit 6 GiB = 6144 MiB:", "",
           "| ranks | peak RSS per rank, MiB | <= 6 GiB |", "|---|---|---|"]
    for p in RANKS:
        md.append(f"| {p} | {', '.join(f'{x:.0f}' for x in runs[p]['peak_rss_mb_per_rank'])} | "
                  f"{'yes' if runs[p]['within_6_gib'] else '**NO**'} |")
    md += ["", "No rank allocates anything of size users × items: "
           f"{data['users']:,} × {data['items']:,} doubles would be "
           f"{data['users'] * data['items'] * 8 / 2**30:,.0f} GiB.", "",
           "## Halo volume", "",
           "(a) Propagation: each product Â·E receives the rows of the off-diagonal columns of this "
           "rank's block of Â (ghost rows), d = 64 doubles each, from its neighbour ranks; 6 "
           "products per step (3 forward, 3 backward) and 3 more per evaluation. Measured by "
           "`recns_bench -bench propagate` (ghost rows from PETSc's off-diagonal block; one "
           "exchange of the ghost rows alone, as a full product does it with one-sided puts, median):", "",
           "| ranks | ghost rows per rank (max / mean) | MB per product (max rank) | neighbour ranks | "
           "product s (median) | ghost exchange alone s |", "|---|---|---|---|---|---|"]
    for p in RANKS:
        b = runs[p]["propagate"]
        md.append(f"| {p} | {b['ghost_rows_max']:,.0f} / {b['ghost_rows_mean']:,.0f} | "
                  f"{b['halo_bytes_max'] / 1e6:.1f} | {b['neighbour_ranks_max']:.0f} | "
                  f"{b['seconds_median']:.3f} | {b['halo_seconds_median']:.3f} |")
    md += ["", "(b) Item halo of the loss: the distinct remote item rows (positives and negatives of "
           "the rank's pairs) fetched per step (d doubles out, d + 1 doubles of gradient and count "
           "back), mean over the steps (summary `halo_item_rows_per_step_per_rank`):", ""]
    for p in RANKS:
        h = runs[p]["item_halo_rows_per_step_per_rank"]
        md.append(f"- {p} rank(s): {', '.join(f'{x:.0f}' for x in h)} rows per rank per step "
                  f"({max(h) * (2 * DIM + 1) * 8 / 1e6:.2f} MB per step on the busiest rank)")

    md += ["", "## Scaling model", "",
           "Step time at P ranks (every term for the busiest rank):", "",
           "    T(P) = 6·nnz_max(P)/r                                   propagation compute",
           "         + 6·[g_max(P)·d·8·(1/B + c_pack) + α·n_max(P)]        ghost-row exchange",
           "         + h(P)·c_row + h(P)·(2d+1)·8/B + α·(3·min(P-1, h(P)) + 2·log2 P)   item halo",
           "         + t_sl(1)·pairs_max(P)/pairs + t_batch(1)              sample + loss, batch",
           "         + (t_opt(1) + t_count(1) + t_other(1))·rows_max(P)/rows   optimizer, row counting, rest",
           "         + 2·α·log2 P                                           loss allreduce", "",
           "nnz_max, rows_max, pairs_max (training pairs), g_max (ghost rows = off-diagonal columns "
           "of Â) and n_max (neighbour ranks) are computed exactly from the dataset with the "
           "partition of src/graph/layout.cpp (users in contiguous blocks balanced by training "
           "pairs, items likewise by their training degree); h(P) is the expected number of distinct "
           "remote items among a rank's batch/P positives (drawn from its own pairs) and as many "
           "uniform negatives. Checked against the code at 2 ranks: ghost rows "
           f"{checks['ghost_rows_max_computed']:,} computed vs {checks['ghost_rows_max_measured']:,} "
           f"measured, non-zeros {checks['nnz_max_computed']:,} vs {checks['nnz_max_measured']:,}, "
           f"item halo {checks['item_halo_rows_expected_mean']:.0f} expected vs "
           f"{checks['item_halo_rows_measured_mean']:.0f} measured.", "",
           "Measured inputs:", "",
           f"- r = {inputs['nnz_per_s_per_rank_1_rank'] / 1e6:.2f} M non-zeros/s per rank, effective: 6 × "
           "the non-zeros of Â over the 1-rank forward + backward seconds per step (the dense row "
           "updates of the layers included; with -train_needed_rows_only, the default, the step's "
           "products skip the rows it does not read, so r can exceed the rate of a full product, "
           f"{runs[1]['propagate']['nnz'] / runs[1]['propagate']['seconds_median'] / 1e6:.2f} M/s by "
           "recns_bench at 1 rank). At 2 ranks, the forward + backward "
           f"({inputs['forward_backward_s_per_step_2_ranks']:.3f} s/step) less 6 ghost exchanges "
           f"({inputs['ghost_exchange_s_2_ranks']:.3f} s each) gives "
           f"{inputs['nnz_per_s_per_rank_2_ranks'] / 1e6:.2f} M/s per rank (both cores busy, sharing "
           "the memory bus and the machine's other jobs): the column \"at 2-rank rate\" uses it",
           f"- c_pack = {inputs['pack_s_per_byte'] * 1e9:.3f} ns/byte: the whole 2-rank shared-memory "
           f"ghost exchange ({inputs['ghost_bytes_2_ranks'] / 1e6:.0f} MB in "
           f"{inputs['ghost_exchange_s_2_ranks']:.3f} s) counted as the copy cost (gathering the rows "
           "from the owner's memory), which a network exchange also pays",
           f"- c_row = {inputs['item_halo_s_per_row_2_ranks'] * 1e6:.1f} µs per item-halo row (2-rank "
           "halo phase on rank 0 less its row counting, scaled from 1 rank, / "
           f"{inputs['item_halo_rows_2_ranks']:.0f} rows: set-up of the PetscSF, "
           "hash map, exchanges, and chiefly waiting for the slower rank, since the set-up is the "
           "first collective after the forward pass; the exchanges alone, -log_view HaloBcast + "
           f"HaloReduce, take {runs[2]['log_view_max_seconds_per_step']['halo']:.4f} s per step)",
           f"- 1 rank, per step: sample + loss {inputs['sample_loss_s_per_step_1_rank']:.4f} s, batch "
           f"{inputs['batch_s_per_step_1_rank']:.4f} s (every rank walks the whole global batch), "
           f"optimizer {inputs['optimizer_s_per_step_1_rank']:.4f} s, row counting t_count "
           f"{inputs['row_counting_s_per_step_1_rank']:.4f} s, other "
           f"{inputs['other_s_per_step_1_rank']:.4f} s",
           f"- assumed network (not measurable here): B = {NET_GBPS:g} GB/s per rank, α = "
           f"{NET_LATENCY * 1e6:g} µs; pessimistic column: B/3, 5α", "",
           "| P | nnz max (max/mean) | ghost rows max (mean) | ghost MB/product | neighbours | item halo rows | "
           "propagation s | ghost exch. s | item halo s | rest s | **T(P) s/step** | pessimistic net | "
           "at 2-rank rate | measured s/step | predicted peak RSS MiB |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row, pess, mem in zip(predicted, pessimistic, memory):
        t = row["terms"]
        rest = (t["sample_loss"] + t["batch"] + t["optimizer"] + t["row_counting"] + t["other"]
                + t["allreduce"])
        measured = f"{runs[row['ranks']]['seconds_per_step']:.3f}" if row["ranks"] in runs else ""
        md.append(f"| {row['ranks']} | {row['nnz_max']:,} ({row['nnz_imbalance']:.2f}) | {row['ghost_rows_max']:,} "
                  f"({row['ghost_rows_mean']:,.0f}) | {row['ghost_mb_per_product_max']:.1f} | "
                  f"{row['neighbours_max']} | {row['item_halo_rows_max']:.0f} | {t['propagation']:.3f} | "
                  f"{t['ghost_exchange']:.3f} | {t['item_halo']:.4f} | {rest:.4f} | "
                  f"**{row['seconds_per_step']:.3f}** | {pess['seconds_per_step']:.3f} | "
                  f"{row['seconds_per_step_at_2_rank_rate']:.3f} | {measured} | {mem['predicted_peak_mb_max']:.0f} |")
    t64, t1 = predicted[-1], runs[1]["seconds_per_step"]
    max_item_share = np.bincount(data["indices"]).max() / (len(data["indices"]) / t64["ranks"])
    md += ["", f"Measured: {runs[1]['seconds_per_step']:.3f} s/step at 1 rank, "
           f"{runs[2]['seconds_per_step']:.3f} at 2. Predicted at 64 ranks: "
           f"{t64['seconds_per_step']:.3f} s/step (a speed-up of {t1 / t64['seconds_per_step']:.1f} over the measured "
           f"1-rank step), of which the ghost-row exchange is "
           f"{t64['terms']['ghost_exchange'] / t64['seconds_per_step'] * 100:.0f}%.",
           "", "The model adds the ghost exchange to the compute although the Propagator overlaps "
           "it with the diagonal block's product, and charges c_pack, measured on this shared "
           "machine, to every ghost byte: both make it an upper estimate for the exchange. The "
           "ghost rows fall slowly with P: the generator's users draw items from 16 planted "
           "communities and from the global popularity ranking alike, so even in the locality order "
           "(`recns_convert -order locality`, make_alibaba.sh's default) a contiguous block of "
           "users touches items of most blocks: at P ≥ 4 a rank receives more ghost rows per "
           "product than it owns rows. The non-zeros per rank are within "
           f"{t64['nnz_imbalance']:.2f} × the mean at {t64['ranks']} ranks: the item blocks are "
           "balanced by training pairs, but a block holds whole items, and the most popular item "
           f"alone holds {max_item_share:.0%} of a {t64['ranks']}th of the pairs.",
           "", "Peak RSS model: a fixed part fitted at 1 rank "
           f"({fixed_mb:.0f} MiB: MPI, PETSc, the full train indptr, item degrees) plus "
           f"{6 + max(LAYERS, 2)} dense d-wide rows per owned row (ego, final, gradient of the final, "
           f"{max(LAYERS, 2)} work arrays (one per layer, at least two), gradient, "
           "Adam's two moments), two per ghost row (its window of ghost rows, and the shared pages of the "
           "readers' windows it puts into, which count in its resident set too), 2 × 12 bytes per "
           "non-zero of Â (PETSc's matrix and the Propagator's copy) and 4 bytes per stored item id "
           "(train, test, exposure); the 2-rank prediction is to be compared "
           f"with the measured {max(runs[2]['peak_rss_mb_per_rank']):.0f} MiB."]
    if ps is not None:
        md += ps_md
    with open(f"{out}/alibaba.md", "w") as f:
        f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
