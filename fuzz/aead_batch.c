/* aead_batch: vl_aead_seal_batch / vl_aead_open_batch against the same
 * messages sealed and opened one by one (aead.h: "each message is sealed
 * (or opened) exactly as vl_aead_seal (vl_aead_open) would").
 *
 * Two keys on the same path with the same key and limits: one takes the
 * batch, the other the single calls. For every message the status,
 * out_len and the whole output buffer must agree (a failed message's
 * output is zeroed); the batch's return value must be the first failing
 * status; the usage counters of the two keys must end equal. Messages may
 * be malformed on purpose (GCM without a nonce, an output one byte too
 * small, in place), the key may carry small limits so that seals run out
 * in mid-batch, and the opens get tampered texts, nonces and ADs. SIV
 * batches on the x86 paths go through the multi-buffer S2V in chunks of
 * 32, so counts up to 80 cross chunk boundaries.
 *
 * Input layout (fuzz.h: short inputs read as zeros):
 *   u8 alg | u8 path | u8 count | u8 flags | u8 max_seals | u16 max_bytes
 *   | u8 max_open_failures | key | count x {u8 mflags, u8 nonce_len,
 *   u8 ad_len, u16 pt_len, u8 tamper, u8 pos} | data pool (the rest)
 * Message bytes are slices of the pool (zeros when it is empty). */
#include <string.h>

#include "fuzz.h"

#define MAX_MSGS 80
#define MAX_PT 600

/* Found here (regress-siv-batch-open-limit in the corpus): a batch open
 * checked max_open_failures once per 32-message SIV chunk, so after the
 * limit was reached mid-chunk, later messages still opened; core/aead.c
 * now decides message by message, and this target checks it exactly. */

enum { F_LIMITS = 1 };
enum { M_NO_NONCE = 1, M_SHORT_OUT = 2, M_IN_PLACE = 4 };

struct spec {
    uint8_t mflags, tamper, pos;
    size_t nonce_len, ad_len, pt_len;
    uint8_t *nonce, *ad, *pt;
};

/* One message's buffers for one run (batch or single). */
struct bufs {
    uint8_t *in, *out, *nonce, *ad;
    size_t in_len, out_cap, nonce_len, ad_len;
};

static uint8_t *slice(const uint8_t *pool, size_t pool_len, size_t *off, size_t len)
{
    uint8_t *b = fz_alloc(len, 0);
    for (size_t i = 0; i < len && pool_len > 0; i++)
        b[i] = pool[(*off)++ % pool_len];
    return b;
}

static void bufs_free(struct bufs *b)
{
    free(b->in);
    free(b->out);
    free(b->nonce);
    free(b->ad);
    memset(b, 0, sizeof *b);
}

static vl_aead_msg msg_of(const struct bufs *b, int in_place, size_t body_off)
{
    vl_aead_msg m = {b->nonce, b->nonce_len, b->ad, b->ad_len, b->in, b->in_len, b->out,
                     b->out_cap, 777, 777};
    if (in_place)
        m.in = b->out + body_off;
    return m;
}

/* Builds the seal buffers of message |s|: |in_place| copies the
 * plaintext to where the body goes (SIV: out + 16). */
static void seal_bufs(struct bufs *b, const struct spec *s, vl_alg alg)
{
    size_t body_off = alg == VL_AES256_SIV ? 16 : 0;
    b->nonce_len = (s->mflags & M_NO_NONCE) ? 0 : s->nonce_len;
    b->nonce = fz_dup(s->nonce, b->nonce_len);
    b->ad_len = s->ad_len;
    b->ad = fz_dup(s->ad, s->ad_len);
    b->in_len = s->pt_len;
    b->in = fz_dup(s->pt, s->pt_len);
    b->out_cap = s->pt_len + 16 - ((s->mflags & M_SHORT_OUT) ? 1 : 0);
    b->out = fz_alloc(b->out_cap, 0xa5);
    if ((s->mflags & M_IN_PLACE) && b->out_cap >= body_off + s->pt_len)
        memcpy(b->out + body_off, s->pt, s->pt_len);
}

/* Builds the open buffers of message |s| from its sealed output,
 * tampered as s->tamper says (0: untouched). */
static void open_bufs(struct bufs *b, const struct spec *s, const uint8_t *sealed,
                      size_t sealed_len)
{
    uint8_t x = (uint8_t)(s->pos | 1);
    b->nonce_len = (s->mflags & M_NO_NONCE) ? 0 : s->nonce_len;
    b->nonce = fz_dup(s->nonce, b->nonce_len);
    b->ad_len = s->ad_len;
    b->ad = fz_dup(s->ad, s->ad_len);
    b->in_len = sealed_len;
    switch (s->tamper % 6) {
    case 1:
        b->in_len = sealed_len > 0 ? sealed_len - 1 - s->pos % sealed_len : 0;
        break;
    case 2:
        if (b->nonce_len > 0)
            b->nonce[s->pos % b->nonce_len] ^= x;
        break;
    case 3:
        if (b->ad_len > 0)
            b->ad[s->pos % b->ad_len] ^= x;
        break;
    default:
        break;
    }
    b->in = fz_dup(sealed, b->in_len);
    if (s->tamper % 6 >= 4 && b->in_len > 0)
        b->in[s->pos % b->in_len] ^= x;
    b->out_cap = b->in_len >= 16 ? b->in_len - 16 : 0;
    if ((s->mflags & M_SHORT_OUT) && b->out_cap > 0)
        b->out_cap--;
    b->out = fz_alloc(b->out_cap, 0xa5);
    if ((s->mflags & M_IN_PLACE) && b->in_len >= 16) {
        /* In place: run() points out at the body inside |in|. */
        free(b->out);
        b->out = NULL;
    }
}

static void check_same(const vl_aead_msg *mb, const vl_aead_msg *ms, size_t i, const char *what)
{
    FZ_CHECK(mb->status == ms->status, "%s message %zu: batch status %d, single %d", what, i,
             mb->status, ms->status);
    FZ_CHECK(mb->out_len == ms->out_len, "%s message %zu: batch out_len %zu, single %zu", what, i,
             mb->out_len, ms->out_len);
    FZ_CHECK(mb->out_cap == ms->out_cap && memcmp(mb->out, ms->out, mb->out_cap) == 0,
             "%s message %zu (status %d): outputs differ", what, i, mb->status);
    if (mb->status != VL_OK)
        FZ_CHECK(mb->out_len == 0 && fz_is_zero(mb->out, mb->out_cap),
                 "%s message %zu: failed (%d) but output not wiped", what, i, mb->status);
}

static int first_failure(const vl_aead_msg *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (m[i].status != VL_OK)
            return m[i].status;
    return VL_OK;
}

static void check_usage(const vl_aead_key *kb, const vl_aead_key *ks, const char *when)
{
    vl_usage ub, us;
    vl_aead_usage(kb, &ub);
    vl_aead_usage(ks, &us);
    FZ_CHECK(ub.seals == us.seals && ub.bytes_sealed == us.bytes_sealed &&
                 ub.open_failures == us.open_failures,
             "usage after %s: batch %llu/%llu/%llu, single %llu/%llu/%llu", when,
             (unsigned long long)ub.seals, (unsigned long long)ub.bytes_sealed,
             (unsigned long long)ub.open_failures, (unsigned long long)us.seals,
             (unsigned long long)us.bytes_sealed, (unsigned long long)us.open_failures);
}

/* Runs |n| messages through the batch on |kb| and one by one on |ks|.
 * |bb| and |bs| are the two runs' own copies of the same buffers. */
static void run(vl_aead_key *kb, vl_aead_key *ks, int seal, struct bufs *bb, struct bufs *bs,
                const struct spec *sp, size_t n, vl_alg alg)
{
    vl_aead_msg mb[MAX_MSGS], ms[MAX_MSGS];
    size_t body_off = alg == VL_AES256_SIV ? 16 : 0;
    const char *what = seal ? "seal" : "open";
    for (size_t i = 0; i < n; i++) {
        int in_place = (sp[i].mflags & M_IN_PLACE) != 0;
        if (!seal && in_place && bb[i].out == NULL) {
            /* Open in place: out is the body inside the input copy. */
            mb[i] = (vl_aead_msg){bb[i].nonce, bb[i].nonce_len, bb[i].ad, bb[i].ad_len, bb[i].in,
                                  bb[i].in_len, bb[i].in + body_off, bb[i].in_len - 16, 777, 777};
            ms[i] = (vl_aead_msg){bs[i].nonce, bs[i].nonce_len, bs[i].ad, bs[i].ad_len, bs[i].in,
                                  bs[i].in_len, bs[i].in + body_off, bs[i].in_len - 16, 777, 777};
        } else {
            mb[i] = msg_of(&bb[i], seal && in_place && bb[i].out_cap >= body_off + bb[i].in_len,
                           body_off);
            ms[i] = msg_of(&bs[i], seal && in_place && bs[i].out_cap >= body_off + bs[i].in_len,
                           body_off);
        }
    }
    int rc = seal ? vl_aead_seal_batch(kb, mb, n) : vl_aead_open_batch(kb, mb, n);
    for (size_t i = 0; i < n; i++) {
        vl_aead_msg *m = &ms[i];
        m->status = seal ? vl_aead_seal(ks, m->out, &m->out_len, m->out_cap, m->nonce,
                                        m->nonce_len, m->in, m->in_len, m->ad, m->ad_len)
                         : vl_aead_open(ks, m->out, &m->out_len, m->out_cap, m->nonce,
                                        m->nonce_len, m->in, m->in_len, m->ad, m->ad_len);
    }
    for (size_t i = 0; i < n; i++)
        check_same(&mb[i], &ms[i], i, what);
    FZ_CHECK(rc == first_failure(mb, n), "%s batch returned %d, first failure %d", what, rc,
             first_failure(mb, n));
    /* Untampered, well-formed opens give the plaintext back. */
    for (size_t i = 0; !seal && i < n; i++)
        if (mb[i].status == VL_OK)
            FZ_CHECK(mb[i].out_len == sp[i].pt_len && memcmp(mb[i].out, sp[i].pt, sp[i].pt_len) == 0,
                     "open message %zu: accepted but not the plaintext", i);
    check_usage(kb, ks, what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz f = {data, size};
    const struct vl_impl *const *paths;
    size_t npaths = fz_paths(&paths);
    vl_alg alg = fz_alg(fz_u8(&f));
    const struct vl_impl *impl = paths[fz_u8(&f) % npaths];
    size_t n = fz_u8(&f) % (MAX_MSGS + 1);
    unsigned flags = fz_u8(&f);
    uint8_t max_seals = fz_u8(&f);
    uint16_t max_bytes = fz_u16(&f);
    uint8_t max_fail = fz_u8(&f);
    uint8_t key[64];
    size_t key_len = fz_key_len(alg);
    fz_fill(&f, key, key_len);
    struct spec sp[MAX_MSGS];
    for (size_t i = 0; i < n; i++) {
        sp[i].mflags = fz_u8(&f);
        sp[i].nonce_len = fz_u8(&f) % 33;
        if (alg != VL_AES256_SIV && sp[i].nonce_len == 0)
            sp[i].nonce_len = 12;
        sp[i].ad_len = fz_u8(&f);
        sp[i].pt_len = fz_u16(&f) % (MAX_PT + 1);
        sp[i].tamper = fz_u8(&f);
        sp[i].pos = fz_u8(&f);
    }
    size_t pool_len, off = 0;
    const uint8_t *pool = fz_take(&f, f.n, &pool_len);
    for (size_t i = 0; i < n; i++) {
        sp[i].nonce = slice(pool, pool_len, &off, sp[i].nonce_len);
        sp[i].ad = slice(pool, pool_len, &off, sp[i].ad_len);
        sp[i].pt = slice(pool, pool_len, &off, sp[i].pt_len);
    }

    vl_aead_key *kb = malloc(sizeof *kb), *ks = malloc(sizeof *ks);
    FZ_CHECK(kb != NULL && ks != NULL, "malloc");
    FZ_CHECK(vl_aead_init_impl(kb, alg, key, key_len, impl) == VL_OK, "init %s", impl->name);
    FZ_CHECK(vl_aead_init_impl(ks, alg, key, key_len, impl) == VL_OK, "init %s", impl->name);
    if (flags & F_LIMITS) {
        vl_limits l;
        vl_aead_get_limits(kb, &l);
        l.max_seals = max_seals == 255 ? UINT64_MAX : max_seals;
        l.max_bytes = max_bytes == 65535 ? UINT64_MAX : max_bytes;
        l.max_open_failures = max_fail == 255 ? UINT64_MAX : max_fail;
        FZ_CHECK(vl_aead_set_limits(kb, &l) == VL_OK && vl_aead_set_limits(ks, &l) == VL_OK,
                 "set_limits");
    }

    struct bufs bb[MAX_MSGS], bs[MAX_MSGS];
    for (size_t i = 0; i < n; i++) {
        seal_bufs(&bb[i], &sp[i], alg);
        seal_bufs(&bs[i], &sp[i], alg);
    }
    run(kb, ks, 1, bb, bs, sp, n, alg);

    /* Open what was sealed (a failed seal left zeros: those must fail). */
    struct bufs ob[MAX_MSGS], os[MAX_MSGS];
    for (size_t i = 0; i < n; i++) {
        size_t sealed_len = bb[i].out_cap;
        open_bufs(&ob[i], &sp[i], bb[i].out, sealed_len);
        open_bufs(&os[i], &sp[i], bb[i].out, sealed_len);
    }
    run(kb, ks, 0, ob, os, sp, n, alg);
    for (size_t i = 0; i < n; i++) {
        bufs_free(&bb[i]);
        bufs_free(&bs[i]);
        bufs_free(&ob[i]);
        bufs_free(&os[i]);
        free(sp[i].nonce);
        free(sp[i].ad);
        free(sp[i].pt);
    }
    vl_aead_wipe(kb);
    vl_aead_wipe(ks);
    free(kb);
    free(ks);
    return 0;
}
