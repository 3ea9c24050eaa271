# shellcheck shell=bash
# tests/lab/verdict.sh — sourced by tests/lab/run.sh and tests/lab/sysd/run.sh.
# Uses TIMEOUT (seconds the VM was given) and TIMEOUT_VAR (the variable that sets it, for the
# message; default RIOV_LAB_TIMEOUT).

# vm_verdict LOG RC WHO — how a VM's run ended, from its console LOG and QEMU's exit status RC
# (WHO names it in the messages): returns 0 all its tests passed or skipped, 1 a test failed, 2 it
# hung (killed by the time-out), 3 it died (kernel panic, QEMU gone) before the end of its test
# list; on 2 and 3 prints why and its last console lines.
vm_verdict() {
	local log=$1 rc=$2 who=$3 st
	if grep -q '^LAB-DONE' "$log"; then
		grep -q '^LAB-RESULT [^ ]* FAIL' "$log" && return 1
		return 0
	fi
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "lab-run: FAIL: $who hung: no end of its test list after ${TIMEOUT}s (${TIMEOUT_VAR:-RIOV_LAB_TIMEOUT}); killed" >&2
		st=2
	elif grep -q 'Kernel panic' "$log"; then
		echo "lab-run: FAIL: $who's kernel panicked: $(grep -m1 'Kernel panic' "$log")" >&2
		st=3
	else
		echo "lab-run: FAIL: $who exited (status $rc) before it finished its tests" >&2
		st=3
	fi
	echo "---- last 30 console lines of $who ($log) ----" >&2
	tail -n 30 "$log" >&2
	echo "----" >&2
	return $st
}
