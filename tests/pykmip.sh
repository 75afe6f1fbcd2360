#!/bin/sh
# A throwaway PyKMIP server (Debian python3-pykmip) for the KMIP suite.
#
#   tests/pykmip.sh run CMD [ARG...]   set up, start the server, run CMD, and
#                                      ALWAYS stop the server and delete the
#                                      folder (trap), whatever CMD does
#   tests/pykmip.sh kill               SIGKILL the server of $VL_KMIP_DIR
#   tests/pykmip.sh start              start it again (same port, same db)
#   tests/pykmip.sh pause|resume       SIGSTOP / SIGCONT it (a hung server)
#   tests/pykmip.sh admin create       a new active AES-256 key: prints its UID
#   tests/pykmip.sh admin create-pre-active   the same, never activated
#   tests/pykmip.sh admin revoke|destroy UID
#
# `run` makes a temp folder with two CAs (openssl, EC P-256: fast), a server
# certificate for IP 127.0.0.1 and client certificates: "client" (the key
# owner), "intruder" (same CA, not the owner), "noeku" (same CA, no
# clientAuth usage) and "foreign" (another CA). It writes the server config
# (TLS 1.2, SQLite database, an owner-only operation policy, INFO logging),
# all inside the folder, picks a free port, starts pykmip-server and waits
# until its log says the policy is loaded. CMD sees VL_KMIP_DIR,
# VL_KMIP_PORT and VL_KMIP_SCRIPT (this file, absolute) in its environment.
#
# The server log stays inside the folder and is deleted with it: PyKMIP
# logs every request and response, DEKs included, at DEBUG level (INFO here
# does not, but nothing is left behind either way).
#
# python3-pykmip missing: with CI=true this fails; otherwise it skips (0).
# PyKMIP runs with /usr/bin/python3: a pyenv python3 may come first in PATH
# and cannot see Debian's dist-packages.
set -eu
PY=/usr/bin/python3
SERVER=/usr/bin/pykmip-server
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

die() { echo "pykmip.sh: $*" >&2; exit 1; }

have_pykmip() {
    [ -x "$SERVER" ] && [ -x "$PY" ] && "$PY" -c 'import kmip.pie.client' 2>/dev/null
}

# ---------------------------------------------------------------- certificates
# $1 = name, $2 = CA name, $3 = subject CN, $4 = extension lines (may be "")
issue() {
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$W/$1.key" -subj "/CN=$3" -out "$W/$1.csr" 2>/dev/null
    printf '%s\n' "$4" > "$W/$1.ext"
    openssl x509 -req -in "$W/$1.csr" -CA "$W/$2.crt" -CAkey "$W/$2.key" -CAcreateserial \
        -days 2 -sha256 -extfile "$W/$1.ext" -out "$W/$1.crt" 2>/dev/null
    rm -f "$W/$1.csr" "$W/$1.ext"
}

make_ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$W/$1.key" -subj "/CN=$2" -days 2 -out "$W/$1.crt" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
}

make_certs() {
    make_ca ca "vellum test CA"
    make_ca ca2 "some other CA"
    issue server ca 127.0.0.1 "subjectAltName=IP:127.0.0.1
extendedKeyUsage=serverAuth"
    issue client ca vellum "extendedKeyUsage=clientAuth"
    issue intruder ca intruder "extendedKeyUsage=clientAuth"
    issue noeku ca noeku ""
    issue foreign ca2 vellum "extendedKeyUsage=clientAuth"
    chmod 600 "$W"/*.key
}

# ---------------------------------------------------------------- config
free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

write_config() {
    mkdir "$W/policies"
    cat > "$W/policies/vellum.json" <<'EOF'
{"vellum": {"preset": {"SYMMETRIC_KEY": {
    "GET": "ALLOW_OWNER", "GET_ATTRIBUTES": "ALLOW_OWNER", "GET_ATTRIBUTE_LIST": "ALLOW_OWNER",
    "ACTIVATE": "ALLOW_OWNER", "REVOKE": "ALLOW_OWNER", "DESTROY": "ALLOW_OWNER",
    "LOCATE": "ALLOW_OWNER", "CHECK": "ALLOW_OWNER"}}}}
EOF
    cat > "$W/server.conf" <<EOF
[server]
hostname=127.0.0.1
port=$1
certificate_path=$W/server.crt
key_path=$W/server.key
ca_path=$W/ca.crt
auth_suite=TLS1.2
policy_path=$W/policies
enable_tls_client_auth=True
logging_level=INFO
database_path=$W/pykmip.db
EOF
    echo "$1" > "$W/port"
    cat > "$W/admin.py" <<'EOF'
import sys
from kmip import enums
from kmip.pie import client
w, op = sys.argv[1], sys.argv[2]
port = int(open(w + "/port").read())
c = client.ProxyKmipClient(hostname="127.0.0.1", port=port, cert=w + "/client.crt",
                           key=w + "/client.key", ca=w + "/ca.crt",
                           ssl_version="PROTOCOL_SSLv23", config_file=w + "/server.conf")
with c:
    if op in ("create", "create-pre-active"):
        M = enums.CryptographicUsageMask
        uid = c.create(enums.CryptographicAlgorithm.AES, 256, operation_policy_name="vellum",
                       cryptographic_usage_mask=[M.ENCRYPT, M.DECRYPT])
        if op == "create":
            c.activate(uid)
        print(uid)
    elif op == "revoke":
        c.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, sys.argv[3])
    elif op == "destroy":
        c.destroy(sys.argv[3])
    else:
        sys.exit("unknown admin operation " + op)
EOF
}

# ---------------------------------------------------------------- server
alive() { [ -f "$W/server.pid" ] && kill -0 "$(cat "$W/server.pid")" 2>/dev/null; }

start_server() {
    alive && die "the server is already running"
    rm -f "$W/server.log"
    # Not a process-group leader here (no job control), so setsid execs in
    # place: $! is the server's pid and its new process group's id.
    TMPDIR=$W setsid "$SERVER" -f "$W/server.conf" -l "$W/server.log" \
        < /dev/null > "$W/stdout" 2>&1 &
    echo $! > "$W/server.pid"
    # Listening first, then the policy monitor loads the policy (~1 s
    # later); until then every object under it is PERMISSION_DENIED.
    i=0
    until grep -q 'Starting connection service' "$W/server.log" 2>/dev/null &&
          grep -q 'Loading policy: vellum' "$W/server.log" 2>/dev/null; do
        alive || { cat "$W/stdout" >&2; die "pykmip-server exited"; }
        i=$((i + 1))
        [ $i -le 300 ] || die "pykmip-server not ready after 15 s"
        sleep 0.05
    done
}

# SIGKILL is instant and safe (SQLite commits every operation); SIGTERM
# waits out PyKMIP's 10 s socket timeout.
kill_server() {
    [ -f "$W/server.pid" ] || return 0
    pid=$(cat "$W/server.pid")
    kill -KILL "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true # reaps it when this shell started it
    i=0
    # Gone, or a zombie (the `run` shell is its parent until it exits).
    while [ -r "/proc/$pid/stat" ] && ! grep -q '^[^)]*) Z' "/proc/$pid/stat" 2>/dev/null &&
          [ $i -lt 200 ]; do
        i=$((i + 1))
        sleep 0.01
    done
    rm -f "$W/server.pid"
}

signal_server() {
    [ -f "$W/server.pid" ] || die "the server is not running"
    kill "-$1" "-$(cat "$W/server.pid")"
}

cleanup() {
    kill_server
    rm -rf "$W"
}

# ---------------------------------------------------------------- commands
cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
run)
    [ $# -gt 0 ] || die "usage: pykmip.sh run CMD [ARG...]"
    if ! have_pykmip; then
        if [ "${CI:-}" = true ]; then
            die "FAIL: python3-pykmip is not installed (apt-get install python3-pykmip)"
        fi
        echo "pykmip.sh: SKIP: python3-pykmip is not installed; the KMIP suite did not run" >&2
        exit 0
    fi
    W=$(mktemp -d "${TMPDIR:-/tmp}/vl-kmip.XXXXXX")
    trap cleanup EXIT
    trap 'exit 1' HUP INT TERM
    make_certs
    write_config "$(free_port)"
    start_server
    VL_KMIP_PORT=$(cat "$W/port")
    export VL_KMIP_DIR="$W" VL_KMIP_PORT VL_KMIP_SCRIPT="$SELF"
    rc=0
    "$@" || rc=$?
    exit $rc
    ;;
start | kill | pause | resume | admin)
    W=${VL_KMIP_DIR:?VL_KMIP_DIR is not set: use pykmip.sh run}
    case $cmd in
    start) start_server ;;
    kill) kill_server ;;
    pause) signal_server STOP ;;
    resume) signal_server CONT ;;
    admin) exec "$PY" "$W/admin.py" "$W" "$@" ;;
    esac
    ;;
*) die "usage: pykmip.sh run CMD... | start | kill | pause | resume | admin create|revoke|destroy [UID]" ;;
esac
