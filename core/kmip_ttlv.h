/* KMIP TTLV (Tag-Type-Length-Value) encoding, bounds-checked, libc only,
 * and the few KMIP 1.4 messages the KMIP provider (core/kms_kmip.c) sends
 * and reads. Kept apart from the provider (which needs OpenSSL) so it stays
 * in libvellum.a and can be tested and fuzzed alone. Not installed.
 *
 * An item is an 8-byte header -- a 3-byte tag, a 1-byte type, a 4-byte
 * big-endian length -- then the value, padded with zeros to a multiple of
 * 8 bytes. A structure's value is its children, one after another.
 *
 * Decoding: every item read from outside goes through vl_ttlv_open, which
 * validates the whole tree before anything is used: each length is checked
 * against what is left of its parent before it is used, fixed-size types
 * must have their size, a structure's children must fill it exactly,
 * nesting deeper than VL_TTLV_MAX_DEPTH is refused, tags must be KMIP's
 * (0x42xxxx) or extensions (0x54xxxx), a boolean must be 0 or 1, big
 * integers must be a non-zero multiple of 8 bytes. Padding bytes are not
 * checked (a tolerant reader: the spec has no use for them). Anything else
 * is VL_ERR_FORMAT, and nothing past the input is ever read.
 *
 * Encoding: into a caller buffer, with sticky errors, so a message is built
 * with plain calls and checked once at vl_ttlv_enc_done. */
#ifndef VL_CORE_KMIP_TTLV_H
#define VL_CORE_KMIP_TTLV_H

#include <stddef.h>
#include <stdint.h>

#define VL_TTLV_HDR 8
/* Structures nested in one another, the outermost included. */
#define VL_TTLV_MAX_DEPTH 16

enum {
    VL_TTLV_STRUCT = 0x01,
    VL_TTLV_INT = 0x02,      /* 4 bytes, signed */
    VL_TTLV_LONG = 0x03,     /* 8 bytes, signed */
    VL_TTLV_BIGINT = 0x04,   /* a multiple of 8 bytes, two's complement */
    VL_TTLV_ENUM = 0x05,     /* 4 bytes, unsigned */
    VL_TTLV_BOOL = 0x06,     /* 8 bytes, 0 or 1 */
    VL_TTLV_TEXT = 0x07,     /* UTF-8, not NUL-terminated */
    VL_TTLV_BYTES = 0x08,
    VL_TTLV_DATETIME = 0x09, /* 8 bytes, seconds since the epoch */
    VL_TTLV_INTERVAL = 0x0a, /* 4 bytes, unsigned seconds */
    VL_TTLV_DATETIME_EXT = 0x0b /* KMIP 2.0: 8 bytes, microseconds */
};

/* ---- encoder -------------------------------------------------------------- */

typedef struct vl_ttlv_enc {
    uint8_t *buf;
    size_t cap, len;
    size_t open[VL_TTLV_MAX_DEPTH]; /* header offsets of open structures */
    unsigned depth;
    int err; /* sticky: VL_OK or VL_ERR_ARG */
} vl_ttlv_enc;

void vl_ttlv_enc_init(vl_ttlv_enc *e, uint8_t *buf, size_t cap);
/* Opens a structure; vl_ttlv_end closes the innermost one. */
void vl_ttlv_begin(vl_ttlv_enc *e, uint32_t tag);
void vl_ttlv_end(vl_ttlv_enc *e);
void vl_ttlv_put_int(vl_ttlv_enc *e, uint32_t tag, int32_t v);
void vl_ttlv_put_enum(vl_ttlv_enc *e, uint32_t tag, uint32_t v);
void vl_ttlv_put_interval(vl_ttlv_enc *e, uint32_t tag, uint32_t v);
void vl_ttlv_put_long(vl_ttlv_enc *e, uint32_t tag, int64_t v);
void vl_ttlv_put_datetime(vl_ttlv_enc *e, uint32_t tag, int64_t v);
void vl_ttlv_put_bool(vl_ttlv_enc *e, uint32_t tag, int v);
void vl_ttlv_put_text(vl_ttlv_enc *e, uint32_t tag, const char *s, size_t n);
void vl_ttlv_put_bytes(vl_ttlv_enc *e, uint32_t tag, const uint8_t *p, size_t n);
/* |n| must be a non-zero multiple of 8 (big-endian two's complement). */
void vl_ttlv_put_bigint(vl_ttlv_enc *e, uint32_t tag, const uint8_t *p, size_t n);
/* Any raw item (type and value as given; fixed sizes are not checked):
 * for tests that need malformed input. */
void vl_ttlv_put_raw(vl_ttlv_enc *e, uint32_t tag, uint8_t type, const uint8_t *p, size_t n);
/* VL_OK and the encoded length, or VL_ERR_ARG: the buffer was too small,
 * a structure is still open, an end had no begin, nesting was too deep, a
 * tag did not fit 24 bits or an argument was invalid. */
int vl_ttlv_enc_done(const vl_ttlv_enc *e, size_t *len);

/* ---- decoder -------------------------------------------------------------- */

typedef struct vl_ttlv_item {
    uint32_t tag;
    uint8_t type;
    uint32_t len;       /* value length, without padding */
    const uint8_t *val; /* |len| bytes inside the input */
    unsigned depth;     /* 0 for the top item */
} vl_ttlv_item;

/* A position among the children of one structure. */
typedef struct vl_ttlv_cur {
    const uint8_t *p;
    size_t left;
    unsigned depth; /* depth of the items it yields */
} vl_ttlv_cur;

/* The length of the whole item whose 8-byte header is |hdr| (header +
 * padded value), for reading a message off a stream. VL_ERR_FORMAT when
 * it is not a structure, its length is not a multiple of 8, or the total
 * exceeds |max|. */
int vl_ttlv_msg_len(const uint8_t hdr[VL_TTLV_HDR], size_t max, size_t *total);

/* Validates |buf| as exactly one item (with its padding) and everything
 * inside it; |top| receives it. VL_OK or VL_ERR_FORMAT. */
int vl_ttlv_open(const uint8_t *buf, size_t len, vl_ttlv_item *top);

/* A cursor over the children of structure |st| (from vl_ttlv_open or a
 * cursor); VL_ERR_FORMAT if |st| is not a structure. */
int vl_ttlv_enter(const vl_ttlv_item *st, vl_ttlv_cur *c);
/* The next child: VL_OK, VL_ERR_NOT_FOUND after the last, VL_ERR_FORMAT
 * on a malformed one (never after vl_ttlv_open succeeded). */
int vl_ttlv_next(vl_ttlv_cur *c, vl_ttlv_item *it);
/* The first child of |st| with |tag|: VL_OK, VL_ERR_NOT_FOUND or
 * VL_ERR_FORMAT. */
int vl_ttlv_find(const vl_ttlv_item *st, uint32_t tag, vl_ttlv_item *it);

/* Typed reads: VL_ERR_FORMAT when the item has another type. */
int vl_ttlv_get_int(const vl_ttlv_item *it, int32_t *v);
int vl_ttlv_get_enum(const vl_ttlv_item *it, uint32_t *v);
int vl_ttlv_get_u32(const vl_ttlv_item *it, uint32_t *v); /* enum or interval */
int vl_ttlv_get_long(const vl_ttlv_item *it, int64_t *v); /* long, date-time (ext) */
int vl_ttlv_get_bool(const vl_ttlv_item *it, int *v);
/* Text or byte string (|type| says which); pointer into the input. */
int vl_ttlv_get_str(const vl_ttlv_item *it, uint8_t type, const uint8_t **p, size_t *n);

/* ---- KMIP 1.4 messages ----------------------------------------------------- */

/* Tags (KMIP 1.4 §9.1.3.1) and enumerations used here. */
enum {
    VL_KMIP_TAG_ATTRIBUTE = 0x420008,
    VL_KMIP_TAG_ATTRIBUTE_NAME = 0x42000a,
    VL_KMIP_TAG_ATTRIBUTE_VALUE = 0x42000b,
    VL_KMIP_TAG_BATCH_COUNT = 0x42000d,
    VL_KMIP_TAG_BATCH_ITEM = 0x42000f,
    VL_KMIP_TAG_BLOCK_CIPHER_MODE = 0x420011,
    VL_KMIP_TAG_CRYPTO_ALGORITHM = 0x420028,
    VL_KMIP_TAG_CRYPTO_PARAMETERS = 0x42002b,
    VL_KMIP_TAG_IV = 0x42003d,
    VL_KMIP_TAG_OPERATION = 0x42005c,
    VL_KMIP_TAG_PROTOCOL_VERSION = 0x420069,
    VL_KMIP_TAG_PROTOCOL_MAJOR = 0x42006a,
    VL_KMIP_TAG_PROTOCOL_MINOR = 0x42006b,
    VL_KMIP_TAG_REQUEST_HEADER = 0x420077,
    VL_KMIP_TAG_REQUEST_MESSAGE = 0x420078,
    VL_KMIP_TAG_REQUEST_PAYLOAD = 0x420079,
    VL_KMIP_TAG_RESPONSE_HEADER = 0x42007a,
    VL_KMIP_TAG_RESPONSE_MESSAGE = 0x42007b,
    VL_KMIP_TAG_RESPONSE_PAYLOAD = 0x42007c,
    VL_KMIP_TAG_RESULT_MESSAGE = 0x42007d,
    VL_KMIP_TAG_RESULT_REASON = 0x42007e,
    VL_KMIP_TAG_RESULT_STATUS = 0x42007f,
    VL_KMIP_TAG_UNIQUE_ID = 0x420094,
    VL_KMIP_TAG_DATA = 0x4200c2,
    VL_KMIP_TAG_TAG_LENGTH = 0x4200ce,
    VL_KMIP_TAG_AAD = 0x4200fe,
    VL_KMIP_TAG_AUTH_TAG = 0x4200ff,

    VL_KMIP_OP_GET_ATTRIBUTES = 0x0b,
    VL_KMIP_OP_ENCRYPT = 0x1f,
    VL_KMIP_OP_DECRYPT = 0x20,

    VL_KMIP_STATUS_SUCCESS = 0,
    VL_KMIP_STATUS_FAILED = 1,

    /* Result Reason (1.4 §9.1.3.2.29, 2.0 additions) */
    VL_KMIP_REASON_ITEM_NOT_FOUND = 0x01,
    VL_KMIP_REASON_AUTH_NOT_SUCCESSFUL = 0x03,
    VL_KMIP_REASON_CRYPTO_FAILURE = 0x0a,
    VL_KMIP_REASON_PERMISSION_DENIED = 0x0c,
    VL_KMIP_REASON_OBJECT_ARCHIVED = 0x0d,
    VL_KMIP_REASON_USAGE_LIMIT_EXCEEDED = 0x1a,
    VL_KMIP_REASON_OBJECT_DESTROYED = 0x36,
    VL_KMIP_REASON_OBJECT_NOT_FOUND = 0x37,
    VL_KMIP_REASON_NOT_AUTHORISED = 0x39,
    VL_KMIP_REASON_WRONG_STATE = 0x43, /* Wrong Key Lifecycle State */
    VL_KMIP_REASON_GENERAL_FAILURE = 0x100,

    /* State (1.4 §9.1.3.2.17) */
    VL_KMIP_STATE_PRE_ACTIVE = 1,
    VL_KMIP_STATE_ACTIVE = 2,
    VL_KMIP_STATE_DEACTIVATED = 3,
    VL_KMIP_STATE_COMPROMISED = 4,
    VL_KMIP_STATE_DESTROYED = 5,
    VL_KMIP_STATE_DESTROYED_COMPROMISED = 6,

    VL_KMIP_ALG_AES = 3,
    VL_KMIP_MODE_GCM = 9
};

/* One Encrypt or Decrypt (|op|) with AES-GCM and a 16-byte tag, in the
 * field order PyKMIP requires: UID, Cryptographic Parameters (mode,
 * algorithm, tag length), Data, IV, AAD, then the tag (Decrypt only; NULL
 * for Encrypt). The header says protocol 1.4: the AAD and tag fields do
 * not exist in earlier versions, and a server reading 1.2 drops them. */
typedef struct vl_kmip_crypt {
    uint32_t op;
    const char *uid;
    size_t uid_len;
    const uint8_t *data, *iv, *aad, *tag;
    size_t data_len, iv_len, aad_len, tag_len;
} vl_kmip_crypt;

/* VL_OK and the length, or VL_ERR_ARG (buffer too small, bad op). */
int vl_kmip_encode_crypt(uint8_t *buf, size_t cap, size_t *len, const vl_kmip_crypt *c);
/* Get Attributes of |uid| asking for "State". */
int vl_kmip_encode_get_state(uint8_t *buf, size_t cap, size_t *len, const char *uid,
                             size_t uid_len);

/* What a one-item response carries; absent fields are 0 / NULL. Pointers
 * point into the message. */
typedef struct vl_kmip_reply {
    uint32_t op, status, reason, state;
    int has_reason, has_state;
    const uint8_t *uid, *data, *iv, *tag;
    size_t uid_len, data_len, iv_len, tag_len;
} vl_kmip_reply;

/* Reads a Response Message with exactly one batch item. VL_OK or
 * VL_ERR_FORMAT (malformed TTLV, another message, a batch count other than
 * 1, no Result Status, a field of the wrong type). */
int vl_kmip_decode_reply(const uint8_t *msg, size_t len, vl_kmip_reply *r);

#endif /* VL_CORE_KMIP_TTLV_H */
