#!/usr/bin/env bash
# Fresh machine to a build: installs the Debian packages (when missing) and builds in build/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install_deps.sh"
bash "$root/scripts/build.sh"
