/* Random differential tests against OpenSSL EVP, and cross-path tests.
 *
 * Suite "differential": AES-128-GCM, AES-256-GCM and AES-256-SIV with fixed seeds
 * (splitmix64), at least VL_DIFF_CASES (default 100,000) cases per run in
 * all, split evenly across the three algorithms and across the supported
 * paths. Each case: vellum seal == OpenSSL seal; vellum open gives the
 * plaintext back; OpenSSL opens vellum's output; one random bit flipped in
 * the ciphertext/tag, in the AD and in the nonce each makes vl_aead_open
 * return VL_ERR_AUTH with the output zeroed and out_len 0.
 *
 * SIV through the single-AD API is S2V over [ad, nonce?, plaintext]; the
 * OpenSSL oracle passes the AD as one EVP AAD update (even when empty, with
 * a non-NULL pointer) and the nonce as a second one. OpenSSL 3.0 cannot
 * seal or open an empty SIV plaintext (openssl#26580): only the OpenSSL
 * half of such a case is skipped, and counted.
 *
 * Suite "cross_path": seal on path A, open on path B, for every ordered pair of
 * supported paths (A == B included), every plaintext length 0..1024 and
 * every AD length 0..1024, input and output at random offsets 0..15; the
 * two paths' ciphertexts must be identical. cross_path/siv_s2v_batch: a
 * path's optional multi-buffer siv.s2v_batch against its own siv.s2v and
 * the portable S2V, over job mixes built to hit every lane-scheduler case. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "siv_ct.h"

#define DEFAULT_CASES 100000
#define MAX_PT (1u << 20)
#define MAX_AD 4096
#define MAX_NONCE 128
#define SLACK 64

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t total_cases(void)
{
    const char *env = getenv("VL_DIFF_CASES");
    if (env != NULL && env[0] != '\0') {
        long v = strtol(env, NULL, 10);
        if (v > 0)
            return (size_t)v;
    }
    return vt_scaled(DEFAULT_CASES);
}

/* Scratch buffers, allocated once per test process; each case places its
 * data at a random offset 0..15 inside them. */
struct scratch {
    uint8_t *pt, *ad, *nonce, *sealed, *ossl, *back;
};

static void scratch_init(struct scratch *s)
{
    s->pt = malloc(MAX_PT + SLACK);
    s->ad = malloc(MAX_AD + SLACK);
    s->nonce = malloc(MAX_NONCE + SLACK);
    s->sealed = malloc(MAX_PT + 16 + SLACK);
    s->ossl = malloc(MAX_PT + 16 + SLACK);
    s->back = malloc(MAX_PT + SLACK);
    cr_assert(s->pt && s->ad && s->nonce && s->sealed && s->ossl && s->back);
}

static void scratch_free(struct scratch *s)
{
    free(s->pt), free(s->ad), free(s->nonce), free(s->sealed), free(s->ossl), free(s->back);
}

struct stats {
    size_t cases, flips, ossl_skipped, bytes;
};

static int ossl_seal(vl_alg alg, const uint8_t *key, const uint8_t *nonce, size_t nonce_len,
                     const uint8_t *ad, size_t ad_len, const uint8_t *pt, size_t pt_len,
                     uint8_t *out)
{
    if (alg == VL_AES256_SIV) {
        const vl_slice one = {ad, ad_len};
        return vt_ossl_siv_seal(key, 64, &one, 1, nonce, nonce_len, pt, pt_len, out);
    }
    return vt_ossl_gcm_seal(key, vt_key_len(alg), nonce, nonce_len, ad, ad_len, pt, pt_len, out);
}

static int ossl_open(vl_alg alg, const uint8_t *key, const uint8_t *nonce, size_t nonce_len,
                     const uint8_t *ad, size_t ad_len, const uint8_t *in, size_t in_len,
                     uint8_t *out)
{
    if (alg == VL_AES256_SIV) {
        const vl_slice one = {ad, ad_len};
        return vt_ossl_siv_open(key, 64, &one, 1, nonce, nonce_len, in, in_len, out);
    }
    return vt_ossl_gcm_open(key, vt_key_len(alg), nonce, nonce_len, ad, ad_len, in, in_len, out);
}

/* Flip one random bit of buf[0..len) and expect vl_aead_open to refuse. */
static void expect_flip_refused(vl_aead_key *k, vt_rng *r, uint8_t *buf, size_t len,
                                const uint8_t *nonce, size_t nonce_len, const uint8_t *ad,
                                size_t ad_len, const uint8_t *sealed, size_t sealed_len,
                                uint8_t *out, const char *where, const char *what)
{
    size_t bit = (size_t)vt_rng_below(r, (uint64_t)len * 8), out_len = 777;
    size_t cap = sealed_len - 16;
    buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    out[0] = 0xa5;
    if (cap > 0)
        out[cap - 1] = 0xa5;
    int rc = vl_aead_open(k, out, &out_len, cap, nonce, nonce_len, sealed, sealed_len, ad, ad_len);
    buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    cr_assert_eq(rc, VL_ERR_AUTH, "%s: bit %zu flipped in the %s: open returned %d", what, bit,
                 where, rc);
    cr_assert_eq(out_len, 0, "%s: flipped %s: out_len %zu", what, where, out_len);
    cr_assert(vt_is_zero(out, cap), "%s: flipped %s: output not zeroed", what, where);
}

static void one_case(const struct vl_impl *p, vl_alg alg, vt_rng *r, struct scratch *s,
                     size_t pt_len, size_t ad_len, size_t nonce_len, struct stats *st,
                     const char *label, size_t idx)
{
    uint8_t key[64];
    size_t kl = vt_key_len(alg), out_len = 0;
    uint8_t *pt = s->pt + vt_rng_below(r, 16), *ad = s->ad + vt_rng_below(r, 16);
    uint8_t *nonce = s->nonce + vt_rng_below(r, 16), *sealed = s->sealed + vt_rng_below(r, 16);
    uint8_t *back = s->back + vt_rng_below(r, 16), *ossl = s->ossl;
    char what[160];
    vl_aead_key k;
    int siv = alg == VL_AES256_SIV;

    vt_rng_fill(r, key, kl);
    vt_rng_fill(r, pt, pt_len);
    vt_rng_fill(r, ad, ad_len);
    vt_rng_fill(r, nonce, nonce_len);
    snprintf(what, sizeof what, "%s %s path %s case %zu (pt %zu, ad %zu, nonce %zu)", label,
             vt_alg_name(alg), p->name, idx, pt_len, ad_len, nonce_len);
    /* (Case |idx| replays from the seed printed in the log line.) */
    vt_key_init(&k, alg, key, kl, p);

    /* Zero-length buffers get NULL half the time: both must work. */
    const uint8_t *pt_arg = (pt_len == 0 && (idx & 1)) ? NULL : pt;
    const uint8_t *ad_arg = (ad_len == 0 && (idx & 2)) ? NULL : ad;
    const uint8_t *nonce_arg = (nonce_len == 0 && (idx & 4)) ? NULL : nonce;

    int rc = vl_aead_seal(&k, sealed, &out_len, pt_len + 16, nonce_arg, nonce_len, pt_arg, pt_len,
                          ad_arg, ad_len);
    cr_assert_eq(rc, VL_OK, "%s: seal returned %d", what, rc);
    cr_assert_eq(out_len, pt_len + 16, "%s: seal out_len", what);

    if (siv && pt_len == 0) {
        st->ossl_skipped++; /* OpenSSL 3.0 cannot do empty-plaintext SIV */
    } else {
        cr_assert(ossl_seal(alg, key, nonce, nonce_len, ad, ad_len, pt, pt_len, ossl),
                  "%s: OpenSSL seal failed", what);
        if (memcmp(sealed, ossl, pt_len + 16) != 0) {
            size_t d = 0;
            while (sealed[d] == ossl[d])
                d++;
            cr_assert_fail("%s: vellum and OpenSSL seal differ from byte %zu of %zu", what, d,
                           pt_len + 16);
        }
        memset(ossl, 0, pt_len + 16);
        cr_assert(ossl_open(alg, key, nonce, nonce_len, ad, ad_len, sealed, pt_len + 16, ossl),
                  "%s: OpenSSL refuses vellum's ciphertext", what);
        cr_assert(memcmp(ossl, pt, pt_len) == 0, "%s: OpenSSL decrypts vellum's output wrongly",
                  what);
    }

    out_len = 0;
    rc = vl_aead_open(&k, back, &out_len, pt_len, nonce_arg, nonce_len, sealed, pt_len + 16,
                      ad_arg, ad_len);
    cr_assert_eq(rc, VL_OK, "%s: open returned %d", what, rc);
    cr_assert_eq(out_len, pt_len, "%s: open out_len", what);
    cr_assert(memcmp(back, pt, pt_len) == 0, "%s: open gives the wrong plaintext", what);

    /* Tampering: ciphertext or tag, AD, nonce. */
    expect_flip_refused(&k, r, sealed, pt_len + 16, nonce, nonce_len, ad, ad_len, sealed,
                        pt_len + 16, back, "ciphertext/tag", what);
    st->flips++;
    if (ad_len > 0) {
        expect_flip_refused(&k, r, ad, ad_len, nonce, nonce_len, ad, ad_len, sealed, pt_len + 16,
                            back, "AD", what);
        st->flips++;
    }
    if (nonce_len > 0) {
        expect_flip_refused(&k, r, nonce, nonce_len, nonce, nonce_len, ad, ad_len, sealed,
                            pt_len + 16, back, "nonce", what);
        st->flips++;
    }
    vl_aead_wipe(&k);
    st->cases++;
    st->bytes += pt_len + ad_len;
}

static size_t pick_ad_len(vt_rng *r)
{
    uint64_t c = vt_rng_below(r, 100);
    if (c < 50)
        return vt_rng_range(r, 0, 32);
    if (c < 85)
        return vt_rng_range(r, 0, 512);
    return vt_rng_range(r, 0, MAX_AD);
}

static size_t pick_nonce_len(vt_rng *r, vl_alg alg)
{
    uint64_t c = vt_rng_below(r, 100);
    if (alg != VL_AES256_SIV) /* GCM: mostly 12, else 1..128 */
        return c < 80 ? 12 : vt_rng_range(r, 1, MAX_NONCE);
    if (c < 30) /* SIV: deterministic */
        return 0;
    if (c < 70)
        return 16;
    return vt_rng_range(r, 1, 64);
}

static void run_differential(vl_alg alg, uint64_t seed)
{
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t npaths = vt_paths(paths);
    size_t per_alg = (total_cases() + 2) / 3;
    size_t per_path = (per_alg + npaths - 1) / npaths;
    struct scratch s;
    scratch_init(&s);
    for (size_t pi = 0; pi < npaths; pi++) {
        struct stats st = {0};
        const uint64_t seed0 = seed ^ ((uint64_t)pi << 56);
        vt_rng r = {seed0};
        double t0 = now();
        for (size_t i = 0; i < per_path; i++) {
            /* The first 2049 cases sweep every plaintext length 0..2048;
             * then 90% uniform 0..2048, 10% short (0..64). */
            size_t pt_len = i <= 2048 ? i
                            : vt_rng_below(&r, 10) ? vt_rng_range(&r, 0, 2048)
                                                   : vt_rng_range(&r, 0, 64);
            size_t ad_len = pick_ad_len(&r), nonce_len = pick_nonce_len(&r, alg);
            one_case(paths[pi], alg, &r, &s, pt_len, ad_len, nonce_len, &st, "differential", i);
        }
        fprintf(stderr,
                "[differential] %s: path %s: %zu cases (%zu tamper checks, %.1f MB of "
                "pt+ad), %zu OpenSSL halves skipped (empty SIV plaintext, openssl#26580), "
                "seed %#llx, %.1f s\n",
                vt_alg_name(alg), paths[pi]->name, st.cases, st.flips, st.bytes / 1e6,
                st.ossl_skipped, (unsigned long long)seed0, now() - t0);
    }
    scratch_free(&s);
}

Test(differential, aes128_gcm, .timeout = 600)
{
    run_differential(VL_AES128_GCM, UINT64_C(0x76656c6c756d0001));
}

Test(differential, aes256_gcm, .timeout = 600)
{
    run_differential(VL_AES256_GCM, UINT64_C(0x76656c6c756d0002));
}

Test(differential, aes256_siv, .timeout = 600)
{
    run_differential(VL_AES256_SIV, UINT64_C(0x76656c6c756d0003));
}

/* Long messages: a few up to 1 MiB around block and chunk boundaries, and
 * 40 per algorithm uniform in 2 KiB .. 128 KiB (the fast paths' wide loops
 * and any internal chunking). */
Test(differential, large, .timeout = 600)
{
    static const size_t lens[] = {65536 + 7, 262144 - 1, MAX_PT - 1, MAX_PT};
    static const vl_alg algs[] = {VL_AES128_GCM, VL_AES256_GCM, VL_AES256_SIV};
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t npaths = vt_paths(paths);
    struct scratch s;
    scratch_init(&s);
    for (size_t pi = 0; pi < npaths; pi++) {
        struct stats st = {0};
        vt_rng r = {UINT64_C(0x76656c6c756d0004) ^ ((uint64_t)pi << 56)};
        double t0 = now();
        for (size_t a = 0; a < 3; a++) {
            /* VL_TEST_SCALE < 1 (valgrind): the shortest of the long ones only. */
            for (size_t i = 0; i < (vt_scale() < 1 ? 1 : sizeof lens / sizeof lens[0]); i++)
                one_case(paths[pi], algs[a], &r, &s, lens[i], vt_rng_range(&r, 0, MAX_AD),
                         pick_nonce_len(&r, algs[a]), &st, "large", i);
            for (size_t i = 0; i < vt_scaled(40); i++)
                one_case(paths[pi], algs[a], &r, &s, vt_rng_range(&r, 2049, 131072),
                         pick_ad_len(&r), pick_nonce_len(&r, algs[a]), &st, "large",
                         i + sizeof lens / sizeof lens[0]);
        }
        fprintf(stderr,
                "[differential] large (2 KiB .. 1 MiB, all algorithms): path %s: %zu cases, "
                "%.1f MB of pt+ad, %.1f s\n",
                paths[pi]->name, st.cases, st.bytes / 1e6, now() - t0);
    }
    scratch_free(&s);
}

/* ---- cross-path -------------------------------------------------------- */

/* Seal |pt_len| bytes with |ad_len| bytes of AD on A and on B (must agree),
 * then open A's output on B and B's on A, all buffers at random offsets. */
static void cross_case(const struct vl_impl *a, const struct vl_impl *b, vl_alg alg, vt_rng *r,
                       struct scratch *s, size_t pt_len, size_t ad_len)
{
    uint8_t key[64];
    size_t kl = vt_key_len(alg), out_len = 0;
    size_t nonce_len = alg == VL_AES256_SIV ? (size_t)(vt_rng_below(r, 2) ? 16 : 0)
                       : vt_rng_below(r, 8) ? 12
                                            : vt_rng_range(r, 1, 64);
    uint8_t *pt = s->pt + vt_rng_below(r, 16), *ad = s->ad + vt_rng_below(r, 16);
    uint8_t *nonce = s->nonce + vt_rng_below(r, 16);
    uint8_t *ca = s->sealed + vt_rng_below(r, 16), *cb = s->ossl + vt_rng_below(r, 16);
    uint8_t *back = s->back + vt_rng_below(r, 16);
    vl_aead_key ka, kb;
    char what[160];

    vt_rng_fill(r, key, kl);
    vt_rng_fill(r, pt, pt_len);
    vt_rng_fill(r, ad, ad_len);
    vt_rng_fill(r, nonce, nonce_len);
    snprintf(what, sizeof what, "%s seal on %s, open on %s (pt %zu, ad %zu, nonce %zu)",
             vt_alg_name(alg), a->name, b->name, pt_len, ad_len, nonce_len);
    vt_key_init(&ka, alg, key, kl, a);
    vt_key_init(&kb, alg, key, kl, b);

    int rc = vl_aead_seal(&ka, ca, &out_len, pt_len + 16, nonce, nonce_len, pt, pt_len, ad, ad_len);
    cr_assert(rc == VL_OK && out_len == pt_len + 16, "%s: seal on A: %d", what, rc);
    rc = vl_aead_seal(&kb, cb, &out_len, pt_len + 16, nonce, nonce_len, pt, pt_len, ad, ad_len);
    cr_assert(rc == VL_OK && out_len == pt_len + 16, "%s: seal on B: %d", what, rc);
    if (memcmp(ca, cb, pt_len + 16) != 0) {
        size_t d = 0;
        while (ca[d] == cb[d])
            d++;
        cr_assert_fail("%s: the two paths' outputs differ from byte %zu", what, d);
    }
    rc = vl_aead_open(&kb, back, &out_len, pt_len, nonce, nonce_len, ca, pt_len + 16, ad, ad_len);
    cr_assert(rc == VL_OK && out_len == pt_len, "%s: open on B: %d", what, rc);
    cr_assert(memcmp(back, pt, pt_len) == 0, "%s: B decrypts A's output wrongly", what);
    memset(back, 0, pt_len);
    rc = vl_aead_open(&ka, back, &out_len, pt_len, nonce, nonce_len, cb, pt_len + 16, ad, ad_len);
    cr_assert(rc == VL_OK && out_len == pt_len, "%s: open on A: %d", what, rc);
    cr_assert(memcmp(back, pt, pt_len) == 0, "%s: A decrypts B's output wrongly", what);
    vl_aead_wipe(&ka);
    vl_aead_wipe(&kb);
}

/* The next length of a 0..1024 sweep. */
static size_t sweep_next(size_t len, size_t step)
{
    return len + step < 1024 ? len + step : 1024;
}

static void run_cross(vl_alg alg, uint64_t seed)
{
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t npaths = vt_paths(paths), cases = 0, step = vt_scaled_step(1025);
    struct scratch s;
    vt_rng r = {seed};
    double t0 = now();
    scratch_init(&s);
    for (size_t ia = 0; ia < npaths; ia++)
        for (size_t ib = 0; ib < npaths; ib++) {
            /* step is 1 but under VL_TEST_SCALE; 0 and 1024 always run */
            for (size_t len = 0;; len = sweep_next(len, step)) { /* plaintext length sweep */
                cross_case(paths[ia], paths[ib], alg, &r, &s, len, vt_rng_range(&r, 0, 80));
                if (cases++, len == 1024)
                    break;
            }
            for (size_t len = 0;; len = sweep_next(len, step)) { /* AD length sweep */
                cross_case(paths[ia], paths[ib], alg, &r, &s, vt_rng_range(&r, 0, 48), len);
                if (cases++, len == 1024)
                    break;
            }
        }
    scratch_free(&s);
    fprintf(stderr,
            "[cross_path] %s: %zu path pair(s) over {%s}: %zu cases (pt 0..1024 and ad "
            "0..1024, offsets 0..15), %.1f s\n",
            vt_alg_name(alg), npaths * npaths, vt_path_names(), cases, now() - t0);
}

Test(cross_path, aes128_gcm, .timeout = 600)
{
    run_cross(VL_AES128_GCM, UINT64_C(0x76656c6c756d0011));
}

Test(cross_path, aes256_gcm, .timeout = 600)
{
    run_cross(VL_AES256_GCM, UINT64_C(0x76656c6c756d0012));
}

Test(cross_path, aes256_siv, .timeout = 600)
{
    run_cross(VL_AES256_SIV, UINT64_C(0x76656c6c756d0013));
}

/* ---- multi-buffer S2V ------------------------------------------------- */

/* A component length from a mix that hits the multi-buffer scheduler's
 * cases: empty, partial block, exactly one block, up to and past
 * VL_SIV_LANE_BLOCKS (8) blocks, and long. */
static size_t pick_comp_len(vt_rng *r, size_t long_max)
{
    switch (vt_rng_below(r, 8)) {
    case 0: return 0;
    case 1: return vt_rng_range(r, 1, 15);
    case 2: return 16;
    case 3: return vt_rng_range(r, 17, 32);
    case 4: return vt_rng_range(r, 112, 144); /* around 8 blocks */
    case 5: return 16 * vt_rng_range(r, 1, 12);
    case 6: return vt_rng_range(r, 33, 300);
    default: return vt_rng_range(r, 0, long_max);
    }
}

/* siv.s2v_batch (optional in struct vl_siv_ops) must give, for every job,
 * exactly what siv.s2v gives, and what the portable S2V gives. */
Test(cross_path, siv_s2v_batch, .timeout = 600)
{
    enum { MAX_JOBS = 100, MAX_COMP = 4, POOL = 8192 };
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t npaths = vt_paths(paths), tested = 0;
    uint8_t *pool = malloc(POOL + 4096);
    struct vl_s2v_job *jobs = malloc(MAX_JOBS * sizeof *jobs);
    vl_slice *comps = malloc(MAX_JOBS * MAX_COMP * sizeof *comps);
    uint8_t(*v)[16] = malloc((MAX_JOBS + 1) * 16);
    cr_assert(pool && jobs && comps && v);
    for (size_t pi = 0; pi < npaths; pi++) {
        const struct vl_impl *p = paths[pi];
        if (p->siv.s2v_batch == NULL) {
            fprintf(stderr, "[cross_path] siv_s2v_batch: path %s has none (front end loops "
                            "over s2v): skipped\n",
                    p->name);
            continue;
        }
        vt_rng r = {UINT64_C(0x76656c6c756d0021) ^ ((uint64_t)pi << 56)};
        uint8_t key[64];
        vl_aead_key k;
        vl_siv_ct ref;
        size_t calls = 0, njobs_total = 0;
        vt_rng_fill(&r, key, sizeof key);
        vt_rng_fill(&r, pool, POOL + 4096);
        vt_key_init(&k, VL_AES256_SIV, key, 64, p);
        cr_assert_eq(vl_siv_ct_init_key(&ref, key, 64), 0);
        const void *st = vl_aead_state(&k);
        p->siv.s2v_batch(st, v, jobs, 0); /* nothing to do, nothing written */
        for (size_t iter = 0; iter < vt_scaled(600); iter++, calls++) {
            size_t n = iter < MAX_JOBS ? iter + 1 : vt_rng_range(&r, 1, MAX_JOBS);
            /* Some calls make every job alike (lanes in lockstep), some
             * make one job long and the rest short. */
            int mode = (int)vt_rng_below(&r, 4);
            for (size_t j = 0; j < n; j++) {
                struct vl_s2v_job *jb = &jobs[j];
                size_t count = mode == 0 ? 1 : vt_rng_range(&r, 0, MAX_COMP);
                vl_slice *c = &comps[j * MAX_COMP];
                for (size_t i = 0; i < count; i++) {
                    c[i].len = mode == 0 ? 24 : pick_comp_len(&r, 600);
                    c[i].ptr = (c[i].len == 0 && vt_rng_below(&r, 2))
                                   ? NULL
                                   : pool + vt_rng_below(&r, POOL - c[i].len + 1);
                }
                jb->ad = count == 0 && vt_rng_below(&r, 2) ? NULL : c;
                jb->ad_count = count;
                jb->nonce_len = mode == 0 ? 12 : (vt_rng_below(&r, 3) ? pick_comp_len(&r, 64) : 0);
                jb->nonce = pool + vt_rng_below(&r, POOL - 64);
                if (jb->nonce_len == 0 && vt_rng_below(&r, 2))
                    jb->nonce = NULL;
                jb->len = mode == 0   ? 100
                          : mode == 1 ? (j == 0 ? vt_rng_range(&r, 1000, 4096)
                                                : vt_rng_range(&r, 0, 40))
                                      : pick_comp_len(&r, 2000);
                jb->pt = jb->len == 0 && vt_rng_below(&r, 2)
                             ? NULL
                             : pool + vt_rng_below(&r, POOL - jb->len + 1);
            }
            memset(v, 0xa5, (MAX_JOBS + 1) * 16);
            p->siv.s2v_batch(st, v, jobs, n);
            for (size_t j = 0; j < n; j++) {
                const struct vl_s2v_job *jb = &jobs[j];
                uint8_t w[16], w2[16];
                p->siv.s2v(st, w, jb->ad, jb->ad_count, jb->nonce, jb->nonce_len, jb->pt, jb->len);
                vl_siv_ct_s2v(&ref, w2, jb->ad, jb->ad_count, jb->nonce, jb->nonce_len, jb->pt,
                              jb->len);
                cr_assert(memcmp(w, w2, 16) == 0,
                          "%s: siv.s2v != portable S2V (call %zu job %zu: %zu components, nonce "
                          "%zu, pt %zu)",
                          p->name, iter, j, jb->ad_count, jb->nonce_len, jb->len);
                cr_assert(memcmp(v[j], w, 16) == 0,
                          "%s: s2v_batch job %zu of %zu differs from s2v (mode %d, %zu "
                          "components, nonce %zu, pt %zu)",
                          p->name, j, n, mode, jb->ad_count, jb->nonce_len, jb->len);
            }
            for (size_t b = 0; b < 16; b++)
                cr_assert_eq(v[n][b], 0xa5, "%s: s2v_batch wrote past v[%zu]", p->name, n - 1);
            njobs_total += n;
        }
        vl_aead_wipe(&k);
        tested++;
        fprintf(stderr,
                "[cross_path] siv_s2v_batch: path %s: %zu calls, %zu jobs, each equal to s2v "
                "and to the portable S2V\n",
                p->name, calls, njobs_total);
    }
    free(pool), free(jobs), free(comps), free(v);
}

/* siv.ctr_batch (optional in struct vl_siv_ops) must give, for every job,
 * exactly what siv.ctr gives, copy V to the tag slot when there is one,
 * and write nothing else: jobs of mixed lengths (short ones packed across
 * messages, long ones on their own), alignments, in place or apart. */
Test(cross_path, siv_ctr_batch, .timeout = 600)
{
    enum { MAX_JOBS = 100, MAX_LEN = 700, SLOT = MAX_LEN + 64, SRC = MAX_JOBS * SLOT };
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t npaths = vt_paths(paths);
    uint8_t *buf = malloc(MAX_JOBS * SLOT), *ref = malloc(MAX_JOBS * SLOT), *src = malloc(SRC);
    struct vl_ctr_job *jobs = malloc(MAX_JOBS * sizeof *jobs);
    uint8_t(*v)[16] = malloc(MAX_JOBS * 16);
    cr_assert(buf && ref && src && jobs && v);
    for (size_t pi = 0; pi < npaths; pi++) {
        const struct vl_impl *p = paths[pi];
        if (p->siv.ctr_batch == NULL) {
            fprintf(stderr, "[cross_path] siv_ctr_batch: path %s has none (front end loops "
                            "over ctr): skipped\n",
                    p->name);
            continue;
        }
        vt_rng r = {UINT64_C(0x76656c6c756d0031) ^ ((uint64_t)pi << 56)};
        uint8_t key[64];
        vl_aead_key k;
        size_t njobs_total = 0;
        vt_rng_fill(&r, key, sizeof key);
        vt_rng_fill(&r, src, SRC);
        vt_key_init(&k, VL_AES256_SIV, key, 64, p);
        const void *st = vl_aead_state(&k);
        p->siv.ctr_batch(st, v, jobs, 0); /* nothing to do */
        for (size_t iter = 0; iter < vt_scaled(400); iter++) {
            size_t n = iter < MAX_JOBS ? iter + 1 : vt_rng_range(&r, 1, MAX_JOBS);
            int mode = (int)vt_rng_below(&r, 3); /* 0: all 64 bytes, 1: short, 2: any */
            vt_rng_fill(&r, buf, MAX_JOBS * SLOT);
            memcpy(ref, buf, MAX_JOBS * SLOT);
            vt_rng_fill(&r, (uint8_t *)v, MAX_JOBS * 16);
            for (size_t j = 0; j < n; j++) {
                size_t len = mode == 0   ? 64
                             : mode == 1 ? vt_rng_range(&r, 0, 130)
                                         : vt_rng_range(&r, 0, MAX_LEN);
                size_t off = 16 + vt_rng_below(&r, 33); /* after the tag slot */
                int in_place = (int)vt_rng_below(&r, 3) == 0;
                if (vt_rng_below(&r, 8) == 0)
                    memset(v[j] + 8, 0xff, 8); /* counters near the 32/64-bit carries */
                jobs[j].len = len;
                jobs[j].out = buf + j * SLOT + off;
                jobs[j].in = in_place ? jobs[j].out : src + vt_rng_below(&r, SRC - len + 1);
                jobs[j].tag = vt_rng_below(&r, 2) ? buf + j * SLOT : NULL;
            }
            p->siv.ctr_batch(st, (const uint8_t(*)[16])v, jobs, n);
            for (size_t j = 0; j < n; j++) {
                uint8_t *o = ref + (jobs[j].out - buf);
                const uint8_t *in = jobs[j].in == jobs[j].out ? o : jobs[j].in;
                p->siv.ctr(st, v[j], o, in, jobs[j].len);
                if (jobs[j].tag != NULL)
                    memcpy(ref + (jobs[j].tag - buf), v[j], 16);
            }
            for (size_t j = 0; j < n; j++)
                cr_assert(memcmp(buf + j * SLOT, ref + j * SLOT, SLOT) == 0,
                          "%s: ctr_batch job %zu of %zu (len %zu, %s, tag %s, mode %d) "
                          "differs from ctr, or wrote outside its buffers",
                          p->name, j, n, jobs[j].len,
                          jobs[j].in == jobs[j].out ? "in place" : "apart",
                          jobs[j].tag ? "yes" : "no", mode);
            cr_assert(memcmp(buf + n * SLOT, ref + n * SLOT, (MAX_JOBS - n) * SLOT) == 0,
                      "%s: ctr_batch wrote past its jobs", p->name);
            njobs_total += n;
        }
        vl_aead_wipe(&k);
        fprintf(stderr, "[cross_path] siv_ctr_batch: path %s: %zu jobs, each equal to ctr\n",
                p->name, njobs_total);
    }
    free(buf), free(ref), free(src), free(jobs), free(v);
}

/* A field message's body length: the edges of the one-zmm layout often. */
static size_t pick_field_len(vt_rng *r)
{
    static const size_t edge[] = {0, 1, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64};
    if (vt_rng_below(r, 2))
        return edge[vt_rng_below(r, sizeof edge / sizeof edge[0])];
    return vt_rng_range(r, 0, VL_SIV_FIELD_MAX);
}

/* siv.field_seal / field_open (optional in struct vl_siv_ops) must give,
 * for every message, exactly siv.s2v over (one empty AD, the plaintext)
 * and siv.ctr under V (seal: V || C; open: P, and V of P for the front
 * end), and write nothing else: mixed lengths 0..VL_SIV_FIELD_MAX, random
 * alignments, in place or apart, messages picked out of order through idx,
 * guard bytes around every output. */
Test(cross_path, siv_field_batch, .timeout = 600)
{
    enum { MAX_MSGS = 100, SLOT = 160, OFF_MAX = 48, SRC = MAX_MSGS * SLOT };
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t npaths = vt_paths(paths);
    uint8_t *buf = malloc(MAX_MSGS * SLOT), *ref = malloc(MAX_MSGS * SLOT), *src = malloc(SRC);
    vl_aead_msg *msgs = calloc(MAX_MSGS, sizeof *msgs);
    size_t *idx = malloc(MAX_MSGS * sizeof *idx);
    uint8_t(*v)[16] = malloc((MAX_MSGS + 1) * 16);
    cr_assert(buf && ref && src && msgs && idx && v);
    for (size_t pi = 0; pi < npaths; pi++) {
        const struct vl_impl *p = paths[pi];
        if (p->siv.field_seal == NULL || p->siv.field_open == NULL) {
            cr_assert(p->siv.field_seal == NULL && p->siv.field_open == NULL,
                      "%s: field_seal and field_open come together", p->name);
            fprintf(stderr, "[cross_path] siv_field_batch: path %s has none (s2v_batch and "
                            "ctr instead): skipped\n",
                    p->name);
            continue;
        }
        vt_rng r = {UINT64_C(0x76656c6c756d0041) ^ ((uint64_t)pi << 56)};
        const vl_slice empty_ad = {NULL, 0};
        uint8_t key[64];
        vl_aead_key k;
        size_t total = 0;
        vt_rng_fill(&r, key, sizeof key);
        vt_key_init(&k, VL_AES256_SIV, key, 64, p);
        const void *st = vl_aead_state(&k);
        p->siv.field_seal(st, msgs, idx, 0); /* nothing to do */
        p->siv.field_open(st, msgs, idx, 0, v);
        for (size_t iter = 0; iter < vt_scaled(600); iter++) {
            size_t n = iter < MAX_MSGS ? iter + 1 : vt_rng_range(&r, 1, MAX_MSGS);
            int open = (int)(iter & 1), all64 = vt_rng_below(&r, 4) == 0;
            vt_rng_fill(&r, buf, MAX_MSGS * SLOT);
            vt_rng_fill(&r, src, SRC);
            memcpy(ref, buf, MAX_MSGS * SLOT);
            memset(v, 0xa5, (MAX_MSGS + 1) * 16);
            /* Message j lives in slot idx[j]; the slots are shuffled. */
            for (size_t j = 0; j < n; j++)
                idx[j] = j;
            for (size_t j = n; j > 1; j--) {
                size_t t = vt_rng_below(&r, j), x = idx[j - 1];
                idx[j - 1] = idx[t], idx[t] = x;
            }
            for (size_t j = 0; j < n; j++) {
                vl_aead_msg *m = &msgs[idx[j]];
                size_t len = all64 ? 64 : pick_field_len(&r);
                size_t off = 8 + vt_rng_below(&r, OFF_MAX); /* guard bytes before */
                int in_place = vt_rng_below(&r, 3) == 0;
                uint8_t *slot = buf + idx[j] * SLOT;
                memset(m, 0, sizeof *m);
                if (!open) {
                    m->out = slot + off;
                    m->in = in_place ? m->out + 16 : src + vt_rng_below(&r, SRC - len + 1);
                    m->in_len = len;
                    m->out_cap = len + 16;
                    if (len == 0 && !in_place && vt_rng_below(&r, 2))
                        m->in = NULL;
                } else {
                    uint8_t *in = in_place ? slot + off : src + vt_rng_below(&r, SRC - len - 15);
                    m->in = in;
                    m->in_len = len + 16;
                    m->out = in_place ? in + 16 : slot + off;
                    m->out_cap = len;
                    if (len == 0 && !in_place && vt_rng_below(&r, 2))
                        m->out = NULL;
                }
            }
            if (!open)
                p->siv.field_seal(st, msgs, idx, n);
            else
                p->siv.field_open(st, msgs, idx, n, v);
            /* The reference, on |ref| (a copy of buf as it was). */
            for (size_t j = 0; j < n; j++) {
                const vl_aead_msg *m = &msgs[idx[j]];
                size_t s = idx[j] * SLOT;
                if (!open) {
                    size_t len = m->in_len;
                    uint8_t *o = ref + (m->out - buf);
                    const uint8_t *in = m->in == NULL       ? (const uint8_t *)""
                                        : m->in == m->out + 16 ? o + 16
                                                               : m->in;
                    uint8_t w[16];
                    p->siv.s2v(st, w, &empty_ad, 1, NULL, 0, in, len);
                    p->siv.ctr(st, w, o + 16, in, len);
                    memcpy(o, w, 16);
                } else {
                    size_t len = m->in_len - 16;
                    int in_place = m->out != NULL && m->out == m->in + 16;
                    const uint8_t *in = in_place ? ref + (m->in - buf) : m->in;
                    uint8_t tmp[VL_SIV_FIELD_MAX], w[16];
                    p->siv.ctr(st, in, tmp, in + 16, len);
                    p->siv.s2v(st, w, &empty_ad, 1, NULL, 0, tmp, len);
                    if (m->out != NULL)
                        memcpy(ref + (m->out - buf), tmp, len);
                    cr_assert(memcmp(v[idx[j]], w, 16) == 0,
                              "%s: field_open message %zu of %zu (len %zu, %s) V differs from "
                              "s2v",
                              p->name, j, n, len, in_place ? "in place" : "apart");
                }
                cr_assert(memcmp(buf + s, ref + s, SLOT) == 0,
                          "%s: field_%s message %zu of %zu (len %zu) differs from s2v + ctr, "
                          "or wrote outside its buffer",
                          p->name, open ? "open" : "seal", j, n, m->in_len);
            }
            cr_assert(memcmp(buf + n * SLOT, ref + n * SLOT, (MAX_MSGS - n) * SLOT) == 0,
                      "%s: field op wrote past its messages", p->name);
            for (size_t j = 0; open && j < 16; j++)
                cr_assert_eq(v[n][j], 0xa5, "%s: field_open wrote past v[%zu]", p->name, n - 1);
            total += n;
        }
        vl_aead_wipe(&k);
        fprintf(stderr,
                "[cross_path] siv_field_batch: path %s: %zu messages, each equal to s2v + ctr\n",
                p->name, total);
    }
    free(buf), free(ref), free(src), free(msgs), free(idx), free(v);
}
