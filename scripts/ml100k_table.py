"""Builds the ML-100k reproduction table from the run summaries, beside the BNS paper's RNS rows.

Usage: ml100k_table.py OUT_DIR   (reads OUT_DIR/{mf,lightgcn}.summary.json,
                                  writes OUT_DIR/table.md and OUT_DIR/results.json)
"""
import json
import sys

# BNS paper, Table II, MovieLens-100k, RNS rows: (P, R, NDCG) at 5, 10 and 20.
PAPER_RNS = {
    "mf": [0.3900, 0.1301, 0.4143, 0.3363, 0.2164, 0.3967, 0.2724, 0.3298, 0.3962],
    "lightgcn": [0.4261, 0.1453, 0.4544, 0.3571, 0.2319, 0.4275, 0.2867, 0.3490, 0.4248],
}
COLUMNS = [f"{m}@{k}" for k in (5, 10, 20) for m in ("precision", "recall", "ndcg")]
NAMES = {"mf": "MF", "lightgcn": "LightGCN"}


def main(out):
    results, lines = {}, []
    header = " | ".join(c.replace("precision", "P").replace("recall", "R").replace("ndcg", "NDCG")
                        for c in COLUMNS)
    lines.append(f"| model | source | {header} |")
    lines.append("|---|---|" + "---|" * len(COLUMNS))
    for model in ("mf", "lightgcn"):
        summary = json.load(open(f"{out}/{model}.summary.json"))
        final = summary["final"]["test"]
        results[model] = {c: final[c] for c in COLUMNS}
        ours = " | ".join(f"{final[c]:.4f}" for c in COLUMNS)
        paper = " | ".join(f"{v:.4f}" for v in PAPER_RNS[model])
        lines.append(f"| {NAMES[model]} | paper (RNS) | {paper} |")
        lines.append(f"| {NAMES[model]} | recns (uniform, epoch {summary['final']['epoch']}) | {ours} |")
    json.dump(results, open(f"{out}/results.json", "w"), indent=2)
    open(f"{out}/table.md", "w").write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
