/* Confluent CSFLE values without a keyring (include/vellum/csfle.h,
 * csfle-spec.md §3-§4, §8).
 *
 * Decisions:
 *   - The DEK for a field is found by version among the caller's array;
 *     the algorithm is the DEK's (Confluent's reader takes it from the
 *     rule, which also picks the DEK, so the two always agree).
 *   - The prefix is read only when the caller says the values are
 *     versioned (§4.3: readers never sniff); without it, version 1.
 *   - Payload framing (§4.5): both magic bytes are accepted on read and
 *     write (0x00 || be32 id, 0x01 || GUID), since Confluent's serializers
 *     write either and the header is never part of the ciphertext. Protobuf
 *     message indexes follow the header in clear (serde.js writes them as
 *     part of the schema id), so VL_CSFLE_PROTOBUF keeps them too. Each
 *     index is a zigzag varint of at most 5 bytes (Java reads an int).
 *   - on_failure NONE swallows every error but VL_ERR_ARG: those are the
 *     host's own mistakes (buffers, NULLs) and must not pass silently.
 *   - STRING decrypt works inside the caller's output buffer: base64 is
 *     decoded there, opened in place (the AEAD layer's in-place rule), and
 *     the plaintext moved to the front, with the bytes it left behind
 *     wiped. STRING encrypt seals into the tail of the output and encodes
 *     forward in chunks copied out first: a chunk's text never reaches
 *     bytes not yet read, because the text is longer than the field by at
 *     least one byte per 3-byte group (see encode_forward). No heap.
 *   - GCM IVs come straight from getrandom (core/rand.c), 12 bytes each;
 *     the DEK's usage limits (2^32 seals by default) still apply. */
#include <string.h>

#include "base64.h"
#include "internal.h"
#include "rand.h"
#include "tink_key.h"
#include "wire.h"

#include "vellum/csfle.h"

#define PREFIX_BYTES 5
#define GCM_IV VL_GCM_NONCE_BYTES
#define TAG VL_AEAD_TAG_BYTES
#define B64_CHUNK 48 /* bytes per encode step: a multiple of 3 */
#define MAX_KEY 64
#define MAGIC_ID 0x00
#define MAGIC_GUID 0x01
#define HDR_ID 5
#define HDR_GUID 17
#define ZIGZAG_MAX_BYTES 5

static int alg_ok(vl_alg a)
{
    return a == VL_AES128_GCM || a == VL_AES256_GCM || a == VL_AES256_SIV;
}

static size_t key_size(vl_alg a)
{
    return a == VL_AES128_GCM ? 16 : a == VL_AES256_GCM ? 32 : 64;
}

/* Bytes in front of the plaintext inside the AEAD body: the IV (GCM, the
 * tag trails) or V (SIV). */
static size_t body_lead(vl_alg a)
{
    return a == VL_AES256_SIV ? TAG : GCM_IV;
}

size_t vl_csfle_overhead(vl_alg alg, int versioned)
{
    if (!alg_ok(alg))
        return 0;
    return (alg == VL_AES256_SIV ? TAG : GCM_IV + TAG) + (versioned ? PREFIX_BYTES : 0);
}

static int overlap(const void *a, size_t a_len, const void *b, size_t b_len)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return a_len != 0 && b_len != 0 && x < y + b_len && y < x + a_len;
}

static const vl_csfle_opts DEFAULT_OPTS = {0, VL_CSFLE_ON_FAILURE_ERROR, 0};

static const vl_csfle_opts *opts_or_default(const vl_csfle_opts *o)
{
    return o != NULL ? o : &DEFAULT_OPTS;
}

static int opts_ok(const vl_csfle_opts *o)
{
    return (o->on_failure == VL_CSFLE_ON_FAILURE_ERROR ||
            o->on_failure == VL_CSFLE_ON_FAILURE_NONE) &&
           (o->flags & ~VL_CSFLE_PROTOBUF) == 0;
}

static int dek_ok(const vl_csfle_dek *d)
{
    return d != NULL && alg_ok(d->alg) && d->version >= 1 && vl_aead_alg(&d->key) == d->alg;
}

/* ---------------------------------------------------------------- DEKs */

void vl_csfle_dek_wipe(vl_csfle_dek *d)
{
    if (d == NULL)
        return;
    vl_aead_wipe(&d->key);
    vl_memzero(d, sizeof *d);
}

int vl_csfle_dek_init(vl_csfle_dek *d, vl_alg alg, int32_t version, const uint8_t *proto,
                      size_t proto_len)
{
    uint8_t key[MAX_KEY];
    size_t key_len = 0;
    if (d == NULL)
        return VL_ERR_ARG;
    vl_memzero(d, sizeof *d);
    if (!alg_ok(alg) || version < 1 || (proto == NULL && proto_len != 0))
        return VL_ERR_ARG;
    int rc = vl_tink_key_decode(alg, proto, proto_len, key, sizeof key, &key_len);
    if (rc == VL_OK)
        rc = vl_aead_init(&d->key, alg, key, key_len);
    vl_memzero(key, sizeof key);
    if (rc != VL_OK) {
        vl_csfle_dek_wipe(d);
        return rc;
    }
    d->alg = alg;
    d->version = version;
    return VL_OK;
}

int vl_csfle_dek_unwrap(vl_csfle_dek *d, vl_kms *kms, const char *kms_key_id,
                        const vl_dek_record *rec)
{
    uint8_t proto[VL_KMS_MAX_KEY];
    size_t n = 0;
    if (d == NULL)
        return VL_ERR_ARG;
    vl_memzero(d, sizeof *d);
    if (kms == NULL || kms_key_id == NULL || rec == NULL)
        return VL_ERR_ARG;
    if (rec->wrapped_len == 0) /* a hard-deleted tombstone, or no material */
        return rec->deleted ? VL_ERR_KEY_DESTROYED : VL_ERR_FORMAT;
    if (rec->wrapped_len > VL_KMS_MAX_BLOB)
        return VL_ERR_FORMAT;
    int rc = vl_kms_unwrap(kms, kms_key_id, rec->wrapped, rec->wrapped_len, proto, sizeof proto,
                           &n);
    if (rc == VL_OK)
        rc = vl_csfle_dek_init(d, rec->alg, rec->version, proto, n);
    vl_memzero(proto, sizeof proto);
    return rc;
}

/* A name of 1 to cap - 1 bytes, NUL included in the copy. */
static int copy_name(char *dst, size_t cap, const char *src)
{
    size_t n = src != NULL ? strnlen(src, cap) : 0;
    if (n == 0 || n >= cap)
        return VL_ERR_ARG;
    memcpy(dst, src, n + 1);
    return VL_OK;
}

/* The key, its proto and the wrap; every buffer wiped on the way out. */
static int new_material(vl_csfle_dek *d, vl_dek_record *rec, vl_kms *kms, const char *key_id)
{
    uint8_t key[MAX_KEY], proto[VL_TINK_KEY_MAX];
    size_t klen = key_size(rec->alg), plen = 0;
    int rc = vl_random(key, klen);
    if (rc == VL_OK)
        rc = vl_tink_key_encode(rec->alg, key, klen, proto, sizeof proto, &plen);
    if (rc == VL_OK)
        rc = vl_kms_wrap(kms, key_id, proto, plen, rec->wrapped, sizeof rec->wrapped,
                         &rec->wrapped_len);
    if (rc == VL_OK)
        rc = vl_aead_init(&d->key, rec->alg, key, klen);
    vl_memzero(key, sizeof key);
    vl_memzero(proto, sizeof proto);
    return rc;
}

int vl_csfle_dek_generate(vl_csfle_dek *d, vl_dek_record *rec, vl_kms *kms,
                          const char *kms_key_id, const char *kek_name, const char *subject,
                          vl_alg alg, int32_t version, int64_t ts_ms)
{
    if (d != NULL)
        vl_memzero(d, sizeof *d);
    if (rec != NULL)
        vl_memzero(rec, sizeof *rec);
    if (d == NULL || rec == NULL || kms == NULL || kms_key_id == NULL || !alg_ok(alg) ||
        version < 1 || copy_name(rec->kek_name, sizeof rec->kek_name, kek_name) != VL_OK ||
        copy_name(rec->subject, sizeof rec->subject, subject) != VL_OK) {
        if (rec != NULL)
            vl_memzero(rec, sizeof *rec);
        return VL_ERR_ARG;
    }
    rec->alg = alg;
    rec->version = version;
    rec->ts_ms = ts_ms;
    int rc = new_material(d, rec, kms, kms_key_id);
    if (rc != VL_OK) {
        vl_csfle_dek_wipe(d);
        vl_memzero(rec, sizeof *rec);
        return rc;
    }
    d->alg = alg;
    d->version = version;
    return VL_OK;
}

int vl_csfle_field_version(const uint8_t *field, size_t field_len, int versioned,
                           int32_t *version)
{
    if (version == NULL)
        return VL_ERR_ARG;
    *version = 0;
    if (field == NULL && field_len != 0)
        return VL_ERR_ARG;
    if (!versioned) {
        *version = 1; /* §4.3: no prefix, version 1 */
        return VL_OK;
    }
    if (field_len < PREFIX_BYTES || field[0] != 0x00)
        return VL_ERR_FORMAT;
    uint32_t v = vl_load_be32(field + 1);
    if (v == 0 || v > INT32_MAX)
        return VL_ERR_FORMAT;
    *version = (int32_t)v;
    return VL_OK;
}

/* ---------------------------------------------------------------- the AEAD core */

/* out = [prefix] || body; the caller checked out_cap >= pt_len + overhead
 * and that |pt| does not overlap |out|. */
static int seal_field(vl_csfle_dek *d, int versioned, const uint8_t *pt, size_t pt_len,
                      uint8_t *out, size_t out_cap, size_t *out_len)
{
    size_t pre = versioned ? PREFIX_BYTES : 0, n = 0;
    uint8_t *body = out + pre;
    int rc;
    if (d->alg == VL_AES256_SIV) {
        rc = vl_aead_seal(&d->key, body, &n, out_cap - pre, NULL, 0, pt, pt_len, NULL, 0);
    } else {
        rc = vl_random(body, GCM_IV);
        if (rc == VL_OK)
            rc = vl_aead_seal(&d->key, body + GCM_IV, &n, out_cap - pre - GCM_IV, body, GCM_IV,
                              pt, pt_len, NULL, 0);
        n += GCM_IV;
    }
    if (rc != VL_OK)
        return rc;
    if (pre != 0)
        vl_wire_put_version(out, d->version);
    *out_len = pre + n;
    return VL_OK;
}

/* Opens an AEAD body into |out|, which may be body + body_lead (in place). */
static int open_body(vl_csfle_dek *d, const uint8_t *body, size_t body_len, uint8_t *out,
                     size_t out_cap, size_t *out_len)
{
    if (d->alg == VL_AES256_SIV)
        return vl_aead_open(&d->key, out, out_len, out_cap, NULL, 0, body, body_len, NULL, 0);
    return vl_aead_open(&d->key, out, out_len, out_cap, body, GCM_IV, body + GCM_IV,
                        body_len - GCM_IV, NULL, 0);
}

static vl_csfle_dek *find_dek(vl_csfle_dek *deks, size_t n, int32_t version)
{
    for (size_t i = 0; i < n; i++)
        if (deks[i].version == version && dek_ok(&deks[i]))
            return &deks[i];
    return NULL;
}

/* The DEK of |in|'s version and its AEAD body (lengths checked). */
static int locate(vl_csfle_dek *deks, size_t n, int versioned, const uint8_t *in, size_t in_len,
                  vl_csfle_dek **d, const uint8_t **body, size_t *body_len)
{
    int32_t v;
    int rc = vl_csfle_field_version(in, in_len, versioned, &v);
    if (rc != VL_OK)
        return rc;
    *d = find_dek(deks, n, v);
    if (*d == NULL)
        return VL_ERR_NOT_FOUND;
    return vl_wire_field_split((*d)->alg, versioned, in, in_len, &v, body, body_len);
}

static int open_field(vl_csfle_dek *deks, size_t n, int versioned, const uint8_t *in,
                      size_t in_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    vl_csfle_dek *d;
    const uint8_t *body;
    size_t body_len;
    int rc = locate(deks, n, versioned, in, in_len, &d, &body, &body_len);
    if (rc != VL_OK)
        return rc;
    return open_body(d, body, body_len, out, out_cap, out_len);
}

/* ---------------------------------------------------------------- failure handling */

static int fail(void *out, size_t out_cap, size_t *out_len, int rc)
{
    if (out != NULL)
        vl_memzero(out, out_cap);
    if (out_len != NULL)
        *out_len = 0;
    return rc;
}

/* Common argument checks of the decrypt helpers; |extra| is 1 when the
 * output takes a NUL. NONE needs room for the input itself. */
static int decrypt_args_ok(const vl_csfle_dek *deks, size_t n_deks, const vl_csfle_opts *o,
                           const void *in, size_t in_len, const void *out, size_t out_cap,
                           const size_t *out_len, size_t extra)
{
    if ((deks == NULL && n_deks != 0) || !opts_ok(o) || out_len == NULL || out == NULL ||
        (in == NULL && in_len != 0) || overlap(in, in_len, out, out_cap) ||
        in_len > SIZE_MAX - extra)
        return 0;
    return o->on_failure != VL_CSFLE_ON_FAILURE_NONE || out_cap >= in_len + extra;
}

/* The outcome of a decrypt: success, the error (ERROR, or any VL_ERR_ARG),
 * or under NONE the input copied through. */
static int finish(const vl_csfle_opts *o, int rc, const void *in, size_t in_len, uint8_t *out,
                  size_t out_cap, size_t *out_len, int *failure, size_t extra)
{
    if (failure != NULL)
        *failure = rc;
    if (rc == VL_OK)
        return VL_OK;
    fail(out, out_cap, out_len, rc);
    if (rc == VL_ERR_ARG || o->on_failure != VL_CSFLE_ON_FAILURE_NONE)
        return rc;
    if (in_len != 0)
        memcpy(out, in, in_len);
    if (extra != 0)
        out[in_len] = 0;
    *out_len = in_len;
    return VL_OK;
}

/* ---------------------------------------------------------------- BYTES */

static int encrypt_args_ok(const vl_csfle_dek *d, const vl_csfle_opts *o, const void *pt,
                           size_t pt_len, const void *out, size_t out_cap, const size_t *out_len)
{
    return dek_ok(d) && opts_ok(o) && out != NULL && out_len != NULL &&
           (pt != NULL || pt_len == 0) && !overlap(pt, pt_len, out, out_cap);
}

int vl_csfle_bytes_encrypt(vl_csfle_dek *d, const vl_csfle_opts *o, const uint8_t *pt,
                           size_t pt_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    o = opts_or_default(o);
    if (!encrypt_args_ok(d, o, pt, pt_len, out, out_cap, out_len))
        return fail(out, out_cap, out_len, VL_ERR_ARG);
    size_t over = vl_csfle_overhead(d->alg, o->versioned);
    if (pt_len > SIZE_MAX - over || out_cap < pt_len + over)
        return fail(out, out_cap, out_len, VL_ERR_ARG);
    int rc = seal_field(d, o->versioned, pt, pt_len, out, out_cap, out_len);
    return rc == VL_OK ? VL_OK : fail(out, out_cap, out_len, rc);
}

int vl_csfle_bytes_decrypt(vl_csfle_dek *deks, size_t n_deks, const vl_csfle_opts *o,
                           const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
                           size_t *out_len, int *failure)
{
    o = opts_or_default(o);
    if (!decrypt_args_ok(deks, n_deks, o, in, in_len, out, out_cap, out_len, 0))
        return finish(o, VL_ERR_ARG, in, in_len, out, out_cap, out_len, failure, 0);
    int rc = open_field(deks, n_deks, o->versioned, in, in_len, out, out_cap, out_len);
    return finish(o, rc, in, in_len, out, out_cap, out_len, failure, 0);
}

/* ---------------------------------------------------------------- STRING */

size_t vl_csfle_string_cap(vl_alg alg, int versioned, size_t pt_len)
{
    size_t over = vl_csfle_overhead(alg, versioned);
    if (over == 0 || pt_len > SIZE_MAX - over)
        return SIZE_MAX;
    size_t b = vl_base64_encoded_len(pt_len + over);
    return b >= SIZE_MAX - 1 ? SIZE_MAX : b + 1;
}

/* Base64 of src[0..len) to dst, where src = dst + off lies inside the
 * same buffer and off >= the number of 3-byte groups. Each chunk is copied
 * out before its text is written; the text of the chunk starting at byte
 * i ends at 4 * (i + 48) / 3 <= off + i + 48 (as i / 3 + 16 <= groups),
 * i.e. never past the next chunk's first byte. */
static void encode_forward(char *dst, const uint8_t *src, size_t len)
{
    uint8_t chunk[B64_CHUNK];
    char text[B64_CHUNK / 3 * 4 + 1];
    for (size_t i = 0; i < len; i += B64_CHUNK) {
        size_t m = len - i < B64_CHUNK ? len - i : B64_CHUNK;
        memcpy(chunk, src + i, m);
        if (vl_base64_encode(text, sizeof text, chunk, m) == VL_OK)
            memcpy(dst + i / 3 * 4, text, vl_base64_encoded_len(m));
    }
}

int vl_csfle_string_encrypt(vl_csfle_dek *d, const vl_csfle_opts *o, const char *pt,
                            size_t pt_len, char *out, size_t out_cap, size_t *out_len)
{
    o = opts_or_default(o);
    if (!encrypt_args_ok(d, o, pt, pt_len, out, out_cap, out_len))
        return fail(out, out_cap, out_len, VL_ERR_ARG);
    size_t need = vl_csfle_string_cap(d->alg, o->versioned, pt_len);
    if (need == SIZE_MAX || out_cap < need)
        return fail(out, out_cap, out_len, VL_ERR_ARG);
    size_t raw = pt_len + vl_csfle_overhead(d->alg, o->versioned), text = need - 1, n = 0;
    uint8_t *field = (uint8_t *)out + (text - raw);
    int rc = seal_field(d, o->versioned, (const uint8_t *)pt, pt_len, field, raw, &n);
    if (rc != VL_OK)
        return fail(out, out_cap, out_len, rc);
    encode_forward(out, field, raw);
    out[text] = '\0';
    *out_len = text;
    return VL_OK;
}

/* Decodes into |out|, opens in place, moves the plaintext to the front
 * and wipes what it left behind. */
static int open_text(vl_csfle_dek *deks, size_t n, int versioned, const char *in, size_t in_len,
                     uint8_t *out, size_t out_cap, size_t *out_len)
{
    vl_csfle_dek *d;
    const uint8_t *body;
    size_t raw = 0, body_len, pt_len = 0;
    int rc = vl_base64_decode(out, out_cap, &raw, in, in_len);
    if (rc == VL_OK)
        rc = locate(deks, n, versioned, out, raw, &d, &body, &body_len);
    if (rc != VL_OK)
        return rc;
    size_t lead = body_lead(d->alg);
    uint8_t *pt = out + (size_t)(body - out) + lead;
    rc = open_body(d, body, body_len, pt, body_len - lead, &pt_len);
    if (rc != VL_OK)
        return rc;
    memmove(out, pt, pt_len);
    vl_memzero(out + pt_len, (size_t)(pt - out));
    out[pt_len] = 0; /* pt_len <= raw - 16 < out_cap */
    *out_len = pt_len;
    return VL_OK;
}

int vl_csfle_string_decrypt(vl_csfle_dek *deks, size_t n_deks, const vl_csfle_opts *o,
                            const char *in, size_t in_len, char *out, size_t out_cap,
                            size_t *out_len, int *failure)
{
    uint8_t *u = (uint8_t *)out;
    o = opts_or_default(o);
    if (!decrypt_args_ok(deks, n_deks, o, in, in_len, out, out_cap, out_len, 1) || out_cap == 0)
        return finish(o, VL_ERR_ARG, in, in_len, u, out_cap, out_len, failure, 1);
    int rc = open_text(deks, n_deks, o->versioned, in, in_len, u, out_cap, out_len);
    return finish(o, rc, in, in_len, u, out_cap, out_len, failure, 1);
}

/* ---------------------------------------------------------------- payloads */

/* A zigzag varint of at most 5 bytes (a Java int). */
static int get_zigzag(const uint8_t *p, size_t n, size_t *used, int64_t *v)
{
    uint32_t x = 0;
    for (size_t i = 0; i < ZIGZAG_MAX_BYTES && i < n; i++) {
        if (i == ZIGZAG_MAX_BYTES - 1 && p[i] > 0x0f)
            return VL_ERR_FORMAT; /* more than 32 bits */
        x |= (uint32_t)(p[i] & 0x7f) << (7 * i);
        if ((p[i] & 0x80) == 0) {
            *used = i + 1;
            *v = (int64_t)(x >> 1) ^ -(int64_t)(x & 1);
            return VL_OK;
        }
    }
    return VL_ERR_FORMAT; /* cut short, or a 6th byte */
}

/* Protobuf message indexes: count, then count indexes, all >= 0. */
static int skip_msg_indexes(const uint8_t *p, size_t n, size_t *used)
{
    size_t pos = 0, k;
    int64_t count, idx;
    if (get_zigzag(p, n, &k, &count) != VL_OK || count < 0 || count > VL_CSFLE_MAX_MSG_INDEXES)
        return VL_ERR_FORMAT;
    pos = k;
    for (int64_t i = 0; i < count; i++) {
        if (get_zigzag(p + pos, n - pos, &k, &idx) != VL_OK || idx < 0)
            return VL_ERR_FORMAT;
        pos += k;
    }
    *used = pos;
    return VL_OK;
}

int vl_csfle_frame_len(const uint8_t *value, size_t value_len, unsigned flags, size_t *hdr_len)
{
    size_t h = 0, idx = 0;
    if (hdr_len == NULL)
        return VL_ERR_ARG;
    *hdr_len = 0;
    if ((value == NULL && value_len != 0) || (flags & ~VL_CSFLE_PROTOBUF) != 0)
        return VL_ERR_ARG;
    if (value_len > 0)
        h = value[0] == MAGIC_ID ? HDR_ID : value[0] == MAGIC_GUID ? HDR_GUID : 0;
    if (h == 0 || value_len < h)
        return VL_ERR_FORMAT;
    if ((flags & VL_CSFLE_PROTOBUF) && skip_msg_indexes(value + h, value_len - h, &idx) != VL_OK)
        return VL_ERR_FORMAT;
    *hdr_len = h + idx;
    return VL_OK;
}

int vl_csfle_payload_encrypt(vl_csfle_dek *d, const vl_csfle_opts *o, const uint8_t *value,
                             size_t value_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    size_t hdr = 0, n = 0;
    o = opts_or_default(o);
    if (!encrypt_args_ok(d, o, value, value_len, out, out_cap, out_len))
        return fail(out, out_cap, out_len, VL_ERR_ARG);
    size_t over = vl_csfle_overhead(d->alg, o->versioned);
    if (value_len > SIZE_MAX - over || out_cap < value_len + over)
        return fail(out, out_cap, out_len, VL_ERR_ARG);
    int rc = vl_csfle_frame_len(value, value_len, o->flags, &hdr);
    if (rc == VL_OK) {
        memcpy(out, value, hdr);
        rc = seal_field(d, o->versioned, value + hdr, value_len - hdr, out + hdr, out_cap - hdr,
                        &n);
    }
    if (rc != VL_OK)
        return fail(out, out_cap, out_len, rc);
    *out_len = hdr + n;
    return VL_OK;
}

int vl_csfle_payload_decrypt(vl_csfle_dek *deks, size_t n_deks, const vl_csfle_opts *o,
                             const uint8_t *value, size_t value_len, uint8_t *out,
                             size_t out_cap, size_t *out_len, int *failure)
{
    size_t hdr = 0, n = 0;
    o = opts_or_default(o);
    if (!decrypt_args_ok(deks, n_deks, o, value, value_len, out, out_cap, out_len, 0))
        return finish(o, VL_ERR_ARG, value, value_len, out, out_cap, out_len, failure, 0);
    int rc = vl_csfle_frame_len(value, value_len, o->flags, &hdr);
    if (rc == VL_OK && out_cap < hdr)
        rc = VL_ERR_ARG;
    if (rc == VL_OK) {
        memcpy(out, value, hdr);
        rc = open_field(deks, n_deks, o->versioned, value + hdr, value_len - hdr, out + hdr,
                        out_cap - hdr, &n);
    }
    if (rc == VL_OK)
        *out_len = hdr + n;
    return finish(o, rc, value, value_len, out, out_cap, out_len, failure, 0);
}
