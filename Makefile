# riov: the two commands are `make demo` (run the appliance) and `make test` (run every suite).
# Everything else: `make deps` (Debian packages), `make` (build), `make bench`, `make fuzz`.
BUILD ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz

.PHONY: all deps build test test-fast demo bench fuzz soak clean lab-test lab-pair

all: build

deps:
	@deploy/install-deps.sh

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

test: deps
	tests/run-suites.sh

test-fast: deps
	SUITES="fast" tests/run-suites.sh

demo: build
	deploy/demo.sh $(BUILD)

bench: build
	tests/bench/run.sh $(BUILD)

fuzz: deps
	SUITES=fuzz FUZZ_SECONDS=$${FUZZ_SECONDS:-300} tests/run-suites.sh

# riovd killed with SIGKILL and restarted SOAK_CYCLES times (default 100) under traffic and changes
soak: build
	RIOV_BUILD=$(BUILD) python3 tests/soak/kill9.py $${SOAK_CYCLES:-100}

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) *.setup.log *.build.log

# The lab: a QEMU (TCG) VM with an emulated VT-d, VFIO and Soft-RoCE, built from Debian packages into
# $(RIOV_LAB_CACHE) (default /var/cache/riov-lab), then Linux guests of riovd under QEMU on this host.
# `make test` runs both as its `lab` suite. See docs/lab.md.
lab-test: build
	tests/lab/build.sh
	tests/lab/run.sh
	RIOV_BUILD=$(BUILD) tests/lab/host/test_vhost_guests.py

# Two lab VMs joined by a wire (tests/lab/run.sh --pair: riovd to riovd over VXLAN and RDMA, testpmd
# guests; `make test` runs rdma-testpmd). Two boots: after riovd stops with Soft-RoCE on its uplink
# TAP the 6.1 kernel keeps that TAP's name busy, so an RDMA test is the last of its boot.
# See docs/lab.md ("Two VMs").
lab-pair: build
	tests/lab/build.sh
	RIOV_LAB_ONLY=vxlan-testpmd tests/lab/run.sh --pair
	RIOV_LAB_ONLY=rdma-testpmd tests/lab/run.sh --pair
