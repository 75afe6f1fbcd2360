/* KMIP TTLV (core/kmip_ttlv.c), without a server:
 *
 *   ttlv.capture_*     the Encrypt and Decrypt requests encoded byte for
 *                      byte as PyKMIP received them, and its three replies
 *                      decoded (shared/kms/kmip-ttlv-capture.txt)
 *   ttlv.types         every type encoded, decoded and read back
 *   ttlv.encoder_*     every buffer size too small, unbalanced structures,
 *                      the depth limit: VL_ERR_ARG, nothing written past
 *                      the buffer
 *   ttlv.truncated     every prefix of every captured reply, placed right
 *                      before a guard page: VL_ERR_FORMAT, no read past it
 *   ttlv.malformed     lengths that overflow or overrun, bad types, tags,
 *                      booleans, padding, nesting, trailing bytes
 *   ttlv.mutated       every bit of every reply flipped, and random bytes:
 *                      OK or VL_ERR_FORMAT, never a read outside the input
 *   ttlv.reply_rules   batch count, batch items, Result Status, field
 *                      types, the State attribute */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "common.h"
#include "internal.h"
#include "kmip_ttlv.h"

#include "vellum/error.h"

/* ---- the capture --------------------------------------------------------- */

#define DEK_HEX "3d9a20171ab9c72a4790e0e634c0f8e93e344dbb7f8c4190a6a804825c4859a7"
#define IV1_HEX "d5f89ae0c439184386e90e10"
#define IV2_HEX "21ad0b3ce4f587d6cfad035b"
#define CT_HEX "850794b83e18775dcd71b7c60ae364cbfa27a89856f5dcd04880cb3f0b3965a3"
#define TAG_HEX "ad508e74d624f5a405df12f3f261531a"

/* Encrypt, UID "4", GCM, AAD "dek-v1" */
static const char *const REQ_ENCRYPT =
    "42007801000000f84200770100000038420069010000002042006a02000000040000000100000000"
    "42006b0200000004000000040000000042000d0200000004000000010000000042000f01000000b0"
    "42005c05000000040000001f0000000042007901000000984200940700000001340000000000000042"
    "002b010000003042001105000000040000000900000000420028050000000400000003000000004200"
    "ce020000000400000010000000004200c20800000020" DEK_HEX
    "42003d080000000c" IV1_HEX "000000004200fe080000000664656b2d76310000";

static const char *const RSP_ENCRYPT =
    "42007b01000000d042007a0100000048420069010000002042006a02000000040000000100000000"
    "42006b020000000400000004000000004200920900000008000000006b02e70f42000d02000000040000"
    "00010000000042000f010000007842005c05000000040000001f0000000042007f05000000040000000000"
    "00000042007c0100000050420094070000000134000000000000004200c20800000020" CT_HEX
    "4200ff0800000010" TAG_HEX;

/* Encrypt under a revoked key: Permission Denied */
static const char *const RSP_DENIED =
    "42007b01000000e042007a0100000048420069010000002042006a02000000040000000100000000"
    "42006b020000000400000004000000004200920900000008000000006b02e71242000d02000000040000"
    "00010000000042000f010000008842005c05000000040000001f0000000042007f05000000040000000100"
    "00000042007e05000000040000000c0000000042007d070000004954686520656e6372797074696f6e206b"
    "6579206d75737420626520696e207468652041637469766520737461746520746f20626520757365642066"
    "6f7220656e6372797074696f6e2e00000000000000";

static const char *const REQ_DECRYPT =
    "42007801000001104200770100000038420069010000002042006a02000000040000000100000000"
    "42006b0200000004000000040000000042000d0200000004000000010000000042000f01000000c8"
    "42005c0500000004000000200000000042007901000000b04200940700000001340000000000000042"
    "002b010000003042001105000000040000000900000000420028050000000400000003000000004200"
    "ce020000000400000010000000004200c20800000020" CT_HEX "42003d080000000c" IV1_HEX
    "000000004200fe080000000664656b2d763100004200ff0800000010" TAG_HEX;

/* Decrypt under a destroyed key: Item Not Found */
static const char *const RSP_NOT_FOUND =
    "42007b01000000b042007a0100000048420069010000002042006a02000000040000000100000000"
    "42006b020000000400000004000000004200920900000008000000006b02e71242000d02000000040000"
    "00010000000042000f010000005842005c0500000004000000200000000042007f05000000040000000100"
    "00000042007e0500000004000000010000000042007d070000001a436f756c64206e6f74206c6f636174"
    "65206f626a6563743a2034000000000000";

static const char *const *const REPLIES[] = {&RSP_ENCRYPT, &RSP_DENIED, &RSP_NOT_FOUND};

static void same_hex(const uint8_t *got, size_t len, const char *want_hex)
{
    size_t want_len;
    uint8_t *want = vt_unhex(want_hex, &want_len);
    char *g = vt_hex(got, len);
    cr_assert_eq(len, want_len, "length %zu, want %zu\n got %s", len, want_len, g);
    cr_assert(memcmp(got, want, len) == 0, "\n got %s\nwant %s", g, want_hex);
    free(g);
    free(want);
}

static void same_bytes(const uint8_t *p, size_t n, const char *want_hex)
{
    cr_assert_not_null(p);
    same_hex(p, n, want_hex);
}

Test(ttlv, capture_requests)
{
    size_t n, dek_len, iv_len, ct_len, tag_len;
    uint8_t buf[512];
    uint8_t *dek = vt_unhex(DEK_HEX, &dek_len), *iv = vt_unhex(IV1_HEX, &iv_len);
    uint8_t *ct = vt_unhex(CT_HEX, &ct_len), *tag = vt_unhex(TAG_HEX, &tag_len);
    vl_kmip_crypt c = {.op = VL_KMIP_OP_ENCRYPT, .uid = "4", .uid_len = 1, .data = dek,
                       .data_len = dek_len, .iv = iv, .iv_len = iv_len,
                       .aad = (const uint8_t *)"dek-v1", .aad_len = 6};
    cr_assert_eq(vl_kmip_encode_crypt(buf, sizeof buf, &n, &c), VL_OK);
    same_hex(buf, n, REQ_ENCRYPT);
    c.op = VL_KMIP_OP_DECRYPT;
    c.data = ct;
    c.data_len = ct_len;
    c.tag = tag;
    c.tag_len = tag_len;
    cr_assert_eq(vl_kmip_encode_crypt(buf, sizeof buf, &n, &c), VL_OK);
    same_hex(buf, n, REQ_DECRYPT);
    /* A tag on Encrypt, none on Decrypt, another operation, no UID. */
    c.tag = NULL;
    cr_assert_eq(vl_kmip_encode_crypt(buf, sizeof buf, &n, &c), VL_ERR_ARG);
    cr_assert_eq(n, 0);
    c.op = VL_KMIP_OP_ENCRYPT;
    c.tag = tag;
    cr_assert_eq(vl_kmip_encode_crypt(buf, sizeof buf, &n, &c), VL_ERR_ARG);
    c.tag = NULL;
    c.op = VL_KMIP_OP_GET_ATTRIBUTES;
    cr_assert_eq(vl_kmip_encode_crypt(buf, sizeof buf, &n, &c), VL_ERR_ARG);
    c.op = VL_KMIP_OP_ENCRYPT;
    c.uid_len = 0;
    cr_assert_eq(vl_kmip_encode_crypt(buf, sizeof buf, &n, &c), VL_ERR_ARG);
    free(dek);
    free(iv);
    free(ct);
    free(tag);
}

Test(ttlv, capture_replies)
{
    vl_kmip_reply r;
    size_t len;
    uint8_t *m = vt_unhex(RSP_ENCRYPT, &len);
    cr_assert_eq(vl_kmip_decode_reply(m, len, &r), VL_OK);
    cr_assert_eq(r.op, VL_KMIP_OP_ENCRYPT);
    cr_assert_eq(r.status, VL_KMIP_STATUS_SUCCESS);
    cr_assert_eq(r.has_reason, 0);
    cr_assert(r.uid_len == 1 && r.uid[0] == '4');
    same_bytes(r.data, r.data_len, CT_HEX);
    same_bytes(r.tag, r.tag_len, TAG_HEX);
    cr_assert_null(r.iv);
    cr_assert_eq(r.has_state, 0);
    free(m);

    m = vt_unhex(RSP_DENIED, &len);
    cr_assert_eq(vl_kmip_decode_reply(m, len, &r), VL_OK);
    cr_assert_eq(r.op, VL_KMIP_OP_ENCRYPT);
    cr_assert_eq(r.status, VL_KMIP_STATUS_FAILED);
    cr_assert(r.has_reason && r.reason == VL_KMIP_REASON_PERMISSION_DENIED);
    cr_assert(r.data == NULL && r.uid == NULL && r.tag == NULL);
    free(m);

    m = vt_unhex(RSP_NOT_FOUND, &len);
    cr_assert_eq(vl_kmip_decode_reply(m, len, &r), VL_OK);
    cr_assert_eq(r.op, VL_KMIP_OP_DECRYPT);
    cr_assert(r.has_reason && r.reason == VL_KMIP_REASON_ITEM_NOT_FOUND);
    free(m);
}

Test(ttlv, capture_msg_len)
{
    size_t len, total;
    uint8_t *m = vt_unhex(RSP_DENIED, &len);
    cr_assert_eq(vl_ttlv_msg_len(m, 16384, &total), VL_OK);
    cr_assert_eq(total, len);
    cr_assert_eq(vl_ttlv_msg_len(m, len, &total), VL_OK);
    cr_assert_eq(vl_ttlv_msg_len(m, len - 8, &total), VL_ERR_FORMAT);
    cr_assert_eq(total, 0);
    cr_assert_eq(vl_ttlv_msg_len(m, 7, &total), VL_ERR_FORMAT);
    m[3] = VL_TTLV_BYTES; /* a message is a structure */
    cr_assert_eq(vl_ttlv_msg_len(m, 16384, &total), VL_ERR_FORMAT);
    m[3] = VL_TTLV_STRUCT;
    m[7] ^= 4; /* not a multiple of 8 */
    cr_assert_eq(vl_ttlv_msg_len(m, 16384, &total), VL_ERR_FORMAT);
    m[7] ^= 4;
    m[0] = 0x43; /* not a KMIP tag */
    cr_assert_eq(vl_ttlv_msg_len(m, 16384, &total), VL_ERR_FORMAT);
    memcpy(m, "\x42\x00\x7b\x01\xff\xff\xff\xf8", 8); /* 4 GiB */
    cr_assert_eq(vl_ttlv_msg_len(m, 16384, &total), VL_ERR_FORMAT);
    cr_assert_eq(vl_ttlv_msg_len(m, SIZE_MAX, &total), VL_OK);
    cr_assert_eq(total, (size_t)0xfffffff8 + 8);
    free(m);
}

/* ---- every type ---------------------------------------------------------- */

Test(ttlv, types)
{
    uint8_t buf[512], big[16];
    size_t len;
    vl_ttlv_enc e;
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(0x80 + i);
    vl_ttlv_enc_init(&e, buf, sizeof buf);
    vl_ttlv_begin(&e, 0x420001);
    vl_ttlv_put_int(&e, 0x420002, -5);
    vl_ttlv_put_long(&e, 0x420003, INT64_MIN + 7);
    vl_ttlv_put_bigint(&e, 0x420004, big, sizeof big);
    vl_ttlv_put_enum(&e, 0x420005, 0xdeadbeef);
    vl_ttlv_put_bool(&e, 0x420006, 7); /* any non-zero is true */
    vl_ttlv_put_text(&e, 0x420007, "hello", 5);
    vl_ttlv_put_bytes(&e, 0x420008, (const uint8_t *)"\x00\x01\x02", 3);
    vl_ttlv_put_datetime(&e, 0x420009, 1795352335);
    vl_ttlv_put_interval(&e, 0x42000a, 86400);
    vl_ttlv_begin(&e, 0x54000b); /* an extension tag, an empty structure */
    vl_ttlv_end(&e);
    vl_ttlv_put_bytes(&e, 0x42000c, NULL, 0);
    vl_ttlv_end(&e);
    cr_assert_eq(vl_ttlv_enc_done(&e, &len), VL_OK);
    /* 11 children: 8 + 16 + 16 + 24 + 16 + 16 + 16 + 16 + 16 + 16 + 8 + 8 */
    cr_assert_eq(len, 8 + 16 + 16 + 24 + 16 + 16 + 16 + 16 + 16 + 16 + 8 + 8);
    /* Padding is zeros: "hello" then 3 zero bytes. */
    cr_assert(memcmp(buf + 8 + 16 + 16 + 24 + 16 + 16 + 8, "hello\0\0\0", 8) == 0);

    vl_ttlv_item top, it;
    vl_ttlv_cur c;
    int32_t i32;
    int64_t i64;
    uint32_t u32;
    int b;
    const uint8_t *p;
    size_t n;
    cr_assert_eq(vl_ttlv_open(buf, len, &top), VL_OK);
    cr_assert(top.tag == 0x420001 && top.type == VL_TTLV_STRUCT && top.depth == 0);
    cr_assert_eq(vl_ttlv_enter(&top, &c), VL_OK);
    cr_assert_eq(vl_ttlv_next(&c, &it), VL_OK);
    cr_assert(vl_ttlv_get_int(&it, &i32) == VL_OK && i32 == -5 && it.depth == 1);
    cr_assert_eq(vl_ttlv_get_enum(&it, &u32), VL_ERR_FORMAT); /* wrong type */
    cr_assert_eq(vl_ttlv_next(&c, &it), VL_OK);
    cr_assert(vl_ttlv_get_long(&it, &i64) == VL_OK && i64 == INT64_MIN + 7);
    cr_assert_eq(vl_ttlv_next(&c, &it), VL_OK);
    cr_assert(it.type == VL_TTLV_BIGINT && it.len == 16 && memcmp(it.val, big, 16) == 0);
    cr_assert_eq(vl_ttlv_next(&c, &it), VL_OK);
    cr_assert(vl_ttlv_get_enum(&it, &u32) == VL_OK && u32 == 0xdeadbeef);
    cr_assert_eq(vl_ttlv_next(&c, &it), VL_OK);
    cr_assert(vl_ttlv_get_bool(&it, &b) == VL_OK && b == 1);
    cr_assert_eq(vl_ttlv_next(&c, &it), VL_OK);
    cr_assert(vl_ttlv_get_str(&it, VL_TTLV_TEXT, &p, &n) == VL_OK && n == 5 &&
              memcmp(p, "hello", 5) == 0);
    cr_assert_eq(vl_ttlv_get_str(&it, VL_TTLV_BYTES, &p, &n), VL_ERR_FORMAT);
    cr_assert_eq(vl_ttlv_next(&c, &it), VL_OK);
    cr_assert(vl_ttlv_get_str(&it, VL_TTLV_BYTES, &p, &n) == VL_OK && n == 3 && p[2] == 2);
    cr_assert_eq(vl_ttlv_next(&c, &it), VL_OK);
    cr_assert(vl_ttlv_get_long(&it, &i64) == VL_OK && i64 == 1795352335);
    cr_assert_eq(vl_ttlv_next(&c, &it), VL_OK);
    cr_assert(vl_ttlv_get_u32(&it, &u32) == VL_OK && u32 == 86400);
    cr_assert_eq(vl_ttlv_get_enum(&it, &u32), VL_ERR_FORMAT);
    cr_assert_eq(vl_ttlv_next(&c, &it), VL_OK);
    cr_assert(it.tag == 0x54000b && it.type == VL_TTLV_STRUCT && it.len == 0);
    vl_ttlv_cur inner;
    vl_ttlv_item none;
    cr_assert_eq(vl_ttlv_enter(&it, &inner), VL_OK);
    cr_assert_eq(vl_ttlv_next(&inner, &none), VL_ERR_NOT_FOUND);
    cr_assert_eq(vl_ttlv_next(&c, &it), VL_OK);
    cr_assert(it.type == VL_TTLV_BYTES && it.len == 0);
    cr_assert_eq(vl_ttlv_next(&c, &it), VL_ERR_NOT_FOUND);
    cr_assert_eq(vl_ttlv_find(&top, 0x420007, &it), VL_OK);
    cr_assert_eq(it.type, VL_TTLV_TEXT);
    cr_assert_eq(vl_ttlv_find(&top, 0x420099, &it), VL_ERR_NOT_FOUND);
    cr_assert_eq(vl_ttlv_enter(&it, &c), VL_ERR_FORMAT); /* not a structure */
}

/* ---- the encoder's limits --------------------------------------------------- */

static size_t encode_sample(uint8_t *buf, size_t cap, int *rc)
{
    vl_ttlv_enc e;
    size_t len = 0;
    vl_ttlv_enc_init(&e, buf, cap);
    vl_ttlv_begin(&e, 0x420078);
    vl_ttlv_put_text(&e, 0x420094, "key-17", 6);
    vl_ttlv_begin(&e, 0x42002b);
    vl_ttlv_put_enum(&e, 0x420011, 9);
    vl_ttlv_end(&e);
    vl_ttlv_put_bytes(&e, 0x4200c2, (const uint8_t *)"0123456789abcdefXYZ", 19);
    vl_ttlv_put_long(&e, 0x420003, 42);
    vl_ttlv_end(&e);
    *rc = vl_ttlv_enc_done(&e, &len);
    return len;
}

/* Every capacity below the needed one fails, and writes nothing past the
 * buffer, which ends at a guard page. */
Test(ttlv, encoder_capacity)
{
    uint8_t full[256];
    int rc;
    size_t need = encode_sample(full, sizeof full, &rc);
    cr_assert_eq(rc, VL_OK);
    uint8_t *guard = vt_guard_alloc();
    for (size_t cap = 0; cap <= need; cap++) {
        size_t len = encode_sample(guard - cap, cap, &rc);
        if (cap < need) {
            cr_assert_eq(rc, VL_ERR_ARG, "cap %zu", cap);
            cr_assert_eq(len, 0);
        } else {
            cr_assert_eq(rc, VL_OK);
            cr_assert(len == need && memcmp(guard - cap, full, need) == 0);
        }
    }
    vt_guard_free(guard);
    size_t len = 1;
    cr_assert_eq(encode_sample(NULL, 100, &rc), 0);
    cr_assert_eq(rc, VL_ERR_ARG);
    vl_ttlv_enc e;
    vl_ttlv_enc_init(&e, full, sizeof full);
    cr_assert_eq(vl_ttlv_enc_done(&e, NULL), VL_ERR_ARG);
    cr_assert_eq(vl_ttlv_enc_done(&e, &len), VL_OK); /* nothing is valid */
    cr_assert_eq(len, 0);
}

Test(ttlv, encoder_misuse)
{
    uint8_t buf[1024];
    size_t len;
    vl_ttlv_enc e;
    vl_ttlv_enc_init(&e, buf, sizeof buf);
    vl_ttlv_end(&e); /* no begin */
    cr_assert_eq(vl_ttlv_enc_done(&e, &len), VL_ERR_ARG);
    vl_ttlv_enc_init(&e, buf, sizeof buf);
    vl_ttlv_begin(&e, 0x420001); /* never closed */
    cr_assert_eq(vl_ttlv_enc_done(&e, &len), VL_ERR_ARG);
    vl_ttlv_enc_init(&e, buf, sizeof buf);
    vl_ttlv_put_int(&e, 0x1000000, 1); /* tag over 24 bits */
    cr_assert_eq(vl_ttlv_enc_done(&e, &len), VL_ERR_ARG);
    vl_ttlv_enc_init(&e, buf, sizeof buf);
    vl_ttlv_put_bigint(&e, 0x420004, buf, 12); /* not a multiple of 8 */
    cr_assert_eq(vl_ttlv_enc_done(&e, &len), VL_ERR_ARG);
    vl_ttlv_enc_init(&e, buf, sizeof buf);
    vl_ttlv_put_bytes(&e, 0x420008, NULL, 3);
    cr_assert_eq(vl_ttlv_enc_done(&e, &len), VL_ERR_ARG);
    /* VL_TTLV_MAX_DEPTH nested structures encode and decode; one more
     * does neither. */
    vl_ttlv_enc_init(&e, buf, sizeof buf);
    for (int d = 0; d < VL_TTLV_MAX_DEPTH; d++)
        vl_ttlv_begin(&e, 0x420001);
    for (int d = 0; d < VL_TTLV_MAX_DEPTH; d++)
        vl_ttlv_end(&e);
    cr_assert_eq(vl_ttlv_enc_done(&e, &len), VL_OK);
    cr_assert_eq(len, 8 * VL_TTLV_MAX_DEPTH);
    vl_ttlv_item top;
    cr_assert_eq(vl_ttlv_open(buf, len, &top), VL_OK);
    vl_ttlv_begin(&e, 0x420001);
    cr_assert_eq(vl_ttlv_enc_done(&e, &len), VL_ERR_ARG);
    vl_ttlv_enc_init(&e, buf, sizeof buf);
    for (int d = 0; d <= VL_TTLV_MAX_DEPTH; d++)
        vl_ttlv_begin(&e, 0x420001);
    cr_assert_eq(vl_ttlv_enc_done(&e, &len), VL_ERR_ARG);
    /* The same by hand: 17 nested headers. */
    size_t n = 8 * (VL_TTLV_MAX_DEPTH + 1);
    for (size_t d = 0; d <= VL_TTLV_MAX_DEPTH; d++) {
        memcpy(buf + 8 * d, "\x42\x00\x01\x01", 4);
        vl_store_be32(buf + 8 * d + 4, (uint32_t)(n - 8 * (d + 1)));
    }
    cr_assert_eq(vl_ttlv_open(buf, n, &top), VL_ERR_FORMAT);
    cr_assert_eq(vl_ttlv_open(buf + 8, n - 8, &top), VL_OK);
}

/* ---- untrusted input ---------------------------------------------------------- */

/* |len| bytes of |hex|'s message copied to end exactly at a guard page. */
static uint8_t *at_guard(uint8_t *guard, const uint8_t *msg, size_t len)
{
    memcpy(guard - len, msg, len);
    return guard - len;
}

Test(ttlv, truncated)
{
    uint8_t *guard = vt_guard_alloc();
    for (size_t k = 0; k < sizeof REPLIES / sizeof REPLIES[0]; k++) {
        size_t len;
        uint8_t *m = vt_unhex(*REPLIES[k], &len);
        for (size_t cut = 0; cut < len; cut++) {
            vl_kmip_reply r;
            vl_ttlv_item top;
            uint8_t *p = at_guard(guard, m, cut);
            cr_assert_eq(vl_ttlv_open(p, cut, &top), VL_ERR_FORMAT, "reply %zu cut %zu", k, cut);
            cr_assert_eq(vl_kmip_decode_reply(p, cut, &r), VL_ERR_FORMAT);
            cr_assert(r.data == NULL && r.status == 0, "reply not cleared");
        }
        cr_assert_eq(vl_kmip_decode_reply(at_guard(guard, m, len), len, &(vl_kmip_reply){0}),
                     VL_OK);
        free(m);
    }
    vl_ttlv_item top;
    cr_assert_eq(vl_ttlv_open(NULL, 0, &top), VL_ERR_FORMAT);
    vt_guard_free(guard);
}

/* One hand-made item: a structure (tag 0x420001) around one child. */
static size_t one_child(uint8_t *buf, uint32_t tag, uint8_t type, uint32_t len,
                        const uint8_t *val, size_t val_len)
{
    memcpy(buf, "\x42\x00\x01\x01", 4);
    vl_store_be32(buf + 4, (uint32_t)(8 + val_len));
    buf[8] = (uint8_t)(tag >> 16);
    buf[9] = (uint8_t)(tag >> 8);
    buf[10] = (uint8_t)tag;
    buf[11] = type;
    vl_store_be32(buf + 12, len);
    memcpy(buf + 16, val, val_len);
    return 16 + val_len;
}

static int open_child(uint32_t tag, uint8_t type, uint32_t len, const uint8_t *val,
                      size_t val_len)
{
    uint8_t buf[128];
    vl_ttlv_item top;
    return vl_ttlv_open(buf, one_child(buf, tag, type, len, val, val_len), &top);
}

Test(ttlv, malformed)
{
    static const uint8_t z[16], one[8] = {0, 0, 0, 0, 0, 0, 0, 1}, two[8] = {0, 0, 0, 0, 0, 0, 0, 2};
    /* Sane items first, so the failures below fail for their own reason. */
    cr_assert_eq(open_child(0x420002, VL_TTLV_INT, 4, z, 8), VL_OK);
    cr_assert_eq(open_child(0x420006, VL_TTLV_BOOL, 8, one, 8), VL_OK);
    cr_assert_eq(open_child(0x420007, VL_TTLV_TEXT, 3, z, 8), VL_OK);
    cr_assert_eq(open_child(0x420007, VL_TTLV_TEXT, 8, z, 8), VL_OK);
    /* Fixed sizes. */
    cr_assert_eq(open_child(0x420002, VL_TTLV_INT, 8, z, 8), VL_ERR_FORMAT);
    cr_assert_eq(open_child(0x420005, VL_TTLV_ENUM, 3, z, 8), VL_ERR_FORMAT);
    cr_assert_eq(open_child(0x420003, VL_TTLV_LONG, 4, z, 8), VL_ERR_FORMAT);
    cr_assert_eq(open_child(0x420009, VL_TTLV_DATETIME, 16, z, 16), VL_ERR_FORMAT);
    cr_assert_eq(open_child(0x420004, VL_TTLV_BIGINT, 0, z, 0), VL_ERR_FORMAT);
    cr_assert_eq(open_child(0x420004, VL_TTLV_BIGINT, 12, z, 16), VL_ERR_FORMAT);
    cr_assert_eq(open_child(0x420001, VL_TTLV_STRUCT, 4, z, 8), VL_ERR_FORMAT);
    /* A boolean is 0 or 1. */
    cr_assert_eq(open_child(0x420006, VL_TTLV_BOOL, 8, two, 8), VL_ERR_FORMAT);
    /* Unknown types, foreign tags. */
    cr_assert_eq(open_child(0x420001, 0x00, 0, z, 0), VL_ERR_FORMAT);
    cr_assert_eq(open_child(0x420001, 0x0c, 8, z, 8), VL_ERR_FORMAT);
    cr_assert_eq(open_child(0x430001, VL_TTLV_INT, 4, z, 8), VL_ERR_FORMAT);
    cr_assert_eq(open_child(0x000000, VL_TTLV_INT, 4, z, 8), VL_ERR_FORMAT);
    /* Lengths past the parent, however large, and padding missing. */
    static const uint32_t lens[] = {9, 16, 0x7fffffff, 0xfffffff8, 0xfffffff9, 0xffffffff};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        cr_assert_eq(open_child(0x420008, VL_TTLV_BYTES, lens[i], z, 8), VL_ERR_FORMAT);
        cr_assert_eq(open_child(0x420001, VL_TTLV_STRUCT, lens[i] & ~7u, z, 8), VL_ERR_FORMAT);
    }
    cr_assert_eq(open_child(0x420008, VL_TTLV_BYTES, 3, z, 3), VL_ERR_FORMAT);
    /* A child shorter than its parent says, and trailing bytes. */
    uint8_t buf[64];
    vl_ttlv_item top;
    size_t n = one_child(buf, 0x420002, VL_TTLV_INT, 4, z, 8);
    vl_store_be32(buf + 4, 24);
    memset(buf + n, 0, 8);
    cr_assert_eq(vl_ttlv_open(buf, n + 8, &top), VL_ERR_FORMAT);
    vl_store_be32(buf + 4, 16);
    cr_assert_eq(vl_ttlv_open(buf, n + 8, &top), VL_ERR_FORMAT);
    cr_assert_eq(vl_ttlv_open(buf, n, &top), VL_OK);
    /* Padding bytes are not checked (see kmip_ttlv.h). */
    n = one_child(buf, 0x420002, VL_TTLV_INT, 4, (const uint8_t *)"\0\0\0\1\xff\xff\xff\xff", 8);
    cr_assert_eq(vl_ttlv_open(buf, n, &top), VL_OK);
}

/* Everything a reply yields lies inside it. */
static void inside(const uint8_t *p, size_t n, const uint8_t *m, size_t len)
{
    if (p != NULL)
        cr_assert(p >= m && n <= len && (size_t)(p - m) <= len - n, "field outside the reply");
}

static void decode_any(const uint8_t *m, size_t len)
{
    vl_kmip_reply r;
    int rc = vl_kmip_decode_reply(m, len, &r);
    cr_assert(rc == VL_OK || rc == VL_ERR_FORMAT);
    inside(r.uid, r.uid_len, m, len);
    inside(r.data, r.data_len, m, len);
    inside(r.iv, r.iv_len, m, len);
    inside(r.tag, r.tag_len, m, len);
    vl_ttlv_item top;
    rc = vl_ttlv_open(m, len, &top);
    cr_assert(rc == VL_OK || rc == VL_ERR_FORMAT);
}

Test(ttlv, mutated)
{
    uint8_t *guard = vt_guard_alloc();
    for (size_t k = 0; k < sizeof REPLIES / sizeof REPLIES[0]; k++) {
        size_t len;
        uint8_t *m = vt_unhex(*REPLIES[k], &len);
        uint8_t *p = at_guard(guard, m, len);
        for (size_t bit = 0; bit < 8 * len; bit++) {
            p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            decode_any(p, len);
            p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        free(m);
    }
    /* Random bytes behind a valid-looking header, every length to 256. */
    vt_rng rng = {0x7171};
    uint8_t buf[256];
    for (int round = 0; round < 2000; round++) {
        size_t len = vt_rng_range(&rng, 0, sizeof buf);
        vt_rng_fill(&rng, buf, len);
        if (len >= 8 && round % 2 == 0) {
            memcpy(buf, "\x42\x00\x7b\x01", 4);
            vl_store_be32(buf + 4, (uint32_t)((len - 8) & ~7u));
        }
        decode_any(at_guard(guard, buf, len), len);
    }
    vt_guard_free(guard);
}

/* ---- reply rules --------------------------------------------------------------- */

enum { NO_STATUS = 1, TWO_ITEMS = 2, COUNT_2 = 4, DATA_AS_TEXT = 8, NOT_RESPONSE = 16 };

/* A Get Attributes reply with a State attribute, bent by |flags|. */
static size_t get_state_reply(uint8_t *buf, size_t cap, int flags, uint32_t state)
{
    vl_ttlv_enc e;
    size_t len = 0;
    vl_ttlv_enc_init(&e, buf, cap);
    vl_ttlv_begin(&e, flags & NOT_RESPONSE ? VL_KMIP_TAG_REQUEST_MESSAGE
                                           : VL_KMIP_TAG_RESPONSE_MESSAGE);
    vl_ttlv_begin(&e, VL_KMIP_TAG_RESPONSE_HEADER);
    vl_ttlv_put_int(&e, VL_KMIP_TAG_BATCH_COUNT, flags & COUNT_2 ? 2 : 1);
    vl_ttlv_end(&e);
    for (int i = 0; i < (flags & TWO_ITEMS ? 2 : 1); i++) {
        vl_ttlv_begin(&e, VL_KMIP_TAG_BATCH_ITEM);
        vl_ttlv_put_enum(&e, VL_KMIP_TAG_OPERATION, VL_KMIP_OP_GET_ATTRIBUTES);
        if (!(flags & NO_STATUS))
            vl_ttlv_put_enum(&e, VL_KMIP_TAG_RESULT_STATUS, VL_KMIP_STATUS_SUCCESS);
        vl_ttlv_begin(&e, VL_KMIP_TAG_RESPONSE_PAYLOAD);
        vl_ttlv_put_text(&e, VL_KMIP_TAG_UNIQUE_ID, "17", 2);
        if (flags & DATA_AS_TEXT)
            vl_ttlv_put_text(&e, VL_KMIP_TAG_DATA, "x", 1);
        vl_ttlv_begin(&e, VL_KMIP_TAG_ATTRIBUTE); /* another attribute first */
        vl_ttlv_put_text(&e, VL_KMIP_TAG_ATTRIBUTE_NAME, "Name", 4);
        vl_ttlv_put_text(&e, VL_KMIP_TAG_ATTRIBUTE_VALUE, "kek", 3);
        vl_ttlv_end(&e);
        vl_ttlv_begin(&e, VL_KMIP_TAG_ATTRIBUTE);
        vl_ttlv_put_text(&e, VL_KMIP_TAG_ATTRIBUTE_NAME, "State", 5);
        vl_ttlv_put_enum(&e, VL_KMIP_TAG_ATTRIBUTE_VALUE, state);
        vl_ttlv_end(&e);
        vl_ttlv_end(&e);
        vl_ttlv_end(&e);
    }
    vl_ttlv_end(&e);
    cr_assert_eq(vl_ttlv_enc_done(&e, &len), VL_OK);
    return len;
}

Test(ttlv, reply_rules)
{
    uint8_t buf[512];
    vl_kmip_reply r;
    size_t len = get_state_reply(buf, sizeof buf, 0, VL_KMIP_STATE_DEACTIVATED);
    cr_assert_eq(vl_kmip_decode_reply(buf, len, &r), VL_OK);
    cr_assert(r.op == VL_KMIP_OP_GET_ATTRIBUTES && r.status == VL_KMIP_STATUS_SUCCESS);
    cr_assert(r.has_state && r.state == VL_KMIP_STATE_DEACTIVATED);
    cr_assert(r.uid_len == 2 && memcmp(r.uid, "17", 2) == 0);
    static const int bad[] = {NO_STATUS, TWO_ITEMS, COUNT_2, DATA_AS_TEXT, NOT_RESPONSE,
                              TWO_ITEMS | COUNT_2};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        len = get_state_reply(buf, sizeof buf, bad[i], VL_KMIP_STATE_ACTIVE);
        cr_assert_eq(vl_kmip_decode_reply(buf, len, &r), VL_ERR_FORMAT, "flags %d", bad[i]);
        cr_assert_eq(r.has_state, 0);
    }
    /* The request we send for it. */
    cr_assert_eq(vl_kmip_encode_get_state(buf, sizeof buf, &len, "17", 2), VL_OK);
    vl_ttlv_item top, it;
    cr_assert_eq(vl_ttlv_open(buf, len, &top), VL_OK);
    cr_assert_eq(top.tag, VL_KMIP_TAG_REQUEST_MESSAGE);
    cr_assert_eq(vl_ttlv_find(&top, VL_KMIP_TAG_BATCH_ITEM, &it), VL_OK);
    vl_ttlv_item op, pl, name;
    uint32_t v;
    const uint8_t *p;
    size_t n;
    cr_assert_eq(vl_ttlv_find(&it, VL_KMIP_TAG_OPERATION, &op), VL_OK);
    cr_assert(vl_ttlv_get_enum(&op, &v) == VL_OK && v == VL_KMIP_OP_GET_ATTRIBUTES);
    cr_assert_eq(vl_ttlv_find(&it, VL_KMIP_TAG_REQUEST_PAYLOAD, &pl), VL_OK);
    cr_assert_eq(vl_ttlv_find(&pl, VL_KMIP_TAG_ATTRIBUTE_NAME, &name), VL_OK);
    cr_assert(vl_ttlv_get_str(&name, VL_TTLV_TEXT, &p, &n) == VL_OK && n == 5 &&
              memcmp(p, "State", 5) == 0);
    cr_assert_eq(vl_kmip_encode_get_state(buf, sizeof buf, &len, "", 0), VL_ERR_ARG);
    cr_assert_eq(vl_kmip_encode_get_state(buf, 40, &len, "17", 2), VL_ERR_ARG);
    cr_assert_eq(len, 0);
}
