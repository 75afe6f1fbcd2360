#!/bin/sh
# check-cli-kmip: `vellum` with --kms kmip against the throwaway PyKMIP
# server of tests/pykmip.sh (run as: sh tests/pykmip.sh run sh
# tests/test_cli_kmip.sh path/to/vellum). A KEK on a server key, a file
# round trip, a client the server does not authorize, and rewrap to a new
# server key.
set -u
V=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
T=$(mktemp -d "${TMPDIR:-/tmp}/vellum-cli-kmip.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL cli-kmip: $*"
}
W=$VL_KMIP_DIR
export VELLUM_STORE="$T/store.db"
kmip() { # kmip CLIENT ARGS...
    c=$1
    shift
    "$V" "$@" --kms kmip --kmip-host 127.0.0.1 --kmip-port "$VL_KMIP_PORT" \
        --kmip-ca "$W/ca.crt" --kmip-cert "$W/$c.crt" --kmip-key "$W/$c.key" >"$T/out" 2>"$T/err"
}
uid=$(sh "$VL_KMIP_SCRIPT" admin create) || { echo "FAIL cli-kmip: no server key"; exit 1; }
head -c 300000 /dev/urandom >"$T/plain"
kmip client kek create kk --key-id "$uid" && ok || bad "kek create: $(cat "$T/err")"
kmip client encrypt --kek kk "$T/plain" -o "$T/p.vlmf" && ok || bad "encrypt: $(cat "$T/err")"
kmip client decrypt "$T/p.vlmf" -o "$T/p.out" && ok || bad "decrypt: $(cat "$T/err")"
cmp -s "$T/plain" "$T/p.out" && ok || bad "round trip differs"
kmip intruder decrypt "$T/p.vlmf" -o "$T/i.out"
st=$?
[ $st -eq 2 ] && [ ! -e "$T/i.out" ] && ok || bad "intruder: exit $st: $(cat "$T/err")"
grep -q "cannot load DEK" "$T/err" && ok || bad "intruder message: $(cat "$T/err")"
uid2=$(sh "$VL_KMIP_SCRIPT" admin create) || bad "second server key"
kmip client dek rewrap --kek kk --new-key-id "$uid2" && ok || bad "rewrap: $(cat "$T/err")"
kmip client decrypt "$T/p.vlmf" -o "$T/p2.out" && cmp -s "$T/plain" "$T/p2.out" && ok ||
    bad "decrypt after rewrap: $(cat "$T/err")"
echo "cli-kmip: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
