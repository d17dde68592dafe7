#!/usr/bin/env bash
# Configures and builds recns (Release) in build/. Usage: scripts/build.sh [extra cmake args]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release "$@" > "$root/build.log" 2>&1 ||
  { cat "$root/build.log"; exit 1; }
cmake --build "$root/build" -j "$(nproc)" >> "$root/build.log" 2>&1 ||
  { tail -n 60 "$root/build.log"; exit 1; }
echo "build: ok (log in build.log)"
