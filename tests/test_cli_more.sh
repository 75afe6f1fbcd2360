#!/bin/sh
# check-cli-more: every `vellum` command but `field` (tests/test_cli.sh)
# end to end, with bad input for each: info, bench, kek, dek, encrypt,
# decrypt (missing files, wrong secret, altered, truncated, reordered and
# extended files, no partial output left behind), policy check (the files
# in tests/policies/, malformed JSON), --help everywhere, exit codes.
#
# usage: sh tests/test_cli_more.sh path/to/vellum
set -u
V=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
P=$(cd "$(dirname "$0")" && pwd)/policies
T=$(mktemp -d "${TMPDIR:-/tmp}/vellum-cli-more.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
cd "$T" || exit 1
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL cli-more: $*"
}
# run NAME STATUS ARGS...: stdout in $T/out, stderr in $T/err.
run() {
    name=$1 want=$2
    shift 2
    "$V" "$@" </dev/null >"$T/out" 2>"$T/err"
    st=$?
    if [ "$st" -eq "$want" ]; then ok; else bad "$name: exit $st, want $want: $(head -c 400 "$T/err")"; fi
}
has() { # has NAME FILE TEXT
    if grep -qF -- "$3" "$2"; then ok; else bad "$1: $(basename "$2") lacks '$3': $(head -c 400 "$2")"; fi
}
same() {
    if cmp -s "$2" "$3"; then ok; else bad "$1: $2 and $3 differ"; fi
}
absent() { # nothing named $2* may be left
    if ls "$2"* >/dev/null 2>&1; then bad "$1: left behind: $(ls "$2"*)"; else ok; fi
}
export LOCAL_SECRET=test-secret VELLUM_STORE="$T/store.db"
unset VELLUM_IMPL
head -c 200000 /dev/urandom >"$T/plain"

# ---- --help on every command ------------------------------------------------
for c in info kek dek encrypt decrypt field policy bench; do
    run "$c --help" 0 "$c" --help
    has "$c --help" "$T/out" "usage: vellum"
done
run "help kek" 0 help kek; has "help kek" "$T/out" "vellum kek create"
run "top help" 0 --help
for c in info kek dek encrypt decrypt policy bench; do has "top help lists $c" "$T/out" "  $c "; done

# ---- info, bench -----------------------------------------------------------
run info 0 info
has info "$T/out" "vellum 0.1.0"
has info "$T/out" "cpu features:"
has info "$T/out" "portable     compiled, supported"
has info "$T/out" "AES256_SIV  ->"
VELLUM_IMPL=portable "$V" info >"$T/out" 2>&1 && ok || bad "info portable"
has "info VELLUM_IMPL" "$T/out" "AES128_GCM  -> portable"
VELLUM_IMPL=no-such-path "$V" info >"$T/out" 2>"$T/err"
[ $? -eq 1 ] && ok || bad "info with a bad VELLUM_IMPL must exit 1"
has "info bad VELLUM_IMPL" "$T/err" "unset it or pick a supported path"
run "info extra arg" 2 info now
run bench 0 bench --time 0.01
has bench "$T/out" "portable     AES256_SIV"
run "bench bad time" 2 bench --time x

# ---- kek ---------------------------------------------------------------------
run "kek create" 0 kek create k1 --doc "test KEK"
has "kek create" "$T/out" "access checked"
run "kek create again" 1 kek create k1
has "kek create again" "$T/err" "name is taken"
run "kek create no name" 2 kek create
has "kek create no name" "$T/err" "needs the KEK's NAME"
run "kek create no secret" 2 kek create k2 --kms-secret ""
run "kek bad kms" 2 kek create k2 --kms aws-kms
has "kek bad kms" "$T/err" "local-kms, pkcs11 or kmip"
run "kek pkcs11 no module" 2 kek create k2 --kms pkcs11
has "kek pkcs11 no module" "$T/err" "--pkcs11-module"
run "kek pkcs11 missing module" 2 kek create k2 --kms pkcs11 --pkcs11-module "$T/nope.so" \
    --pkcs11-token t --pkcs11-pin 1234
run "kek kmip no files" 2 kek create k2 --kms kmip --kmip-host localhost
has "kek kmip no files" "$T/err" "--kmip-ca"
run "kek kmip missing files" 2 kek create k2 --kms kmip --kmip-host localhost \
    --kmip-ca "$T/no.pem" --kmip-cert "$T/no.pem" --kmip-key "$T/no.pem"
run "kek list" 0 kek list; has "kek list" "$T/out" "k1"
run "kek show" 0 kek show k1; has "kek show" "$T/out" "test KEK"
run "kek show missing" 1 kek show nope; has "kek show missing" "$T/err" "not found"
run "kek bad action" 2 kek frob x
run "kek unknown option" 2 kek list --frob; has "kek unknown option" "$T/err" "unknown option --frob"
printf 'store=%s\nkms=local-kms\n# comment\nkms-secret=test-secret\n' "$T/cfg.db" >"$T/vellum.conf"
env -u LOCAL_SECRET "$V" kek create kc --config "$T/vellum.conf" >"$T/out" 2>"$T/err" && ok ||
    bad "config file: $(cat "$T/err")"
env -u LOCAL_SECRET "$V" kek list --config "$T/vellum.conf" | grep -q kc && ok || bad "config store"
printf 'stor=x\n' >"$T/bad.conf"
run "bad config" 2 kek list --config "$T/bad.conf"; has "bad config" "$T/err" "unknown setting 'stor'"
run "missing config" 2 kek list --config "$T/none.conf"
run "bad store" 2 kek list --store "$T/no/such/dir/x.db"; has "bad store" "$T/err" "cannot open the store"

# ---- dek ---------------------------------------------------------------------
run "dek create" 0 dek create --kek k1; has "dek create" "$T/out" "version 1 is now current"
run "dek create again" 1 dek create --kek k1; has "dek create again" "$T/err" "dek rotate"
run "dek create no kek" 2 dek create
run "dek create unknown kek" 1 dek create --kek nope
run "dek create bad alg" 2 dek create --kek k1 --algorithm DES
run "dek create siv" 0 dek create --kek k1 --subject s --algorithm AES256_SIV
run "dek rotate" 0 dek rotate --kek k1; has "dek rotate" "$T/out" "version 2 is now current"
run "dek list" 0 dek list
has "dek list" "$T/out" "AES256_SIV"
[ "$(grep -c '^k1 .* file ' "$T/out")" = 2 ] && ok || bad "dek list: two versions of k1/file"
run "dek rotate wrong secret" 1 dek rotate --kek k1 --kms-secret wrong
has "dek rotate wrong secret" "$T/err" "do not unwrap"
run "encrypt wrong secret" 2 encrypt --kek k1 --kms-secret wrong "$T/plain" -o "$T/ws.vlmf"
has "encrypt wrong secret" "$T/err" "wrong KMS secret"
absent "encrypt wrong secret leaves nothing" "$T/ws.vlmf"
run "dek rewrap" 0 dek rewrap --kek k1 --new-key-id k1-v2
run "kek show after rewrap" 0 kek show k1; has "rewrap" "$T/out" "k1-v2"
run "dek rewrap no id" 2 dek rewrap --kek k1
run "dek bad action" 2 dek frob --kek k1
run "dek delete soft" 0 dek delete --kek k1 --subject s --algorithm AES256_SIV
run "kek delete busy" 1 kek delete k1 --hard

# ---- encrypt / decrypt ------------------------------------------------------
: >"$T/empty"
head -c 4096 /dev/urandom >"$T/exact" # a multiple of the chunk size
for alg in AES128_GCM AES256_GCM AES256_SIV; do
    for f in plain empty exact; do
        run "encrypt $alg $f" 0 encrypt --kek k1 --subject "s-$alg" --algorithm $alg \
            --chunk-size 1024 "$T/$f" -o "$T/$f.$alg.vlmf"
        run "decrypt $alg $f" 0 decrypt "$T/$f.$alg.vlmf" -o "$T/$f.$alg.out"
        same "round trip $alg $f" "$T/$f" "$T/$f.$alg.out"
    done
done
run "encrypt default chunks" 0 encrypt --kek k1 "$T/plain" -o "$T/p.vlmf"
has "header names" "$T/p.vlmf" "VLMF"
cat "$T/plain" | "$V" encrypt --kek k1 >"$T/stream.vlmf" 2>"$T/err" && ok || bad "encrypt stdin"
"$V" decrypt <"$T/stream.vlmf" >"$T/stream.out" 2>"$T/err" && ok || bad "decrypt stdin"
same "stream round trip" "$T/plain" "$T/stream.out"
run "rotate for files" 0 dek rotate --kek k1
run "encrypt v3" 0 encrypt --kek k1 "$T/plain" -o "$T/p3.vlmf"
run "old file still decrypts" 0 decrypt "$T/p.vlmf" -o "$T/p.out"; same "old version" "$T/plain" "$T/p.out"
run "new file" 0 decrypt "$T/p3.vlmf" -o "$T/p3.out"; same "new version" "$T/plain" "$T/p3.out"
run "no overwrite" 2 decrypt "$T/p3.vlmf" -o "$T/p3.out"; has "no overwrite" "$T/err" "--force"
run "force" 0 decrypt "$T/p3.vlmf" -o "$T/p3.out" --force
run "encrypt for the counter" 0 encrypt --kek k1 --subject count --chunk-size 1024 "$T/plain" -o "$T/c.vlmf"
run "dek list counts seals" 0 dek list --kek k1
grep -q '^k1 *count *AES256_GCM *1 live *196 ' "$T/out" && ok ||
    bad "seal counter: 200000 bytes in 1024-byte chunks are 196 seals: $(grep count "$T/out")"

# bad input: each refused with a clear error, nothing left behind
F=$T/plain.AES256_GCM.vlmf # 1024-byte chunks: 1040 bytes each on disk
size=$(wc -c <"$F")
hdr=$((size - 195 * 1040 - (200000 - 195 * 1024) - 16))
chunk() { dd if="$F" bs=1 skip=$((hdr + $1 * 1040)) count=1040 2>/dev/null; }
refuse() { # refuse NAME FILE TEXT
    run "$1" 1 decrypt "$2" -o "$T/refused.out"
    has "$1" "$T/err" "$3"
    absent "$1 leaves nothing" "$T/refused.out"
}
head -c $((size - 1)) "$F" >"$T/cut1"
refuse "truncated mid-chunk" "$T/cut1" "failed authentication"
head -c $((size - (200000 - 195 * 1024) - 16)) "$F" >"$T/cut2"
refuse "truncated at a chunk boundary" "$T/cut2" "failed authentication"
head -c 20 "$F" >"$T/cut3"
refuse "truncated header" "$T/cut3" "truncated"
head -c $((hdr + 10)) "$F" >"$T/cut4"
refuse "truncated first chunk" "$T/cut4" "shorter than its tag"
{ cat "$F"; chunk 3; } >"$T/ext"
refuse "extended" "$T/ext" "failed authentication"
{ head -c $((hdr + 1040)) "$F"; chunk 2; chunk 1; tail -c +$((hdr + 3 * 1040 + 1)) "$F"; } >"$T/swap"
[ "$(wc -c <"$T/swap")" -eq "$size" ] && ok || bad "reorder test file has the wrong size"
refuse "reordered" "$T/swap" "chunk 1 failed authentication"
cp "$F" "$T/flip"
printf 'X' | dd of="$T/flip" bs=1 seek=$((hdr + 5000)) conv=notrunc 2>/dev/null
refuse "altered chunk" "$T/flip" "chunk 4 failed"
cp "$F" "$T/hflip"
printf '\001' | dd of="$T/hflip" bs=1 seek=16 conv=notrunc 2>/dev/null
refuse "altered nonce base" "$T/hflip" "chunk 0 failed"
printf 'hello, not a vellum file\n' >"$T/text"
refuse "not a vellum file" "$T/text" "not a vellum file"
"$V" decrypt "$T/flip" >"$T/stdout.out" 2>"$T/err"
[ $? -eq 1 ] && [ ! -s "$T/stdout.out" ] && ok || bad "decrypt to stdout wrote plaintext of an altered file"
run "wrong secret" 2 decrypt "$F" -o "$T/w.out" --kms-secret wrong
has "wrong secret" "$T/err" "wrong KMS secret"
absent "wrong secret leaves nothing" "$T/w.out"
run "missing input" 2 decrypt "$T/nope.vlmf" -o "$T/x.out"; has "missing input" "$T/err" "No such file"
run "missing input encrypt" 2 encrypt --kek k1 "$T/nope" -o "$T/x.vlmf"
run "encrypt no kek" 2 encrypt "$T/plain" -o "$T/x.vlmf"; has "encrypt no kek" "$T/err" "--kek"
run "encrypt unknown kek" 2 encrypt --kek nope "$T/plain" -o "$T/x.vlmf"
absent "unknown kek leaves nothing" "$T/x.vlmf"
run "encrypt bad chunk" 2 encrypt --kek k1 --chunk-size 3 "$T/plain" -o "$T/x.vlmf"
run "two inputs" 2 encrypt --kek k1 "$T/plain" "$T/plain"
run "other store" 2 decrypt "$F" -o "$T/x.out" --store "$T/other.db"
has "other store" "$T/err" "wrong --store?"
run "directory input" 2 decrypt "$T" -o "$T/x.out"
run "output dir missing" 2 encrypt --kek k1 "$T/plain" -o "$T/no/dir/x.vlmf"

# ---- kek/dek delete --------------------------------------------------------
run "dek delete hard" 0 dek delete --kek k1 --subject s --algorithm AES256_SIV --hard
run "dek delete all file versions" 0 dek delete --kek k1
run "decrypt after soft delete" 0 decrypt "$F" -o "$T/sd.out"
run "kek delete with live DEKs" 1 kek delete k1; has "kek delete busy" "$T/err" "delete its DEKs first"
run "kek create k3" 0 kek create k3
run "kek delete soft" 0 kek delete k3
run "kek show deleted" 0 kek show k3; has "kek deleted" "$T/out" "deleted (soft)"
run "kek delete hard" 0 kek delete k3 --hard
run "kek show erased" 1 kek show k3

# ---- pkcs11: a private SoftHSM2 token (tests/softhsm.sh) ---------------------
M=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
if [ -f "$M" ] && command -v softhsm2-util >/dev/null && command -v pkcs11-tool >/dev/null; then
    H=$(dirname "$P")/softhsm.sh
    sh "$H" init "$T/hsm" vt 1234 && sh "$H" keygen "$T/hsm" vt 1234 kek-hsm 01 && ok ||
        bad "softhsm token setup"
    export SOFTHSM2_CONF="$T/hsm/softhsm2.conf"
    HSM="--kms pkcs11 --pkcs11-module $M --pkcs11-token vt"
    # shellcheck disable=SC2086
    run "pkcs11 kek" 0 kek create hsm $HSM --pkcs11-pin 1234 --key-id label:kek-hsm
    run "pkcs11 wrong pin" 2 kek create hsm2 $HSM --pkcs11-pin 9999 --key-id label:kek-hsm
    has "pkcs11 wrong pin" "$T/err" "check the PIN"
    run "pkcs11 no such key" 1 kek create hsm3 $HSM --pkcs11-pin 1234 --key-id label:nope
    printf 'kms=pkcs11\npkcs11-module=%s\npkcs11-token=vt\n' "$M" >"$T/hsm.conf"
    PKCS11_PIN=1234 "$V" encrypt --config "$T/hsm.conf" --kek hsm "$T/plain" -o "$T/h.vlmf" \
        2>"$T/err" && ok || bad "pkcs11 encrypt: $(cat "$T/err")"
    PKCS11_PIN=1234 "$V" decrypt --config "$T/hsm.conf" "$T/h.vlmf" -o "$T/h.out" 2>"$T/err" &&
        ok || bad "pkcs11 decrypt: $(cat "$T/err")"
    same "pkcs11 round trip" "$T/plain" "$T/h.out"
    run "pkcs11 KEK with local-kms" 2 decrypt "$T/h.vlmf" -o "$T/h2.out"
    has "pkcs11 KEK with local-kms" "$T/err" "KEK hsm is in pkcs11: pass --kms pkcs11"
    unset SOFTHSM2_CONF
else
    echo "SKIP cli-more pkcs11: SoftHSM2 ($M), softhsm2-util or pkcs11-tool missing"
fi

# ---- policy ------------------------------------------------------------------
for f in aws-good aws-wildcard gcp-good azure-good azure-role-good; do
    run "policy $f" 0 policy check "$P/$f.json"; has "policy $f" "$T/out" "OK "
done
run "policy aws-bad" 1 policy check "$P/aws-bad.json"
has "aws-bad ReEncrypt" "$T/out" "lacks kms:ReEncrypt*; fix:"
has "aws-bad resource" "$T/out" '"Resource" is not "*"'
has "aws-bad account" "$T/out" "arn:aws:iam::1111222233:role/vellum-app is not a role ARN"
has "aws-bad user" "$T/out" ":user/alice is not a role ARN"
has "aws-bad grants" "$T/out" "no grant-management statement"
run "policy aws-deny" 1 policy check "$P/aws-deny.json"; has "aws-deny" "$T/out" "no key-usage statement"
run "policy gcp-bad" 1 policy check "$P/gcp-bad.json"
has "gcp-bad" "$T/out" "roles/cloudkms.cryptoKeyEncrypterDecrypter"
run "policy gcp-role-bad" 1 policy check "$P/gcp-role-bad.json"; has "gcp-role" "$T/out" "useToDecrypt"
run "policy azure-bad" 1 policy check "$P/azure-bad.json"
has "azure-bad wrap" "$T/out" "lacks the key permission wrapKey"
has "azure-bad oid" "$T/out" "no objectId"
run "policy malformed" 1 policy check "$P/malformed.json"; has "malformed" "$T/out" "INVALID"
printf '[1,2]' >"$T/arr.json"
run "policy not an object" 1 policy check "$T/arr.json"
printf '{"hello": 1}' >"$T/unk.json"
run "policy unknown kind" 1 policy check "$T/unk.json"; has "unknown kind" "$T/out" "--kind"
run "policy forced kind" 1 policy check "$T/unk.json" --kind gcp
run "policy missing file" 2 policy check "$T/nope.json"; has "policy missing" "$T/err" "cannot read"
run "policy no file" 2 policy check
run "policy bad kind" 2 policy check "$P/aws-good.json" --kind oracle
run "policy no verb" 2 policy lint "$P/aws-good.json"
head -c 3000000 /dev/zero >"$T/huge.json"
run "policy huge file" 2 policy check "$T/huge.json"

echo "cli-more: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
