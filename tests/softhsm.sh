#!/bin/sh
# A private SoftHSM2 token for the PKCS#11 tests (tests/test_kms_pkcs11.c).
# Nothing outside DIR is touched: the configuration, the token directory
# and every object live there, and SOFTHSM2_CONF points at DIR/softhsm2.conf
# for every command below (the test process sets it too, before its
# provider calls C_Initialize).
#
#   softhsm.sh init DIR LABEL PIN       softhsm2.conf + a fresh token
#   softhsm.sh copy DIR FROM            DIR gets a copy of FROM's tokens and
#                                      its own softhsm2.conf
#   softhsm.sh keygen DIR LABEL PIN KEY ID [pkcs11-tool options...]
#                                      an AES-256 KEK: sensitive, never
#                                      extractable, private, for wrap/unwrap
#                                      and encrypt/decrypt
#   softhsm.sh delete DIR LABEL PIN KEY  destroy the secret key labelled KEY
#   softhsm.sh clean DIR                remove DIR
#
# SOFTHSM_MODULE overrides the module path (Debian's by default).
set -eu
MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
cmd=${1:?usage: softhsm.sh init|copy|keygen|delete|clean DIR ...}
dir=${2:?missing DIR}
export SOFTHSM2_CONF="$dir/softhsm2.conf"

conf() {
    printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
        "$dir" > "$SOFTHSM2_CONF"
}

case "$cmd" in
init)
    label=$3 pin=$4
    mkdir -p "$dir/tokens"
    conf
    # The token lands in a fresh slot with a random id: find it by label.
    softhsm2-util --init-token --free --label "$label" --pin "$pin" --so-pin "so-$pin" >/dev/null
    ;;
copy)
    from=$3
    mkdir -p "$dir"
    cp -a "$from/tokens" "$dir/"
    conf
    ;;
keygen)
    label=$3 pin=$4 key=$5 id=$6
    shift 6
    # (pkcs11-tool warns on stderr that it cannot read the new key's value:
    # shown only when the command fails.)
    out=$(pkcs11-tool --module "$MODULE" --token-label "$label" --login --pin "$pin" \
        --keygen --key-type AES:32 --label "$key" --id "$id" \
        --sensitive --private --usage-wrap --usage-decrypt "$@" 2>&1) ||
        { echo "$out" >&2; exit 1; }
    ;;
delete)
    label=$3 pin=$4 key=$5
    out=$(pkcs11-tool --module "$MODULE" --token-label "$label" --login --pin "$pin" \
        --delete-object --type secrkey --label "$key" 2>&1) || { echo "$out" >&2; exit 1; }
    ;;
clean)
    rm -rf "$dir"
    ;;
*)
    echo "softhsm.sh: unknown command $cmd" >&2
    exit 2
    ;;
esac
