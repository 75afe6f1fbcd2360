#!/bin/sh
# check-cli: `vellum field` end to end. The csfle-spec.md §5 fixtures
# (Confluent's cross-client known answers) through DEK Registry JSON files,
# round trips for every algorithm and encoding, created DEKs and their
# records, and the contract: a failing line is named with its number and
# reason, --on-failure none passes it through, exit codes 0 / 1 / 2.
#
# usage: sh tests/test_cli.sh path/to/vellum
set -u
V=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/vellum-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
NL='
'
CR=$(printf '\r')
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL cli: $*"
}

# run NAME STATUS INPUT ARGS...: stdout in $T/out, stderr in $T/err.
run() {
    name=$1 want=$2 input=$3
    shift 3
    printf '%s' "$input" | "$V" "$@" >"$T/out" 2>"$T/err"
    st=$?
    if [ "$st" -eq "$want" ]; then ok; else bad "$name: exit $st, want $want: $(head -c 400 "$T/err")"; fi
}
out_is() {
    got=$(cat "$T/out")
    if [ "$got" = "$2" ]; then ok; else bad "$1: stdout '$got', want '$2'"; fi
}
err_has() {
    if grep -qF -- "$2" "$T/err"; then ok; else bad "$1: stderr lacks '$2': $(head -c 400 "$T/err")"; fi
}

KMS="--kms local-kms --kms-secret mysecret"
HELLO=aGVsbG8gd29ybGQ= # base64("hello world")
dek() { # dek FILE ALG EKM [VERSION]
    printf '{"kekName":"kek1","subject":"topic1-value","version":%s,"algorithm":"%s",' "${4:-1}" "$2" >"$1"
    printf '"encryptedKeyMaterial":"%s","ts":11112223334,"deleted":false}\n' "$3" >>"$1"
}
dek "$T/gcm.json" AES256_GCM "07V2ndh02DA73p+dTybwZFm7DKQSZN1tEwQh+FoX1DZLk4Yj2LLu4omYjp/84tAg3BYlkfGSz+zZacJHIE4="
dek "$T/siv.json" AES256_SIV "YSx3DTlAHrmpoDChquJMifmPntBzxgRVdMzgYL82rgWBKn7aUSnG+WIu9ozBNS3y2vXd++mBtK07w4/W/G6w0da39X9hfOVZsGnkSvry/QRht84V8yz3dqKxGMOK5A=="
dek "$T/rot.json" AES256_GCM "W/v6hOQYq1idVAcs1pPWz9UUONMVZW4IrglTnG88TsWjeCjxmtRQ4VaNe/I5dCfm2zyY9Cu0nqdvqImtUk4="
GCM_FIELD=zgy/jFNMV/eFilaHrMyeBgdaVzrR0udGeotW8cA/Jal7ukr+M/yz
SIV_FIELD=D6YtxrlBnkTWW9N6Vbk3IInjWH81xmYh3k4d
ROT_FIELD=AAAAAAG4HI6b1nXPXqLyG8cII35NHQseqqUCd+IeLeFVAeNpSS3fxPnJ32A=

# ---- §5 fixtures ----------------------------------------------------------
run "fixture AES256_GCM" 0 "$GCM_FIELD$NL" field decrypt $KMS --dek "$T/gcm.json"
out_is "fixture AES256_GCM" "$HELLO"
run "fixture AES256_SIV" 0 "$SIV_FIELD$NL" field decrypt $KMS --dek "$T/siv.json"
out_is "fixture AES256_SIV" "$HELLO"
run "fixture rotation" 0 "$ROT_FIELD$NL" field decrypt $KMS --dek "$T/rot.json" --versioned
out_is "fixture rotation" "$HELLO"
run "fixture SIV re-encrypted" 0 "$HELLO$NL" field encrypt $KMS --dek "$T/siv.json"
out_is "fixture SIV re-encrypted" "$SIV_FIELD"
GCM_HEX=$(printf '%s' "$GCM_FIELD" | base64 -d | od -An -v -tx1 | tr -d ' \n')
run "fixture as hex" 0 "$GCM_HEX$NL" field decrypt $KMS --dek "$T/gcm.json" --encoding hex
out_is "fixture as hex" "68656c6c6f20776f726c64"
LOCAL_SECRET=mysecret run "LOCAL_SECRET" 0 "$SIV_FIELD$NL" field decrypt --kms local-kms --dek "$T/siv.json"
out_is "LOCAL_SECRET" "$HELLO"

# ---- round trips with created DEKs ----------------------------------------
values="$HELLO$NL$NL""AA==$NL$(head -c 700 /dev/urandom | base64 -w0)$NL"
for alg in AES128_GCM AES256_GCM AES256_SIV; do
    for ver in 1 3; do
        f="$T/new-$alg-$ver.json"
        vflag=
        [ "$ver" = 1 ] || vflag="--versioned --dek-version $ver"
        # shellcheck disable=SC2086
        run "create $alg v$ver" 0 "$values" field encrypt $KMS --kek kek1 --subject t-value \
            --algorithm "$alg" $vflag --dek-out "$f" --kek-out "$T/kek.json" --kms-key-id mykey
        cp "$T/out" "$T/sealed"
        grep -q "\"algorithm\":\"$alg\"" "$f" && grep -q "\"version\":$ver," "$f" &&
            ! grep -q '"keyMaterial"' "$f" && ok || bad "create $alg v$ver: record $(cat "$f")"
        [ "$ver" = 1 ] || vflag=--versioned
        # shellcheck disable=SC2086
        run "open $alg v$ver" 0 "$(cat "$T/sealed")$NL" field decrypt $KMS --dek "$f" $vflag
        out_is "open $alg v$ver" "$(printf '%s' "$values")"
    done
done
grep -q '"name":"kek1","kmsType":"local-kms","kmsKeyId":"mykey"' "$T/kek.json" && ok ||
    bad "kek record: $(cat "$T/kek.json")"
run "dek-out is never overwritten" 2 "$HELLO$NL" field encrypt $KMS --kek k --subject s \
    --dek-out "$T/new-AES128_GCM-1.json"
err_has "dek-out is never overwritten" "never overwritten"
# Several versions: encrypt seals with the highest, decrypt picks by prefix.
run "v1 with v3" 0 "$HELLO$NL" field encrypt $KMS --versioned --dek "$T/new-AES256_SIV-1.json" \
    --dek "$T/new-AES256_SIV-3.json"
prefix=$(head -n 1 "$T/out" | base64 -d | head -c 5 | od -An -tx1 | tr -d ' \n')
[ "$prefix" = 0000000003 ] && ok || bad "v1 with v3: prefix $prefix, want version 3"
# Payloads: the framing header stays in clear (hex: 00 + id 0000002a).
run "payload encrypt" 0 "000000002a0102030405$NL" field encrypt $KMS --payload --encoding hex \
    --dek "$T/new-AES256_GCM-1.json"
case $(cat "$T/out") in 000000002a*) ok ;; *) bad "payload header not in clear: $(cat "$T/out")" ;; esac
run "payload decrypt" 0 "$(cat "$T/out")$NL" field decrypt $KMS --payload --encoding hex \
    --dek "$T/new-AES256_GCM-1.json"
out_is "payload decrypt" 000000002a0102030405
run "payload without framing" 1 "02aabb$NL" field encrypt $KMS --payload --encoding hex \
    --dek "$T/new-AES256_GCM-1.json"
err_has "payload without framing" "line 1: no schema framing header"

# ---- failing lines: named, reason given, exit 1; NONE passes them through --
input="$GCM_FIELD${NL}not base64!${NL}$ROT_FIELD${NL}AAAA$NL"
run "errors name the line" 1 "$input" field decrypt $KMS --dek "$T/gcm.json"
out_is "errors name the line" "$HELLO"
err_has "errors name the line" "line 2: not canonical, padded base64"
err_has "errors name the line" "line 3: authentication failed"
err_has "errors name the line" "line 4: too short"
err_has "errors name the line" "3 of 4 lines failed"
run "on-failure none" 0 "$input" field decrypt $KMS --dek "$T/gcm.json" --on-failure none
out_is "on-failure none" "$HELLO${NL}not base64!${NL}$ROT_FIELD${NL}AAAA"
err_has "on-failure none" "line 3: authentication failed: not sealed with this DEK (or an older version), or altered (passed through)"
run "version not given" 1 "$(cat "$T/sealed")$NL" field decrypt $KMS --versioned \
    --dek "$T/new-AES256_SIV-1.json"
err_has "version not given" "line 1: needs DEK version 3, which no --dek gives"
run "no prefix" 1 "$GCM_FIELD$NL" field decrypt $KMS --versioned --dek "$T/gcm.json"
err_has "no prefix" "line 1: no DEK version prefix"
run "bad hex" 1 "0g$NL" field decrypt $KMS --encoding hex --dek "$T/gcm.json"
err_has "bad hex" "line 1: not hex"
run "CRLF and no final newline" 0 "$GCM_FIELD$CR${NL}$SIV_FIELD" field decrypt $KMS \
    --dek "$T/siv.json" --on-failure none
out_is "CRLF and no final newline" "$GCM_FIELD$NL$HELLO"

# ---- usage errors and unusable DEKs: exit 2, nothing read -------------------
run "no command" 2 "" ; err_has "no command" "usage: vellum"
run "help" 0 "" --help; grep -q "field" "$T/out" && ok || bad "help lists field"
run "field help" 0 "" field --help; grep -q -- "--on-failure" "$T/out" && ok || bad "field help"
run "unknown command" 2 "" frobnicate; err_has "unknown command" "unknown command 'frobnicate'"
run "bad mode" 2 "" field scramble $KMS; err_has "bad mode" "encrypt or decrypt"
run "unknown option" 2 "" field decrypt $KMS --dek "$T/gcm.json" --frob
err_has "unknown option" "unknown option --frob"
run "missing value" 2 "" field decrypt $KMS --dek
err_has "missing value" "needs a value"
run "no dek" 2 "" field decrypt $KMS; err_has "no dek" "decrypt needs at least one --dek"
run "no kms" 2 "" field decrypt --kms-secret x --dek "$T/gcm.json"; err_has "no kms" "--kms is required"
run "other kms" 2 "" field decrypt --kms aws-kms --kms-secret x --dek "$T/gcm.json"
err_has "other kms" "not supported"
run "no secret" 2 "" field decrypt --kms local-kms --dek "$T/gcm.json"
err_has "no secret" "LOCAL_SECRET"
run "bad encoding" 2 "" field decrypt $KMS --dek "$T/gcm.json" --encoding base32
run "bad on-failure" 2 "" field decrypt $KMS --dek "$T/gcm.json" --on-failure maybe
run "on-failure on encrypt" 2 "" field encrypt $KMS --dek "$T/gcm.json" --on-failure none
run "create needs dek-out" 2 "" field encrypt $KMS --kek k --subject s
run "version needs versioned" 2 "" field encrypt $KMS --kek k --subject s --dek-out "$T/x.json" --dek-version 2
err_has "version needs versioned" "needs --versioned"
run "unversioned needs v1" 2 "" field encrypt $KMS --dek "$T/new-AES256_SIV-3.json"
err_has "unversioned needs v1" "version 1"
run "wrong secret" 2 "" field decrypt --kms local-kms --kms-secret nope --dek "$T/gcm.json"
err_has "wrong secret" "wrong KMS secret"
printf '{"kekName":"kek1"' >"$T/broken.json"
run "broken record" 2 "" field decrypt $KMS --dek "$T/broken.json"
err_has "broken record" "not a DEK record"
run "missing file" 2 "" field decrypt $KMS --dek "$T/nope.json"
err_has "missing file" "No such file"
run "mixed identities" 2 "" field decrypt $KMS --dek "$T/gcm.json" --dek "$T/siv.json"
err_has "mixed identities" "must match"
run "same version twice" 2 "" field decrypt $KMS --dek "$T/gcm.json" --dek "$T/rot.json"
err_has "same version twice" "same version"

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
