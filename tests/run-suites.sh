#!/usr/bin/env bash
# Run every suite this machine can run and end with one line "N passed, N failed, N skipped".
#   fast    unit tests (gcc build)                     build/
#   asan    the fast suite again under ASan+UBSan      build-fuzz/   (clang; the fuzz suite's build)
#   fuzz    each libFuzzer harness briefly             build-fuzz/   FUZZ_SECONDS (default 12), FUZZ_JOBS at once
#   system  real riovd, dpdk-testpmd guests, Linux peers in namespaces (root)
#   lab     a QEMU (TCG) VM with an emulated VT-d, VFIO and Soft-RoCE (tests/lab, docs/lab.md),
#           two of them joined by a wire (run.sh --pair: the RDMA transport, rdma-testpmd);
#           each LAB-RESULT line is one test, a hung or panicked VM one failure; then Linux guests
#           of riovd on this host (tests/lab/host/test_vhost_guests.py); then riov's package under
#           systemd in the lab's systemd VM and, natively, in a systemd-nspawn container of the
#           same image (tests/lab/sysd/run.sh)
# SUITES="fast asan fuzz system lab" selects; BUILD, BUILD_ASAN, BUILD_FUZZ name the build directories.
# The asan and fuzz suites share one build (clang, ASan+UBSan, libFuzzer's coverage in every
# library): one sanitizer build of the tree instead of two saves about 4 minutes of CI.
# TESTS="name ..." runs only the meson tests of those names (`meson test --list` shows them) in the
# fast, asan and system suites (SUITES then defaults to "fast system").
# A skipped test is counted as skipped and its reason printed on the closing line; a suite that
# runs no test, or a TESTS selection that matches none, is a failure.
set -uo pipefail
cd "$(dirname "$0")/.."

TESTS=${TESTS:-}
if [ -n "$TESTS" ]; then SUITES=${SUITES:-"fast system"}; fi
SUITES=${SUITES:-"fast asan fuzz system lab"}
read -r -a TESTS_SEL <<<"$TESTS"
BUILD=${BUILD:-build}
BUILD_FUZZ=${BUILD_FUZZ:-build-fuzz}
BUILD_ASAN=${BUILD_ASAN:-$BUILD_FUZZ}
# shellcheck disable=SC2054 # meson option values hold commas
SAN_OPTS=(-Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false)
FUZZ_SECONDS=${FUZZ_SECONDS:-12}
PASSED=0 FAILED=0 SKIPPED=0
FAILED_NAMES=()
SKIP_REASONS=()

count_testlog() { # $1 = build dir, $2 = label
	local log="$1/meson-logs/testlog.json"
	if [ ! -f "$log" ] && [ -n "$TESTS" ]; then echo "== $2: none of TESTS here"; return; fi
	[ -f "$log" ] || { echo "run-suites: $2: no test log" >&2; FAILED=$((FAILED + 1)); FAILED_NAMES+=("$2"); return; }
	local out
	out=$(python3 - "$log" "$2" <<'PY'
import json, sys
p = f = s = 0
names = []
reasons = []
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line)
    res = r.get("result", "")
    if res in ("OK", "EXPECTEDFAIL"):
        p += 1
    elif res == "SKIP":
        s += 1
        why = [l.split(": ", 1)[-1] for l in (r.get("stdout") or "").splitlines() if l.startswith("SKIP")]
        reasons.append("%s:%s: %s" % (sys.argv[2], r.get("name", "?"), why[-1] if why else "no reason given"))
    else:
        f += 1
        names.append(sys.argv[2] + ":" + r.get("name", "?").replace(" ", "_"))
print(p, f, s, " ".join(names))
for why in reasons:
    print(why.replace("\n", " "))
PY
)
	read -r p f s names <<<"$(echo "$out" | head -1)"
	PASSED=$((PASSED + p)); FAILED=$((FAILED + f)); SKIPPED=$((SKIPPED + s))
	[ -n "${names:-}" ] && FAILED_NAMES+=($names)
	while IFS= read -r why; do [ -n "$why" ] && SKIP_REASONS+=("$why"); done < <(echo "$out" | tail -n +2)
	echo "== $2: $p passed, $f failed, $s skipped"
	if [ $((p + f + s)) -eq 0 ] && [ -z "$TESTS" ]; then # a suite that runs nothing is broken
		echo "run-suites: $2: no test ran" >&2
		FAILED=$((FAILED + 1)); FAILED_NAMES+=("$2:none-ran")
	fi
}

count_lab_results() { # $1 = output with "LAB-RESULT <name> PASS|FAIL|SKIP ..." lines; sets p f s
	p=$(echo "$1" | grep -c '^LAB-RESULT [^ ]* PASS')
	f=$(echo "$1" | grep -c '^LAB-RESULT [^ ]* FAIL')
	s=$(echo "$1" | grep -c '^LAB-RESULT [^ ]* SKIP')
	PASSED=$((PASSED + p)); FAILED=$((FAILED + f)); SKIPPED=$((SKIPPED + s))
	while IFS= read -r why; do [ -n "$why" ] && SKIP_REASONS+=("lab:$why"); done \
		< <(echo "$1" | awk '$1 == "LAB-RESULT" && $3 == "SKIP" {n = $2; $1 = $2 = $3 = ""; sub(/^ +/, ""); print n ": " $0}')
	for n in $(echo "$1" | awk '$1 == "LAB-RESULT" && $3 == "FAIL" {print $2}'); do
		FAILED_NAMES+=("lab:$n")
	done
}

# lab_vm_part NAME LABEL PREFIX CMD...: one VM run (tests/lab/run.sh, tests/lab/sysd/run.sh). Its
# LAB-RESULT lines count; a run that hung or died (exit status 2 or more: its unfinished tests) or
# printed no result at all is one more failure, lab:NAME. Lines starting with PREFIX are its own.
lab_vm_part() {
	local name=$1 label=$2 prefix=$3 out lrc
	shift 3
	out=$("$@" 2>&1)
	lrc=$?
	echo "$out" | grep -E "^(LAB-RESULT|$prefix)|passed,"
	count_lab_results "$out"
	if [ "$lrc" -ge 2 ] || [ $((p + f + s)) -eq 0 ]; then
		FAILED=$((FAILED + 1)); FAILED_NAMES+=("lab:$name")
		echo "$out" | tail -40
	fi
	echo "== $label: $p passed, $f failed, $s skipped"
}

setup() { # $1 = dir, rest = meson options
	local dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; return 1; }
	fi
	ninja -C "$dir" >"$dir.build.log" 2>&1 || { tail -50 "$dir.build.log"; return 1; }
}

build_failed() { echo "run-suites: $1: build failed" >&2; FAILED=$((FAILED + 1)); FAILED_NAMES+=("$1:build"); }

run_meson_suite() { # $1 = dir, $2 = suite, $3 = label, rest = extra meson test args
	local dir=$1 suite=$2 label=$3; shift 3
	rm -f "$dir/meson-logs/testlog.json"
	meson test -C "$dir" --suite "$suite" --print-errorlogs "$@" "${TESTS_SEL[@]}" || true
	count_testlog "$dir" "$label"
}

for suite in $SUITES; do
	suite_start=$SECONDS
	case $suite in
	fast)
		if setup "$BUILD"; then run_meson_suite "$BUILD" fast fast; else build_failed fast; fi ;;
	asan)
		if CC=clang setup "$BUILD_ASAN" "${SAN_OPTS[@]}"; then
			ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
				RIOV_TEST_SCALE=0.1 run_meson_suite "$BUILD_ASAN" fast asan --timeout-multiplier 4
		else build_failed asan; fi ;;
	fuzz)
		if CC=clang setup "$BUILD_FUZZ" "${SAN_OPTS[@]}"; then
			out=$(tests/run-fuzz.sh "$BUILD_FUZZ" "$FUZZ_SECONDS")
			echo "$out" | grep -v '^RESULT'
			while read -r _ name res; do
				if [ "$res" = pass ]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); FAILED_NAMES+=("fuzz:$name"); fi
			done < <(echo "$out" | grep '^RESULT')
		else build_failed fuzz; fi ;;
	system)
		if setup "$BUILD"; then run_meson_suite "$BUILD" system system --num-processes 1; else build_failed system; fi ;;
	lab)
		if tests/lab/build.sh >lab-build.log 2>&1; then
			lab_vm_part vm lab lab-run tests/lab/run.sh
			# Two lab VMs joined by a wire (tests/lab/run.sh --pair): riovd to riovd over RDMA and
			# VXLAN (rdma-testpmd; `make lab-pair` runs every pair test). Each VM's line counts.
			lab_vm_part pair "lab (two VMs)" lab-run \
				env RIOV_LAB_ONLY="${RIOV_LAB_PAIR_ONLY:-rdma-testpmd}" tests/lab/run.sh --pair
			# Linux guests of riovd on this host (QEMU, vhost-user): tests/lab/host
			out=$(RIOV_BUILD="$BUILD" python3 tests/lab/host/test_vhost_guests.py 2>&1)
			echo "$out" | grep -E '^LAB-RESULT'
			count_lab_results "$out"
			if [ $((p + f)) -eq 0 ]; then # it died before any result
				FAILED=$((FAILED + 1)); FAILED_NAMES+=("lab:host")
				f=1
			fi
			[ "$f" -gt 0 ] && echo "$out" | grep -v '^LAB-RESULT' | tail -40
			echo "== lab (host guests): $p passed, $f failed"
			# riov's Debian package under a real systemd (tests/lab/sysd: make deb, the systemd VM)
			lab_vm_part sysd "lab (systemd VM)" sysd-run env RIOV_BUILD="$BUILD" tests/lab/sysd/run.sh
			# the same root file system and tests in a systemd-nspawn container: the host's speed
			# (the upgrade's gap as operators will see it), the package just built
			lab_vm_part sysd-nspawn "lab (systemd container)" sysd-run env RIOV_BUILD="$BUILD" \
				RIOV_SYSD_RUNNER=nspawn RIOV_SYSD_SKIP_DEB=1 tests/lab/sysd/run.sh
		else
			tail -30 lab-build.log
			FAILED=$((FAILED + 1)); FAILED_NAMES+=("lab:build")
		fi ;;
	*) echo "run-suites: unknown suite $suite" >&2; exit 2 ;;
	esac
	echo "-- $suite took $((SECONDS - suite_start)) s (building included)"
done

if [ -n "$TESTS" ] && [ $((PASSED + FAILED + SKIPPED)) -eq 0 ]; then
	echo "run-suites: TESTS=\"$TESTS\" matched no test in suites $SUITES (meson test -C $BUILD --list)" >&2
	FAILED=$((FAILED + 1)); FAILED_NAMES+=("selection:none-matched")
fi
if [ "${#FAILED_NAMES[@]}" -gt 0 ]; then
	echo "failed: ${FAILED_NAMES[*]}"
fi
reasons=""
if [ "${#SKIP_REASONS[@]}" -gt 0 ]; then
	reasons=" ($(printf '%s; ' "${SKIP_REASONS[@]}" | sed 's/; $//'))"
fi
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped$reasons"
[ "$FAILED" -eq 0 ]
