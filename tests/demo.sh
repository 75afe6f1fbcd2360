#!/bin/sh
# make demo: vellum end to end on the embedded defaults: the local KMS
# (a secret, FOR DEMOS ONLY) and a SQLite store in a temporary folder that
# is removed afterwards. Every command is printed before it runs.
# usage: sh tests/demo.sh path/to/vellum
set -eu
V=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
T=$(mktemp -d "${TMPDIR:-/tmp}/vellum-demo.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
cd "$T"
export VELLUM_STORE="$T/vellum.db" LOCAL_SECRET="demo-secret-not-for-production"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
exec 3>&1 # the terminal, for the command lines of redirected steps
show() {
    printf '$ %s\n' "$*" | sed "s|$V|vellum|g" >&3
    "$@"
}

step "1. What this CPU gives vellum: the path each algorithm runs on"
show "$V" info

step "2. A key-encryption key (KEK). Here the local KMS derives it from \$LOCAL_SECRET;"
echo "   in production it stays in an HSM (--kms pkcs11) or a KMIP server (--kms kmip)."
show "$V" kek create demo-kek --doc "make demo"
show "$V" kek list

step "3. Field-level encryption, Confluent CSFLE wire format (one value per line, base64)"
printf 'alice@example.com\n4111-1111-1111-1111\n' >fields.txt
base64_lines() { while IFS= read -r l; do printf '%s' "$l" | base64 -w0; echo; done; }
base64_lines <fields.txt >fields.b64
show "$V" field encrypt --kms local-kms --kek demo-kek --subject orders-value \
    --dek-out dek-orders.json <fields.b64 >fields.enc
echo "ciphertexts (as a Kafka consumer would see them):"
sed 's/^/   /' fields.enc
show "$V" field decrypt --kms local-kms --dek dek-orders.json <fields.enc >fields.dec
echo "decrypted:"
while IFS= read -r l; do printf '   %s\n' "$(printf '%s' "$l" | base64 -d)"; done <fields.dec

step "4. A whole file, in authenticated chunks (8 MiB of random data)"
head -c 8388608 /dev/urandom >data.bin
show "$V" encrypt --kek demo-kek data.bin -o data.vlmf
show "$V" decrypt data.vlmf -o data.out
cmp data.bin data.out && echo "   data.out is identical to data.bin"

step "5. Tampering is refused, and no partial plaintext is left behind"
cp data.vlmf bad.vlmf
printf 'X' | dd of=bad.vlmf bs=1 seek=100000 conv=notrunc 2>/dev/null
show "$V" decrypt bad.vlmf -o bad.out || echo "   (exit $?; bad.out exists: $([ -e bad.out ] && echo yes || echo no))"
head -c 4000000 data.vlmf >cut.vlmf
show "$V" decrypt cut.vlmf -o cut.out || echo "   (exit $?: a truncated file is refused too)"

step "6. Rotate the file DEK: new files use version 2, old files still decrypt"
show "$V" dek rotate --kek demo-kek
show "$V" encrypt --kek demo-kek data.bin -o data-v2.vlmf
show "$V" decrypt data.vlmf -o old.out
show "$V" decrypt data-v2.vlmf -o new.out
cmp data.bin old.out && cmp data.bin new.out && echo "   both versions decrypt"

step "7. Counters: seals per DEK version (each 64 KiB chunk is one seal, counted"
echo "   durably in the store against the version's usage limit)"
show "$V" dek list

step "8. Key policy check (an AWS KMS key policy missing its grant statement)"
cat >policy.json <<'POLICY'
{"Version": "2012-10-17", "Statement": [{"Sid": "use", "Effect": "Allow",
  "Principal": {"AWS": "arn:aws:iam::111122223333:role/app"},
  "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
  "Resource": "*"}]}
POLICY
show "$V" policy check policy.json || echo "   (exit $?)"

step "9. A quick speed table of every path on this CPU"
show "$V" bench --time 0.05

printf '\nDemo done; %s removed. Next: `make check`, `vellum --help`, README.md.\n' "$T"
