/* tink_key: the serialized Tink key protos a DEK record carries
 * (core/tink_key.c; csfle-spec.md §3), against an independent reference
 * decoder written here from the rules in core/tink_key.c's header:
 * varints of at most 10 bytes fitting 64 bits, tags fitting 32 bits with a
 * field number >= 1, unknown fields of wire types 0, 1, 2, 5 skipped, the
 * rest refused, known fields with the wrong wire type refused, the last
 * occurrence wins, version exactly 0, key_value present with the
 * algorithm's size, at most VL_KMS_MAX_BLOB bytes in all.
 *
 * Checked: the verdict and the key agree with the reference; a refusal
 * zeroes the key buffer; an accepted proto re-encodes to the canonical
 * form, which decodes to the same key; encode(key) decodes to key.
 *
 * Input: u8 alg | proto bytes (the rest). */
#include <string.h>

#include "fuzz.h"
#include "tink_key.h"

/* Reference varint: returns bytes used, 0 on error. */
static size_t ref_varint(const uint8_t *p, size_t n, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < n && i < 10; i++) {
        if (i == 9 && p[i] > 1)
            return 0;
        x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = x;
            return i + 1;
        }
    }
    return 0;
}

static int ref_decode(vl_alg alg, const uint8_t *p, size_t n, const uint8_t **key, size_t *key_len)
{
    uint32_t kfield = alg == VL_AES256_SIV ? 2 : 3;
    size_t want = fz_key_len(alg), i = 0;
    uint64_t version = 0;
    const uint8_t *k = NULL;
    size_t klen = 0;
    if (n > VL_KMS_MAX_BLOB)
        return 0;
    while (i < n) {
        uint64_t tag, v, l;
        size_t u = ref_varint(p + i, n - i, &tag);
        if (u == 0 || tag > 0xffffffffu || (tag >> 3) == 0)
            return 0;
        i += u;
        uint64_t field = tag >> 3, wt = tag & 7;
        if ((field == 1 && wt != 0) || (field == kfield && wt != 2))
            return 0;
        switch (wt) {
        case 0:
            u = ref_varint(p + i, n - i, &v);
            if (u == 0)
                return 0;
            i += u;
            if (field == 1)
                version = v;
            break;
        case 1:
        case 5:
            if (n - i < (wt == 1 ? 8u : 4u))
                return 0;
            i += wt == 1 ? 8 : 4;
            break;
        case 2:
            u = ref_varint(p + i, n - i, &l);
            if (u == 0 || l > n - i - u)
                return 0;
            i += u;
            if (field == kfield) {
                k = p + i;
                klen = (size_t)l;
            }
            i += (size_t)l;
            break;
        default:
            return 0;
        }
    }
    if (k == NULL || klen != want || version != 0)
        return 0;
    *key = k;
    *key_len = klen;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz f = {data, size};
    vl_alg alg = fz_alg(fz_u8(&f));
    size_t n, key_len = 777, want = fz_key_len(alg);
    uint8_t *in = fz_dup(fz_take(&f, f.n, &n), n);
    uint8_t *key = fz_alloc(want, 0xa5);
    int rc = vl_tink_key_decode(alg, in, n, key, want, &key_len);
    const uint8_t *rk = NULL;
    size_t rk_len = 0;
    int ok = ref_decode(alg, in, n, &rk, &rk_len);
    FZ_CHECK((rc == VL_OK) == ok, "decode %d, reference %d (alg %d, %zu bytes: %s)", rc, ok,
             (int)alg, n, fz_hex(in, n));
    if (rc == VL_OK) {
        FZ_CHECK(key_len == want && memcmp(key, rk, want) == 0, "decode: wrong key");
        uint8_t enc[VL_TINK_KEY_MAX];
        size_t enc_len = 0, again_len = 0;
        FZ_CHECK(vl_tink_key_encode(alg, key, want, enc, sizeof enc, &enc_len) == VL_OK,
                 "encode");
        FZ_CHECK(enc_len == want + 2, "canonical encoding of %zu bytes", enc_len);
        uint8_t *again = fz_alloc(want, 0);
        FZ_CHECK(vl_tink_key_decode(alg, enc, enc_len, again, want, &again_len) == VL_OK &&
                     memcmp(again, key, want) == 0,
                 "canonical form does not decode to the same key");
        free(again);
    } else {
        FZ_CHECK(rc == VL_ERR_FORMAT, "decode refused with %d, want VL_ERR_FORMAT", rc);
        FZ_CHECK(key_len == 0 && fz_is_zero(key, want), "refused, key not zeroed");
    }
    /* encode(first bytes) always decodes back. */
    if (n >= want) {
        uint8_t enc[VL_TINK_KEY_MAX], *back = fz_alloc(want, 0);
        size_t enc_len = 0, back_len = 0;
        FZ_CHECK(vl_tink_key_encode(alg, in, want, enc, sizeof enc, &enc_len) == VL_OK, "encode");
        FZ_CHECK(vl_tink_key_decode(alg, enc, enc_len, back, want, &back_len) == VL_OK &&
                     back_len == want && memcmp(back, in, want) == 0,
                 "encode/decode round trip");
        free(back);
    }
    free(in);
    free(key);
    return 0;
}
