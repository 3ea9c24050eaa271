#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# riovctl against the RPC layer alone (rpc_test_server, not full riovd) over a Unix socket:
# help on every level, exit codes, tables, --json, RIOV_SOCKET, server messages on stderr.
# usage: test_riovctl.sh RPC_TEST_SERVER RIOVCTL
set -u
SERVER=$1
CTL=$2
T=$(mktemp -d /tmp/riovctl-test.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
pass=0; fail=0
check() { # description, then a command that must succeed
	local d=$1; shift
	if "$@"; then echo "ok - $d"; pass=$((pass + 1)); else echo "not ok - $d"; fail=$((fail + 1)); fi
}
run() { # expected-exit args... ; output in $T/out, $T/err
	local want=$1; shift
	"$CTL" "$@" >"$T/out" 2>"$T/err"
	local rc=$?
	[ "$rc" -eq "$want" ] || { echo "  riovctl $*: exit $rc, wanted $want; stderr: $(cat "$T/err")"; return 1; }
}
has() { grep -q -- "$1" "$T/$2" || { echo "  '$1' not in $2: $(head -c 300 "$T/$2")"; return 1; }; }

"$SERVER" --unix "$T/s.sock" --state-dir "$T/state" --metrics 127.0.0.1:0 >"$T/ready" 2>"$T/server.log" &
PID=$!
for _ in $(seq 1 200); do grep -q ready "$T/ready" 2>/dev/null && break; sleep 0.05; done
export RIOV_SOCKET="unix:$T/s.sock"

check "riovctl --help" run 0 --help
check "top help lists objects" has "port" out
check "riovctl port --help" run 0 port --help
check "port help lists verbs" has "stats" out
check "riovctl port add --help" run 0 port add --help
check "port add help lists options" has "--devargs" out
check "no arguments is a usage error" run 2
check "unknown object is a usage error" run 2 frobnicate
check "unknown verb is a usage error" run 2 port frobnicate
check "unknown option is a usage error" run 2 port add vhost x --net blue --bogus
check "missing --net is a usage error" run 2 port add vhost vm1-eth0 --socket /tmp/x
check "node info" run 0 node info
check "node info shows the version" has "version" out
check "node info --json" run 0 --json node info
check "json parses" python3 -c "import json,sys; d=json.load(open('$T/out')); assert d['role']=='admin' and d['api_version']==1"
check "net add blue" run 0 net add blue
check "net add blue twice fails with the server's message" run 1 net add blue
check "ALREADY_EXISTS on stderr" has "ALREADY_EXISTS: network blue already exists" err
check "net list table" run 0 net list
check "table has blue" has "blue" out
check "net list --json" run 0 net list --json
check "json list parses" python3 -c "import json; d=json.load(open('$T/out')); assert d['networks'][0]['spec']['name']=='blue'"
check "net list again" run 0 net list
check "net list shows the VNI and VTEP count" has "VNI.*PORTS.*VTEPS" out
check "net add with --vni" run 0 net add red --vni 100 --mtu 1450
check "net vtep without a verb is a usage error" run 2 net vtep
check "the usage error names the vtep verbs" has "net vtep needs one of: add, del, list" err
check "net vtep frob is a usage error" run 2 net vtep frob
check "net vtep add needs NET and ADDRESS" run 2 net vtep add blue
check "net vtep add takes no third argument" run 2 net vtep add blue 10.0.0.2 10.0.0.3
check "net vtep --help" run 0 net vtep --help
check "net help lists the vtep verbs" has "vtep add" out
check "net vtep add --help" run 0 net vtep add --help
check "vtep add help names the method" has "Network.AddVtep" out
check "net vtep add reaches the server" run 1 net vtep add blue 10.0.0.2
check "as Network.AddVtep" has "UNIMPLEMENTED: Network.AddVtep is not implemented" err
check "net vtep del reaches the server" run 1 net vtep del blue 10.0.0.2
check "as Network.DeleteVtep" has "UNIMPLEMENTED: Network.DeleteVtep is not implemented" err
check "net vtep delete is del" run 1 net vtep delete blue 10.0.0.2
check "as Network.DeleteVtep too" has "Network.DeleteVtep" err
check "net vtep list" run 0 net vtep list
check "no vteps yet" has "(no vteps)" out
check "net vtep list blue --json" run 0 net vtep list blue --json
check "json vtep list is blue's NetworkInfo" python3 -c "import json; d=json.load(open('$T/out')); assert [n['spec']['name'] for n in d['networks']]==['blue'] and d['networks'][0]['vteps']==[]"
check "net vtep list of an unknown network" run 1 net vtep list nope
check "says which" has "NOT_FOUND: network nope does not exist" err
check "net vtep list red" run 0 net vtep list red
check "no VTEP rows" has "(no vteps)" out
check "a totals line for the VNI" has "^red: VNI 100 totals: tx 11 packets (1100 bytes), rx 7 packets (700 bytes), dropped 3 (no_nexthop 3)$" out
check "net vtep list (every network)" run 0 net vtep list
check "blue has no VNI: no totals line" bash -c "! grep -q '^blue:' '$T/out' && grep -q '^red: VNI 100' '$T/out'"
check "net vtep list red --json" run 0 net vtep list red --json
check "json has the overlay totals" python3 -c "import json; o=json.load(open('$T/out'))['networks'][0]['overlay']; assert o['vni']==100 and o['tx_packets']==11 and o['rx_bytes']==700 and o['dropped']==3 and o['drops']==[{'cause':'no_nexthop','packets':3}]"
check "net mac without a verb is a usage error" run 2 net mac
check "the usage error names the mac verbs" has "net mac needs one of: add, del, list" err
check "net mac add needs --vtep or --port" run 2 net mac add red 02:00:00:00:00:0a
check "says so" has "net mac add needs one of --vtep A.B.C.D and --port NAME" err
check "net mac add takes one of them only" run 2 net mac add red 02:00:00:00:00:0a --vtep 10.0.0.2 --port vm1
check "net mac add needs NET and MAC" run 2 net mac add red --vtep 10.0.0.2
check "net mac add takes no third argument" run 2 net mac add red 02:00:00:00:00:0a 10.0.0.2
check "net mac add reaches the server" run 1 net mac add red 02:00:00:00:00:0a --vtep 10.0.0.2
check "as Network.AddMac" has "UNIMPLEMENTED: Network.AddMac is not implemented" err
check "net mac add --port reaches the server" run 1 net mac add red 02:00:00:00:00:0b --port=vm1
check "net mac del reaches the server" run 1 net mac del red 02:00:00:00:00:0a
check "as Network.DeleteMac" has "UNIMPLEMENTED: Network.DeleteMac is not implemented" err
check "net mac delete is del" run 1 net mac delete red 02:00:00:00:00:0a
check "as Network.DeleteMac too" has "Network.DeleteMac" err
check "net mac del takes no --vtep" run 2 net mac del red 02:00:00:00:00:0a --vtep 10.0.0.2
check "net mac list needs NET" run 2 net mac list
check "net mac list red" run 0 net mac list red
check "a table of the entries" has "^MAC  *PORT  *ENTRY  *WHERE$" out
check "a guest's learned MAC" has "^02:00:00:00:00:01  vm1  *learned  local$" out
check "a static MAC behind a VTEP" has "^02:00:00:00:00:0a  red@10.0.0.2  static  *remote 10.0.0.2$" out
check "net mac list red --json" run 0 net mac list red --json
check "json mac list is the macs alone" python3 -c "import json; assert list(json.load(open('$T/out'))) == ['macs']"
check "json mac list parses" python3 -c "import json; m=json.load(open('$T/out'))['macs']; assert [e['mac'] for e in m]==['02:00:00:00:00:01','02:00:00:00:00:0a'] and m[0]['learned'] and m[0]['local'] and not m[1]['learned'] and m[1]['remote'] and m[1]['vtep']=='10.0.0.2' and not m[1]['pending']"
check "net mac list of an unknown network" run 1 net mac list nope
check "says which network" has "NOT_FOUND: network nope does not exist" err
# a table in pages (the test server's network many...: 2,502 entries, 1000 a page by default):
# one table, one JSON answer, every entry once and in order whatever the page size
check "net add many" run 0 net add many
many_ok() { # the JSON answer in $T/out: {"macs": [...]} of the whole table, in order, each once
	python3 -c "
import json
d = json.load(open('$T/out'))
assert list(d) == ['macs'], list(d)
m = [e['mac'] for e in d['macs']]
want = ['02:00:00:00:00:01', '02:00:00:00:00:0a'] + ['02:00:00:01:%02x:%02x' % (i >> 8, i & 255) for i in range(2500)]
assert m == want, (len(m), m[:3], m[-3:])
"
}
check "net mac list many --json" run 0 net mac list many --json
check "every page, one answer" many_ok
check "net mac list many --page-size 7 --json" run 0 net mac list many --page-size 7 --json
check "every page of 7, one answer" many_ok
check "net mac list many --page-size 100000 --json" run 0 --json net mac list many --page-size=100000
check "a page above riovd's largest" many_ok
check "net mac list many" run 0 net mac list many
check "one table of them all" bash -c "[ \$(grep -c '^02:00:00:01:.*  vm1  *learned  local\$' '$T/out') -eq 2500 ] && [ \$(grep -c '^MAC ' '$T/out') -eq 1 ] && tail -n 1 '$T/out' | grep -q '^02:00:00:01:09:c3 '"
check "net mac list many --limit 3" run 0 net mac list many --limit 3 --page-size 2
check "its first 3 and how many there are" bash -c "[ \$(grep -c '^02:' '$T/out') -eq 3 ] && grep -q '^02:00:00:01:00:00 ' '$T/out' && grep -q '^(the first 3 entries of 2502: --limit)\$' '$T/out'"
check "net mac list many --limit 2 --json" run 0 --json net mac list many --limit 2
check "the first 2 as JSON" python3 -c "import json; d=json.load(open('$T/out')); assert list(d)==['macs'] and [e['mac'] for e in d['macs']]==['02:00:00:00:00:01','02:00:00:00:00:0a']"
check "--limit 0 is a usage error" run 2 net mac list many --limit 0
check "--page-size must be a number" run 2 net mac list many --page-size lots
check "net mac list --help names the paging options" run 0 net mac list --help
check "as --page-size and --limit" bash -c "grep -q -- '--page-size N' '$T/out' && grep -q -- '--limit N' '$T/out'"
check "net mac add --help" run 0 net mac add --help
check "mac add help names the method and options" bash -c "grep -q Network.AddMac '$T/out' && grep -q -- '--vtep A.B.C.D' '$T/out' && grep -q -- '--port NAME' '$T/out'"
check "net --help" run 0 net --help
check "net help lists the mac verbs" has "mac list" out
check "top help shows the mac verbs" run 0 --help
check "as mac add|del|list" has "mac add|del|list" out
check "port add uplink reaches the server" run 1 port add uplink up0 --devargs net_af_packet0,iface=veth0 --address 10.0.0.1/24 --gateway 10.0.0.254 --mtu 1600
check "port add uplink without --devargs" run 2 port add uplink up0 --address 10.0.0.1/24
check "port add uplink without --address" run 2 port add uplink up0 --devargs net_null0
check "port add uplink with --net" run 2 port add uplink up0 --net blue --devargs net_null0 --address 10.0.0.1/24
check "the usage error says why" has "an uplink is in no network" err
check "--address is for uplinks" run 2 port add vhost vm1 --net blue --socket s --address 10.0.0.1/24
check "port add help lists --address" run 0 port add --help
check "and --gateway" has "--gateway A.B.C.D" out
check "port list is UNIMPLEMENTED here" run 1 port list
check "UNIMPLEMENTED message" has "UNIMPLEMENTED: Port.List is not implemented" err
check "port add (vhost) reaches the server" run 1 port add vhost vm1-eth0 --net blue --socket /run/riov/vm1.sock --client
check "port add (eth) reaches the server" run 1 port add eth up0 --net blue --devargs net_af_packet0,iface=veth0
check "domain show reaches the server" run 1 domain show vm1-eth0
check "faults reaches the server" run 1 faults
check "config save" run 0 config save
check "config save names the file" has "state.pb" out
check "config show --saved" run 0 config show --saved
check "stats --watch --count 2" run 0 stats --watch --interval 100 --count 2
check "two snapshots printed" test "$(grep -c -- '^---' "$T/out")" -eq 2
check "--connect overrides RIOV_SOCKET" run 0 --connect "unix:$T/s.sock" node info
check "unreachable socket exits 3" run 3 --connect unix:/nonexistent/riovd.sock node info
check "unreachable message is actionable" has "is riovd running" err
MPORT=$(awk '/ready/ {print $3}' "$T/ready")
python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$MPORT/metrics', timeout=10).read().decode())" >"$T/out" 2>"$T/err"
check "metrics endpoint counts the failed Network.Add" has 'riov_rpc_requests_total{method="Network.Add",result="error"} 1' out
check "metrics endpoint counts the refused calls" has 'riov_rpc_requests_unknown_total [1-9]' out
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
