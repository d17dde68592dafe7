#!/usr/bin/env bash
# Fresh machine to a trained model: installs the dependencies, builds, generates the built-in
# synthetic dataset input/demo.h5 and trains LightGCN on it with 2 ranks (deck input/demo.opts).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/env.sh
bash scripts/setup.sh
[ -f input/demo.h5 ] || build/recns_convert -options_file input/demo_data.opts -output input/demo.h5
mpirun -n 2 build/recns_train input/demo.h5 -options_file input/demo.opts \
  -metrics_file demo_metrics.h5 -summary demo_summary.json -checkpoint_dir demo_checkpoints
