/* Confluent CSFLE field bytes (csfle-spec.md §4.1-4.3):
 *
 *   field = [0x00 || int32_be(version)]  when versioning is on (§4.3)
 *           || IV(12) || C || TAG(16)     AES-GCM (§4.1), >= 28 bytes
 *           || V(16) || C                 AES-256-SIV (§4.2), >= 16 bytes
 *
 * The reader does not sniff: the caller says whether the prefix is there,
 * as Confluent's reader decides from encrypt.dek.expiry.days (§4.3). The
 * version is a signed int32 (writeInt32BE) and DEK versions start at 1
 * (§7.1), so 0 and negative versions are refused. Every read goes through
 * a bounds-checked cursor (STYLE.md §4.10). */
#include "wire.h"

#include "internal.h"

#include "vellum/error.h"

#define MAGIC_BYTE_V0 0x00 /* serde/serde.js */
#define GCM_MIN_BODY (VL_GCM_NONCE_BYTES + VL_AEAD_TAG_BYTES)
#define SIV_MIN_BODY VL_AEAD_TAG_BYTES

struct cursor {
    const uint8_t *p;
    size_t n; /* bytes left */
};

static int get_u8(struct cursor *c, uint8_t *v)
{
    if (c->n < 1)
        return VL_ERR_FORMAT;
    *v = *c->p++;
    c->n--;
    return VL_OK;
}

static int get_be32(struct cursor *c, uint32_t *v)
{
    if (c->n < 4)
        return VL_ERR_FORMAT;
    *v = vl_load_be32(c->p);
    c->p += 4;
    c->n -= 4;
    return VL_OK;
}

void vl_wire_put_version(uint8_t out[5], int32_t version)
{
    out[0] = MAGIC_BYTE_V0;
    vl_store_be32(out + 1, (uint32_t)version); /* two's complement, as writeInt32BE */
}

/* The shortest valid AEAD body for |alg|; 0 for a bad alg. */
static size_t min_body(vl_alg alg)
{
    switch (alg) {
    case VL_AES128_GCM:
    case VL_AES256_GCM: return GCM_MIN_BODY;
    case VL_AES256_SIV: return SIV_MIN_BODY;
    }
    return 0;
}

/* Reads the 5-byte prefix; only versions 1..INT32_MAX are accepted, so
 * the uint32 -> int32 conversion below is always in range. */
static int get_version(struct cursor *c, int32_t *version)
{
    uint8_t magic;
    uint32_t v;
    if (get_u8(c, &magic) != VL_OK || magic != MAGIC_BYTE_V0 || get_be32(c, &v) != VL_OK ||
        v == 0 || v > INT32_MAX)
        return VL_ERR_FORMAT;
    *version = (int32_t)v;
    return VL_OK;
}

int vl_wire_field_split(vl_alg alg, int versioned, const uint8_t *in, size_t in_len,
                        int32_t *version, const uint8_t **body, size_t *body_len)
{
    struct cursor c = {in, in_len};
    size_t min = min_body(alg);
    int32_t v = 1; /* §4.3: without the prefix, the reader assumes version 1 */
    int rc = VL_OK;
    if (version == NULL || body == NULL || body_len == NULL)
        return VL_ERR_ARG;
    *version = 0;
    *body = NULL;
    *body_len = 0;
    if (min == 0 || (in == NULL && in_len != 0))
        return VL_ERR_ARG;
    if (versioned)
        rc = get_version(&c, &v);
    if (rc != VL_OK || c.n < min)
        return VL_ERR_FORMAT;
    *version = v;
    *body = c.p;
    *body_len = c.n;
    return VL_OK;
}
