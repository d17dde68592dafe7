#!/usr/bin/env bash
# Converts Gowalla as the LightGCN paper trains on it: ../shared splits the paper's train set into
# train.txt and valid.txt, merged back here so an epoch is the same 810,128 pairs as the reference
# codes'. Usage: scripts/gowalla_paper_train.sh OUT.h5 (made when absent). Exit 77 with a message
# when the data is absent ($RECNS_SHARED_DATA/gowalla, default ../shared/data/gowalla).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="$1"
[ -f "$target" ] && exit 0
shared="${RECNS_SHARED_DATA:-$root/../shared/data}"
if [ ! -f "$shared/gowalla/train.txt" ]; then
  echo "gowalla: no $shared/gowalla/train.txt (set RECNS_SHARED_DATA)" >&2
  exit 77
fi
paper="$(mktemp -d)"
trap 'rm -rf "$paper"' EXIT
/usr/bin/python3 - "$shared/gowalla" "$paper" <<'PY'
import shutil, sys
source, target = sys.argv[1], sys.argv[2]
items = {}
for name in ("train.txt", "valid.txt"):
    with open(f"{source}/{name}") as f:
        for line in f:
            fields = line.split()
            if fields:
                items.setdefault(fields[0], []).extend(fields[1:])
with open(f"{target}/train.txt", "w") as f:
    for user, its in items.items():
        f.write(" ".join([user] + its) + "\n")
shutil.copy(f"{source}/test.txt", f"{target}/test.txt")
PY
"$root/build/recns_convert" -format lightgcn -input "$paper" -name gowalla -output "$target"
