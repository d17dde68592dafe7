#!/usr/bin/env bash
# Generates input/alibaba.h5, a synthetic dataset at the scale of the RecNS paper's Alibaba set:
# 434,442 users, 227,410 items, exactly 7,104,657 interactions (over all splits) and 10,868,570
# exposures (shown, not interacted), with the generator's defaults otherwise: 16 planted
# communities, power-law user degrees and item popularity, a per-user random 80/20 train/test
# split (-test_fraction 0.2, no validation split) and seed 1. Deterministic: the same file on
# every run. Prints the generation speed, interactions per second of recns_convert's wall time
# and of its CPU time (the HDF5 write included); it should be at least 1 million per second.
# Then renumbers users and items for locality (recns_convert -order locality, README decision 2;
# a few minutes, timed apart from the generation) unless ORDER=natural.
# Environment: OUT (default input/alibaba.h5), SEED (default 1), ORDER (locality or natural),
# RECNS_BIN_DIR (the directory of recns_convert; default build, built when absent).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/env.sh
out="${OUT:-$root/input/alibaba.h5}"
convert="${RECNS_BIN_DIR:-$root/build}/recns_convert"
[ -n "${RECNS_BIN_DIR:-}" ] || [ -x build/recns_convert ] || bash scripts/build.sh
[ -x "$convert" ] || { echo "make_alibaba: $convert is absent" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
order="${ORDER:-locality}"
case "$order" in locality | natural) ;; *) echo "make_alibaba: ORDER must be locality or natural" >&2; exit 2 ;; esac
generated="$out"
[ "$order" = locality ] && generated="${out%.h5}.natural.h5"
trap 'rm -f "${out%.h5}.natural.h5"' EXIT
/usr/bin/python3 - "$generated" "${SEED:-1}" "$convert" <<'EOF'
import resource, subprocess, sys, time
out, seed, convert = sys.argv[1], sys.argv[2], sys.argv[3]
interactions, exposures = 7104657, 10868570
start = time.perf_counter()
subprocess.run([convert, "-format", "synthetic", "-name", "alibaba",
                "-synthetic_users", "434442", "-synthetic_items", "227410",
                "-synthetic_total_interactions", str(interactions),
                "-synthetic_total_exposures", str(exposures), "-synthetic_seed", seed,
                "-output", out], check=True)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = usage.ru_utime + usage.ru_stime
rate = interactions / wall
print(f"make_alibaba: {interactions / wall / 1e6:.2f} million interactions/s over {wall:.2f} s "
      f"wall ({interactions / cpu / 1e6:.2f} million/s over {cpu:.2f} s CPU; with exposures "
      f"{(interactions + exposures) / wall / 1e6:.2f} million rows/s wall)"
      + ("" if rate >= 1e6 else "  WARNING: below 1 million interactions/s"))
EOF
if [ "$order" = locality ]; then
  start=$SECONDS
  "$convert" -format recns -input "$generated" -name alibaba -order locality -output "$out"
  echo "make_alibaba: locality order in $((SECONDS - start)) s"
fi
