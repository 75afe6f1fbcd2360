/* aead_diff: vellum's AEADs against OpenSSL and against the portable path.
 *
 * The fuzzer picks the algorithm, the CPU path, the key, nonce, AD and
 * plaintext, which API form to use, and up to 8 mutations. Then:
 *   1. vellum seals on the chosen path (combined, in place, detached, or
 *      S2V-vector for SIV), the portable path seals, and OpenSSL seals
 *      (skipped where OpenSSL cannot: an empty SIV plaintext, openssl#26580;
 *      a GCM nonce over 128 bytes): all three outputs must be identical;
 *   2. open on the chosen path, and on portable (cross-path), must accept
 *      the result and give the plaintext back;
 *   3. each mutation (a byte of ciphertext, tag, nonce or AD flipped; the
 *      sealed text, nonce or AD one byte shorter or longer) must be
 *      refused: VL_ERR_AUTH (or VL_ERR_ARG for a sealed text under 16
 *      bytes), with the whole output zeroed and out_len 0;
 *   4. the usage counters must count exactly the seals and failed opens.
 * GCM with an empty nonce must be refused with VL_ERR_ARG by every form.
 *
 * Input layout (fuzz.h: short inputs read as zeros):
 *   u8 alg | u8 path | u8 flags | u8 nonce_len | u16 ad_len | u8 n_mut
 *   | key (16/32/64) | nonce | ad | n_mut x {u8 kind, u16 pos, u8 xor}
 *   | plaintext (the rest)
 * Every buffer handed to vellum is its own exact-size heap block, so ASan
 * reports a read or write one byte outside it. */
#include <string.h>

#include "fuzz.h"
#include "ossl.h"

enum { F_SEAL_INPLACE = 1, F_DETACHED = 2, F_OPEN_INPLACE = 4, F_SIV_V = 8 };
enum { MAX_MUT = 8 };
enum { M_BODY, M_TAG, M_NONCE, M_AD, M_CT_LEN, M_NONCE_LEN, M_AD_LEN, M_KINDS };

struct msg {
    vl_alg alg;
    const uint8_t *nonce;
    size_t nonce_len;
    const uint8_t *ad;
    size_t ad_len;
};

static int is_siv(vl_alg a)
{
    return a == VL_AES256_SIV;
}

/* Checks the failure contract: rc is not VL_OK, out zeroed, out_len 0. */
static void check_refused(int rc, const uint8_t *out, size_t out_cap, size_t out_len,
                          const char *what)
{
    FZ_CHECK(rc != VL_OK, "%s: accepted", what);
    FZ_CHECK(out_len == 0, "%s: rc %d but out_len %zu", what, rc, out_len);
    FZ_CHECK(fz_is_zero(out, out_cap), "%s: rc %d but output not zeroed", what, rc);
}

/* Seals |pt| with |k| through the form |flags| picks; |out| gets pt_len + 16
 * bytes in the combined layout (GCM C || T, SIV V || C). */
static int seal_via(vl_aead_key *k, unsigned flags, const struct msg *m, const uint8_t *pt,
                    size_t pt_len, uint8_t *out)
{
    size_t cap = pt_len + 16, out_len = 12345, body_off = is_siv(m->alg) ? 16 : 0;
    int rc;
    if (flags & F_DETACHED) {
        uint8_t *body = fz_alloc(pt_len, 0xa5), *tag = fz_alloc(16, 0xa5);
        const uint8_t *in = pt;
        if (flags & F_SEAL_INPLACE) {
            memcpy(body, pt, pt_len);
            in = body;
        }
        rc = vl_aead_seal_detached(k, body, tag, m->nonce, m->nonce_len, in, pt_len, m->ad,
                                   m->ad_len);
        if (rc != VL_OK) {
            FZ_CHECK(fz_is_zero(body, pt_len) && fz_is_zero(tag, 16),
                     "seal_detached: rc %d, output not zeroed", rc);
        } else {
            memcpy(out + body_off, body, pt_len);
            memcpy(out + (is_siv(m->alg) ? 0 : pt_len), tag, 16);
        }
        free(body);
        free(tag);
        return rc;
    }
    const uint8_t *in = pt;
    if (flags & F_SEAL_INPLACE) {
        memcpy(out + body_off, pt, pt_len);
        in = out + body_off;
    }
    if (is_siv(m->alg) && (flags & F_SIV_V)) {
        vl_slice s = {m->ad, m->ad_len};
        rc = vl_aead_siv_seal_v(k, out, &out_len, cap, &s, 1, m->nonce, m->nonce_len, in, pt_len);
    } else {
        rc = vl_aead_seal(k, out, &out_len, cap, m->nonce, m->nonce_len, in, pt_len, m->ad,
                          m->ad_len);
    }
    if (rc == VL_OK)
        FZ_CHECK(out_len == cap, "seal: out_len %zu, want %zu", out_len, cap);
    else
        check_refused(rc, out, cap, out_len, "seal");
    return rc;
}

/* Opens |in| (combined layout, |in_len| bytes, any length) with |k|
 * through the form |flags| picks. On VL_OK the plaintext is in *pt_out
 * (heap, caller frees) and *pt_len set; on failure the contract is checked
 * and *pt_out is NULL. */
static int open_via(vl_aead_key *k, unsigned flags, const struct msg *m, const uint8_t *in,
                    size_t in_len, uint8_t **pt_out, size_t *pt_len)
{
    size_t cap = in_len >= 16 ? in_len - 16 : 0, out_len = 12345;
    size_t body_off = is_siv(m->alg) ? 16 : 0, tag_off = is_siv(m->alg) ? 0 : cap;
    int rc;
    *pt_out = NULL;
    *pt_len = 0;
    if ((flags & F_DETACHED) && in_len >= 16) {
        uint8_t *tag = fz_dup(in + tag_off, 16), *body = fz_dup(in + body_off, cap);
        uint8_t *out = (flags & F_OPEN_INPLACE) ? body : fz_alloc(cap, 0xa5);
        rc = vl_aead_open_detached(k, out, tag, m->nonce, m->nonce_len, body, cap, m->ad,
                                   m->ad_len);
        if (rc == VL_OK) {
            *pt_out = fz_dup(out, cap);
            *pt_len = cap;
        } else {
            check_refused(rc, out, cap, 0, "open_detached");
        }
        if (out != body)
            free(out);
        free(body);
        free(tag);
        return rc;
    }
    uint8_t *buf = fz_dup(in, in_len), *out;
    int own_out = !((flags & F_OPEN_INPLACE) && in_len >= 16);
    /* In place, out_cap below is exactly the body. */
    out = own_out ? fz_alloc(cap, 0xa5) : buf + body_off;
    if (is_siv(m->alg) && (flags & F_SIV_V)) {
        vl_slice s = {m->ad, m->ad_len};
        rc = vl_aead_siv_open_v(k, out, &out_len, cap, &s, 1, m->nonce, m->nonce_len, buf,
                                in_len);
    } else {
        rc = vl_aead_open(k, out, &out_len, cap, m->nonce, m->nonce_len, buf, in_len, m->ad,
                          m->ad_len);
    }
    if (rc == VL_OK) {
        FZ_CHECK(out_len == cap, "open: out_len %zu, want %zu", out_len, cap);
        *pt_out = fz_dup(out, cap);
        *pt_len = cap;
    } else {
        check_refused(rc, out, cap, out_len, "open");
    }
    if (own_out)
        free(out);
    free(buf);
    return rc;
}

static void expect_plaintext(int rc, uint8_t *got, size_t got_len, const uint8_t *pt,
                             size_t pt_len, const char *what)
{
    FZ_CHECK(rc == VL_OK, "%s: rc %d (%s)", what, rc, vl_strerror(rc));
    FZ_CHECK(got_len == pt_len && memcmp(got, pt, pt_len) == 0, "%s: wrong plaintext", what);
    free(got);
}

/* Applies mutation |kind| at |pos| with |x| (nonzero) to copies of the
 * sealed text, nonce and AD, opens, and expects a refusal; returns it. */
static int mutate_and_open(vl_aead_key *k, unsigned flags, const struct msg *m,
                            const uint8_t *sealed, size_t sealed_len, unsigned kind, size_t pos,
                            uint8_t x)
{
    size_t pt_len = sealed_len - 16, tag_off = is_siv(m->alg) ? 0 : pt_len;
    size_t body_off = is_siv(m->alg) ? 16 : 0;
    size_t s_len = sealed_len, n_len = m->nonce_len, a_len = m->ad_len;
    /* One spare byte each, for the "one longer" mutations. */
    uint8_t *s = fz_alloc(sealed_len + 1, x), *n = fz_alloc(n_len + 1, x), *a = fz_alloc(a_len + 1, x);
    memcpy(s, sealed, sealed_len);
    memcpy(n, m->nonce, n_len);
    memcpy(a, m->ad, a_len);
    int lengths = 0;
    switch (kind) {
    case M_BODY:
        if (pt_len > 0) {
            s[body_off + pos % pt_len] ^= x;
            break;
        }
        /* fall through: no body to flip */
    case M_TAG:
        s[tag_off + pos % 16] ^= x;
        break;
    case M_NONCE:
        if (n_len > 0) {
            n[pos % n_len] ^= x;
            break;
        }
        n_len = 1; /* no nonce: add one byte (SIV: one more S2V component) */
        break;
    case M_AD:
        if (a_len > 0) {
            a[pos % a_len] ^= x;
            break;
        }
        a_len = 1;
        break;
    case M_CT_LEN:
        lengths = 1;
        s_len = (pos & 1) ? sealed_len + 1 : sealed_len - 1 - (pos >> 1) % sealed_len;
        break;
    case M_NONCE_LEN:
        n_len = (pos & 1) || n_len == 0 ? n_len + 1 : n_len - 1;
        break;
    default: /* M_AD_LEN */
        a_len = (pos & 1) || a_len == 0 ? a_len + 1 : a_len - 1;
        break;
    }
    struct msg mm = {m->alg, n, n_len, a, a_len};
    uint8_t *got;
    size_t got_len;
    /* Length changes go through the combined form: a detached tag needs 16 bytes. */
    int rc = open_via(k, lengths ? flags & ~(unsigned)F_DETACHED : flags, &mm, s, s_len, &got,
                      &got_len);
    if (rc == VL_OK) {
        free(got);
        FZ_CHECK(0, "mutation %u (pos %zu, xor %02x) accepted: alg %d, path %s, flags %u", kind,
                 pos, x, (int)m->alg, vl_aead_impl(k), flags);
    }
    if (!is_siv(m->alg) && n_len == 0)
        FZ_CHECK(rc == VL_ERR_ARG, "GCM with an empty nonce: rc %d", rc);
    else if (s_len < 16)
        FZ_CHECK(rc == VL_ERR_ARG, "sealed text of %zu bytes: rc %d", s_len, rc);
    else
        FZ_CHECK(rc == VL_ERR_AUTH, "mutation %u: rc %d, want VL_ERR_AUTH", kind, rc);
    free(s);
    free(n);
    free(a);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz f = {data, size};
    const struct vl_impl *const *paths;
    size_t npaths = fz_paths(&paths);
    vl_alg alg = fz_alg(fz_u8(&f));
    const struct vl_impl *impl = paths[fz_u8(&f) % npaths];
    unsigned flags = fz_u8(&f);
    size_t nonce_want = fz_u8(&f), ad_want = fz_u16(&f), n_mut = fz_u8(&f) % (MAX_MUT + 1);
    uint8_t keybuf[64];
    size_t key_len = fz_key_len(alg), nonce_len, ad_len, pt_len;
    fz_fill(&f, keybuf, key_len);
    uint8_t *key = fz_dup(keybuf, key_len);
    uint8_t *nonce = fz_dup(fz_take(&f, nonce_want, &nonce_len), nonce_len);
    uint8_t *ad = fz_dup(fz_take(&f, ad_want, &ad_len), ad_len);
    struct {
        uint8_t kind, x;
        uint16_t pos;
    } mut[MAX_MUT];
    for (size_t i = 0; i < n_mut; i++) {
        mut[i].kind = fz_u8(&f) % M_KINDS;
        mut[i].pos = fz_u16(&f);
        mut[i].x = fz_u8(&f);
        mut[i].x = mut[i].x ? mut[i].x : 1;
    }
    uint8_t *pt = fz_dup(fz_take(&f, f.n, &pt_len), pt_len);
    struct msg m = {alg, nonce, nonce_len, ad, ad_len};

    vl_aead_key *k = malloc(sizeof *k), *kp = malloc(sizeof *kp);
    FZ_CHECK(k != NULL && kp != NULL, "malloc");
    int rc = vl_aead_init_impl(k, alg, key, key_len, impl);
    FZ_CHECK(rc == VL_OK, "init on %s: %d", impl->name, rc);
    FZ_CHECK(strcmp(vl_aead_impl(k), impl->name) == 0, "path %s, want %s", vl_aead_impl(k),
             impl->name);
    rc = vl_aead_init_impl(kp, alg, key, key_len, fz_portable());
    FZ_CHECK(rc == VL_OK, "init on portable: %d", rc);

    size_t sealed_len = pt_len + 16;
    uint8_t *sealed = fz_alloc(sealed_len, 0xa5), *ref = fz_alloc(sealed_len, 0xa5);
    rc = seal_via(k, flags, &m, pt, pt_len, sealed);
    if (!is_siv(alg) && nonce_len == 0) {
        /* SP 800-38D: IV length >= 1. Every form must refuse. */
        FZ_CHECK(rc == VL_ERR_ARG, "GCM, empty nonce, %s: rc %d", impl->name, rc);
        goto done;
    }
    FZ_CHECK(rc == VL_OK, "seal on %s (flags %u): %d", impl->name, flags, rc);

    /* 1. Three implementations, one answer. */
    rc = seal_via(kp, 0, &m, pt, pt_len, ref);
    FZ_CHECK(rc == VL_OK, "seal on portable: %d", rc);
    FZ_CHECK(memcmp(sealed, ref, sealed_len) == 0, "%s and portable disagree: alg %d, %s vs %s",
             impl->name, (int)alg, fz_hex(sealed, sealed_len), fz_hex(ref, sealed_len));
    int ossl;
    if (is_siv(alg))
        ossl = fz_ossl_siv_seal(key, ad, ad_len, nonce, nonce_len, pt, pt_len, ref);
    else
        ossl = fz_ossl_gcm_seal(key, key_len, nonce, nonce_len, ad, ad_len, pt, pt_len, ref);
    int ossl_expected = is_siv(alg) ? pt_len > 0 : nonce_len <= FZ_OSSL_GCM_MAX_IV;
    FZ_CHECK(ossl == ossl_expected, "OpenSSL seal returned %d", ossl);
    if (ossl)
        FZ_CHECK(memcmp(sealed, ref, sealed_len) == 0, "%s and OpenSSL disagree: alg %d",
                 impl->name, (int)alg);

    /* 2. Open: same path, and across to portable. */
    uint8_t *back;
    size_t back_len;
    rc = open_via(k, flags, &m, sealed, sealed_len, &back, &back_len);
    expect_plaintext(rc, back, back_len, pt, pt_len, "open");
    rc = open_via(kp, flags ^ F_OPEN_INPLACE, &m, sealed, sealed_len, &back, &back_len);
    expect_plaintext(rc, back, back_len, pt, pt_len, "open on portable");

    /* 3. Every mutation refused, alternately on the chosen path and portable. */
    uint64_t failures[2] = {0, 0};
    for (size_t i = 0; i < n_mut; i++) {
        vl_aead_key *kk = i & 1 ? kp : k;
        rc = mutate_and_open(kk, flags, &m, sealed, sealed_len, mut[i].kind, mut[i].pos,
                             mut[i].x);
        /* Only a tag that fails to verify counts (aead.h), not a bad argument. */
        failures[i & 1] += rc == VL_ERR_AUTH;
    }

    /* 4. Exact usage counts. */
    vl_usage u;
    vl_aead_usage(k, &u);
    FZ_CHECK(u.seals == 1 && u.bytes_sealed == pt_len && u.open_failures == failures[0],
             "usage on %s: seals %llu bytes %llu failures %llu, want 1 %zu %llu", impl->name,
             (unsigned long long)u.seals, (unsigned long long)u.bytes_sealed,
             (unsigned long long)u.open_failures, pt_len, (unsigned long long)failures[0]);
    vl_aead_usage(kp, &u);
    FZ_CHECK(u.seals == 1 && u.open_failures == failures[1],
             "usage on portable: seals %llu failures %llu, want 1 %llu",
             (unsigned long long)u.seals, (unsigned long long)u.open_failures,
             (unsigned long long)failures[1]);
done:
    vl_aead_wipe(k);
    vl_aead_wipe(kp);
    FZ_CHECK(fz_is_zero((const uint8_t *)k, sizeof *k), "wipe left key bytes");
    free(k);
    free(kp);
    free(sealed);
    free(ref);
    free(key);
    free(nonce);
    free(ad);
    free(pt);
    return 0;
}
