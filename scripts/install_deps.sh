#!/usr/bin/env bash
# Installs the Debian packages recns needs to build, test and run its scripts. Idempotent: does
# nothing when every package is already installed. Needs root (or sudo) on Debian bookworm.
set -euo pipefail
packages=(build-essential cmake pkg-config libopenmpi-dev openmpi-bin petsc-dev
          libhdf5-openmpi-dev hdf5-tools libeigen3-dev libgtest-dev libscotch-dev
          python3 python3-h5py python3-numpy python3-matplotlib python3-scipy
          # Slurm for scripts/slurm_test.sh and jobs/ (a throwaway local cluster); Debian's
          # Slurm PMIx plugin loads the unversioned libpmix.so that only libpmix-dev ships.
          slurmctld slurmd slurm-client munge libpmix-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all ${#packages[@]} packages present"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
# Keep the postinst scripts of munge and Slurm from starting system daemons (policy-rc.d 101).
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d > /dev/null
  $sudo chmod 755 /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
echo "install_deps: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
