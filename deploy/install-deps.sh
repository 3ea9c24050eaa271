#!/usr/bin/env bash
# Install every Debian package riov needs to build, test, benchmark and run its demo.
# Installs only what is missing; runs `apt-get update` only when something is.
set -euo pipefail

PACKAGES=(
	# build
	meson ninja-build pkg-config gcc clang libclang-rt-14-dev python3
	# libraries
	dpdk dpdk-dev libdpdk-dev libnuma-dev libevent-dev protobuf-c-compiler libprotobuf-c-dev
	libconfig-dev libsystemd-dev libssl-dev openssl libibverbs-dev librdmacm-dev libmnl-dev
	# tests: namespaces and veths, a real Prometheus
	iproute2 iputils-ping procps prometheus
	# the lab (tests/lab): QEMU under TCG, initramfs tools, verbs tools copied into the VM
	qemu-system-x86 qemu-utils cpio kmod xz-utils bc ibverbs-utils ibverbs-providers
	# Linux guests of riovd (tests/lab/host): tools copied into their initramfs; libvirt, started
	# by the test itself (no systemd needed)
	iperf3 ethtool libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
	# benchmarks: the reference switch (tests/bench/bench_tcp.py starts its own instance)
	openvswitch-switch-dpdk
	# EVPN (docs/evpn.md): FRRouting's zebra and bgpd, run per network namespace by whoever needs them
	frr
)

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: run 'sudo make deps' (or install them with apt-get) and try again" >&2
	exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
# Debian starts the packaged Prometheus service on install; riov's tests run their own instance.
if printf '%s\n' "${missing[@]}" | grep -qx prometheus && command -v systemctl >/dev/null; then
	systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true
fi
# The same for Open vSwitch: the benchmark runs its own ovsdb-server and ovs-vswitchd.
if printf '%s\n' "${missing[@]}" | grep -qx openvswitch-switch-dpdk && command -v systemctl >/dev/null; then
	systemctl disable --now openvswitch-switch ovs-vswitchd ovsdb-server >/dev/null 2>&1 || true
fi
# And for FRR: zebra and bgpd run in the namespaces that need them (docs/evpn.md), not in the host's.
if printf '%s\n' "${missing[@]}" | grep -qx frr && command -v systemctl >/dev/null; then
	systemctl disable --now frr >/dev/null 2>&1 || true
fi
