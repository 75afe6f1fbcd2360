/* wrapped_key: wrapped DEK blobs, IV(12) || AES-128-GCM(KEK, key proto) ||
 * TAG(16) as the local KMS writes them (core/kms.c front end,
 * core/kms_local.c; csfle-spec.md §2), checked against OpenSSL opening the
 * same blob under the same KEK (HKDF of "mysecret": Confluent's fixture).
 *
 *   direct: vl_kms_unwrap with an output capacity the fuzzer picks. It
 *     accepts exactly the blobs OpenSSL opens (when the output fits) and
 *     gives the same bytes; everything else is refused with the output
 *     zeroed.
 *   keyring: the blob becomes a DEK record in the store (version and
 *     algorithm from the input, soft-deleted or not), the cache is
 *     revoked, and a field sealed under the key the blob should hold is
 *     decrypted through vl_field_decrypt: store read, record checks,
 *     unwrap, Tink proto parse, key setup. It must succeed exactly when
 *     OpenSSL opens the blob and the proto holds a key of the algorithm's
 *     size (vl_tink_key_decode, itself fuzzed against a reference in
 *     tink_key.c), with the right plaintext.
 * With mode bit 0 the fuzzer's bytes are the key proto and the target
 * wraps them first (vl_kms_wrap), so real blobs reach the deeper checks.
 *
 * Input: u8 mode | u8 alg | u8 version | bytes (the rest)
 *   mode bit 0: wrap first; bit 1: keyring, else direct; bits 2-3 the
 *   direct capacity (VL_KMS_MAX_KEY, exact, exact - 1, 0); bit 4: the
 *   record is soft-deleted. */
#include <string.h>

#include "fuzz.h"
#include "ossl.h"
#include "tink_key.h"

#define SUBJECT "wk-subject"

static struct fz_keyring fx;
/* HKDF-SHA256("mysecret"), csfle-spec.md §2. */
static const uint8_t KEK[16] = {0x1a, 0xe4, 0xd9, 0x7a, 0xc1, 0xe8, 0x15, 0x94,
                                0xbf, 0xd1, 0x99, 0x3c, 0x1a, 0x75, 0xee, 0x36};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_keyring_setup(&fx, 1);
    return 0;
}

/* What OpenSSL makes of |blob|: 1 and the proto in |out| when it opens. */
static int oracle(const uint8_t *blob, size_t len, uint8_t *out, size_t *out_len)
{
    *out_len = 0;
    if (len < 28 || len - 28 > VL_KMS_MAX_KEY)
        return 0;
    if (!fz_ossl_gcm_open(KEK, 16, blob, 12, NULL, 0, blob + 12, len - 12, out))
        return 0;
    *out_len = len - 28;
    return 1;
}

static void direct(const uint8_t *blob, size_t len, unsigned mode, int ok, const uint8_t *pt,
                   size_t pt_len)
{
    /* What the blob would unwrap to if it were genuine. */
    size_t body = len >= 28 ? len - 28 : 0;
    size_t caps[4] = {VL_KMS_MAX_KEY, body, body ? body - 1 : 0, 0};
    size_t cap = caps[(mode >> 2) & 3];
    uint8_t *out = fz_alloc(cap, 0xa5);
    size_t out_len = 777;
    int rc = vl_kms_unwrap(fx.kms, "mykey", blob, len, out, cap, &out_len);
    if (ok && cap >= pt_len) {
        FZ_CHECK(rc == VL_OK, "unwrap refused a blob OpenSSL opens: %d (%zu bytes)", rc, len);
        FZ_CHECK(out_len == pt_len && memcmp(out, pt, pt_len) == 0, "unwrap: wrong key bytes");
    } else {
        FZ_CHECK(rc != VL_OK, "unwrap accepted a blob OpenSSL refuses (%zu bytes, cap %zu)", len,
                 cap);
        FZ_CHECK(rc == VL_ERR_AUTH || rc == VL_ERR_FORMAT || rc == VL_ERR_ARG,
                 "unwrap: unexpected code %d", rc);
        FZ_CHECK(out_len == 0 && fz_is_zero(out, cap), "unwrap refused, output not zeroed");
        if (ok)
            FZ_CHECK(rc == VL_ERR_ARG, "output too small: %d, want VL_ERR_ARG", rc);
    }
    free(out);
}

static void through_keyring(const uint8_t *blob, size_t len, vl_alg alg, int32_t version,
                            int deleted, int ok, const uint8_t *proto, size_t proto_len)
{
    vl_dek_record rec;
    memset(&rec, 0, sizeof rec);
    strcpy(rec.kek_name, FZ_KEK);
    strcpy(rec.subject, SUBJECT);
    rec.alg = alg;
    rec.version = version;
    memcpy(rec.wrapped, blob, len);
    rec.wrapped_len = len;
    rec.ts_ms = INT64_C(1700000000000);
    rec.deleted = deleted;
    int rc = fx.store->ops->put_dek(fx.store, &rec, 0);
    /* wrapped_len 0 is a store-valid record (erased material). */
    FZ_CHECK(rc == VL_OK, "put_dek: %d", rc);
    vl_dek_id all = {FZ_KEK, SUBJECT, alg, -1};
    FZ_CHECK(vl_dek_revoke(fx.kr, &all) == VL_OK, "revoke");

    /* The key the record should hold, if any. */
    uint8_t key[64];
    size_t key_len = 0, want = fz_key_len(alg);
    int valid = ok && vl_tink_key_decode(alg, proto, proto_len, key, sizeof key, &key_len) ==
                          VL_OK;
    if (!valid)
        memset(key, 0x42, want); /* any key: the field must not open */
    /* A field under that key: [0x00 || be32(version)] || body, empty AD. */
    static const uint8_t pt[] = "field plaintext";
    size_t pt_len = sizeof pt - 1, body_len = 0;
    uint8_t field[5 + 12 + sizeof pt + 16];
    size_t body_off = alg == VL_AES256_SIV ? 0 : 12;
    vl_aead_key k;
    FZ_CHECK(vl_aead_init(&k, alg, key, want) == VL_OK, "init");
    field[0] = 0;
    field[1] = (uint8_t)(version >> 24);
    field[2] = (uint8_t)(version >> 16);
    field[3] = (uint8_t)(version >> 8);
    field[4] = (uint8_t)version;
    memset(field + 5, 0x24, 12); /* the GCM IV */
    rc = vl_aead_seal(&k, field + 5 + body_off, &body_len, sizeof field - 5 - body_off,
                      alg == VL_AES256_SIV ? NULL : field + 5, alg == VL_AES256_SIV ? 0 : 12, pt,
                      pt_len, NULL, 0);
    FZ_CHECK(rc == VL_OK, "seal: %d", rc);
    vl_aead_wipe(&k);
    size_t field_len = 5 + body_off + body_len, out_len = 777;
    uint8_t *in = fz_dup(field, field_len), *out = fz_alloc(field_len, 0xa5);
    rc = vl_field_decrypt(fx.kr, FZ_KEK, SUBJECT, alg, in, field_len, out, field_len, &out_len);
    if (valid) {
        FZ_CHECK(rc == VL_OK, "keyring refused a valid record: %d (%s)", rc, vl_strerror(rc));
        FZ_CHECK(out_len == pt_len && memcmp(out, pt, pt_len) == 0, "keyring: wrong plaintext");
    } else {
        FZ_CHECK(rc != VL_OK, "keyring accepted a record with a bad blob or proto");
        FZ_CHECK(out_len == 0 && fz_is_zero(out, field_len), "refused, output not zeroed");
        FZ_CHECK(rc != VL_ERR_KMS_UNAVAILABLE, "a bad blob made the KMS look unavailable");
    }
    free(in);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz f = {data, size};
    unsigned mode = fz_u8(&f);
    vl_alg alg = fz_alg(fz_u8(&f));
    int32_t version = fz_u8(&f) % 8 + 1;
    size_t n;
    const uint8_t *bytes = fz_take(&f, f.n, &n);
    uint8_t wrapped[VL_KMS_MAX_BLOB];
    const uint8_t *blob = bytes;
    size_t len = n;
    vl_random_fuzz_reset(0xb10b);
    if ((mode & 1) && n >= 1 && n <= VL_KMS_MAX_KEY) {
        int rc = vl_kms_wrap(fx.kms, "mykey", bytes, n, wrapped, sizeof wrapped, &len);
        FZ_CHECK(rc == VL_OK && len == n + 28, "wrap: %d, %zu bytes", rc, len);
        blob = wrapped;
    }
    if (len > VL_KMS_MAX_BLOB)
        len = VL_KMS_MAX_BLOB + ((mode & 2) ? 0 : 1); /* the direct path sees one too many */
    uint8_t *b = fz_dup(blob, len);
    uint8_t proto[VL_KMS_MAX_KEY];
    size_t proto_len = 0;
    int ok = oracle(b, len, proto, &proto_len);
    if (mode & 2)
        through_keyring(b, len, alg, version, (mode >> 4) & 1, ok, proto, proto_len);
    else
        direct(b, len, mode, ok, proto, proto_len);
    free(b);
    return 0;
}
