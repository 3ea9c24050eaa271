#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# TLS transport of the RPC layer alone (rpc_test_server = the real control/rpc_server.c and
# rpc_tls.c with a few handlers, not full riovd), driven by the real riovctl.
# Certificates are made here with the openssl command: a CA, a server certificate, an admin
# client (OU=admin), a read-only client (OU=readonly), a client from another CA and an expired
# client certificate (issued by `openssl ca` with a start and end date in the past).
# Must show: no certificate, another CA and an expired certificate are refused; a read-only
# certificate cannot change state (PERMISSION_DENIED); an admin certificate can.
#
# usage: test_tls.sh RPC_TEST_SERVER RIOVCTL
set -u
SERVER=$1
RIOVCTL=$2
T=$(mktemp -d /tmp/riov-tls-test.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "not ok - $1"; fail=$((fail + 1)); }

ossl() { openssl "$@" >>"$T/openssl.log" 2>&1 || { echo "openssl $1 failed:"; tail -5 "$T/openssl.log"; exit 1; }; }
newkey() { echo -n "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"; }

# --- certificates
ossl req -x509 $(newkey) -keyout "$T/ca.key" -out "$T/ca.pem" -days 30 -subj "/CN=riov test CA"
ossl req -x509 $(newkey) -keyout "$T/other-ca.key" -out "$T/other-ca.pem" -days 30 -subj "/CN=some other CA"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$T/server.ext"
printf 'extendedKeyUsage=clientAuth\n' >"$T/client.ext"
mkcert() { # name subject ca extfile
	ossl req -new $(newkey) -keyout "$T/$1.key" -out "$T/$1.csr" -subj "$2"
	ossl x509 -req -in "$T/$1.csr" -CA "$T/$3.pem" -CAkey "$T/$3.key" -CAcreateserial \
		-days 30 -extfile "$T/$4" -out "$T/$1.pem"
}
mkcert server "/CN=localhost" ca server.ext
mkcert admin "/CN=ops/OU=admin" ca client.ext
mkcert readonly "/CN=monitor/OU=readonly" ca client.ext
mkcert noou "/CN=nobody" ca client.ext
mkcert stranger "/CN=ops/OU=admin" other-ca client.ext
# expired: issued by the right CA, valid only in 2020
mkdir -p "$T/newcerts"
: >"$T/index.txt"
echo 1000 >"$T/serial"
cat >"$T/ca.cnf" <<CNF
[ ca ]
default_ca = test_ca
[ test_ca ]
database = $T/index.txt
new_certs_dir = $T/newcerts
certificate = $T/ca.pem
private_key = $T/ca.key
serial = $T/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = supplied
organizationalUnitName = optional
CNF
ossl req -new $(newkey) -keyout "$T/expired.key" -out "$T/expired.csr" -subj "/CN=ops/OU=admin"
ossl ca -batch -config "$T/ca.cnf" -in "$T/expired.csr" -out "$T/expired.pem" -notext \
	-startdate 20200101000000Z -enddate 20200201000000Z
if openssl x509 -in "$T/expired.pem" -noout -checkend 0 >/dev/null; then
	bad "expired certificate is not expired"
fi

# --- server
"$SERVER" --unix "$T/s.sock" --tls 127.0.0.1:0 --cert "$T/server.pem" --key "$T/server.key" \
	--ca "$T/ca.pem" --state-dir "$T/state" --idle-ms 1500 --metrics 127.0.0.1:0 >"$T/ready" 2>"$T/server.log" &
PID=$!
for _ in $(seq 1 200); do
	grep -q ready "$T/ready" 2>/dev/null && break
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.05
done
PORT=$(awk '/ready/ {print $2}' "$T/ready")
if [ -z "$PORT" ] || [ "$PORT" = 0 ]; then
	echo "server did not start:"; cat "$T/server.log"; exit 1
fi
URL="tls://127.0.0.1:$PORT"

ctl() { # cert-name args...
	local who=$1; shift
	local c=()
	[ "$who" != none ] && c=(--cert "$T/$who.pem" --key "$T/$who.key")
	"$RIOVCTL" --connect "$URL" --ca "$T/ca.pem" "${c[@]}" --timeout 5 "$@" >"$T/out" 2>"$T/err"
}
expect_refused() { # name who
	if ctl "$2" node info; then
		bad "$1: connection accepted"
	elif [ $? -eq 3 ]; then ok "$1: refused ($(head -c 150 "$T/err"))"
	else bad "$1: wrong exit code ($(cat "$T/err"))"; fi
}

expect_refused "no client certificate" none
expect_refused "certificate from another CA" stranger
expect_refused "expired certificate" expired
grep -q "certificate has expired" "$T/server.log" && ok "server log names the expiry" ||
	bad "server log does not say why the expired certificate was refused"
grep -q "unable to get local issuer certificate\|unable to verify" "$T/server.log" &&
	ok "server log names the unknown issuer" || bad "server log lacks the unknown-CA reason"

# read-only certificate: may read, may not change
if ctl readonly node info && grep -q "readonly" "$T/out"; then ok "readonly cert: Node.Info works, role readonly"
else bad "readonly cert: Node.Info ($(cat "$T/err"))"; fi
if ctl readonly net add blue; then bad "readonly cert changed state"
elif [ $? -eq 1 ] && grep -q PERMISSION_DENIED "$T/err"; then ok "readonly cert: Network.Add is PERMISSION_DENIED ($(cat "$T/err"))"
else bad "readonly cert: wrong failure ($(cat "$T/err"))"; fi
if ctl readonly config save; then bad "readonly cert saved the state"
elif grep -q PERMISSION_DENIED "$T/err"; then ok "readonly cert: Config.Save is PERMISSION_DENIED"
else bad "readonly cert: Config.Save wrong failure ($(cat "$T/err"))"; fi
if ctl noou net add blue; then bad "cert without OU changed state"
elif grep -q PERMISSION_DENIED "$T/err"; then ok "cert without OU is read-only"
else bad "cert without OU: wrong failure ($(cat "$T/err"))"; fi

# admin certificate: may change state
if ctl admin node info && grep -q "admin" "$T/out"; then ok "admin cert: role admin"
else bad "admin cert: Node.Info ($(cat "$T/err"))"; fi
if ctl admin net add blue; then ok "admin cert: Network.Add works"
else bad "admin cert: Network.Add ($(cat "$T/err"))"; fi
if ctl admin config save && [ -s "$T/state/state.pb" ]; then ok "admin cert: Config.Save wrote the state file"
else bad "admin cert: Config.Save ($(cat "$T/err"))"; fi
if ctl readonly --json net list && grep -q '"blue"' "$T/out"; then ok "readonly cert sees the admin's change"
else bad "readonly cert: net list ($(cat "$T/err"))"; fi

# a TCP client that never starts the handshake is closed after the idle time (1.5 s here)
if exec 5<>"/dev/tcp/127.0.0.1/$PORT"; then
	if timeout 20 cat <&5 >/dev/null; then ok "silent TCP client closed by the server"
	else bad "silent TCP client not closed"; fi
	exec 5<&-
else
	bad "cannot open a plain TCP connection"
fi
MPORT=$(awk '/ready/ {print $3}' "$T/ready")
python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$MPORT/metrics', timeout=10).read().decode())" >"$T/metrics" 2>&1
grep -q 'riov_rpc_closed_total{reason="idle_timeout"} [1-9]' "$T/metrics" && ok "counted as an idle timeout" ||
	bad "idle timeout not counted: $(grep closed_total "$T/metrics")"
grep -q 'riov_rpc_requests_denied_total [1-9]' "$T/metrics" && ok "denied calls counted" ||
	bad "denied calls not counted"

# the server is still healthy and the Unix socket still works
if "$RIOVCTL" --connect "unix:$T/s.sock" node info >/dev/null 2>&1; then ok "unix socket still served"
else bad "unix socket broken after TLS tests"; fi
kill "$PID"; wait "$PID"; rc=$?; PID=
[ $rc -eq 0 ] && ok "server exits cleanly" || bad "server exit status $rc"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
