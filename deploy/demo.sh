#!/usr/bin/env bash
# make demo: riovd on its embedded default configuration (network "default", vhost-user guests
# vm1 and vm2), two real guests (dpdk-testpmd with DPDK's virtio-user driver: vm1 transmits, vm2
# receives), counters from riovd every two seconds, and a summary.
set -euo pipefail
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")/.." && pwd)
export RIOV_BUILD=$(cd "$BUILD" && pwd)
exec python3 "$HERE/deploy/demo.py" "${DEMO_SECONDS:-8}"
