#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# riovctl's bash completion (deploy/riovctl.bash-completion) in a plain bash, without the
# bash-completion package: COMPREPLY for typed command lines. Objects, verbs and options need no
# server (they come from riovctl's help); network names come from the RPC layer's test server
# (rpc_test_server, not full riovd), port names from a stand-in riovctl that prints a port table.
# usage: test_completion.sh COMPLETION_FILE RIOVCTL RPC_TEST_SERVER
set -u
COMPLETION=$1
CTL=$2
SERVER=$3
T=$(mktemp -d /tmp/riov-completion.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
pass=0; fail=0

# shellcheck source=../../deploy/riovctl.bash-completion
source "$COMPLETION"
export RIOV_SOCKET="unix:$T/none.sock"  # nobody listens here until the server starts

# complete LINE: the words as readline gives them (split at blanks, ':' and '='), then _riovctl;
# the first word is the riovctl under test. Sets REPLY to the sorted candidates.
complete_line() {
	local line=$1 bin=${2:-$CTL}
	COMP_LINE=${line/riovctl/$bin}
	COMP_POINT=${#COMP_LINE}
	COMP_WORDS=()
	local w rest=$COMP_LINE
	while [[ -n $rest ]]; do
		rest=${rest#"${rest%%[! ]*}"}
		[[ -z $rest ]] && break
		if [[ $rest == [:=]* ]]; then
			COMP_WORDS+=("${rest:0:1}")
			rest=${rest:1}
			continue
		fi
		w=${rest%%[ :=]*}
		COMP_WORDS+=("$w")
		rest=${rest:${#w}}
	done
	[[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_riovctl >"$T/out" 2>&1
	REPLY=$(printf '%s\n' "${COMPREPLY[@]}" | sort -u | xargs)
}
# expect LINE "CANDIDATES" [BIN]: exactly these (sorted)
expect() {
	complete_line "$1" "${3:-}"
	local want
	want=$(printf '%s\n' $2 | sort -u | xargs)
	if [[ $REPLY == "$want" && ! -s $T/out ]]; then
		echo "ok - '$1' -> $want"; pass=$((pass + 1))
	else
		echo "not ok - '$1' -> '$REPLY', wanted '$want'${T:+; output: $(head -c 200 "$T/out")}"
		fail=$((fail + 1))
	fi
}
# expect_has LINE "CANDIDATES": at least these
expect_has() {
	complete_line "$1"
	local c missing=
	for c in $2; do
		[[ " $REPLY " == *" $c "* ]] || missing+=" $c"
	done
	if [[ -z $missing ]]; then
		echo "ok - '$1' offers $2"; pass=$((pass + 1))
	else
		echo "not ok - '$1' -> '$REPLY', missing$missing"; fail=$((fail + 1))
	fi
}

# objects, verbs and options: riovctl's help, no server
expect "riovctl " "node net port domain interrupt device faults stats metrics config log"
expect "riovctl ne" "net"
expect_has "riovctl --" "--connect --json --timeout --cert --key --ca --help --version"
expect "riovctl --json --timeout 3 po" "port"
expect "riovctl net " "add delete list vtep mac"
expect "riovctl network " "add delete list vtep mac"
expect "riovctl net vtep " "add del list"
expect "riovctl net mac l" "list"
expect "riovctl net add blue --" "--mtu --vni --evpn --json --help"
expect "riovctl net add blue --mtu 9000 --e" "--evpn"
expect "riovctl port add " "vhost eth uplink"
expect_has "riovctl port add vhost vm1 --" "--net --socket --client --queues --offloads --mac --mtu"
expect "riovctl port add vhost vm1 --offloads " "on off"
expect "riovctl stats --" "--watch --interval --count --json --help"
expect "riovctl faults " "read clear"
expect "riovctl log " "levels set"
expect "riovctl domain show --" "--id --json --help"
expect "riovctl --bogus " "node net port domain interrupt device faults stats metrics config log"
expect "riovctl frobnicate " ""
expect "RIOV_SOCKET=unix:/nowhere riovctl ne" "net"
# names need riovd: none answers, so nothing is offered, quietly and at once
start=$SECONDS
expect "riovctl net delete " ""
expect "riovctl port add vhost vm1 --net " ""
if ((SECONDS - start <= 3)); then
	echo "ok - no riovd: names given up within the timeout"; pass=$((pass + 1))
else
	echo "not ok - no riovd: completion took $((SECONDS - start)) s"; fail=$((fail + 1))
fi

# network names from a server's Network.List
"$SERVER" --unix "$T/s.sock" --state-dir "$T/state" --metrics 127.0.0.1:0 >"$T/ready" 2>"$T/server.log" &
PID=$!
for _ in $(seq 1 200); do grep -q ready "$T/ready" 2>/dev/null && break; sleep 0.05; done
export RIOV_SOCKET="unix:$T/s.sock"
"$CTL" net add blue >/dev/null && "$CTL" net add red >/dev/null || { echo "not ok - test server"; exit 1; }
expect "riovctl net delete " "blue red"
expect "riovctl net vtep add b" "blue"
expect "riovctl net mac list " "blue red"
expect "riovctl port add vhost vm1 --net " "blue red"
expect "riovctl net add green " ""
# --connect is passed on to the list call (and readline's split at ':' does not confuse it)
RIOV_SOCKET="unix:$T/none.sock" expect "riovctl --connect unix:$T/s.sock net delete r" "red"

# port names: the first column of 'port list' (a stand-in riovctl prints riovctl's table layout)
cat >"$T/riovctl" <<EOF
#!/bin/sh
for a in "\$@"; do
	case "\$a" in port) p=1 ;; list) [ -n "\$p" ] && { printf 'NAME      TYPE   NET   STATE\nvm1-eth0  vhost  blue  up\nup0       eth    blue  up\n'; exit 0; } ;; esac
done
exec "$CTL" "\$@"
EOF
chmod +x "$T/riovctl"
expect "riovctl port delete " "vm1-eth0 up0" "$T/riovctl"
expect "riovctl port stats v" "vm1-eth0" "$T/riovctl"
expect "riovctl domain show " "vm1-eth0 up0" "$T/riovctl"
expect "riovctl net mac add blue 02:00:00:00:00:01 --port " "vm1-eth0 up0" "$T/riovctl"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
