/* kmip_ttlv: the KMIP TTLV codec and the reply reader (core/kmip_ttlv.c),
 * which read what a KMIP server sends to the KMIP provider.
 *
 * Properties, on any input (a copy of exactly its size, so ASan sees any
 * read past the end):
 *   - vl_ttlv_open accepts exactly what a reference validator written here
 *     from kmip_ttlv.h's rules accepts (ref_open);
 *   - vl_ttlv_msg_len of an accepted message gives its length;
 *   - walking an accepted tree: every getter succeeds on its own type and
 *     refuses the others, every value lies inside the input, find finds
 *     every child, and re-encoding item by item gives the input with its
 *     padding zeroed;
 *   - vl_kmip_decode_reply returns VL_OK or VL_ERR_FORMAT, takes nothing
 *     vl_ttlv_open refuses, points only inside the input, and what it read
 *     encodes as a canonical reply that reads back the same.
 *
 * Input: the bytes as a server would send them. Seeds
 * (fuzz/kmip_ttlv_corpus/): the Encrypt and Decrypt requests and PyKMIP's
 * three replies of shared/kms/kmip-ttlv-capture.txt. */
#include <string.h>

#include "fuzz.h"
#include "kmip_ttlv.h"

/* The current input's bounds, for inside(). */
static const uint8_t *in_lo, *in_hi;

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* ---- a reference validator, from kmip_ttlv.h alone -------------------------------- */

static int ref_len_ok(uint8_t type, uint32_t len)
{
    if (type == VL_TTLV_INT || type == VL_TTLV_ENUM || type == VL_TTLV_INTERVAL)
        return len == 4;
    if (type == VL_TTLV_LONG || type == VL_TTLV_BOOL || type == VL_TTLV_DATETIME ||
        type == VL_TTLV_DATETIME_EXT)
        return len == 8;
    if (type == VL_TTLV_BIGINT)
        return len > 0 && len % 8 == 0;
    if (type == VL_TTLV_STRUCT)
        return len % 8 == 0;
    return type == VL_TTLV_TEXT || type == VL_TTLV_BYTES;
}

/* 1 when |n| bytes are a run of valid items at |depth| (0: the top). */
static int ref_items(const uint8_t *p, size_t n, unsigned depth)
{
    while (n > 0) {
        if (n < 8)
            return 0;
        uint32_t len = be32(p + 4);
        uint64_t padded = ((uint64_t)len + 7) / 8 * 8;
        if ((p[0] != 0x42 && p[0] != 0x54) || !ref_len_ok(p[3], len) || padded > n - 8)
            return 0;
        if (p[3] == VL_TTLV_BOOL && (be32(p + 8) != 0 || be32(p + 12) > 1))
            return 0;
        if (p[3] == VL_TTLV_STRUCT &&
            (depth >= VL_TTLV_MAX_DEPTH || !ref_items(p + 8, len, depth + 1)))
            return 0;
        p += 8 + padded;
        n -= 8 + (size_t)padded;
    }
    return 1;
}

/* Exactly one valid item, with its padding. */
static int ref_open(const uint8_t *p, size_t n)
{
    if (n < 8)
        return 0;
    uint64_t padded = ((uint64_t)be32(p + 4) + 7) / 8 * 8;
    return padded == n - 8 && ref_items(p, n, 0);
}

/* ---- trees ------------------------------------------------------------------------- */

static void inside(const uint8_t *p, size_t n, const char *what)
{
    FZ_CHECK(p >= in_lo && p <= in_hi && n <= (size_t)(in_hi - p), "%s outside the input", what);
}

static void walk(const vl_ttlv_item *it, vl_ttlv_enc *e)
{
    inside(it->val, it->len, "item value");
    int32_t i32;
    uint32_t u32;
    int64_t i64;
    int b;
    const uint8_t *s;
    size_t n;
    /* Every getter: the right one succeeds, the others refuse. */
    FZ_CHECK((vl_ttlv_get_int(it, &i32) == VL_OK) == (it->type == VL_TTLV_INT), "get_int");
    FZ_CHECK((vl_ttlv_get_enum(it, &u32) == VL_OK) == (it->type == VL_TTLV_ENUM), "get_enum");
    FZ_CHECK((vl_ttlv_get_u32(it, &u32) == VL_OK) ==
                 (it->type == VL_TTLV_ENUM || it->type == VL_TTLV_INTERVAL),
             "get_u32");
    int lok = vl_ttlv_get_long(it, &i64) == VL_OK;
    FZ_CHECK(!lok || it->type == VL_TTLV_LONG || it->type == VL_TTLV_DATETIME ||
                 it->type == VL_TTLV_DATETIME_EXT,
             "get_long on type %u", it->type);
    FZ_CHECK((vl_ttlv_get_bool(it, &b) == VL_OK) == (it->type == VL_TTLV_BOOL), "get_bool");
    for (uint8_t t = VL_TTLV_TEXT; t <= VL_TTLV_BYTES; t++)
        if (vl_ttlv_get_str(it, t, &s, &n) == VL_OK) {
            FZ_CHECK(it->type == t, "get_str(%u) on type %u", t, it->type);
            inside(s, n, "string");
        }
    if (it->type != VL_TTLV_STRUCT) {
        vl_ttlv_put_raw(e, it->tag, it->type, it->val, it->len);
        return;
    }
    vl_ttlv_cur c;
    vl_ttlv_item child, found;
    FZ_CHECK(vl_ttlv_enter(it, &c) == VL_OK, "enter an accepted structure");
    vl_ttlv_begin(e, it->tag);
    int rc;
    while ((rc = vl_ttlv_next(&c, &child)) == VL_OK) {
        FZ_CHECK(child.depth == it->depth + 1, "child depth");
        FZ_CHECK(vl_ttlv_find(it, child.tag, &found) == VL_OK && found.tag == child.tag &&
                     found.val <= child.val,
                 "find misses a child");
        walk(&child, e);
    }
    FZ_CHECK(rc == VL_ERR_NOT_FOUND, "next in an accepted tree: %d", rc);
    vl_ttlv_end(e);
}

/* The input with every padding byte zeroed (what the encoder writes). */
static void zero_padding(uint8_t *p, size_t n)
{
    while (n >= 8) {
        uint32_t len = be32(p + 4);
        size_t padded = ((size_t)len + 7) / 8 * 8;
        if (p[3] == VL_TTLV_STRUCT)
            zero_padding(p + 8, len);
        else
            memset(p + 8 + len, 0, padded - len);
        p += 8 + padded;
        n -= 8 + padded;
    }
}

/* ---- replies ------------------------------------------------------------------------ */

static void check_reply(const uint8_t *msg, size_t len, int open_ok, const vl_ttlv_item *top)
{
    vl_kmip_reply r, r2;
    int rc = vl_kmip_decode_reply(msg, len, &r);
    if (rc != VL_OK) {
        FZ_CHECK(rc == VL_ERR_FORMAT, "decode_reply: %d", rc);
        return;
    }
    FZ_CHECK(open_ok && top->tag == VL_KMIP_TAG_RESPONSE_MESSAGE && top->type == VL_TTLV_STRUCT,
             "decode_reply took what vl_ttlv_open refuses");
    if (r.uid != NULL)
        inside(r.uid, r.uid_len, "uid");
    if (r.data != NULL)
        inside(r.data, r.data_len, "data");
    if (r.iv != NULL)
        inside(r.iv, r.iv_len, "iv");
    if (r.tag != NULL)
        inside(r.tag, r.tag_len, "tag");
    /* Encode what was read as a canonical response; it must read back. */
    static uint8_t buf[65536 + 1024];
    vl_ttlv_enc e;
    size_t out_len = 0;
    vl_ttlv_enc_init(&e, buf, sizeof buf);
    vl_ttlv_begin(&e, VL_KMIP_TAG_RESPONSE_MESSAGE);
    vl_ttlv_begin(&e, VL_KMIP_TAG_RESPONSE_HEADER);
    vl_ttlv_put_int(&e, VL_KMIP_TAG_BATCH_COUNT, 1);
    vl_ttlv_end(&e);
    vl_ttlv_begin(&e, VL_KMIP_TAG_BATCH_ITEM);
    if (r.op != 0)
        vl_ttlv_put_enum(&e, VL_KMIP_TAG_OPERATION, r.op);
    vl_ttlv_put_enum(&e, VL_KMIP_TAG_RESULT_STATUS, r.status);
    if (r.has_reason)
        vl_ttlv_put_enum(&e, VL_KMIP_TAG_RESULT_REASON, r.reason);
    vl_ttlv_begin(&e, VL_KMIP_TAG_RESPONSE_PAYLOAD);
    if (r.uid != NULL)
        vl_ttlv_put_text(&e, VL_KMIP_TAG_UNIQUE_ID, (const char *)r.uid, r.uid_len);
    if (r.data != NULL)
        vl_ttlv_put_bytes(&e, VL_KMIP_TAG_DATA, r.data, r.data_len);
    if (r.iv != NULL)
        vl_ttlv_put_bytes(&e, VL_KMIP_TAG_IV, r.iv, r.iv_len);
    if (r.tag != NULL)
        vl_ttlv_put_bytes(&e, VL_KMIP_TAG_AUTH_TAG, r.tag, r.tag_len);
    if (r.has_state) {
        vl_ttlv_begin(&e, VL_KMIP_TAG_ATTRIBUTE);
        vl_ttlv_put_text(&e, VL_KMIP_TAG_ATTRIBUTE_NAME, "State", 5);
        vl_ttlv_put_enum(&e, VL_KMIP_TAG_ATTRIBUTE_VALUE, r.state);
        vl_ttlv_end(&e);
    }
    vl_ttlv_end(&e);
    vl_ttlv_end(&e);
    vl_ttlv_end(&e);
    FZ_CHECK(vl_ttlv_enc_done(&e, &out_len) == VL_OK, "encode the reply");
    FZ_CHECK(vl_kmip_decode_reply(buf, out_len, &r2) == VL_OK, "re-encoded reply refused");
    FZ_CHECK(r.op == r2.op && r.status == r2.status && r.has_reason == r2.has_reason &&
                 r.reason == r2.reason && r.has_state == r2.has_state && r.state == r2.state,
             "reply fields change on a round trip");
#define SAME_STR(f)                                                                            \
    FZ_CHECK((r.f == NULL) == (r2.f == NULL) && r.f##_len == r2.f##_len &&                   \
                 (r.f == NULL || memcmp(r.f, r2.f, r.f##_len) == 0),                          \
             #f " changes on a round trip")
    SAME_STR(uid);
    SAME_STR(data);
    SAME_STR(iv);
    SAME_STR(tag);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *msg = fz_dup(data, size);
    in_lo = msg;
    in_hi = msg + size;
    vl_ttlv_item top;
    int rc = vl_ttlv_open(msg, size, &top);
    int ref = ref_open(msg, size);
    FZ_CHECK((rc == VL_OK) == ref, "vl_ttlv_open %d, reference %d (%zu bytes: %s)", rc, ref, size,
             fz_hex(msg, size));
    if (size >= VL_TTLV_HDR) {
        size_t total = 0;
        int mrc = vl_ttlv_msg_len(msg, size, &total);
        if (rc == VL_OK && top.type == VL_TTLV_STRUCT)
            FZ_CHECK(mrc == VL_OK && total == size, "msg_len %d, %zu of %zu", mrc, total, size);
        if (mrc == VL_OK)
            FZ_CHECK(total <= size && total >= VL_TTLV_HDR, "msg_len out of range");
    }
    if (rc == VL_OK) {
        uint8_t *enc = fz_alloc(size, 0), *want = fz_dup(msg, size);
        vl_ttlv_enc e;
        size_t len = 0;
        vl_ttlv_enc_init(&e, enc, size);
        walk(&top, &e);
        FZ_CHECK(vl_ttlv_enc_done(&e, &len) == VL_OK && len == size, "re-encode: %zu of %zu", len,
                 size);
        zero_padding(want, size);
        FZ_CHECK(memcmp(enc, want, size) == 0, "re-encoding differs from the input");
        free(enc);
        free(want);
    }
    check_reply(msg, size, rc == VL_OK, &top);
    free(msg);
    return 0;
}
