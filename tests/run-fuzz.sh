#!/usr/bin/env bash
# Run every libFuzzer harness of a fuzz build: first over its kept inputs (seed corpus and
# regression crashers under tests/fuzz/corpus/<name>/), then for SECONDS of new inputs.
# Prints, per harness, a line with its executions and coverage, then "RESULT <name> pass|fail".
# Crashers land in <build>/fuzz-artifacts/.
set -uo pipefail
# FUZZ_JOBS harnesses run at once (default: the number of CPUs); their lines come out in order.
BUILD=$1 SECONDS_EACH=${2:-20}
JOBS=${FUZZ_JOBS:-$(nproc)}
SRC=$(cd "$(dirname "$0")" && pwd)/fuzz
export LSAN_OPTIONS="suppressions=$SRC/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
mkdir -p "$BUILD/fuzz-artifacts"
run_one() { # exe name: writes its report to $BUILD/fuzz-$name.report
	local exe=$1 name=$2 ok=pass runs cov
	local corpus="$SRC/corpus/$name" work="$BUILD/fuzz-work/$name"
	mkdir -p "$work"
	if [ -d "$corpus" ] && [ -n "$(ls -A "$corpus" 2>/dev/null)" ]; then
		"$exe" -runs=0 "$corpus" >"$BUILD/fuzz-$name-regress.log" 2>&1 || ok=fail
	fi
	if [ $ok = pass ]; then
		local args=("$work")
		[ -d "$corpus" ] && args+=("$corpus")
		"$exe" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=4096 \
			-artifact_prefix="$BUILD/fuzz-artifacts/$name-" "${args[@]}" \
			>"$BUILD/fuzz-$name.log" 2>&1 || ok=fail
	fi
	runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 executions in \2 s/p' \
		"$BUILD/fuzz-$name.log" 2>/dev/null | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$BUILD/fuzz-$name.log" 2>/dev/null | tail -1)
	{
		echo "fuzz $name: $ok (${runs:-no executions counted}, ${cov:-no coverage})"
		[ $ok = fail ] && tail -30 "$BUILD"/fuzz-$name*.log
		echo "RESULT $name $ok"
	} >"$BUILD/fuzz-$name.report"
}

names=()
for exe in "$BUILD"/tests/fuzz/fuzz_*; do
	[ -x "$exe" ] && [ -f "$exe" ] || continue
	name=$(basename "$exe"); name=${name#fuzz_}
	rm -f "$BUILD/fuzz-$name.report"
	names+=("$name")
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
	run_one "$exe" "$name" &
done
wait
for name in "${names[@]}"; do
	if [ -f "$BUILD/fuzz-$name.report" ]; then
		cat "$BUILD/fuzz-$name.report"
	else
		echo "fuzz $name: fail (the runner wrote no report)"
		echo "RESULT $name fail"
	fi
done
