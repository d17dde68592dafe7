#!/usr/bin/env bash
# Fresh machine to a tested build: installs the dependencies, builds, runs the whole suite
# (unit, MPI at 1, 2 and 4 ranks, whole-program tests). Tests needing ../shared/data skip
# with a message when it is absent.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/env.sh
bash scripts/setup.sh
cd build
ctest --output-on-failure --timeout 600 "$@"
