# riov: the two commands are `make demo` (run the appliance) and `make test` (run every suite).
# Everything else: `make deps` (Debian packages), `make` (build), `make bench`, `make fuzz`,
# `make deb` (a Debian 12 package in dist/).
BUILD ?= build
BUILD_FUZZ ?= build-fuzz

.PHONY: all deps build test test-fast demo bench fuzz soak clean lab-test lab-pair lab-sysd deb

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
	rm -rf $(BUILD) build-asan $(BUILD_FUZZ) *.setup.log *.build.log

# The Debian 12 packages riov and python3-riov (debian/, docs/deploy.md): dpkg-buildpackage in a
# throwaway copy of the tree (the files git tracks, and new ones it does not ignore), with Debian's
# own tools first on PATH; the .deb, .buildinfo and .changes files are put in dist/ and checked by
# lintian (an error fails the target). Nothing is built in the source tree.
deb: deps
	@set -e; tmp=$$(mktemp -d /tmp/riov-deb.XXXXXX); trap 'rm -rf "$$tmp"' EXIT; \
	mkdir "$$tmp/riov"; \
	git ls-files -z --cached --others --exclude-standard | \
		xargs -0 sh -c 'for f do [ -e "$$f" ] && printf "%s\0" "$$f"; done; true' sh | \
		tar --null -T - -cf - | tar -xf - -C "$$tmp/riov"; \
	(cd "$$tmp/riov" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		dpkg-buildpackage -us -uc -b -Jauto); \
	mkdir -p dist; rm -f dist/riov_* dist/riov-dbgsym_* dist/python3-riov_*; \
	cp "$$tmp"/*.deb "$$tmp"/*.buildinfo "$$tmp"/*.changes dist/; \
	changes=dist/riov_$$(dpkg-parsechangelog -S Version)_$$(dpkg --print-architecture).changes; \
	echo "deb: $$(cd dist && ls *.deb | tr '\n' ' ')in dist/; lintian $$changes:"; \
	lintian "$$changes"

# The lab: a QEMU (TCG) VM with an emulated VT-d, VFIO and Soft-RoCE, built from Debian packages into
# $(RIOV_LAB_CACHE) (default /var/cache/riov-lab), then Linux guests of riovd under QEMU on this host.
# `make test` runs both as its `lab` suite. See docs/lab.md.
lab-test: build
	tests/lab/build.sh
	tests/lab/run.sh
	RIOV_BUILD=$(BUILD) tests/lab/host/test_vhost_guests.py
	RIOV_BUILD=$(BUILD) tests/lab/sysd/run.sh
	RIOV_BUILD=$(BUILD) RIOV_SYSD_RUNNER=nspawn RIOV_SYSD_SKIP_DEB=1 tests/lab/sysd/run.sh

# The systemd VM (tests/lab/sysd): the package of this tree installed with apt, riovd under systemd
# (group access, reload/restart/stop, kill -9, the watchdog, an upgrade with a guest, purge); then the
# same image and tests natively, in a systemd-nspawn container.
lab-sysd: build
	tests/lab/build.sh
	RIOV_BUILD=$(BUILD) tests/lab/sysd/run.sh
	RIOV_BUILD=$(BUILD) RIOV_SYSD_RUNNER=nspawn RIOV_SYSD_SKIP_DEB=1 tests/lab/sysd/run.sh

# Two lab VMs joined by a wire (tests/lab/run.sh --pair: riovd to riovd over VXLAN and RDMA, testpmd
# guests; `make test` runs rdma-testpmd, `make bench` rdma-bench). One boot each: rdma-testpmd
# deletes its Soft-RoCE device while riovd runs, and after that the 6.1 kernel may keep the uplink
# TAP's name busy. See docs/lab.md ("Two VMs").
lab-pair: build
	tests/lab/build.sh
	RIOV_LAB_ONLY=vxlan-testpmd tests/lab/run.sh --pair
	RIOV_LAB_ONLY=rdma-testpmd tests/lab/run.sh --pair
	RIOV_LAB_ONLY=rdma-bench tests/lab/run.sh --pair
