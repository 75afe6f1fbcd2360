/* The AEAD front end: argument checks, aliasing rules, usage reservation,
 * then one call into the key's path, which cannot fail. Every failure
 * zeroes the caller's output (STYLE.md §4.5). */
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "key.h"

#include "vellum/aead.h"

/* SP 800-38D §5.2.1.1: len(P) <= 2^39 - 256 bits; len(A) and len(IV)
 * <= 2^64 - 1 bits, i.e. fewer than 2^61 bytes. */
#define GCM_MAX_PLAINTEXT ((UINT64_C(1) << 36) - 32)
#define GCM_MAX_AD_OR_IV ((UINT64_C(1) << 61) - 1)

/* One seal or open, with both forms (combined and detached, single AD and
 * S2V vector) reduced to the same shape. */
struct op {
    const uint8_t *nonce;
    size_t nonce_len;
    const vl_slice *ad; /* GCM: exactly one */
    size_t ad_count;
    const uint8_t *in; /* body in */
    uint8_t *out;      /* body out */
    size_t len;        /* body length */
    uint8_t *tag_out;  /* seal */
    const uint8_t *tag_in; /* open */
    /* The whole caller buffers, for the overlap rules. */
    const uint8_t *in_all;
    size_t in_all_len;
    uint8_t *out_all;
    size_t out_all_len;
};

static int key_ready(const vl_aead_key *k)
{
    return k != NULL && vl_key_of_const(k)->magic == VL_KEY_MAGIC;
}

static int is_siv(const struct vl_key *key)
{
    return key->alg == VL_AES256_SIV;
}

/* A (pointer, length) pair is valid when the pointer is set or the length
 * is zero. */
/* These run on every call, so they combine their tests with & and | (no
 * short-circuit branches) and are inlined into one straight-line check. */
static inline int buf_ok(const void *p, size_t len)
{
    return (p != NULL) | (len == 0);
}

static inline int overlap(const void *a, size_t a_len, const void *b, size_t b_len)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return (a_len != 0) & (b_len != 0) & (x < y + b_len) & (y < x + a_len);
}

/* Output body either exactly in place or apart from all input; nonce and
 * AD never inside the output. */
static inline int aliasing_ok(const struct op *o)
{
    int bad = (o->out != o->in) & overlap(o->out_all, o->out_all_len, o->in_all, o->in_all_len);
    bad |= overlap(o->nonce, o->nonce_len, o->out_all, o->out_all_len);
    for (size_t i = 0; i < o->ad_count; i++)
        bad |= overlap(o->ad[i].ptr, o->ad[i].len, o->out_all, o->out_all_len);
    return !bad;
}

/* A body length over the algorithm's maximum (SP 800-38D §5.2.1.1 for
 * GCM) is refused before any buffer is touched, even to zero it: such a
 * length does not describe a buffer the caller really has. */
static inline int body_len_ok(const struct vl_key *key, size_t len)
{
    return is_siv(key) | ((uint64_t)len <= GCM_MAX_PLAINTEXT);
}

/* Counts (checked before the AD vector is walked) and the other lengths. */
static inline int limits_ok(const struct vl_key *key, const struct op *o)
{
    if (is_siv(key))
        return (o->ad_count <= VL_SIV_MAX_COMPONENTS) &
               (o->ad_count + (o->nonce_len > 0) <= VL_SIV_MAX_COMPONENTS);
    /* ad_count is checked first: ad[0] exists only when it is 1. */
    return o->ad_count == 1 &&
           ((o->nonce_len != 0) & ((uint64_t)o->nonce_len <= GCM_MAX_AD_OR_IV) &
            ((uint64_t)o->len <= GCM_MAX_PLAINTEXT) & ((uint64_t)o->ad[0].len <= GCM_MAX_AD_OR_IV));
}

static inline int check_op(const struct vl_key *key, const struct op *o)
{
    if (!limits_ok(key, o) || (o->ad_count != 0 && o->ad == NULL))
        return VL_ERR_ARG;
    int ok = buf_ok(o->nonce, o->nonce_len) & buf_ok(o->in, o->len) & buf_ok(o->out, o->len);
    for (size_t i = 0; i < o->ad_count; i++)
        ok &= buf_ok(o->ad[i].ptr, o->ad[i].len);
    return ok && aliasing_ok(o) ? VL_OK : VL_ERR_ARG;
}

/* Paths get a valid pointer even for an empty buffer: forming NULL + 0 is
 * undefined behaviour in C, and a path may do it on a zero-length tail. */
static const uint8_t empty_in[16];
static uint8_t empty_out[16];

static inline const uint8_t *nonnull(const uint8_t *p)
{
    return p != NULL ? p : empty_in;
}

static inline void no_null_buffers(struct op *o)
{
    o->in = nonnull(o->in);
    if (o->out == NULL)
        o->out = empty_out; /* only ever with len 0: nothing is written */
}

/* Seal and open run in phases (check and reserve, compute, finish) so the
 * batch calls can put many messages' S2V through one multi-buffer pass. */

/* |reserve| = 0 leaves the usage reservation to the caller (the batch
 * reserves a whole chunk at once). */
static inline int seal_check(struct vl_key *key, struct op *o, int reserve)
{
    int rc = check_op(key, o);
    no_null_buffers(o);
    if (rc == VL_OK && overlap(o->tag_out, 16, o->in_all, o->in_all_len))
        rc = VL_ERR_ARG;
    if (rc == VL_OK && reserve)
        rc = vl_usage_reserve_seal(key, 1, (uint64_t)o->len);
    return rc;
}

/* One seal on checked buffers: |out| gets the body, |tag| the tag. GCM:
 * SP 800-38D §7.1 (exactly one AD). SIV: RFC 5297 §2.6, V = S2V(K1, AD...,
 * [nonce,] P), C = CTR(K2, V, P), tag = V; V stays in a local until the
 * end, since in place the tag slot may sit just before |in|. */
static inline void seal_one(const struct vl_key *key, uint8_t *out, uint8_t tag[16],
                            const vl_slice *ad, size_t ad_count, const uint8_t *nonce,
                            size_t nonce_len, const uint8_t *in, size_t len)
{
    if (is_siv(key)) {
        uint8_t v[16];
        key->impl->siv.s2v(key->state, v, ad, ad_count, nonnull(nonce), nonce_len, in, len);
        key->impl->siv.ctr(key->state, v, out, in, len);
        memcpy(tag, v, 16);
        vl_memzero(v, sizeof v);
    } else {
        key->impl->gcm.seal(key->state, out, tag, nonce, nonce_len, in, len, nonnull(ad[0].ptr),
                            ad[0].len);
    }
}

static inline void seal_compute(const struct vl_key *key, const struct op *o)
{
    seal_one(key, o->out, o->tag_out, o->ad, o->ad_count, o->nonce, o->nonce_len, o->in, o->len);
}

static inline int open_check(struct vl_key *key, struct op *o, int reserve)
{
    int rc = check_op(key, o);
    no_null_buffers(o);
    return rc == VL_OK && reserve ? vl_usage_open_allowed(key) : rc;
}

/* One open on checked buffers, up to its verdict: |expected| gets the
 * received tag (copied first: in place the output may cover it), |out| the
 * body, |computed| the tag of what was decrypted. GCM computes it while
 * decrypting; SIV is RFC 5297 §2.7: P = CTR(K2, V, C), then S2V over P. */
static inline void open_one(const struct vl_key *key, uint8_t *out, uint8_t expected[16],
                            uint8_t computed[16], const uint8_t *tag_in, const vl_slice *ad,
                            size_t ad_count, const uint8_t *nonce, size_t nonce_len,
                            const uint8_t *in, size_t len)
{
    memcpy(expected, tag_in, 16);
    if (is_siv(key)) {
        key->impl->siv.ctr(key->state, expected, out, in, len);
        key->impl->siv.s2v(key->state, computed, ad, ad_count, nonnull(nonce), nonce_len, out,
                           len);
    } else {
        key->impl->gcm.open(key->state, out, computed, nonce, nonce_len, in, len,
                            nonnull(ad[0].ptr), ad[0].len);
    }
}

static inline void open_compute(const struct vl_key *key, const struct op *o,
                                uint8_t expected[16], uint8_t computed[16])
{
    open_one(key, o->out, expected, computed, o->tag_in, o->ad, o->ad_count, o->nonce,
             o->nonce_len, o->in, o->len);
}

/* Constant-time tag verdict (the verdict itself is public). */
static int tags_match(const uint8_t expected[16], const uint8_t computed[16])
{
    int ok = vl_ct_eq(expected, computed, 16);
    VL_CT_DECLASSIFY(&ok, sizeof ok);
    return ok;
}

/* The verdict for one open; wipes both tags and settles the open budget. */
static int open_verdict(struct vl_key *key, uint8_t expected[16], uint8_t computed[16])
{
    int ok = tags_match(expected, computed);
    vl_memzero(computed, 16);
    vl_memzero(expected, 16);
    vl_usage_count_failures(key, !ok);
    return ok ? VL_OK : VL_ERR_AUTH;
}

static int run_seal(struct vl_key *key, struct op *o)
{
    int rc = seal_check(key, o, 1);
    if (rc == VL_OK)
        seal_compute(key, o);
    return rc;
}

static int run_open(struct vl_key *key, struct op *o)
{
    int rc = open_check(key, o, 1);
    if (rc != VL_OK)
        return rc;
    uint8_t expected[16], computed[16];
    open_compute(key, o, expected, computed);
    return open_verdict(key, expected, computed);
}

static void wipe_out(uint8_t *out, size_t cap, size_t *out_len)
{
    if (out != NULL)
        vl_memzero(out, cap);
    if (out_len != NULL)
        *out_len = 0;
}

/* Combined forms: GCM out = C || T, SIV out = V || C (open: the reverse).
 * The *_begin functions build the op and check the caller's buffers; on
 * failure they have already zeroed the output as the header promises. */
static int seal_begin(vl_aead_key *k, struct op *o, int reserve, uint8_t *out,
                      size_t *out_len, size_t out_cap, const vl_slice *ad, size_t ad_count,
                      const uint8_t *nonce, size_t nonce_len, const uint8_t *in, size_t in_len)
{
    if (out_len != NULL)
        *out_len = 0;
    if (!key_ready(k) || in_len > SIZE_MAX - 16) {
        wipe_out(out, out_cap, out_len);
        return VL_ERR_ARG;
    }
    struct vl_key *key = vl_key_of(k);
    int siv = is_siv(key);
    if (!body_len_ok(key, in_len))
        return VL_ERR_ARG;
    /* Checked before any pointer arithmetic on |out|. */
    if (out_len == NULL || out == NULL || out_cap < in_len + 16) {
        wipe_out(out, out_cap, out_len);
        return VL_ERR_ARG;
    }
    /* Field by field: a compound literal would first zero the struct with
     * a rep stos, which costs more than the rest of the checks. */
    o->nonce = nonce, o->nonce_len = nonce_len, o->ad = ad, o->ad_count = ad_count;
    o->in = in, o->out = siv ? out + 16 : out, o->len = in_len;
    o->tag_out = siv ? out : out + in_len, o->tag_in = NULL;
    o->in_all = in, o->in_all_len = in_len, o->out_all = out, o->out_all_len = in_len + 16;
    int rc = seal_check(key, o, reserve);
    if (rc != VL_OK)
        wipe_out(out, out_cap, out_len);
    return rc;
}

static int open_begin(vl_aead_key *k, struct op *o, int reserve, uint8_t *out,
                      size_t *out_len, size_t out_cap, const vl_slice *ad, size_t ad_count,
                      const uint8_t *nonce, size_t nonce_len, const uint8_t *in, size_t in_len)
{
    if (out_len != NULL)
        *out_len = 0;
    if (!key_ready(k) || in == NULL || in_len < 16) {
        wipe_out(out, out_cap, out_len);
        return VL_ERR_ARG;
    }
    struct vl_key *key = vl_key_of(k);
    int siv = is_siv(key);
    size_t len = in_len - 16;
    /* Before |in + len| is formed: a length past the algorithm's maximum, or
     * one that would wrap the address space, is not a real buffer. */
    if (!body_len_ok(key, len))
        return VL_ERR_ARG;
    if ((uintptr_t)in > UINTPTR_MAX - in_len || out_len == NULL || out_cap < len ||
        (out == NULL && len > 0)) {
        wipe_out(out, out_cap, out_len);
        return VL_ERR_ARG;
    }
    o->nonce = nonce, o->nonce_len = nonce_len, o->ad = ad, o->ad_count = ad_count;
    o->in = siv ? in + 16 : in, o->out = out, o->len = len;
    o->tag_out = NULL, o->tag_in = siv ? in : in + len;
    o->in_all = in, o->in_all_len = in_len, o->out_all = out, o->out_all_len = len;
    int rc = open_check(key, o, reserve);
    if (rc != VL_OK)
        wipe_out(out, out_cap, out_len);
    return rc;
}

static int seal_combined(vl_aead_key *k, uint8_t *out, size_t *out_len, size_t out_cap,
                         const vl_slice *ad, size_t ad_count, const uint8_t *nonce,
                         size_t nonce_len, const uint8_t *in, size_t in_len)
{
    struct op o;
    int rc =
        seal_begin(k, &o, 1, out, out_len, out_cap, ad, ad_count, nonce, nonce_len, in, in_len);
    if (rc == VL_OK) {
        seal_compute(vl_key_of(k), &o);
        *out_len = in_len + 16;
    }
    return rc;
}

static int open_end(struct vl_key *key, const struct op *o, uint8_t expected[16],
                    uint8_t computed[16], size_t out_cap, size_t *out_len)
{
    int rc = open_verdict(key, expected, computed);
    if (rc == VL_OK)
        *out_len = o->len;
    else
        wipe_out(o->out, out_cap, out_len);
    return rc;
}

static int open_combined(vl_aead_key *k, uint8_t *out, size_t *out_len, size_t out_cap,
                         const vl_slice *ad, size_t ad_count, const uint8_t *nonce,
                         size_t nonce_len, const uint8_t *in, size_t in_len)
{
    struct op o;
    int rc =
        open_begin(k, &o, 1, out, out_len, out_cap, ad, ad_count, nonce, nonce_len, in, in_len);
    if (rc != VL_OK)
        return rc;
    struct vl_key *key = vl_key_of(k);
    uint8_t expected[16], computed[16];
    open_compute(key, &o, expected, computed);
    return open_end(key, &o, expected, computed, out_cap, out_len);
}

/* The common call, in one straight line: vl_aead_seal and vl_aead_open
 * first test, together, every check the general path (seal_begin,
 * open_begin, check_op) would make for their one-AD shape, and go straight
 * to the path when all pass. A call that fails any of them takes the
 * general path, which checks again and reports the error. Field-sized
 * messages are where this matters: the general path's struct op and calls
 * cost as much as sealing 64 bytes with GCM. */
_Static_assert(VL_SIV_MAX_COMPONENTS >= 2, "one AD and a nonce must fit S2V");

/* The lengths and the nonce, AD and body pointers: SP 800-38D §5.2.1.1 for
 * GCM (and a nonce), any lengths for SIV (nonce optional). */
static inline int args_ok(const struct vl_key *key, const size_t *out_len, const uint8_t *nonce,
                          size_t nonce_len, const uint8_t *ad, size_t ad_len, size_t body_len)
{
    const int siv = is_siv(key);
    return (out_len != NULL) & buf_ok(nonce, nonce_len) & buf_ok(ad, ad_len) &
           (siv | ((nonce_len != 0) & ((uint64_t)nonce_len <= GCM_MAX_AD_OR_IV) &
                   ((uint64_t)ad_len <= GCM_MAX_AD_OR_IV) &
                   ((uint64_t)body_len <= GCM_MAX_PLAINTEXT)));
}

/* seal: out = C || T (GCM) or V || C (SIV), apart from the input or with
 * C exactly in place. The tag slot then never meets the input either. */
static inline int seal_fast_ok(const struct vl_key *key, const uint8_t *out,
                               const size_t *out_len, size_t out_cap, const uint8_t *nonce,
                               size_t nonce_len, const uint8_t *in, size_t in_len,
                               const uint8_t *ad, size_t ad_len)
{
    const size_t all = in_len + 16;
    const uintptr_t body = (uintptr_t)out + (is_siv(key) ? 16 : 0);
    int ok = args_ok(key, out_len, nonce, nonce_len, ad, ad_len, in_len) & (out != NULL) &
             (in_len <= SIZE_MAX - 16) & (out_cap >= all) & buf_ok(in, in_len);
    int bad = ((body != (uintptr_t)in) & overlap(out, all, in, in_len)) |
              overlap(nonce, nonce_len, out, all) | overlap(ad, ad_len, out, all);
    return ok & !bad;
}

/* open: in = C || T (GCM) or V || C (SIV); out gets the body, apart from
 * |in| or exactly in place. */
static inline int open_fast_ok(const struct vl_key *key, const uint8_t *out,
                               const size_t *out_len, size_t out_cap, const uint8_t *nonce,
                               size_t nonce_len, const uint8_t *in, size_t in_len,
                               const uint8_t *ad, size_t ad_len)
{
    const size_t len = in_len - 16; /* used only when in_len >= 16 */
    const uintptr_t body = (uintptr_t)in + (is_siv(key) ? 16 : 0);
    int ok = (in != NULL) & (in_len >= 16) & ((uintptr_t)in <= UINTPTR_MAX - in_len) &
             args_ok(key, out_len, nonce, nonce_len, ad, ad_len, len) & (out != NULL) &
             (out_cap >= len);
    int bad = (((uintptr_t)out != body) & overlap(out, len, in, in_len)) |
              overlap(nonce, nonce_len, out, len) | overlap(ad, ad_len, out, len);
    return ok & !bad;
}

int vl_aead_seal_field(vl_aead_key *k, uint8_t *out, size_t *out_len, const uint8_t *nonce,
                       size_t nonce_len, const uint8_t *in, size_t in_len)
{
    struct vl_key *key = vl_key_of(k);
    if (!body_len_ok(key, in_len))
        return VL_ERR_ARG;
    int rc = vl_usage_reserve_seal(key, 1, (uint64_t)in_len);
    if (rc != VL_OK)
        return rc;
    const vl_slice empty = {empty_in, 0}; /* SIV: one empty AD component; GCM: no AD */
    const int siv = is_siv(key);
    seal_one(key, siv ? out + 16 : out, siv ? out : out + in_len, &empty, 1, nonce, nonce_len,
             nonnull(in), in_len);
    *out_len = in_len + 16;
    return VL_OK;
}

int vl_aead_seal(vl_aead_key *k, uint8_t *out, size_t *out_len, size_t out_cap,
                 const uint8_t *nonce, size_t nonce_len, const uint8_t *in, size_t in_len,
                 const uint8_t *ad, size_t ad_len)
{
    const vl_slice one = {ad, ad_len};
    if (key_ready(k)) {
        struct vl_key *key = vl_key_of(k);
        if (seal_fast_ok(key, out, out_len, out_cap, nonce, nonce_len, in, in_len, ad, ad_len) &&
            vl_usage_reserve_seal(key, 1, (uint64_t)in_len) == VL_OK) {
            const int siv = is_siv(key);
            seal_one(key, siv ? out + 16 : out, siv ? out : out + in_len, &one, 1, nonce,
                     nonce_len, nonnull(in), in_len);
            *out_len = in_len + 16;
            return VL_OK;
        }
    }
    return seal_combined(k, out, out_len, out_cap, &one, 1, nonce, nonce_len, in, in_len);
}

int vl_aead_open(vl_aead_key *k, uint8_t *out, size_t *out_len, size_t out_cap,
                 const uint8_t *nonce, size_t nonce_len, const uint8_t *in, size_t in_len,
                 const uint8_t *ad, size_t ad_len)
{
    const vl_slice one = {ad, ad_len};
    if (key_ready(k)) {
        struct vl_key *key = vl_key_of(k);
        if (open_fast_ok(key, out, out_len, out_cap, nonce, nonce_len, in, in_len, ad, ad_len) &&
            vl_usage_open_allowed(key) == VL_OK) {
            const size_t len = in_len - 16;
            const int siv = is_siv(key);
            uint8_t expected[16], computed[16];
            open_one(key, out, expected, computed, siv ? in : in + len, &one, 1, nonce,
                     nonce_len, siv ? in + 16 : in, len);
            int rc = open_verdict(key, expected, computed);
            if (rc == VL_OK)
                *out_len = len;
            else
                wipe_out(out, out_cap, out_len);
            return rc;
        }
    }
    return open_combined(k, out, out_len, out_cap, &one, 1, nonce, nonce_len, in, in_len);
}

int vl_aead_siv_seal_v(vl_aead_key *k, uint8_t *out, size_t *out_len, size_t out_cap,
                       const vl_slice *ad, size_t ad_count, const uint8_t *nonce,
                       size_t nonce_len, const uint8_t *in, size_t in_len)
{
    if (key_ready(k) && !is_siv(vl_key_of(k))) {
        wipe_out(out, out_cap, out_len);
        return VL_ERR_UNSUPPORTED;
    }
    return seal_combined(k, out, out_len, out_cap, ad, ad_count, nonce, nonce_len, in, in_len);
}

int vl_aead_siv_open_v(vl_aead_key *k, uint8_t *out, size_t *out_len, size_t out_cap,
                       const vl_slice *ad, size_t ad_count, const uint8_t *nonce,
                       size_t nonce_len, const uint8_t *in, size_t in_len)
{
    if (key_ready(k) && !is_siv(vl_key_of(k))) {
        wipe_out(out, out_cap, out_len);
        return VL_ERR_UNSUPPORTED;
    }
    return open_combined(k, out, out_len, out_cap, ad, ad_count, nonce, nonce_len, in, in_len);
}

int vl_aead_seal_detached(vl_aead_key *k, uint8_t *out, uint8_t tag[VL_AEAD_TAG_BYTES],
                          const uint8_t *nonce, size_t nonce_len, const uint8_t *in,
                          size_t in_len, const uint8_t *ad, size_t ad_len)
{
    const vl_slice one = {ad, ad_len};
    struct op o = {
        .nonce = nonce, .nonce_len = nonce_len, .ad = &one, .ad_count = 1,
        .in = in, .out = out, .len = in_len, .tag_out = tag,
        .in_all = in, .in_all_len = in_len, .out_all = out, .out_all_len = in_len,
    };
    if (key_ready(k) && !body_len_ok(vl_key_of(k), in_len)) {
        if (tag != NULL)
            vl_memzero(tag, 16); /* the tag buffer is always real */
        return VL_ERR_ARG;
    }
    int rc = VL_ERR_ARG;
    if (key_ready(k) && tag != NULL && !overlap(tag, 16, out, in_len) &&
        !overlap(tag, 16, nonce, nonce_len) && !overlap(tag, 16, ad, ad_len))
        rc = run_seal(vl_key_of(k), &o);
    if (rc != VL_OK) {
        if (out != NULL)
            vl_memzero(out, in_len);
        if (tag != NULL)
            vl_memzero(tag, 16);
    }
    return rc;
}

int vl_aead_open_detached(vl_aead_key *k, uint8_t *out, const uint8_t tag[VL_AEAD_TAG_BYTES],
                          const uint8_t *nonce, size_t nonce_len, const uint8_t *in,
                          size_t in_len, const uint8_t *ad, size_t ad_len)
{
    const vl_slice one = {ad, ad_len};
    struct op o = {
        .nonce = nonce, .nonce_len = nonce_len, .ad = &one, .ad_count = 1,
        .in = in, .out = out, .len = in_len, .tag_in = tag,
        .in_all = in, .in_all_len = in_len, .out_all = out, .out_all_len = in_len,
    };
    if (key_ready(k) && !body_len_ok(vl_key_of(k), in_len))
        return VL_ERR_ARG;
    int rc = VL_ERR_ARG;
    if (key_ready(k) && tag != NULL)
        rc = run_open(vl_key_of(k), &o);
    if (rc != VL_OK && out != NULL)
        vl_memzero(out, in_len);
    return rc;
}

/* Batch. Every message goes through the same checks as a single call, so
 * a bad message costs only its own status. With a multi-buffer S2V (SIV on
 * the x86 paths) the CMAC chains of up to BATCH_CHUNK messages run
 * interleaved; otherwise messages are processed one by one. */
#define BATCH_CHUNK 64

static int batch_one(vl_aead_key *k, vl_aead_msg *m, int seal)
{
    return seal ? vl_aead_seal(k, m->out, &m->out_len, m->out_cap, m->nonce, m->nonce_len,
                               m->in, m->in_len, m->ad, m->ad_len)
                : vl_aead_open(k, m->out, &m->out_len, m->out_cap, m->nonce, m->nonce_len,
                               m->in, m->in_len, m->ad, m->ad_len);
}

/* Reserves usage for the |n| checked messages of a chunk, |bytes| their
 * input bytes, in one step (one atomic each for count and bytes); when the
 * budget cannot take them all, message by message in order, exactly as
 * single calls would. Returns how many kept their reservation, compacting
 * |idx|; the others get VL_ERR_LIMIT and a zeroed output. A sealed body is
 * as long as the input; an open reserves no bytes. */
static size_t batch_reserve(struct vl_key *key, vl_aead_msg *msgs, size_t *idx, size_t n,
                            uint64_t bytes, int seal)
{
    if ((seal ? vl_usage_reserve_seal(key, n, bytes) : vl_usage_open_allowed(key)) == VL_OK)
        return n;
    size_t kept = 0;
    for (size_t j = 0; j < n; j++) {
        vl_aead_msg *m = &msgs[idx[j]];
        if ((seal ? vl_usage_reserve_seal(key, 1, m->in_len) : vl_usage_open_allowed(key)) !=
            VL_OK) {
            m->status = VL_ERR_LIMIT;
            wipe_out(m->out, m->out_cap, &m->out_len);
            continue;
        }
        idx[kept++] = idx[j];
    }
    return kept;
}

/* The checks of seal_begin and seal_check (reserve = 0) for one message of
 * an SIV batch, written out for its shape: the key is known ready and SIV,
 * the AD is one component (so limits_ok holds, two components at most) and
 * out_len is &m->out_len. Each check is the single call's, on the same
 * buffers, with the same verdict and the same wipe (tests/test_api.c
 * batch_many and fuzz/aead_batch compare the two); only the op struct is
 * not built, since a batch of short messages spends more on that than on
 * its AES. */
static int siv_batch_seal_check(vl_aead_msg *m)
{
    const uint8_t *in = m->in;
    uint8_t *out = m->out;
    size_t len = m->in_len;

    m->out_len = 0;
    if (len > SIZE_MAX - 16 || out == NULL || m->out_cap < len + 16) {
        wipe_out(out, m->out_cap, &m->out_len);
        return VL_ERR_ARG;
    }
    /* check_op: buf_ok of nonce, input, AD (out + 16 is never NULL); the
     * body in place or apart from all input; nonce and AD outside the
     * output. seal_check's tag slot outside the input follows: the slot
     * is the output's first 16 bytes, so it can meet the input only when
     * the body is not in place (in place, the input starts where the slot
     * ends), and then the body check has already refused the message. */
    int ok = buf_ok(in, len);
    int bad = (out + 16 != in) & overlap(out, len + 16, in, len);
    /* An empty nonce or AD passes both of its checks: skipped for field
     * encryption (neither), where they would be most of the work. */
    if ((m->nonce_len | m->ad_len) != 0) {
        ok &= buf_ok(m->nonce, m->nonce_len) & buf_ok(m->ad, m->ad_len);
        bad |= overlap(m->nonce, m->nonce_len, out, len + 16) |
               overlap(m->ad, m->ad_len, out, len + 16);
    }
    if (ok & !bad)
        return VL_OK;
    wipe_out(out, m->out_cap, &m->out_len);
    return VL_ERR_ARG;
}

/* The same for open_begin and open_check (reserve = 0). */
static int siv_batch_open_check(vl_aead_msg *m)
{
    const uint8_t *in = m->in;
    uint8_t *out = m->out;

    m->out_len = 0;
    if (in == NULL || m->in_len < 16) {
        wipe_out(out, m->out_cap, &m->out_len);
        return VL_ERR_ARG;
    }
    size_t len = m->in_len - 16;
    if ((uintptr_t)in > UINTPTR_MAX - m->in_len || m->out_cap < len || (out == NULL && len > 0)) {
        wipe_out(out, m->out_cap, &m->out_len);
        return VL_ERR_ARG;
    }
    /* check_op: buf_ok of nonce and AD (the body pointers are set); the
     * output exactly on the body or apart from all input; nonce and AD
     * outside the output. */
    int ok = 1;
    int bad = (out != in + 16) & overlap(out, len, in, m->in_len);
    if ((m->nonce_len | m->ad_len) != 0) { /* as in siv_batch_seal_check */
        ok = buf_ok(m->nonce, m->nonce_len) & buf_ok(m->ad, m->ad_len);
        bad |= overlap(m->nonce, m->nonce_len, out, len) | overlap(m->ad, m->ad_len, out, len);
    }
    if (ok & !bad)
        return VL_OK;
    wipe_out(out, m->out_cap, &m->out_len);
    return VL_ERR_ARG;
}

/* RFC 5297 §2.6/2.7's CTR for the chunk's messages, V into each seal's tag
 * slot: the path's multi-message CTR, or message by message. */
static void siv_batch_ctr(const struct vl_key *key, uint8_t (*v)[16],
                          const struct vl_ctr_job *jobs, size_t n)
{
    const struct vl_siv_ops *siv = &key->impl->siv;
    if (siv->ctr_batch != NULL) {
        siv->ctr_batch(key->state, (const uint8_t(*)[16])v, jobs, n);
        return;
    }
    for (size_t j = 0; j < n; j++) {
        siv->ctr(key->state, v[j], jobs[j].out, jobs[j].in, jobs[j].len);
        if (jobs[j].tag != NULL)
            memcpy(jobs[j].tag, v[j], 16);
    }
}

/* The verdicts of a chunk's opens in message order, each received tag
 * (the input's first 16 bytes, which no output of the batch overlaps)
 * against computed[i] for message i of the chunk. */
static void siv_batch_verdicts(struct vl_key *key, vl_aead_msg *msgs, const size_t *idx,
                               size_t n, uint8_t (*computed)[16])
{
    for (size_t j = 0; j < n; j++) {
        vl_aead_msg *m = &msgs[idx[j]];
        /* Verdicts in message order, each re-checking the failure budget
         * and counting its own failure, so a forgery that reaches
         * max_open_failures refuses the later messages of the same chunk,
         * exactly as one-by-one vl_aead_open calls would (found by
         * fuzz/aead_batch). */
        if (vl_usage_open_allowed(key) != VL_OK) {
            m->status = VL_ERR_LIMIT;
            wipe_out(m->out, m->out_cap, &m->out_len);
        } else if (tags_match(m->in, computed[idx[j]])) {
            m->out_len = m->in_len - 16;
        } else {
            m->status = VL_ERR_AUTH;
            wipe_out(m->out, m->out_cap, &m->out_len);
            vl_usage_count_failures(key, 1);
        }
    }
}

/* Messages of a chunk through s2v_batch and the multi-message CTR (any
 * nonce and AD). Seal: V = S2V(P), then C = CTR(V, P) with V written to
 * the tag slot (out = V || C). Open: the tags copied (the CTR reads V from
 * an array), P = CTR(V, C), then S2V(P) into computed[idx[j]]. */
static void siv_batch_general(const struct vl_key *key, vl_aead_msg *msgs, const size_t *idx,
                              size_t n, int seal, uint8_t (*computed)[16])
{
    vl_slice ads[BATCH_CHUNK];
    struct vl_s2v_job jobs[BATCH_CHUNK];
    struct vl_ctr_job ctr[BATCH_CHUNK];
    uint8_t tags[BATCH_CHUNK][16], v[BATCH_CHUNK][16];

    if (n == 0)
        return;
    for (size_t j = 0; j < n; j++) {
        const vl_aead_msg *m = &msgs[idx[j]];
        ads[j] = (vl_slice){m->ad, m->ad_len};
        if (seal) {
            ctr[j] = (struct vl_ctr_job){nonnull(m->in), m->out + 16, m->in_len, m->out};
        } else {
            ctr[j] = (struct vl_ctr_job){m->in + 16, m->out != NULL ? m->out : empty_out,
                                         m->in_len - 16, NULL};
            memcpy(tags[j], m->in, 16);
        }
        /* S2V runs over the plaintext: the input on seal, the output on open. */
        jobs[j] = (struct vl_s2v_job){&ads[j], 1, nonnull(m->nonce), m->nonce_len,
                                      seal ? ctr[j].in : ctr[j].out, ctr[j].len};
    }
    if (seal) {
        key->impl->siv.s2v_batch(key->state, tags, jobs, n);
        siv_batch_ctr(key, tags, ctr, n);
    } else {
        siv_batch_ctr(key, tags, ctr, n);
        key->impl->siv.s2v_batch(key->state, v, jobs, n);
        for (size_t j = 0; j < n; j++)
            memcpy(computed[idx[j]], v[j], 16);
        vl_memzero(v, n * sizeof v[0]);
    }
    /* One wipe for all: a 16-byte wipe per message stalls the next
     * message's CTR on a store to the neighbouring tag. */
    vl_memzero(tags, n * sizeof tags[0]);
}

/* Whether the path's fused field op (vl_siv_ops.field_seal/open) takes a
 * checked message: no nonce, an empty AD, a short body. */
static inline int siv_batch_field(const vl_aead_msg *m, int seal)
{
    size_t len = seal ? m->in_len : m->in_len - 16;
    return ((m->nonce_len | m->ad_len) == 0) & (len <= VL_SIV_FIELD_MAX);
}

/* The chunk's messages for the fused field op (fidx) and for the general
 * route (gidx), in order; returns how many are in fidx. */
static size_t siv_batch_split(const vl_aead_msg *msgs, const size_t *idx, size_t n, int seal,
                              size_t *fidx, size_t *gidx)
{
    size_t nf = 0, ng = 0;
    for (size_t j = 0; j < n; j++) {
        if (siv_batch_field(&msgs[idx[j]], seal))
            fidx[nf++] = idx[j];
        else
            gidx[ng++] = idx[j];
    }
    return nf;
}

/* One chunk of SIV messages. Messages are checked one by one (a bad one
 * costs only its own status) and usage is reserved for the chunk at once.
 * Field messages then go through the path's fused op when it has one, the
 * others through s2v_batch and the multi-message CTR; opens get their
 * verdicts in message order. One pass over the messages does the checks,
 * the byte count and the split: with the fused op a short message costs
 * little more than these. Inlined for each direction (|seal| constant). */
static inline __attribute__((always_inline)) void siv_batch_chunk(vl_aead_key *k,
                                                                  vl_aead_msg *msgs,
                                                                  size_t count, int seal)
{
    struct vl_key *key = vl_key_of(k);
    const struct vl_siv_ops *siv = &key->impl->siv;
    const int fused = seal ? siv->field_seal != NULL : siv->field_open != NULL;
    uint8_t computed[BATCH_CHUNK][16];
    size_t idx[BATCH_CHUNK], fidx[BATCH_CHUNK], gidx[BATCH_CHUNK], n = 0, nf = 0, ng = 0;
    uint64_t bytes = 0;

    for (size_t i = 0; i < count; i++) {
        vl_aead_msg *m = &msgs[i];
        m->status = seal ? siv_batch_seal_check(m) : siv_batch_open_check(m);
        if (m->status != VL_OK)
            continue;
        idx[n++] = i;
        bytes += m->in_len;
        /* Final unless the reservation fails, which wipes it. */
        if (seal)
            m->out_len = m->in_len + 16;
        if (fused && siv_batch_field(m, seal))
            fidx[nf++] = i;
        else
            gidx[ng++] = i;
    }
    size_t kept = batch_reserve(key, msgs, idx, n, bytes, seal);
    if (kept != n) {
        n = kept;
        nf = fused ? siv_batch_split(msgs, idx, n, seal, fidx, gidx) : 0;
        ng = n - nf;
        if (!fused)
            memcpy(gidx, idx, n * sizeof idx[0]);
    }
    if (nf > 0) {
        if (seal)
            siv->field_seal(key->state, msgs, fidx, nf);
        else
            siv->field_open(key->state, msgs, fidx, nf, computed);
    }
    siv_batch_general(key, msgs, gidx, ng, seal, computed);
    if (seal)
        return;
    siv_batch_verdicts(key, msgs, idx, n, computed);
    vl_memzero(computed, count * sizeof computed[0]);
}

static int batch(vl_aead_key *k, vl_aead_msg *msgs, size_t count, int seal)
{
    if (msgs == NULL && count != 0)
        return VL_ERR_ARG;
    int multi = key_ready(k) && is_siv(vl_key_of(k)) && vl_key_of(k)->impl->siv.s2v_batch;
    for (size_t i = 0; i < count; i += BATCH_CHUNK) {
        size_t n = count - i < BATCH_CHUNK ? count - i : BATCH_CHUNK;
        if (multi && seal)
            siv_batch_chunk(k, msgs + i, n, 1);
        else if (multi)
            siv_batch_chunk(k, msgs + i, n, 0);
        else
            for (size_t j = 0; j < n; j++)
                msgs[i + j].status = batch_one(k, &msgs[i + j], seal);
    }
    for (size_t i = 0; i < count; i++)
        if (msgs[i].status != VL_OK)
            return msgs[i].status;
    return VL_OK;
}

int vl_aead_seal_batch(vl_aead_key *k, vl_aead_msg *msgs, size_t count)
{
    return batch(k, msgs, count, 1);
}

int vl_aead_open_batch(vl_aead_key *k, vl_aead_msg *msgs, size_t count)
{
    return batch(k, msgs, count, 0);
}

/* Key lifecycle. */

static int key_len_ok(vl_alg alg, size_t key_len)
{
    switch (alg) {
    case VL_AES128_GCM: return key_len == 16;
    case VL_AES256_GCM: return key_len == 32;
    case VL_AES256_SIV: return key_len == 64;
    default: return 0;
    }
}

int vl_aead_init_impl(vl_aead_key *k, vl_alg alg, const uint8_t *key_bytes, size_t key_len,
                      const struct vl_impl *impl)
{
    if (k == NULL)
        return VL_ERR_ARG;
    vl_memzero(k, sizeof *k);
    if (key_bytes == NULL || !key_len_ok(alg, key_len))
        return VL_ERR_ARG;
    if (impl == NULL || !impl->supported())
        return VL_ERR_UNSUPPORTED;
    struct vl_key *key = vl_key_of(k);
    key->impl = impl;
    key->alg = (uint32_t)alg;
    if (alg == VL_AES256_SIV)
        impl->siv.init(key->state, key_bytes);
    else
        impl->gcm.init(key->state, key_bytes, key_len);
    vl_usage_reset(key);
    key->magic = VL_KEY_MAGIC;
    return VL_OK;
}

int vl_aead_init(vl_aead_key *k, vl_alg alg, const uint8_t *key_bytes, size_t key_len)
{
    if (k == NULL)
        return VL_ERR_ARG;
    if (key_bytes == NULL || !key_len_ok(alg, key_len)) {
        vl_memzero(k, sizeof *k);
        return VL_ERR_ARG;
    }
    const struct vl_impl *impl = vl_impl_default();
    if (impl == NULL) {
        vl_memzero(k, sizeof *k);
        return VL_ERR_UNSUPPORTED;
    }
    return vl_aead_init_impl(k, alg, key_bytes, key_len, impl);
}

void vl_aead_wipe(vl_aead_key *k)
{
    if (k != NULL)
        vl_memzero(k, sizeof *k);
}

const char *vl_aead_impl(const vl_aead_key *k)
{
    return key_ready(k) ? vl_key_of_const(k)->impl->name : "none";
}

vl_alg vl_aead_alg(const vl_aead_key *k)
{
    return key_ready(k) ? (vl_alg)vl_key_of_const(k)->alg : (vl_alg)0;
}

const void *vl_aead_state(const vl_aead_key *k)
{
    return key_ready(k) ? vl_key_of_const(k)->state : NULL;
}
