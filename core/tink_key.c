/* The serialized Tink key protos Confluent's clients wrap (csfle-spec.md
 * §3): AesGcmKey {uint32 version = 1; bytes key_value = 3;} and
 * AesSivKey {uint32 version = 1; bytes key_value = 2;}, proto3, version 0.
 *
 * The reader follows the protobuf wire format
 * (https://protobuf.dev/programming-guides/encoding/): a record is a
 * varint tag (field_number << 3 | wire_type) and a payload whose shape the
 * wire type fixes. Every read goes through a bounds-checked cursor
 * (STYLE.md §4.10). Choices, all on the strict side of what protobuf
 * parsers accept:
 *   - a varint is at most 10 bytes and must fit 64 bits (the 10th byte is
 *     0 or 1); a tag must fit 32 bits and name a field >= 1;
 *   - unknown fields of wire types 0 (varint), 1 (64-bit), 2 (length-
 *     delimited) and 5 (32-bit) are skipped; groups (3, 4) and the
 *     undefined types 6, 7 are refused;
 *   - a known field with the wrong wire type is refused (C++ protobuf would
 *     keep it as an unknown field; refusing is the safer reading);
 *   - a repeated field's last occurrence wins (protobuf's rule for
 *     singular fields); only a pointer to it is kept, so any number of
 *     repeats costs nothing but the linear scan;
 *   - version must be exactly 0 as a 64-bit value (proto3 uint32 would
 *     truncate 2^32 to 0; we refuse it);
 *   - key_value must be present and exactly the algorithm's key size;
 *   - the input is at most VL_KMS_MAX_BLOB bytes, the largest untrusted
 *     blob vellum accepts anywhere.
 * The key bytes are only ever copied: no branch depends on them. */
#include "tink_key.h"

#include "internal.h"

#include "vellum/error.h"
#include "vellum/kms.h"

#define FIELD_VERSION 1
#define FIELD_KEY_GCM 3
#define FIELD_KEY_SIV 2

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

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

static int get_bytes(struct cursor *c, size_t len, const uint8_t **p)
{
    if (len > c->n)
        return VL_ERR_FORMAT;
    *p = c->p;
    c->p += len;
    c->n -= len;
    return VL_OK;
}

/* Base-128 varint, least significant group first, at most 10 bytes. */
static int get_varint(struct cursor *c, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < 10; i++) {
        uint8_t b;
        if (get_u8(c, &b) != VL_OK)
            return VL_ERR_FORMAT;
        if (i == 9 && b > 1)
            return VL_ERR_FORMAT; /* more than 64 bits, or an 11th byte */
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            *v = x;
            return VL_OK;
        }
    }
    return VL_ERR_FORMAT; /* unreachable: the 10th byte has no 0x80 */
}

/* A length-delimited payload: varint length, checked against what is left
 * before any slicing. */
static int get_len_delimited(struct cursor *c, const uint8_t **p, size_t *len)
{
    uint64_t l;
    if (get_varint(c, &l) != VL_OK || l > c->n)
        return VL_ERR_FORMAT;
    *len = (size_t)l;
    return get_bytes(c, *len, p);
}

static int skip_field(struct cursor *c, unsigned wire_type)
{
    const uint8_t *p;
    size_t len;
    uint64_t v;
    switch (wire_type) {
    case WT_VARINT: return get_varint(c, &v);
    case WT_I64: return get_bytes(c, 8, &p);
    case WT_LEN: return get_len_delimited(c, &p, &len);
    case WT_I32: return get_bytes(c, 4, &p);
    default: return VL_ERR_FORMAT; /* groups (3, 4), undefined (6, 7) */
    }
}

static int get_tag(struct cursor *c, uint32_t *field, unsigned *wire_type)
{
    uint64_t tag;
    if (get_varint(c, &tag) != VL_OK || tag > UINT32_MAX || (tag >> 3) == 0)
        return VL_ERR_FORMAT;
    *field = (uint32_t)(tag >> 3);
    *wire_type = (unsigned)(tag & 7);
    return VL_OK;
}

/* The key_value field number and key size for |alg|; 0 for a bad alg. */
static uint32_t key_field(vl_alg alg, size_t *size)
{
    switch (alg) {
    case VL_AES128_GCM: *size = 16; return FIELD_KEY_GCM;
    case VL_AES256_GCM: *size = 32; return FIELD_KEY_GCM;
    case VL_AES256_SIV: *size = 64; return FIELD_KEY_SIV;
    }
    *size = 0;
    return 0;
}

int vl_tink_key_encode(vl_alg alg, const uint8_t *key, size_t key_len, uint8_t *out,
                       size_t out_cap, size_t *out_len)
{
    size_t size;
    uint32_t field = key_field(alg, &size);
    if (out_len != NULL)
        *out_len = 0;
    if (field == 0 || key == NULL || key_len != size || out == NULL || out_len == NULL ||
        out_cap < 2 + size) {
        if (out != NULL)
            vl_memzero(out, out_cap);
        return VL_ERR_ARG;
    }
    /* proto3 omits version = 0; key_value is tag, one-byte length, bytes. */
    out[0] = (uint8_t)(field << 3 | WT_LEN);
    out[1] = (uint8_t)size;
    memcpy(out + 2, key, size);
    *out_len = 2 + size;
    return VL_OK;
}

/* The message fields we keep: the last version and the last key_value. */
struct tink_fields {
    uint64_t version;
    const uint8_t *key;
    size_t key_len;
};

static int parse(struct cursor *c, uint32_t kfield, struct tink_fields *f)
{
    while (c->n > 0) {
        uint32_t field;
        unsigned wt;
        int rc = get_tag(c, &field, &wt);
        if (rc == VL_OK && field == FIELD_VERSION)
            rc = wt == WT_VARINT ? get_varint(c, &f->version) : VL_ERR_FORMAT;
        else if (rc == VL_OK && field == kfield)
            rc = wt == WT_LEN ? get_len_delimited(c, &f->key, &f->key_len) : VL_ERR_FORMAT;
        else if (rc == VL_OK)
            rc = skip_field(c, wt);
        if (rc != VL_OK)
            return rc;
    }
    return VL_OK;
}

static int decode_fail(uint8_t *key, size_t key_cap, size_t *key_len, int err)
{
    if (key != NULL)
        vl_memzero(key, key_cap);
    if (key_len != NULL)
        *key_len = 0;
    return err;
}

int vl_tink_key_decode(vl_alg alg, const uint8_t *in, size_t in_len, uint8_t *key,
                       size_t key_cap, size_t *key_len)
{
    size_t size;
    uint32_t kfield = key_field(alg, &size);
    struct tink_fields f = {0, NULL, 0};
    struct cursor c = {in, in_len};
    if (kfield == 0 || (in == NULL && in_len != 0) || key == NULL || key_len == NULL ||
        key_cap < size)
        return decode_fail(key, key_cap, key_len, VL_ERR_ARG);
    if (in_len > VL_KMS_MAX_BLOB || parse(&c, kfield, &f) != VL_OK || f.key == NULL ||
        f.key_len != size || f.version != 0)
        return decode_fail(key, key_cap, key_len, VL_ERR_FORMAT);
    memcpy(key, f.key, size);
    *key_len = size;
    return VL_OK;
}
