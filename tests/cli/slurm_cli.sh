#!/usr/bin/env bash
# The Slurm job end to end on a throwaway single-node Slurm: scripts/slurm_test.sh (needs root;
# RECNS_SKIP_SLURM=1 skips it).
exec bash "${RECNS_SOURCE_DIR:?}/scripts/slurm_test.sh"
