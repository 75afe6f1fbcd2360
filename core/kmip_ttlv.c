/* KMIP TTLV encoding and the KMIP 1.4 messages of the KMIP provider; see
 * kmip_ttlv.h for the rules.
 *
 * Decisions:
 *   - The decoder validates the whole tree once (vl_ttlv_open) and every
 *     accessor checks bounds and type again, so a caller that skips
 *     validation still never reads outside the input.
 *   - Lengths are checked as "len <= left", then "pad <= left - len", never
 *     as a sum that could wrap.
 *   - Padding is written as zeros and not checked when read.
 *   - Validation recurses once per structure level, at most
 *     VL_TTLV_MAX_DEPTH deep: bounded stack. */
#include <string.h>

#include "internal.h"
#include "kmip_ttlv.h"

#include "vellum/error.h"

#define GCM_TAG_BYTES 16

static size_t pad8(size_t n)
{
    return (8 - (n & 7)) & 7;
}

static uint32_t load_be24(const uint8_t *p)
{
    return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}

static int tag_ok(uint32_t tag)
{
    return (tag >> 16) == 0x42 || (tag >> 16) == 0x54;
}

/* ---- encoder -------------------------------------------------------------- */

void vl_ttlv_enc_init(vl_ttlv_enc *e, uint8_t *buf, size_t cap)
{
    memset(e, 0, sizeof *e);
    e->buf = buf;
    e->cap = buf == NULL ? 0 : cap;
}

/* Writes a header and reserves the padded value; NULL (and the sticky
 * error) when it does not fit. The padding is zeroed here. */
static uint8_t *put_hdr(vl_ttlv_enc *e, uint32_t tag, uint8_t type, size_t len)
{
    if (e->err != VL_OK)
        return NULL;
    if (tag > 0xffffff || len > UINT32_MAX || e->cap - e->len < VL_TTLV_HDR ||
        len > e->cap - e->len - VL_TTLV_HDR ||
        pad8(len) > e->cap - e->len - VL_TTLV_HDR - len) {
        e->err = VL_ERR_ARG;
        return NULL;
    }
    uint8_t *p = e->buf + e->len;
    p[0] = (uint8_t)(tag >> 16);
    p[1] = (uint8_t)(tag >> 8);
    p[2] = (uint8_t)tag;
    p[3] = type;
    vl_store_be32(p + 4, (uint32_t)len);
    memset(p + VL_TTLV_HDR + len, 0, pad8(len));
    e->len += VL_TTLV_HDR + len + pad8(len);
    return p + VL_TTLV_HDR;
}

void vl_ttlv_begin(vl_ttlv_enc *e, uint32_t tag)
{
    if (e->err == VL_OK && e->depth == VL_TTLV_MAX_DEPTH)
        e->err = VL_ERR_ARG;
    size_t at = e->len;
    if (put_hdr(e, tag, VL_TTLV_STRUCT, 0) != NULL)
        e->open[e->depth++] = at;
}

void vl_ttlv_end(vl_ttlv_enc *e)
{
    if (e->err != VL_OK)
        return;
    if (e->depth == 0) {
        e->err = VL_ERR_ARG;
        return;
    }
    size_t at = e->open[--e->depth];
    size_t len = e->len - at - VL_TTLV_HDR;
    if (len > UINT32_MAX) {
        e->err = VL_ERR_ARG;
        return;
    }
    vl_store_be32(e->buf + at + 4, (uint32_t)len);
}

static void put_u32(vl_ttlv_enc *e, uint32_t tag, uint8_t type, uint32_t v)
{
    uint8_t *p = put_hdr(e, tag, type, 4);
    if (p != NULL)
        vl_store_be32(p, v);
}

static void put_u64(vl_ttlv_enc *e, uint32_t tag, uint8_t type, uint64_t v)
{
    uint8_t *p = put_hdr(e, tag, type, 8);
    if (p != NULL)
        vl_store_be64(p, v);
}

void vl_ttlv_put_int(vl_ttlv_enc *e, uint32_t tag, int32_t v)
{
    put_u32(e, tag, VL_TTLV_INT, (uint32_t)v);
}

void vl_ttlv_put_enum(vl_ttlv_enc *e, uint32_t tag, uint32_t v)
{
    put_u32(e, tag, VL_TTLV_ENUM, v);
}

void vl_ttlv_put_interval(vl_ttlv_enc *e, uint32_t tag, uint32_t v)
{
    put_u32(e, tag, VL_TTLV_INTERVAL, v);
}

void vl_ttlv_put_long(vl_ttlv_enc *e, uint32_t tag, int64_t v)
{
    put_u64(e, tag, VL_TTLV_LONG, (uint64_t)v);
}

void vl_ttlv_put_datetime(vl_ttlv_enc *e, uint32_t tag, int64_t v)
{
    put_u64(e, tag, VL_TTLV_DATETIME, (uint64_t)v);
}

void vl_ttlv_put_bool(vl_ttlv_enc *e, uint32_t tag, int v)
{
    put_u64(e, tag, VL_TTLV_BOOL, v != 0);
}

void vl_ttlv_put_raw(vl_ttlv_enc *e, uint32_t tag, uint8_t type, const uint8_t *p, size_t n)
{
    if (p == NULL && n != 0) {
        e->err = VL_ERR_ARG;
        return;
    }
    uint8_t *v = put_hdr(e, tag, type, n);
    if (v != NULL && n != 0)
        memcpy(v, p, n);
}

void vl_ttlv_put_text(vl_ttlv_enc *e, uint32_t tag, const char *s, size_t n)
{
    vl_ttlv_put_raw(e, tag, VL_TTLV_TEXT, (const uint8_t *)s, n);
}

void vl_ttlv_put_bytes(vl_ttlv_enc *e, uint32_t tag, const uint8_t *p, size_t n)
{
    vl_ttlv_put_raw(e, tag, VL_TTLV_BYTES, p, n);
}

void vl_ttlv_put_bigint(vl_ttlv_enc *e, uint32_t tag, const uint8_t *p, size_t n)
{
    if (n == 0 || n % 8 != 0)
        e->err = VL_ERR_ARG;
    vl_ttlv_put_raw(e, tag, VL_TTLV_BIGINT, p, n);
}

int vl_ttlv_enc_done(const vl_ttlv_enc *e, size_t *len)
{
    if (len != NULL)
        *len = 0;
    if (e->err != VL_OK || e->depth != 0 || e->buf == NULL || len == NULL)
        return VL_ERR_ARG;
    *len = e->len;
    return VL_OK;
}

/* ---- decoder -------------------------------------------------------------- */

/* 1 when |len| is a valid value length for |type|. */
static int len_ok(uint8_t type, uint32_t len)
{
    switch (type) {
    case VL_TTLV_STRUCT: return len % 8 == 0;
    case VL_TTLV_INT:
    case VL_TTLV_ENUM:
    case VL_TTLV_INTERVAL: return len == 4;
    case VL_TTLV_LONG:
    case VL_TTLV_BOOL:
    case VL_TTLV_DATETIME:
    case VL_TTLV_DATETIME_EXT: return len == 8;
    case VL_TTLV_BIGINT: return len != 0 && len % 8 == 0;
    case VL_TTLV_TEXT:
    case VL_TTLV_BYTES: return 1;
    default: return 0;
    }
}

/* Decodes the item at |p| (|left| bytes available) and its padded size. */
static int read_item(const uint8_t *p, size_t left, vl_ttlv_item *it, size_t *used)
{
    if (left < VL_TTLV_HDR)
        return VL_ERR_FORMAT;
    it->tag = load_be24(p);
    it->type = p[3];
    it->len = vl_load_be32(p + 4);
    size_t body = left - VL_TTLV_HDR;
    if (!tag_ok(it->tag) || !len_ok(it->type, it->len) || it->len > body ||
        pad8(it->len) > body - it->len)
        return VL_ERR_FORMAT;
    it->val = p + VL_TTLV_HDR;
    *used = VL_TTLV_HDR + it->len + pad8(it->len);
    return VL_OK;
}

int vl_ttlv_msg_len(const uint8_t hdr[VL_TTLV_HDR], size_t max, size_t *total)
{
    *total = 0;
    uint32_t len = vl_load_be32(hdr + 4);
    if (!tag_ok(load_be24(hdr)) || hdr[3] != VL_TTLV_STRUCT || len % 8 != 0 ||
        max < VL_TTLV_HDR || len > max - VL_TTLV_HDR)
        return VL_ERR_FORMAT;
    *total = VL_TTLV_HDR + (size_t)len;
    return VL_OK;
}

int vl_ttlv_enter(const vl_ttlv_item *st, vl_ttlv_cur *c)
{
    c->p = NULL;
    c->left = 0;
    c->depth = 0;
    if (st->type != VL_TTLV_STRUCT || st->depth >= VL_TTLV_MAX_DEPTH)
        return VL_ERR_FORMAT;
    c->p = st->val;
    c->left = st->len;
    c->depth = st->depth + 1;
    return VL_OK;
}

int vl_ttlv_next(vl_ttlv_cur *c, vl_ttlv_item *it)
{
    size_t used;
    if (c->left == 0)
        return VL_ERR_NOT_FOUND;
    int rc = read_item(c->p, c->left, it, &used);
    if (rc != VL_OK)
        return rc;
    it->depth = c->depth;
    c->p += used;
    c->left -= used;
    return VL_OK;
}

int vl_ttlv_find(const vl_ttlv_item *st, uint32_t tag, vl_ttlv_item *it)
{
    vl_ttlv_cur c;
    int rc = vl_ttlv_enter(st, &c);
    while (rc == VL_OK) {
        rc = vl_ttlv_next(&c, it);
        if (rc == VL_OK && it->tag == tag)
            return VL_OK;
    }
    return rc;
}

/* The item and everything under it. */
static int validate(const vl_ttlv_item *it)
{
    if (it->type == VL_TTLV_BOOL)
        return vl_load_be64(it->val) <= 1 ? VL_OK : VL_ERR_FORMAT;
    if (it->type != VL_TTLV_STRUCT)
        return VL_OK;
    vl_ttlv_cur c;
    vl_ttlv_item child;
    int rc = vl_ttlv_enter(it, &c);
    while (rc == VL_OK) {
        rc = vl_ttlv_next(&c, &child);
        if (rc == VL_OK)
            rc = validate(&child);
    }
    return rc == VL_ERR_NOT_FOUND ? VL_OK : rc;
}

int vl_ttlv_open(const uint8_t *buf, size_t len, vl_ttlv_item *top)
{
    size_t used = 0;
    memset(top, 0, sizeof *top);
    if (buf == NULL)
        return VL_ERR_FORMAT;
    int rc = read_item(buf, len, top, &used);
    if (rc == VL_OK && used != len)
        rc = VL_ERR_FORMAT;
    if (rc == VL_OK) {
        top->depth = 0;
        rc = validate(top);
    }
    if (rc != VL_OK)
        memset(top, 0, sizeof *top);
    return rc;
}

int vl_ttlv_get_int(const vl_ttlv_item *it, int32_t *v)
{
    if (it->type != VL_TTLV_INT || it->len != 4)
        return VL_ERR_FORMAT;
    *v = (int32_t)vl_load_be32(it->val);
    return VL_OK;
}

int vl_ttlv_get_enum(const vl_ttlv_item *it, uint32_t *v)
{
    if (it->type != VL_TTLV_ENUM || it->len != 4)
        return VL_ERR_FORMAT;
    *v = vl_load_be32(it->val);
    return VL_OK;
}

int vl_ttlv_get_u32(const vl_ttlv_item *it, uint32_t *v)
{
    if ((it->type != VL_TTLV_ENUM && it->type != VL_TTLV_INTERVAL) || it->len != 4)
        return VL_ERR_FORMAT;
    *v = vl_load_be32(it->val);
    return VL_OK;
}

int vl_ttlv_get_long(const vl_ttlv_item *it, int64_t *v)
{
    if ((it->type != VL_TTLV_LONG && it->type != VL_TTLV_DATETIME &&
         it->type != VL_TTLV_DATETIME_EXT) ||
        it->len != 8)
        return VL_ERR_FORMAT;
    *v = (int64_t)vl_load_be64(it->val);
    return VL_OK;
}

int vl_ttlv_get_bool(const vl_ttlv_item *it, int *v)
{
    if (it->type != VL_TTLV_BOOL || it->len != 8 || vl_load_be64(it->val) > 1)
        return VL_ERR_FORMAT;
    *v = (int)vl_load_be64(it->val);
    return VL_OK;
}

int vl_ttlv_get_str(const vl_ttlv_item *it, uint8_t type, const uint8_t **p, size_t *n)
{
    if ((type != VL_TTLV_TEXT && type != VL_TTLV_BYTES) || it->type != type)
        return VL_ERR_FORMAT;
    *p = it->val;
    *n = it->len;
    return VL_OK;
}

/* ---- KMIP 1.4 requests ----------------------------------------------------- */

/* Request Message, Request Header (protocol 1.4, batch count 1), one Batch
 * Item with |op|, and an open Request Payload. */
static void request_open(vl_ttlv_enc *e, uint32_t op)
{
    vl_ttlv_begin(e, VL_KMIP_TAG_REQUEST_MESSAGE);
    vl_ttlv_begin(e, VL_KMIP_TAG_REQUEST_HEADER);
    vl_ttlv_begin(e, VL_KMIP_TAG_PROTOCOL_VERSION);
    vl_ttlv_put_int(e, VL_KMIP_TAG_PROTOCOL_MAJOR, 1);
    vl_ttlv_put_int(e, VL_KMIP_TAG_PROTOCOL_MINOR, 4);
    vl_ttlv_end(e);
    vl_ttlv_put_int(e, VL_KMIP_TAG_BATCH_COUNT, 1);
    vl_ttlv_end(e);
    vl_ttlv_begin(e, VL_KMIP_TAG_BATCH_ITEM);
    vl_ttlv_put_enum(e, VL_KMIP_TAG_OPERATION, op);
    vl_ttlv_begin(e, VL_KMIP_TAG_REQUEST_PAYLOAD);
}

static int request_close(vl_ttlv_enc *e, size_t *len)
{
    vl_ttlv_end(e); /* payload */
    vl_ttlv_end(e); /* batch item */
    vl_ttlv_end(e); /* message */
    return vl_ttlv_enc_done(e, len);
}

static void put_opt_bytes(vl_ttlv_enc *e, uint32_t tag, const uint8_t *p, size_t n)
{
    if (p != NULL)
        vl_ttlv_put_bytes(e, tag, p, n);
}

int vl_kmip_encode_crypt(uint8_t *buf, size_t cap, size_t *len, const vl_kmip_crypt *c)
{
    vl_ttlv_enc e;
    if (len != NULL)
        *len = 0;
    if (c == NULL || c->uid == NULL || c->uid_len == 0 || c->data == NULL ||
        (c->op == VL_KMIP_OP_ENCRYPT) != (c->tag == NULL) ||
        (c->op != VL_KMIP_OP_ENCRYPT && c->op != VL_KMIP_OP_DECRYPT))
        return VL_ERR_ARG;
    vl_ttlv_enc_init(&e, buf, cap);
    request_open(&e, c->op);
    vl_ttlv_put_text(&e, VL_KMIP_TAG_UNIQUE_ID, c->uid, c->uid_len);
    vl_ttlv_begin(&e, VL_KMIP_TAG_CRYPTO_PARAMETERS);
    vl_ttlv_put_enum(&e, VL_KMIP_TAG_BLOCK_CIPHER_MODE, VL_KMIP_MODE_GCM);
    vl_ttlv_put_enum(&e, VL_KMIP_TAG_CRYPTO_ALGORITHM, VL_KMIP_ALG_AES);
    vl_ttlv_put_int(&e, VL_KMIP_TAG_TAG_LENGTH, GCM_TAG_BYTES);
    vl_ttlv_end(&e);
    vl_ttlv_put_bytes(&e, VL_KMIP_TAG_DATA, c->data, c->data_len);
    put_opt_bytes(&e, VL_KMIP_TAG_IV, c->iv, c->iv_len);
    put_opt_bytes(&e, VL_KMIP_TAG_AAD, c->aad, c->aad_len);
    put_opt_bytes(&e, VL_KMIP_TAG_AUTH_TAG, c->tag, c->tag_len);
    return request_close(&e, len);
}

int vl_kmip_encode_get_state(uint8_t *buf, size_t cap, size_t *len, const char *uid,
                             size_t uid_len)
{
    vl_ttlv_enc e;
    if (len != NULL)
        *len = 0;
    if (uid == NULL || uid_len == 0)
        return VL_ERR_ARG;
    vl_ttlv_enc_init(&e, buf, cap);
    request_open(&e, VL_KMIP_OP_GET_ATTRIBUTES);
    vl_ttlv_put_text(&e, VL_KMIP_TAG_UNIQUE_ID, uid, uid_len);
    vl_ttlv_put_text(&e, VL_KMIP_TAG_ATTRIBUTE_NAME, "State", 5);
    return request_close(&e, len);
}

/* ---- KMIP 1.4 responses ---------------------------------------------------- */

/* An optional enumeration child: absent leaves *has 0. */
static int opt_enum(const vl_ttlv_item *st, uint32_t tag, uint32_t *v, int *has)
{
    vl_ttlv_item it;
    int rc = vl_ttlv_find(st, tag, &it);
    if (rc == VL_ERR_NOT_FOUND)
        return VL_OK;
    if (rc == VL_OK)
        rc = vl_ttlv_get_enum(&it, v);
    if (rc == VL_OK && has != NULL)
        *has = 1;
    return rc;
}

static int opt_str(const vl_ttlv_item *st, uint32_t tag, uint8_t type, const uint8_t **p,
                   size_t *n)
{
    vl_ttlv_item it;
    int rc = vl_ttlv_find(st, tag, &it);
    if (rc == VL_ERR_NOT_FOUND)
        return VL_OK;
    return rc == VL_OK ? vl_ttlv_get_str(&it, type, p, n) : rc;
}

/* An Attribute structure: the value of "State", if that is its name. */
static int read_attribute(const vl_ttlv_item *attr, vl_kmip_reply *r)
{
    const uint8_t *name = NULL;
    size_t name_len = 0;
    vl_ttlv_item v;
    int rc = opt_str(attr, VL_KMIP_TAG_ATTRIBUTE_NAME, VL_TTLV_TEXT, &name, &name_len);
    if (rc != VL_OK || name == NULL || name_len != 5 || memcmp(name, "State", 5) != 0 ||
        r->has_state)
        return rc;
    rc = vl_ttlv_find(attr, VL_KMIP_TAG_ATTRIBUTE_VALUE, &v);
    if (rc == VL_OK)
        rc = vl_ttlv_get_enum(&v, &r->state);
    if (rc == VL_OK)
        r->has_state = 1;
    return rc == VL_ERR_NOT_FOUND ? VL_ERR_FORMAT : rc;
}

static int read_payload(const vl_ttlv_item *pl, vl_kmip_reply *r)
{
    vl_ttlv_cur c;
    vl_ttlv_item it;
    int rc = opt_str(pl, VL_KMIP_TAG_UNIQUE_ID, VL_TTLV_TEXT, &r->uid, &r->uid_len);
    if (rc == VL_OK)
        rc = opt_str(pl, VL_KMIP_TAG_DATA, VL_TTLV_BYTES, &r->data, &r->data_len);
    if (rc == VL_OK)
        rc = opt_str(pl, VL_KMIP_TAG_IV, VL_TTLV_BYTES, &r->iv, &r->iv_len);
    if (rc == VL_OK)
        rc = opt_str(pl, VL_KMIP_TAG_AUTH_TAG, VL_TTLV_BYTES, &r->tag, &r->tag_len);
    if (rc == VL_OK)
        rc = vl_ttlv_enter(pl, &c);
    while (rc == VL_OK) {
        rc = vl_ttlv_next(&c, &it);
        if (rc == VL_OK && it.tag == VL_KMIP_TAG_ATTRIBUTE)
            rc = it.type == VL_TTLV_STRUCT ? read_attribute(&it, r) : VL_ERR_FORMAT;
    }
    return rc == VL_ERR_NOT_FOUND ? VL_OK : rc;
}

static int read_batch_item(const vl_ttlv_item *bi, vl_kmip_reply *r)
{
    vl_ttlv_item st, pl;
    int rc = opt_enum(bi, VL_KMIP_TAG_OPERATION, &r->op, NULL);
    if (rc == VL_OK)
        rc = vl_ttlv_find(bi, VL_KMIP_TAG_RESULT_STATUS, &st);
    if (rc == VL_OK)
        rc = vl_ttlv_get_enum(&st, &r->status);
    if (rc == VL_OK)
        rc = opt_enum(bi, VL_KMIP_TAG_RESULT_REASON, &r->reason, &r->has_reason);
    if (rc != VL_OK)
        return VL_ERR_FORMAT; /* a Result Status is required */
    rc = vl_ttlv_find(bi, VL_KMIP_TAG_RESPONSE_PAYLOAD, &pl);
    if (rc == VL_ERR_NOT_FOUND)
        return VL_OK; /* failures carry none */
    if (rc == VL_OK)
        rc = pl.type == VL_TTLV_STRUCT ? read_payload(&pl, r) : VL_ERR_FORMAT;
    return rc;
}

/* Response Header with Batch Count 1, and exactly one Batch Item. */
static int find_batch_item(const vl_ttlv_item *top, vl_ttlv_item *bi)
{
    vl_ttlv_item hdr, cnt, it;
    vl_ttlv_cur c;
    int32_t n = 0;
    size_t items = 0;
    int rc = vl_ttlv_find(top, VL_KMIP_TAG_RESPONSE_HEADER, &hdr);
    if (rc == VL_OK)
        rc = vl_ttlv_find(&hdr, VL_KMIP_TAG_BATCH_COUNT, &cnt);
    if (rc == VL_OK)
        rc = vl_ttlv_get_int(&cnt, &n);
    if (rc == VL_OK)
        rc = vl_ttlv_enter(top, &c);
    while (rc == VL_OK) {
        rc = vl_ttlv_next(&c, &it);
        if (rc == VL_OK && it.tag == VL_KMIP_TAG_BATCH_ITEM && items++ == 0)
            *bi = it;
    }
    if (rc != VL_ERR_NOT_FOUND || n != 1 || items != 1 || bi->type != VL_TTLV_STRUCT)
        return VL_ERR_FORMAT;
    return VL_OK;
}

int vl_kmip_decode_reply(const uint8_t *msg, size_t len, vl_kmip_reply *r)
{
    vl_ttlv_item top, bi;
    memset(r, 0, sizeof *r);
    int rc = vl_ttlv_open(msg, len, &top);
    if (rc == VL_OK && (top.tag != VL_KMIP_TAG_RESPONSE_MESSAGE || top.type != VL_TTLV_STRUCT))
        rc = VL_ERR_FORMAT;
    if (rc == VL_OK)
        rc = find_batch_item(&top, &bi);
    if (rc == VL_OK)
        rc = read_batch_item(&bi, r);
    if (rc != VL_OK) {
        memset(r, 0, sizeof *r);
        return VL_ERR_FORMAT;
    }
    return VL_OK;
}
