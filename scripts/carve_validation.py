"""Carves a validation split out of a train CSV, per user, so that settings can be chosen without
looking at the test set.

Usage: carve_validation.py TRAIN.csv OUT_TRAIN.csv OUT_VALID.csv [--fraction 0.1] [--seed 1]

TRAIN.csv has a header and columns user,item[,...] (the ml-100k files in ../shared/data are
user,item,rating). For each user, round(fraction * n) of their n rows, chosen at random with the
given seed, go to OUT_VALID.csv and the rest stay in OUT_TRAIN.csv; at least one row always
stays in train, so a user with a single row keeps it. Rows keep their text and their order in the
input. The same input, fraction and seed give the same files.
"""
import argparse
import collections
import random


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("train")
    parser.add_argument("out_train")
    parser.add_argument("out_valid")
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not 0 <= args.fraction < 1:
        parser.error("--fraction must be in [0, 1)")

    with open(args.train) as f:
        header = f.readline()
        rows = [line if line.endswith("\n") else line + "\n" for line in f if line.strip()]
    by_user = collections.defaultdict(list)  # user -> indices of their rows, in file order
    for index, line in enumerate(rows):
        by_user[line.split(",", 1)[0].strip()].append(index)

    rng = random.Random(args.seed)
    held_out = set()
    for user in sorted(by_user, key=lambda u: (len(u), u)):  # a fixed order: numeric ids sort
        indices = by_user[user]
        n_valid = min(len(indices) - 1, int(round(args.fraction * len(indices))))
        if n_valid > 0:
            held_out.update(rng.sample(indices, n_valid))

    with open(args.out_train, "w") as train, open(args.out_valid, "w") as valid:
        train.write(header)
        valid.write(header)
        for index, line in enumerate(rows):
            (valid if index in held_out else train).write(line)
    print(f"carve_validation: {len(rows) - len(held_out)} train and {len(held_out)} valid rows "
          f"for {len(by_user)} users (fraction {args.fraction}, seed {args.seed})")


if __name__ == "__main__":
    main()
