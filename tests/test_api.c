/* The public AEAD API (include/vellum/aead.h, error.h) on every path:
 * argument checks, capacity, aliasing, the zero-on-failure contract, wipe,
 * unaligned buffers, guard pages, detached/vector/batch forms.
 *
 * The contract checked after every failure: the return value is the
 * expected VL_ERR_*, *out_len is 0 and all out_cap bytes of the output are
 * zero (detached: in_len bytes and the tag). The one exception (aead.h): a
 * GCM body length over SP 800-38D §5.2.1.1 is refused before any buffer is
 * touched, checked with PROT_NONE address space (api/gcm_length_limits). */
#include <criterion/criterion.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common.h"

static const vl_alg ALGS[] = {VL_AES128_GCM, VL_AES256_GCM, VL_AES256_SIV};
#define NALGS (sizeof ALGS / sizeof ALGS[0])
#define FILL 0xa5

static int is_siv(vl_alg alg)
{
    return alg == VL_AES256_SIV;
}

/* A key of |alg| on |p| from a fixed pattern. */
static void test_key(vl_aead_key *k, vl_alg alg, const struct vl_impl *p, uint8_t seed)
{
    uint8_t key[64];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(seed + 7 * i);
    vt_key_init(k, alg, key, vt_key_len(alg), p);
}

static void pattern(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed ^ (i * 31 + (i >> 8)));
}

/* The failure contract. */
#define EXPECT_FAIL(rc, want, out, cap, out_len, ...)                                          \
    do {                                                                                        \
        char what_[200];                                                                        \
        snprintf(what_, sizeof what_, __VA_ARGS__);                                             \
        cr_assert_eq((rc), (want), "%s: returned %d, want %d", what_, (int)(rc), (int)(want)); \
        cr_assert_eq((out_len), 0, "%s: out_len %zu after failure", what_, (size_t)(out_len)); \
        cr_assert(vt_is_zero((out), (cap)), "%s: output not zeroed (%zu bytes)", what_,        \
                  (size_t)(cap));                                                               \
    } while (0)

/* Reference sealed output (out-of-place, aligned). */
static void ref_seal(vl_aead_key *k, const uint8_t *nonce, size_t nonce_len, const uint8_t *pt,
                     size_t len, const uint8_t *ad, size_t ad_len, uint8_t *out)
{
    size_t out_len = 0;
    int rc = vl_aead_seal(k, out, &out_len, len + 16, nonce, nonce_len, pt, len, ad, ad_len);
    cr_assert_eq(rc, VL_OK, "reference seal: %d", rc);
    cr_assert_eq(out_len, len + 16);
}

static const uint8_t NONCE[16] = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                                  0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};
static const uint8_t AD[24] = "additional data, 24 byte";

/* ---- dispatch ------------------------------------------------------------ */

Test(dispatch, default_path)
{
    const char *forced = getenv("VELLUM_IMPL");
    uint8_t key[64] = {1};
    for (size_t a = 0; a < NALGS; a++) {
        vl_aead_key k;
        memset(&k, FILL, sizeof k);
        int rc = vl_aead_init(&k, ALGS[a], key, vt_key_len(ALGS[a]));
        if (forced != NULL && forced[0] != '\0') {
            const struct vl_impl *impl = vl_impl_find(forced);
            if (impl == NULL || !impl->supported()) {
                /* Never a silent fallback. */
                cr_assert_eq(rc, VL_ERR_UNSUPPORTED, "VELLUM_IMPL=%s: init returned %d", forced,
                             rc);
                cr_assert(vt_is_zero(&k, sizeof k));
                cr_assert_str_eq(vl_aead_impl(&k), "none");
                continue;
            }
            cr_assert_eq(rc, VL_OK);
            cr_assert_str_eq(vl_aead_impl(&k), forced);
        } else {
            size_t n;
            const struct vl_impl *const *list = vl_impl_list(&n), *first = NULL;
            for (size_t i = 0; i < n && first == NULL; i++)
                if (list[i]->supported())
                    first = list[i];
            cr_assert_not_null(first);
            cr_assert_eq(rc, VL_OK);
            cr_assert_str_eq(vl_aead_impl(&k), first->name, "default path \"%s\", want \"%s\"",
                             vl_aead_impl(&k), first->name);
        }
        cr_assert_eq(vl_aead_alg(&k), ALGS[a]);
        vl_aead_wipe(&k);
    }
    fprintf(stderr, "[dispatch] default path under VELLUM_IMPL=%s: checked\n",
            forced ? forced : "(unset)");
}

/* Every compiled-in path: a unique name vl_impl_find returns; a supported
 * one runs keys that report its name; one this CPU cannot run is refused
 * with VL_ERR_UNSUPPORTED (never a silent fallback). */
Test(dispatch, every_listed_path)
{
    size_t n, supported = 0;
    const struct vl_impl *const *list = vl_impl_list(&n);
    uint8_t key[64] = {2}, out[32];
    size_t out_len;
    cr_assert_gt(n, 0);
    cr_assert_null(vl_impl_find("no-such-path"));
    cr_assert_null(vl_impl_find(""));
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(vl_impl_find(list[i]->name), list[i]);
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(list[i]->name, list[j]->name, "two paths named %s", list[i]->name);
        for (size_t a = 0; a < NALGS; a++) {
            vl_aead_key k;
            memset(&k, FILL, sizeof k);
            int rc = vl_aead_init_impl(&k, ALGS[a], key, vt_key_len(ALGS[a]), list[i]);
            if (list[i]->supported() == 1) {
                cr_assert_eq(rc, VL_OK, "%s on %s: %d", vt_alg_name(ALGS[a]), list[i]->name, rc);
                cr_assert_str_eq(vl_aead_impl(&k), list[i]->name);
                cr_assert_eq(vl_aead_seal(&k, out, &out_len, sizeof out, NONCE, 12, key, 16, AD,
                                          sizeof AD),
                             VL_OK);
                vl_aead_wipe(&k);
            } else {
                cr_assert_eq(rc, VL_ERR_UNSUPPORTED, "unsupported %s accepted: %d",
                             list[i]->name, rc);
                cr_assert(vt_is_zero(&k, sizeof k));
            }
        }
        supported += list[i]->supported() == 1;
    }
    cr_assert_gt(supported, 0);
    const struct vl_impl *portable = vl_impl_find("portable");
    cr_assert(portable != NULL && portable->supported() == 1,
              "the portable path must always be compiled in and runnable");
    fprintf(stderr, "[dispatch] %zu path(s) compiled in, %zu supported here\n", n, supported);
}

/* ---- init, wipe, impl ---------------------------------------------------- */

static void expect_init_refused(vl_aead_key *k, int rc, int want, const char *what)
{
    cr_assert_eq(rc, want, "%s: init returned %d, want %d", what, rc, want);
    cr_assert(vt_is_zero(k, sizeof *k), "%s: refused init left key bytes", what);
    cr_assert_str_eq(vl_aead_impl(k), "none", "%s", what);
    cr_assert_eq(vl_aead_alg(k), 0, "%s", what);
    cr_assert_null(vl_aead_state(k), "%s", what);
    /* Wipe after a failed init is harmless and leaves it zero. */
    vl_aead_wipe(k);
    cr_assert(vt_is_zero(k, sizeof *k), "%s: wipe after failed init", what);
}

Test(api, init_arguments)
{
    static const size_t lens[] = {0, 1, 8, 15, 16, 17, 24, 31, 32, 33, 48, 63, 64, 65, 128};
    static const int bad_algs[] = {0, 4, 5, 99, -1, INT_MAX};
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t npaths = vt_paths(paths);
    uint8_t key[128];
    vl_aead_key k;
    char what[96];
    pattern(key, sizeof key, 3);

    cr_assert_eq(vl_aead_init(NULL, VL_AES128_GCM, key, 16), VL_ERR_ARG);
    for (size_t pi = 0; pi < npaths; pi++) {
        const struct vl_impl *p = paths[pi];
        cr_assert_eq(vl_aead_init_impl(NULL, VL_AES128_GCM, key, 16, p), VL_ERR_ARG);
        for (size_t a = 0; a < NALGS; a++) {
            vl_alg alg = ALGS[a];
            for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
                if (lens[i] == vt_key_len(alg))
                    continue;
                snprintf(what, sizeof what, "%s with a %zu-byte key on %s", vt_alg_name(alg),
                         lens[i], p->name);
                memset(&k, FILL, sizeof k);
                expect_init_refused(&k, vl_aead_init(&k, alg, key, lens[i]), VL_ERR_ARG, what);
                memset(&k, FILL, sizeof k);
                expect_init_refused(&k, vl_aead_init_impl(&k, alg, key, lens[i], p), VL_ERR_ARG,
                                    what);
                /* A refused re-init wipes the previous good key. */
                test_key(&k, alg, p, 1);
                expect_init_refused(&k, vl_aead_init_impl(&k, alg, key, lens[i], p), VL_ERR_ARG,
                                    what);
                test_key(&k, alg, p, 1);
                expect_init_refused(&k, vl_aead_init(&k, alg, key, lens[i]), VL_ERR_ARG, what);
            }
            snprintf(what, sizeof what, "%s with a NULL key on %s", vt_alg_name(alg), p->name);
            memset(&k, FILL, sizeof k);
            expect_init_refused(&k, vl_aead_init(&k, alg, NULL, vt_key_len(alg)), VL_ERR_ARG,
                                what);
            memset(&k, FILL, sizeof k);
            expect_init_refused(&k, vl_aead_init_impl(&k, alg, NULL, vt_key_len(alg), p),
                                VL_ERR_ARG, what);
            memset(&k, FILL, sizeof k);
            expect_init_refused(&k, vl_aead_init(&k, alg, NULL, 0), VL_ERR_ARG, what);
        }
        for (size_t i = 0; i < sizeof bad_algs / sizeof bad_algs[0]; i++) {
            snprintf(what, sizeof what, "alg %d on %s", bad_algs[i], p->name);
            for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
                memset(&k, FILL, sizeof k);
                expect_init_refused(&k, vl_aead_init(&k, (vl_alg)bad_algs[i], key, lens[l]),
                                    VL_ERR_ARG, what);
                memset(&k, FILL, sizeof k);
                expect_init_refused(
                    &k, vl_aead_init_impl(&k, (vl_alg)bad_algs[i], key, lens[l], p), VL_ERR_ARG,
                    what);
            }
        }
    }
    /* init_impl without a path: refused, key wiped. */
    memset(&k, FILL, sizeof k);
    int rc = vl_aead_init_impl(&k, VL_AES128_GCM, key, 16, NULL);
    cr_assert_neq(rc, VL_OK);
    cr_assert(vt_is_zero(&k, sizeof k));
}

Test(api, wipe_scans_whole_key)
{
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t npaths = vt_paths(paths);
    uint8_t pt[40], out[56], back[40];
    size_t out_len;
    pattern(pt, sizeof pt, 9);
    for (size_t pi = 0; pi < npaths; pi++)
        for (size_t a = 0; a < NALGS; a++) {
            vl_aead_key k;
            test_key(&k, ALGS[a], paths[pi], 5);
            /* Use it (counters, any cached state), including a failed open. */
            ref_seal(&k, NONCE, 12, pt, sizeof pt, AD, sizeof AD, out);
            cr_assert_eq(vl_aead_open(&k, back, &out_len, sizeof back, NONCE, 12, out, sizeof out,
                                      AD, sizeof AD),
                         VL_OK);
            out[0] ^= 1;
            cr_assert_eq(vl_aead_open(&k, back, &out_len, sizeof back, NONCE, 12, out, sizeof out,
                                      AD, sizeof AD),
                         VL_ERR_AUTH);
            cr_assert(!vt_is_zero(&k, sizeof k));
            vl_aead_wipe(&k);
            for (size_t i = 0; i < VL_AEAD_KEY_BYTES; i++)
                cr_assert_eq(k.opaque[i], 0, "%s on %s: byte %zu of the key survives wipe",
                             vt_alg_name(ALGS[a]), paths[pi]->name, i);
            cr_assert_str_eq(vl_aead_impl(&k), "none");
            cr_assert_eq(vl_aead_alg(&k), 0);
            /* A wiped key is an uninitialised key. */
            memset(out, FILL, sizeof out);
            out_len = 99;
            int rc = vl_aead_seal(&k, out, &out_len, sizeof out, NONCE, 12, pt, sizeof pt, AD,
                                  sizeof AD);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof out, out_len, "seal after wipe");
            vl_aead_wipe(&k); /* twice is fine */
            cr_assert(vt_is_zero(&k, sizeof k));
        }
}

/* Every entry point on a key that was never initialised (zeroed, or
 * garbage): VL_ERR_ARG and the failure contract. */
Test(api, uninitialised_key)
{
    uint8_t pt[20], out[64], tag[16], in[48];
    size_t out_len;
    vl_slice one = {AD, sizeof AD};
    vl_aead_msg m = {NONCE, 12, AD, sizeof AD, pt, sizeof pt, out, sizeof out, 99, 99};
    pattern(pt, sizeof pt, 1);
    pattern(in, sizeof in, 2);
    for (int garbage = 0; garbage < 2; garbage++) {
        vl_aead_key k;
        memset(&k, garbage ? FILL : 0, sizeof k);
        cr_assert_str_eq(vl_aead_impl(&k), "none");
        cr_assert_eq(vl_aead_alg(&k), 0);
        cr_assert_null(vl_aead_state(&k));
        const char *w = garbage ? "garbage key" : "zeroed key";
        int rc;

        memset(out, FILL, sizeof out), out_len = 99;
        rc = vl_aead_seal(&k, out, &out_len, sizeof out, NONCE, 12, pt, sizeof pt, AD, sizeof AD);
        EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof out, out_len, "seal, %s", w);
        memset(out, FILL, sizeof out), out_len = 99;
        rc = vl_aead_open(&k, out, &out_len, sizeof out, NONCE, 12, in, sizeof in, AD, sizeof AD);
        EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof out, out_len, "open, %s", w);
        memset(out, FILL, sizeof out), memset(tag, FILL, sizeof tag), out_len = 0;
        rc = vl_aead_seal_detached(&k, out, tag, NONCE, 12, pt, sizeof pt, AD, sizeof AD);
        EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof pt, out_len, "seal_detached, %s", w);
        cr_assert(vt_is_zero(tag, 16), "seal_detached, %s: tag not zeroed", w);
        memset(out, FILL, sizeof out);
        rc = vl_aead_open_detached(&k, out, in, NONCE, 12, in + 16, 32, AD, sizeof AD);
        EXPECT_FAIL(rc, VL_ERR_ARG, out, 32, out_len, "open_detached, %s", w);
        memset(out, FILL, sizeof out), out_len = 99;
        rc = vl_aead_siv_seal_v(&k, out, &out_len, sizeof out, &one, 1, NONCE, 0, pt, sizeof pt);
        EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof out, out_len, "siv_seal_v, %s", w);
        memset(out, FILL, sizeof out), out_len = 99;
        rc = vl_aead_siv_open_v(&k, out, &out_len, sizeof out, &one, 1, NONCE, 0, in, sizeof in);
        EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof out, out_len, "siv_open_v, %s", w);
        memset(out, FILL, sizeof out), m.out_len = 99, m.status = 99;
        rc = vl_aead_seal_batch(&k, &m, 1);
        cr_assert_eq(rc, VL_ERR_ARG);
        EXPECT_FAIL(m.status, VL_ERR_ARG, out, sizeof out, m.out_len, "seal_batch, %s", w);
        vl_limits l = {1, 1, 1, 1};
        cr_assert_eq(vl_aead_set_limits(&k, &l), VL_ERR_ARG);
    }
}

Test(api, strerror_every_code)
{
    static const int codes[] = {VL_OK,
                                VL_ERR_ARG,
                                VL_ERR_AUTH,
                                VL_ERR_LIMIT,
                                VL_ERR_FORMAT,
                                VL_ERR_NOMEM,
                                VL_ERR_RNG,
                                VL_ERR_UNSUPPORTED,
                                VL_ERR_NOT_FOUND,
                                VL_ERR_KMS_UNAVAILABLE,
                                VL_ERR_KMS_DENIED,
                                VL_ERR_KEY_DISABLED,
                                VL_ERR_KEY_DESTROYED,
                                VL_ERR_IO,
                                VL_ERR_EXISTS,
                                VL_ERR_BUSY};
    static const int unknown[] = {1, 2, 42, -16, -100, INT_MIN, INT_MAX};
    size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        const char *s = vl_strerror(codes[i]);
        cr_assert_not_null(s, "code %d", codes[i]);
        cr_assert_gt(strlen(s), 0, "code %d", codes[i]);
        cr_assert_str_neq(s, "unknown error", "code %d has no text", codes[i]);
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(s, vl_strerror(codes[j]), "codes %d and %d share a text", codes[i],
                              codes[j]);
    }
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = vl_strerror(unknown[i]);
        cr_assert_not_null(s);
        cr_assert_str_eq(s, "unknown error", "code %d", unknown[i]);
    }
}

/* ---- NULL pointers and lengths ------------------------------------------- */

Test(api, null_arguments)
{
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t npaths = vt_paths(paths);
    uint8_t pt[33], sealed[49], out[64], tag[16];
    size_t out_len;
    int rc;
    pattern(pt, sizeof pt, 4);
    for (size_t pi = 0; pi < npaths; pi++)
        for (size_t a = 0; a < NALGS; a++) {
            vl_aead_key k;
            const char *w = vt_alg_name(ALGS[a]);
            test_key(&k, ALGS[a], paths[pi], 2);
            ref_seal(&k, NONCE, 12, pt, sizeof pt, AD, sizeof AD, sealed);

            /* seal */
            memset(out, FILL, sizeof out), out_len = 99;
            rc = vl_aead_seal(NULL, out, &out_len, sizeof out, NONCE, 12, pt, sizeof pt, AD,
                              sizeof AD);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof out, out_len, "%s seal NULL key", w);
            out_len = 99;
            rc = vl_aead_seal(&k, NULL, &out_len, sizeof out, NONCE, 12, pt, sizeof pt, AD,
                              sizeof AD);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, 0, out_len, "%s seal NULL out", w);
            memset(out, FILL, sizeof out);
            rc = vl_aead_seal(&k, out, NULL, sizeof out, NONCE, 12, pt, sizeof pt, AD, sizeof AD);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof out, 0, "%s seal NULL out_len", w);
            memset(out, FILL, sizeof out), out_len = 99;
            rc = vl_aead_seal(&k, out, &out_len, sizeof out, NULL, 12, pt, sizeof pt, AD,
                              sizeof AD);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof out, out_len, "%s seal NULL nonce", w);
            memset(out, FILL, sizeof out), out_len = 99;
            rc = vl_aead_seal(&k, out, &out_len, sizeof out, NONCE, 12, NULL, sizeof pt, AD,
                              sizeof AD);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof out, out_len, "%s seal NULL in", w);
            memset(out, FILL, sizeof out), out_len = 99;
            rc = vl_aead_seal(&k, out, &out_len, sizeof out, NONCE, 12, pt, sizeof pt, NULL, 5);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof out, out_len, "%s seal NULL ad", w);

            /* NULL is fine with a zero length: empty plaintext and AD. */
            uint8_t e1[16], e2[16];
            rc = vl_aead_seal(&k, e1, &out_len, 16, NONCE, 12, NULL, 0, NULL, 0);
            cr_assert(rc == VL_OK && out_len == 16, "%s seal(NULL, 0) %d", w, rc);
            rc = vl_aead_seal(&k, e2, &out_len, 16, NONCE, 12, pt, 0, AD, 0);
            cr_assert(rc == VL_OK && memcmp(e1, e2, 16) == 0, "%s empty NULL vs non-NULL", w);
            rc = vl_aead_open(&k, NULL, &out_len, 0, NONCE, 12, e1, 16, NULL, 0);
            cr_assert(rc == VL_OK && out_len == 0, "%s open(NULL out, 16-byte in) %d", w, rc);
            if (is_siv(ALGS[a])) {
                rc = vl_aead_seal(&k, e1, &out_len, 16, NULL, 0, NULL, 0, NULL, 0);
                cr_assert(rc == VL_OK, "SIV seal with NULL nonce of length 0: %d", rc);
            }

            /* open */
            memset(out, FILL, sizeof out), out_len = 99;
            rc = vl_aead_open(NULL, out, &out_len, sizeof out, NONCE, 12, sealed, sizeof sealed,
                              AD, sizeof AD);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof out, out_len, "%s open NULL key", w);
            out_len = 99;
            rc = vl_aead_open(&k, NULL, &out_len, sizeof out, NONCE, 12, sealed, sizeof sealed,
                              AD, sizeof AD);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, 0, out_len, "%s open NULL out", w);
            memset(out, FILL, sizeof out);
            rc = vl_aead_open(&k, out, NULL, sizeof out, NONCE, 12, sealed, sizeof sealed, AD,
                              sizeof AD);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof out, 0, "%s open NULL out_len", w);
            memset(out, FILL, sizeof out), out_len = 99;
            rc = vl_aead_open(&k, out, &out_len, sizeof out, NULL, 12, sealed, sizeof sealed, AD,
                              sizeof AD);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof out, out_len, "%s open NULL nonce", w);
            memset(out, FILL, sizeof out), out_len = 99;
            rc = vl_aead_open(&k, out, &out_len, sizeof out, NONCE, 12, NULL, sizeof sealed, AD,
                              sizeof AD);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof out, out_len, "%s open NULL in", w);
            memset(out, FILL, sizeof out), out_len = 99;
            rc = vl_aead_open(&k, out, &out_len, sizeof out, NONCE, 12, sealed, sizeof sealed,
                              NULL, 3);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof out, out_len, "%s open NULL ad", w);

            /* detached */
            memset(out, FILL, sizeof out), memset(tag, FILL, 16);
            rc = vl_aead_seal_detached(NULL, out, tag, NONCE, 12, pt, sizeof pt, AD, sizeof AD);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof pt, 0, "%s seal_detached NULL key", w);
            cr_assert(vt_is_zero(tag, 16));
            memset(tag, FILL, 16);
            rc = vl_aead_seal_detached(&k, NULL, tag, NONCE, 12, pt, sizeof pt, AD, sizeof AD);
            EXPECT_FAIL(rc, VL_ERR_ARG, tag, 16, 0, "%s seal_detached NULL out (tag)", w);
            memset(out, FILL, sizeof out);
            rc = vl_aead_seal_detached(&k, out, NULL, NONCE, 12, pt, sizeof pt, AD, sizeof AD);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof pt, 0, "%s seal_detached NULL tag", w);
            memset(out, FILL, sizeof out), memset(tag, FILL, 16);
            rc = vl_aead_seal_detached(&k, out, tag, NULL, 12, pt, sizeof pt, AD, sizeof AD);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof pt, 0, "%s seal_detached NULL nonce", w);
            cr_assert(vt_is_zero(tag, 16));
            memset(out, FILL, sizeof out), memset(tag, FILL, 16);
            rc = vl_aead_seal_detached(&k, out, tag, NONCE, 12, NULL, sizeof pt, AD, sizeof AD);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof pt, 0, "%s seal_detached NULL in", w);
            memset(out, FILL, sizeof out), memset(tag, FILL, 16);
            rc = vl_aead_seal_detached(&k, out, tag, NONCE, 12, pt, sizeof pt, NULL, 1);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof pt, 0, "%s seal_detached NULL ad", w);
            cr_assert(vt_is_zero(tag, 16));

            const uint8_t *body = is_siv(ALGS[a]) ? sealed + 16 : sealed;
            const uint8_t *stag = is_siv(ALGS[a]) ? sealed : sealed + sizeof pt;
            memset(out, FILL, sizeof out);
            rc = vl_aead_open_detached(&k, out, NULL, NONCE, 12, body, sizeof pt, AD, sizeof AD);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof pt, 0, "%s open_detached NULL tag", w);
            rc = vl_aead_open_detached(&k, NULL, stag, NONCE, 12, body, sizeof pt, AD, sizeof AD);
            cr_assert_eq(rc, VL_ERR_ARG, "%s open_detached NULL out", w);
            memset(out, FILL, sizeof out);
            rc = vl_aead_open_detached(&k, out, stag, NONCE, 12, NULL, sizeof pt, AD, sizeof AD);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof pt, 0, "%s open_detached NULL in", w);
            memset(out, FILL, sizeof out);
            rc = vl_aead_open_detached(&k, out, stag, NULL, 12, body, sizeof pt, AD, sizeof AD);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof pt, 0, "%s open_detached NULL nonce", w);
            memset(out, FILL, sizeof out);
            rc = vl_aead_open_detached(&k, out, stag, NONCE, 12, body, sizeof pt, AD, sizeof AD);
            cr_assert(rc == VL_OK && memcmp(out, pt, sizeof pt) == 0, "%s open_detached ok", w);
            vl_aead_wipe(&k);
        }
}

/* ---- nonce lengths ------------------------------------------------------- */

Test(api, gcm_nonce_lengths)
{
    static const size_t lens[] = {1, 2, 8, 11, 12, 13, 15, 16, 17, 60, 64, 128, 129, 1000};
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t npaths = vt_paths(paths);
    uint8_t nonce[1000], pt[50], out[66], back[50], tag[16], prev[66];
    size_t out_len;
    int rc;
    pattern(nonce, sizeof nonce, 7);
    pattern(pt, sizeof pt, 8);
    for (size_t pi = 0; pi < npaths; pi++)
        for (size_t a = 0; a < 2; a++) {
            vl_aead_key k;
            test_key(&k, ALGS[a], paths[pi], 3);
            const char *w = vt_alg_name(ALGS[a]);
            /* 0 is refused everywhere (SP 800-38D: len(IV) >= 1). */
            memset(out, FILL, sizeof out), out_len = 99;
            rc = vl_aead_seal(&k, out, &out_len, sizeof out, nonce, 0, pt, sizeof pt, AD, 0);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof out, out_len, "%s seal nonce_len 0", w);
            memset(out, FILL, sizeof out), out_len = 99;
            rc = vl_aead_seal(&k, out, &out_len, sizeof out, NULL, 0, pt, sizeof pt, AD, 0);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof out, out_len, "%s seal NULL nonce 0", w);
            memset(out, FILL, sizeof out), memset(tag, FILL, 16);
            rc = vl_aead_seal_detached(&k, out, tag, nonce, 0, pt, sizeof pt, AD, 0);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof pt, 0, "%s seal_detached nonce_len 0", w);
            cr_assert(vt_is_zero(tag, 16));
            /* Other lengths work and give distinct outputs. */
            memset(prev, 0, sizeof prev);
            for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
                ref_seal(&k, nonce, lens[i], pt, sizeof pt, AD, 0, out);
                cr_assert(memcmp(out, prev, sizeof out) != 0, "%s nonce_len %zu", w, lens[i]);
                memcpy(prev, out, sizeof out);
                rc = vl_aead_open(&k, back, &out_len, sizeof back, nonce, lens[i], out, sizeof out,
                                  AD, 0);
                cr_assert(rc == VL_OK && memcmp(back, pt, sizeof pt) == 0, "%s nonce_len %zu",
                          w, lens[i]);
                memset(back, FILL, sizeof back), out_len = 99;
                rc = vl_aead_open(&k, back, &out_len, sizeof back, nonce, 0, out, sizeof out, AD,
                                  0);
                EXPECT_FAIL(rc, VL_ERR_ARG, back, sizeof back, out_len, "%s open nonce_len 0", w);
                memset(back, FILL, sizeof back);
                rc = vl_aead_open_detached(&k, back, out + sizeof pt, nonce, 0, out, sizeof pt, AD,
                                           0);
                EXPECT_FAIL(rc, VL_ERR_ARG, back, sizeof back, 0, "%s open_detached nonce 0", w);
            }
            vl_aead_wipe(&k);
        }
}

Test(api, siv_nonce_lengths)
{
    static const size_t lens[] = {0, 1, 8, 12, 15, 16, 17, 32, 64, 100, 1000};
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t npaths = vt_paths(paths);
    uint8_t nonce[1001], pt[21], out[37], back[21], prev[37], again[37];
    size_t out_len;
    pattern(nonce, sizeof nonce, 11);
    pattern(pt, sizeof pt, 12);
    for (size_t pi = 0; pi < npaths; pi++) {
        vl_aead_key k;
        test_key(&k, VL_AES256_SIV, paths[pi], 4);
        memset(prev, 0, sizeof prev);
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            ref_seal(&k, nonce, lens[i], pt, sizeof pt, AD, sizeof AD, out);
            cr_assert(memcmp(out, prev, sizeof out) != 0, "SIV nonce_len %zu", lens[i]);
            memcpy(prev, out, sizeof out);
            /* Deterministic: same inputs, same output. */
            ref_seal(&k, nonce, lens[i], pt, sizeof pt, AD, sizeof AD, again);
            cr_assert(memcmp(out, again, sizeof out) == 0);
            int rc = vl_aead_open(&k, back, &out_len, sizeof back, nonce, lens[i], out,
                                  sizeof out, AD, sizeof AD);
            cr_assert(rc == VL_OK && memcmp(back, pt, sizeof pt) == 0, "nonce_len %zu", lens[i]);
            /* A different nonce length is a different message. */
            rc = vl_aead_open(&k, back, &out_len, sizeof back, nonce, lens[i] + 1, out,
                              sizeof out, AD, sizeof AD);
            EXPECT_FAIL(rc, VL_ERR_AUTH, back, sizeof back, out_len, "nonce_len %zu + 1",
                        lens[i]);
        }
        /* nonce_len 0 ignores the pointer. */
        ref_seal(&k, NULL, 0, pt, sizeof pt, AD, sizeof AD, out);
        ref_seal(&k, nonce, 0, pt, sizeof pt, AD, sizeof AD, again);
        cr_assert(memcmp(out, again, sizeof out) == 0);
        vl_aead_wipe(&k);
    }
}

/* ---- capacity and short input -------------------------------------------- */

Test(api, capacity_and_short_input)
{
    static const size_t lens[] = {0, 1, 15, 16, 17, 100};
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t npaths = vt_paths(paths);
    uint8_t pt[100], sealed[116], out[200];
    size_t out_len;
    int rc;
    pattern(pt, sizeof pt, 13);
    for (size_t pi = 0; pi < npaths; pi++)
        for (size_t a = 0; a < NALGS; a++) {
            vl_aead_key k;
            const char *w = vt_alg_name(ALGS[a]);
            test_key(&k, ALGS[a], paths[pi], 6);
            for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
                size_t len = lens[i];
                /* seal: out_cap = in_len + 16 - 1, and 0 */
                size_t caps[2] = {len + 15, 0};
                for (int c = 0; c < 2; c++) {
                    memset(out, FILL, sizeof out), out_len = 99;
                    rc = vl_aead_seal(&k, out, &out_len, caps[c], NONCE, 12, pt, len, AD,
                                      sizeof AD);
                    EXPECT_FAIL(rc, VL_ERR_ARG, out, caps[c], out_len, "%s seal len %zu cap %zu",
                                w, len, caps[c]);
                    cr_assert_eq(out[caps[c]], FILL, "%s: seal wrote past out_cap", w);
                }
                /* Larger capacity than needed is fine; out_len is exact. */
                memset(out, FILL, sizeof out);
                rc = vl_aead_seal(&k, out, &out_len, sizeof out, NONCE, 12, pt, len, AD, sizeof AD);
                cr_assert(rc == VL_OK && out_len == len + 16);
                cr_assert_eq(out[len + 16], FILL, "%s: seal wrote past its output", w);
                memcpy(sealed, out, len + 16);
                /* open: out_cap = in_len - 16 - 1 */
                if (len > 0) {
                    memset(out, FILL, sizeof out), out_len = 99;
                    rc = vl_aead_open(&k, out, &out_len, len - 1, NONCE, 12, sealed, len + 16, AD,
                                      sizeof AD);
                    EXPECT_FAIL(rc, VL_ERR_ARG, out, len - 1, out_len, "%s open len %zu cap %zu",
                                w, len, len - 1);
                    cr_assert_eq(out[len - 1], FILL, "%s: open wrote past out_cap", w);
                }
                memset(out, FILL, sizeof out);
                rc = vl_aead_open(&k, out, &out_len, sizeof out, NONCE, 12, sealed, len + 16, AD,
                                  sizeof AD);
                cr_assert(rc == VL_OK && out_len == len && memcmp(out, pt, len) == 0);
                cr_assert_eq(out[len], FILL, "%s: open wrote past its output", w);
            }
            /* open: in_len < 16 cannot hold a tag. */
            for (size_t in_len = 0; in_len < 16; in_len++) {
                memset(out, FILL, sizeof out), out_len = 99;
                rc = vl_aead_open(&k, out, &out_len, sizeof out, NONCE, 12, sealed, in_len, AD,
                                  sizeof AD);
                EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof out, out_len, "%s open in_len %zu", w,
                            in_len);
            }
            /* in_len + 16 must not wrap: in_len = SIZE_MAX - 7 "fits" 9 bytes. */
            memset(out, FILL, sizeof out), out_len = 99;
            rc = vl_aead_seal(&k, out, &out_len, 64, NONCE, 12, pt, SIZE_MAX - 7, AD, sizeof AD);
            EXPECT_FAIL(rc, VL_ERR_ARG, out, 64, out_len, "%s seal in_len SIZE_MAX - 7", w);
            /* open in_len SIZE_MAX: for GCM the body is over the SP 800-38D
             * limit, refused before any buffer is touched (aead.h); SIV has
             * no body limit, so it is a plain capacity failure (zeroed). */
            memset(out, FILL, sizeof out), out_len = 99;
            rc = vl_aead_open(&k, out, &out_len, 64, NONCE, 12, sealed, SIZE_MAX, AD, sizeof AD);
            if (is_siv(ALGS[a])) {
                EXPECT_FAIL(rc, VL_ERR_ARG, out, 64, out_len, "%s open in_len SIZE_MAX", w);
            } else {
                cr_assert(rc == VL_ERR_ARG && out_len == 0, "%s open in_len SIZE_MAX: %d", w, rc);
                for (size_t i = 0; i < 64; i++)
                    cr_assert_eq(out[i], FILL, "%s open in_len SIZE_MAX touched out[%zu]", w, i);
            }
            vl_aead_wipe(&k);
        }
}

/* ---- SP 800-38D length limits -------------------------------------------- */

static sigjmp_buf touch_jmp;
static volatile sig_atomic_t touch_armed;

static void on_touch(int sig)
{
    if (touch_armed)
        siglongjmp(touch_jmp, sig);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Address space only: PROT_NONE, nothing committed. Any access faults. */
static uint8_t *reserve(size_t n)
{
    void *p = mmap(NULL, n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) /* e.g. under ulimit -v: the first page still catches a touch */
        return NULL;
    return p;
}

/* One public call, described as data so that it can run inside
 * guarded() below, away from the caller's locals (sigsetjmp). */
enum op_kind { OP_SEAL, OP_OPEN, OP_SEAL_DET, OP_OPEN_DET, OP_SEAL_V, OP_OPEN_V };

struct call {
    enum op_kind op;
    vl_aead_key *k;
    uint8_t *out;
    size_t *out_len;
    size_t out_cap;
    uint8_t *tag;
    const uint8_t *nonce;
    size_t nonce_len;
    const uint8_t *in;
    size_t in_len;
    const uint8_t *ad;
    size_t ad_len;
    const vl_slice *adv;
    size_t ad_count;
};

static int run_call(const struct call *c)
{
    switch (c->op) {
    case OP_SEAL:
        return vl_aead_seal(c->k, c->out, c->out_len, c->out_cap, c->nonce, c->nonce_len, c->in,
                            c->in_len, c->ad, c->ad_len);
    case OP_OPEN:
        return vl_aead_open(c->k, c->out, c->out_len, c->out_cap, c->nonce, c->nonce_len, c->in,
                            c->in_len, c->ad, c->ad_len);
    case OP_SEAL_DET:
        return vl_aead_seal_detached(c->k, c->out, c->tag, c->nonce, c->nonce_len, c->in,
                                     c->in_len, c->ad, c->ad_len);
    case OP_OPEN_DET:
        return vl_aead_open_detached(c->k, c->out, c->tag, c->nonce, c->nonce_len, c->in,
                                     c->in_len, c->ad, c->ad_len);
    case OP_SEAL_V:
        return vl_aead_siv_seal_v(c->k, c->out, c->out_len, c->out_cap, c->adv, c->ad_count,
                                  c->nonce, c->nonce_len, c->in, c->in_len);
    case OP_OPEN_V:
        return vl_aead_siv_open_v(c->k, c->out, c->out_len, c->out_cap, c->adv, c->ad_count,
                                  c->nonce, c->nonce_len, c->in, c->in_len);
    }
    return 12345;
}

/* Runs |c| with SIGSEGV/SIGBUS turned into a test failure naming |what|:
 * the front end must refuse these arguments before touching the buffers. */
static __attribute__((noinline)) int guarded(const struct call *c, const char *what)
{
    struct sigaction sa, old_segv, old_bus;
    volatile int rc = 12345;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_touch;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
    int sig = sigsetjmp(touch_jmp, 1);
    if (sig == 0) {
        touch_armed = 1;
        rc = run_call(c);
    }
    touch_armed = 0;
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGBUS, &old_bus, NULL);
    /* cr_expect: report every such call of a test, not only the first. */
    cr_expect_eq(sig, 0,
                 "%s: the call touched memory it was not given (signal %d) instead of "
                 "refusing its arguments first",
                 what, sig);
    return rc;
}

Test(api, gcm_length_limits)
{
    /* SP 800-38D §5.2.1.1: len(P) <= 2^39 - 256 bits = 2^36 - 32 bytes. */
    const size_t max_pt = ((size_t)1 << 36) - 32, over = max_pt + 1;
    const size_t resv = ((size_t)1 << 36) + (1 << 16);
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t npaths = vt_paths(paths);
    uint8_t *in = reserve(resv), *out = reserve(resv), *ad = reserve(1 << 16);
    uint8_t small[64], tag[16];
    cr_assert(in && out && ad, "mmap of PROT_NONE address space failed");
    for (size_t pi = 0; pi < npaths; pi++)
        for (size_t a = 0; a < 2; a++) {
            vl_aead_key k;
            size_t out_len;
            int rc;
            char what[128];
            test_key(&k, ALGS[a], paths[pi], 7);
            const char *w = vt_alg_name(ALGS[a]);

            snprintf(what, sizeof what, "%s on %s: seal in_len 2^36 - 31", w, paths[pi]->name);
            out_len = 99;
            rc = guarded(&(struct call){OP_SEAL, &k, out, &out_len, over + 16, NULL, NONCE, 12,
                                        in, over, AD, sizeof AD, NULL, 0},
                         what);
            cr_expect_eq(rc, VL_ERR_ARG, "%s: %d", what, rc);
            cr_expect_eq(out_len, 0, "%s", what);

            snprintf(what, sizeof what, "%s on %s: seal_detached in_len 2^36 - 31", w,
                     paths[pi]->name);
            memset(tag, FILL, sizeof tag);
            rc = guarded(&(struct call){OP_SEAL_DET, &k, out, NULL, 0, tag, NONCE, 12, in, over,
                                        AD, sizeof AD, NULL, 0},
                         what);
            cr_expect_eq(rc, VL_ERR_ARG, "%s: %d", what, rc);
            cr_expect(vt_is_zero(tag, 16), "%s: tag not zeroed", what);

            snprintf(what, sizeof what, "%s on %s: open in_len 2^36 - 31 + 16", w,
                     paths[pi]->name);
            out_len = 99;
            rc = guarded(&(struct call){OP_OPEN, &k, out, &out_len, over, NULL, NONCE, 12, in,
                                        over + 16, AD, sizeof AD, NULL, 0},
                         what);
            cr_expect_eq(rc, VL_ERR_ARG, "%s: %d", what, rc);
            cr_expect_eq(out_len, 0, "%s", what);

            snprintf(what, sizeof what, "%s on %s: open_detached in_len 2^36 - 31", w,
                     paths[pi]->name);
            rc = guarded(&(struct call){OP_OPEN_DET, &k, out, NULL, 0, tag, NONCE, 12, in, over,
                                        AD, sizeof AD, NULL, 0},
                         what);
            cr_expect_eq(rc, VL_ERR_ARG, "%s: %d", what, rc);

            /* The length is refused before the capacity check: a small real
             * output buffer is left exactly as it was, *out_len is 0. */
            snprintf(what, sizeof what, "%s on %s: seal in_len 2^36 - 31, out_cap 64", w,
                     paths[pi]->name);
            memset(small, FILL, sizeof small), out_len = 99;
            rc = guarded(&(struct call){OP_SEAL, &k, small, &out_len, sizeof small, NULL, NONCE,
                                        12, in, over, AD, sizeof AD, NULL, 0},
                         what);
            cr_expect(rc == VL_ERR_ARG && out_len == 0, "%s: %d", what, rc);
            for (size_t i = 0; i < sizeof small; i++)
                cr_expect_eq(small[i], FILL, "%s: out[%zu] touched", what, i);
            snprintf(what, sizeof what, "%s on %s: open in_len 2^36 - 31 + 16, out_cap 64", w,
                     paths[pi]->name);
            memset(small, FILL, sizeof small), out_len = 99;
            rc = guarded(&(struct call){OP_OPEN, &k, small, &out_len, sizeof small, NULL, NONCE,
                                        12, in, over + 16, AD, sizeof AD, NULL, 0},
                         what);
            cr_expect(rc == VL_ERR_ARG && out_len == 0, "%s: %d", what, rc);
            for (size_t i = 0; i < sizeof small; i++)
                cr_expect_eq(small[i], FILL, "%s: out[%zu] touched", what, i);

            /* len(A) and len(IV) < 2^64 bits: 2^61 bytes is one too many.
             * The AD/nonce are never read; the small output is zeroed. */
            snprintf(what, sizeof what, "%s on %s: seal ad_len 2^61", w, paths[pi]->name);
            memset(small, FILL, sizeof small), out_len = 99;
            rc = guarded(&(struct call){OP_SEAL, &k, small, &out_len, sizeof small, NULL, NONCE,
                                        12, small, 0, ad, (size_t)1 << 61, NULL, 0},
                         what);
            EXPECT_FAIL(rc, VL_ERR_ARG, small, sizeof small, out_len, "%s", what);
            snprintf(what, sizeof what, "%s on %s: seal nonce_len 2^61", w, paths[pi]->name);
            memset(small, FILL, sizeof small), out_len = 99;
            rc = guarded(&(struct call){OP_SEAL, &k, small, &out_len, sizeof small, NULL, ad,
                                        (size_t)1 << 61, small, 0, AD, 0, NULL, 0},
                         what);
            EXPECT_FAIL(rc, VL_ERR_ARG, small, sizeof small, out_len, "%s", what);
            vl_aead_wipe(&k);
        }
    munmap(in, resv);
    munmap(out, resv);
    munmap(ad, 1 << 16);
}

/* ---- SIV components -------------------------------------------------------- */

Test(api, siv_component_count)
{
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t npaths = vt_paths(paths);
    /* The vector ends at a guard page: reading a component past the count
     * the call was given crashes instead of going unnoticed. */
    uint8_t *guard = vt_guard_alloc();
    vl_slice *ad = (vl_slice *)(void *)(guard - (VL_SIV_MAX_COMPONENTS + 1) * sizeof(vl_slice));
    uint8_t bytes[VL_SIV_MAX_COMPONENTS + 1], pt[19], out[35], back[19];
    size_t out_len;
    int rc;
    pattern(pt, sizeof pt, 17);
    for (size_t i = 0; i <= VL_SIV_MAX_COMPONENTS; i++) {
        bytes[i] = (uint8_t)i;
        ad[i].ptr = &bytes[i];
        ad[i].len = 1;
    }
    for (size_t pi = 0; pi < npaths; pi++) {
        vl_aead_key k;
        test_key(&k, VL_AES256_SIV, paths[pi], 8);
        struct {
            size_t count, nonce_len;
            int want;
        } cases[] = {
            {VL_SIV_MAX_COMPONENTS, 0, VL_OK},
            {VL_SIV_MAX_COMPONENTS - 1, 12, VL_OK},
            {VL_SIV_MAX_COMPONENTS, 12, VL_ERR_ARG},
            {VL_SIV_MAX_COMPONENTS + 1, 0, VL_ERR_ARG},
            {VL_SIV_MAX_COMPONENTS + 1, 12, VL_ERR_ARG},
            {SIZE_MAX, 0, VL_ERR_ARG},
        };
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            char what[96];
            snprintf(what, sizeof what, "siv_seal_v %zu components + nonce %zu on %s",
                     cases[c].count, cases[c].nonce_len, paths[pi]->name);
            memset(out, FILL, sizeof out), out_len = 99;
            rc = guarded(&(struct call){OP_SEAL_V, &k, out, &out_len, sizeof out, NULL, NONCE,
                                        cases[c].nonce_len, pt, sizeof pt, NULL, 0, ad,
                                        cases[c].count},
                         what);
            if (cases[c].want != VL_OK) {
                EXPECT_FAIL(rc, cases[c].want, out, sizeof out, out_len, "%s", what);
                memset(back, FILL, sizeof back), out_len = 99;
                rc = guarded(&(struct call){OP_OPEN_V, &k, back, &out_len, sizeof back, NULL,
                                            NONCE, cases[c].nonce_len, out, sizeof out, NULL, 0,
                                            ad, cases[c].count},
                             what);
                EXPECT_FAIL(rc, cases[c].want, back, sizeof back, out_len, "open: %s", what);
                continue;
            }
            cr_assert_eq(rc, VL_OK, "siv_seal_v %zu components + nonce %zu: %d", cases[c].count,
                         cases[c].nonce_len, rc);
            rc = vl_aead_siv_open_v(&k, back, &out_len, sizeof back, ad, cases[c].count, NONCE,
                                    cases[c].nonce_len, out, sizeof out);
            cr_assert(rc == VL_OK && memcmp(back, pt, sizeof pt) == 0);
            /* Dropping the last component changes V. */
            rc = vl_aead_siv_open_v(&k, back, &out_len, sizeof back, ad, cases[c].count - 1,
                                    NONCE, cases[c].nonce_len, out, sizeof out);
            EXPECT_FAIL(rc, VL_ERR_AUTH, back, sizeof back, out_len, "dropped component");
        }
        /* NULL vector or a NULL component with a length. */
        memset(out, FILL, sizeof out), out_len = 99;
        rc = vl_aead_siv_seal_v(&k, out, &out_len, sizeof out, NULL, 2, NULL, 0, pt, sizeof pt);
        EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof out, out_len, "siv_seal_v NULL ad vector");
        vl_slice bad[3] = {{AD, 3}, {NULL, 4}, {AD, 1}};
        memset(out, FILL, sizeof out), out_len = 99;
        rc = vl_aead_siv_seal_v(&k, out, &out_len, sizeof out, bad, 3, NULL, 0, pt, sizeof pt);
        EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof out, out_len, "siv_seal_v NULL component");
        memset(back, FILL, sizeof back), out_len = 99;
        rc = vl_aead_siv_open_v(&k, back, &out_len, sizeof back, bad, 3, NULL, 0, out, sizeof out);
        EXPECT_FAIL(rc, VL_ERR_ARG, back, sizeof back, out_len, "siv_open_v NULL component");
        /* NULL with length 0 is an empty component, same as a non-NULL one. */
        vl_slice e1[2] = {{NULL, 0}, {AD, 5}}, e2[2] = {{AD, 0}, {AD, 5}};
        uint8_t o2[35];
        cr_assert_eq(vl_aead_siv_seal_v(&k, out, &out_len, sizeof out, e1, 2, NULL, 0, pt,
                                        sizeof pt),
                     VL_OK);
        cr_assert_eq(vl_aead_siv_seal_v(&k, o2, &out_len, sizeof o2, e2, 2, NULL, 0, pt,
                                        sizeof pt),
                     VL_OK);
        cr_assert(memcmp(out, o2, sizeof out) == 0);
        vl_aead_wipe(&k);
    }
    /* On GCM keys the vector form is unsupported. */
    for (size_t pi = 0; pi < npaths; pi++)
        for (size_t a = 0; a < 2; a++) {
            vl_aead_key k;
            test_key(&k, ALGS[a], paths[pi], 8);
            memset(out, FILL, sizeof out), out_len = 99;
            rc = vl_aead_siv_seal_v(&k, out, &out_len, sizeof out, ad, 1, NONCE, 12, pt,
                                    sizeof pt);
            EXPECT_FAIL(rc, VL_ERR_UNSUPPORTED, out, sizeof out, out_len, "siv_seal_v on %s",
                        vt_alg_name(ALGS[a]));
            memset(back, FILL, sizeof back), out_len = 99;
            rc = vl_aead_siv_open_v(&k, back, &out_len, sizeof back, ad, 1, NONCE, 12, out,
                                    sizeof out);
            EXPECT_FAIL(rc, VL_ERR_UNSUPPORTED, back, sizeof back, out_len, "siv_open_v on %s",
                        vt_alg_name(ALGS[a]));
            vl_aead_wipe(&k);
        }
    vt_guard_free(guard);
}

/* vl_aead_siv_seal_v against OpenSSL's AES-256-SIV given the same AAD
 * updates (one per component, then the nonce), and against vl_aead_seal
 * for exactly one component. */
Test(api, siv_seal_v_vs_openssl)
{
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t npaths = vt_paths(paths);
    uint8_t key[64], pt[300], out[316], ref[316], back[300], data[2048];
    size_t out_len, checked = 0;
    vl_slice ad[20];
    vt_rng r = {0x5151};
    vt_rng_fill(&r, key, sizeof key);
    vt_rng_fill(&r, data, sizeof data);
    for (size_t pi = 0; pi < npaths; pi++) {
        vl_aead_key k;
        vt_key_init(&k, VL_AES256_SIV, key, 64, paths[pi]);
        for (size_t iter = 0; iter < vt_scaled(400) || iter < 21; iter++) {
            size_t count = iter < 20 ? iter : vt_rng_range(&r, 0, 20);
            size_t pt_len = iter % 7 == 0 ? vt_rng_range(&r, 0, 40) : vt_rng_range(&r, 1, 300);
            size_t nonce_len = vt_rng_below(&r, 3) == 0 ? 0 : vt_rng_range(&r, 1, 32);
            for (size_t i = 0; i < count; i++) {
                size_t len = vt_rng_below(&r, 4) == 0 ? 0 : vt_rng_range(&r, 1, 100);
                ad[i].ptr = (len == 0 && vt_rng_below(&r, 2)) ? NULL
                                                              : data + vt_rng_below(&r, 1900);
                ad[i].len = len;
            }
            vt_rng_fill(&r, pt, pt_len);
            const uint8_t *nonce = data + vt_rng_below(&r, 1900);
            int rc = vl_aead_siv_seal_v(&k, out, &out_len, sizeof out, ad, count, nonce, nonce_len,
                                        pt, pt_len);
            cr_assert(rc == VL_OK && out_len == pt_len + 16, "seal_v %zu components: %d", count,
                      rc);
            if (pt_len > 0) {
                cr_assert(vt_ossl_siv_seal(key, 64, ad, count, nonce, nonce_len, pt, pt_len, ref));
                cr_assert(memcmp(out, ref, pt_len + 16) == 0,
                          "siv_seal_v (%zu components, nonce %zu, pt %zu) != OpenSSL", count,
                          nonce_len, pt_len);
                checked++;
            }
            if (count == 1) {
                ref_seal(&k, nonce, nonce_len, pt, pt_len, ad[0].ptr, ad[0].len, ref);
                cr_assert(memcmp(out, ref, pt_len + 16) == 0, "seal_v([ad]) != vl_aead_seal");
            }
            if (count == 0) {
                /* No component at all differs from one empty component. */
                vl_slice empty = {NULL, 0};
                cr_assert_eq(vl_aead_siv_seal_v(&k, ref, &out_len, sizeof ref, &empty, 1, nonce,
                                                nonce_len, pt, pt_len),
                             VL_OK);
                cr_assert(memcmp(out, ref, 16) != 0, "ad_count 0 == one empty component");
            }
            rc = vl_aead_siv_open_v(&k, back, &out_len, sizeof back, ad, count, nonce, nonce_len,
                                    out, pt_len + 16);
            cr_assert(rc == VL_OK && out_len == pt_len && memcmp(back, pt, pt_len) == 0,
                      "open_v %zu components: %d", count, rc);
            if (count >= 2) {
                /* Swapping two distinct components must fail. */
                vl_slice t = ad[0];
                ad[0] = ad[1], ad[1] = t;
                int same = ad[0].len == ad[1].len &&
                           (ad[0].len == 0 || memcmp(ad[0].ptr, ad[1].ptr, ad[0].len) == 0);
                rc = vl_aead_siv_open_v(&k, back, &out_len, sizeof back, ad, count, nonce,
                                        nonce_len, out, pt_len + 16);
                if (!same)
                    EXPECT_FAIL(rc, VL_ERR_AUTH, back, pt_len, out_len, "swapped components");
            }
        }
        vl_aead_wipe(&k);
    }
    fprintf(stderr, "[api] siv_seal_v: %zu multi-component cases checked against OpenSSL on %s\n",
            checked, vt_path_names());
}

/* ---- aliasing ------------------------------------------------------------ */

Test(api, aliasing)
{
    static const size_t lens[] = {0, 1, 16, 33, 100};
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t npaths = vt_paths(paths);
    uint8_t pt[100], ref[116], big[400], tag[16];
    size_t out_len, refused = 0;
    int rc;
    pattern(pt, sizeof pt, 21);
    for (size_t pi = 0; pi < npaths; pi++)
        for (size_t a = 0; a < NALGS; a++) {
            vl_aead_key k;
            int siv = is_siv(ALGS[a]);
            const char *w = vt_alg_name(ALGS[a]);
            test_key(&k, ALGS[a], paths[pi], 9);
            for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
                size_t len = lens[li];
                uint8_t *base = big + 128;
                ref_seal(&k, NONCE, 12, pt, len, AD, sizeof AD, ref);
                const uint8_t *ref_body = siv ? ref + 16 : ref, *ref_tag = siv ? ref : ref + len;

                /* Exactly in place: seal. GCM out == in; SIV in == out + 16. */
                memset(big, FILL, sizeof big);
                memcpy(siv ? base + 16 : base, pt, len);
                rc = vl_aead_seal(&k, base, &out_len, len + 16, NONCE, 12, siv ? base + 16 : base,
                                  len, AD, sizeof AD);
                cr_assert(rc == VL_OK && memcmp(base, ref, len + 16) == 0,
                          "%s len %zu: in-place seal %d", w, len, rc);
                /* open: GCM out == in; SIV out == in + 16. */
                rc = vl_aead_open(&k, siv ? base + 16 : base, &out_len, len, NONCE, 12, base,
                                  len + 16, AD, sizeof AD);
                cr_assert(rc == VL_OK && out_len == len &&
                              memcmp(siv ? base + 16 : base, pt, len) == 0,
                          "%s len %zu: in-place open %d", w, len, rc);
                /* A failed in-place open zeroes the plaintext it produced. */
                memcpy(base, ref, len + 16);
                base[siv ? 0 : len] ^= 0x80;
                rc = vl_aead_open(&k, siv ? base + 16 : base, &out_len, len, NONCE, 12, base,
                                  len + 16, AD, sizeof AD);
                EXPECT_FAIL(rc, VL_ERR_AUTH, siv ? base + 16 : base, len, out_len,
                            "%s len %zu: in-place open of a bad tag", w, len);

                /* Detached, in place (out == in) for both. */
                memcpy(base, pt, len);
                rc = vl_aead_seal_detached(&k, base, tag, NONCE, 12, base, len, AD, sizeof AD);
                cr_assert(rc == VL_OK && memcmp(base, ref_body, len) == 0 &&
                              memcmp(tag, ref_tag, 16) == 0,
                          "%s len %zu: in-place detached seal", w, len);
                rc = vl_aead_open_detached(&k, base, tag, NONCE, 12, base, len, AD, sizeof AD);
                cr_assert(rc == VL_OK && memcmp(base, pt, len) == 0,
                          "%s len %zu: in-place detached open", w, len);

                if (len == 0)
                    continue; /* no body: nothing can partially overlap it */

                /* Partial overlap: every shift of out against in (other than
                 * the in-place one) that still overlaps is refused. */
                uint8_t *in = base;
                for (long d = -(long)len - 15; d <= (long)len + 15; d++) {
                    uint8_t *o;
                    size_t cap = len + 16;
                    /* seal: out spans [o, o + len + 16), in [in, in + len) */
                    o = in + d;
                    if (!(siv ? o + 16 == in : o == in) && o < in + len && in < o + cap) {
                        memset(big, FILL, sizeof big);
                        memcpy(in, pt, len);
                        out_len = 99;
                        rc = vl_aead_seal(&k, o, &out_len, cap, NONCE, 12, in, len, AD, sizeof AD);
                        EXPECT_FAIL(rc, VL_ERR_ARG, o, cap, out_len,
                                    "%s len %zu: seal with out = in %+ld", w, len, d);
                        refused++;
                    }
                    /* open: in spans [in, in + len + 16), out [o, o + len) */
                    if (!(siv ? o == in + 16 : o == in) && o < in + cap && in < o + len) {
                        memset(big, FILL, sizeof big);
                        memcpy(in, ref, len + 16);
                        out_len = 99;
                        rc = vl_aead_open(&k, o, &out_len, len, NONCE, 12, in, cap, AD, sizeof AD);
                        EXPECT_FAIL(rc, VL_ERR_ARG, o, len, out_len,
                                    "%s len %zu: open with out = in %+ld", w, len, d);
                        refused++;
                    }
                    /* detached: both [.., + len) */
                    if (d != 0 && o < in + len && in < o + len) {
                        memset(big, FILL, sizeof big);
                        memcpy(in, pt, len);
                        memset(tag, FILL, 16);
                        rc = vl_aead_seal_detached(&k, o, tag, NONCE, 12, in, len, AD, sizeof AD);
                        EXPECT_FAIL(rc, VL_ERR_ARG, o, len, 0,
                                    "%s len %zu: seal_detached out = in %+ld", w, len, d);
                        cr_assert(vt_is_zero(tag, 16));
                        memset(big, FILL, sizeof big);
                        memcpy(in, ref_body, len);
                        rc = vl_aead_open_detached(&k, o, ref_tag, NONCE, 12, in, len, AD,
                                                   sizeof AD);
                        EXPECT_FAIL(rc, VL_ERR_ARG, o, len, 0,
                                    "%s len %zu: open_detached out = in %+ld", w, len, d);
                        refused += 2;
                    }
                }
                /* Adjacent but disjoint is fine. */
                memcpy(in, pt, len);
                rc = vl_aead_seal(&k, in + len, &out_len, len + 16, NONCE, 12, in, len, AD,
                                  sizeof AD);
                cr_assert(rc == VL_OK && memcmp(in + len, ref, len + 16) == 0,
                          "%s: out right after in", w);
                memcpy(in + len + 16, pt, len);
                rc = vl_aead_seal(&k, in, &out_len, len + 16, NONCE, 12, in + len + 16, len, AD,
                                  sizeof AD);
                cr_assert(rc == VL_OK && memcmp(in, ref, len + 16) == 0,
                          "%s: out right before in", w);

                /* Nonce or AD inside the output is refused. */
                uint8_t *o = big + 200;
                memset(big, FILL, sizeof big);
                memcpy(o + 4, NONCE, 12);
                out_len = 99;
                rc = vl_aead_seal(&k, o, &out_len, len + 16, o + 4, 12, pt, len, AD, sizeof AD);
                EXPECT_FAIL(rc, VL_ERR_ARG, o, len + 16, out_len, "%s: nonce inside out", w);
                memcpy(o + 1, AD, sizeof AD);
                out_len = 99;
                rc = vl_aead_seal(&k, o, &out_len, len + 16, NONCE, 12, pt, len, o + 1, sizeof AD);
                EXPECT_FAIL(rc, VL_ERR_ARG, o, len + 16, out_len, "%s: AD inside out", w);
                /* Detached: the tag may not overlap in or out. */
                memcpy(in, pt, len);
                rc = vl_aead_seal_detached(&k, big, in + len - 1, NONCE, 12, in, len, AD,
                                           sizeof AD);
                cr_assert_eq(rc, VL_ERR_ARG, "%s: detached tag overlapping in", w);
                rc = vl_aead_seal_detached(&k, in, in + len - 1, NONCE, 12, in, len, AD,
                                           sizeof AD);
                cr_assert_eq(rc, VL_ERR_ARG, "%s: detached tag overlapping out", w);
                refused += 4;
            }
            vl_aead_wipe(&k);
        }
    fprintf(stderr, "[api] aliasing: %zu overlapping layouts refused on %s\n", refused,
            vt_path_names());
}

/* ---- unaligned buffers --------------------------------------------------- */

Test(api, unaligned_buffers)
{
    static const size_t lens[] = {0, 1, 15, 16, 17, 63, 64, 255};
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t npaths = vt_paths(paths);
    _Alignas(64) uint8_t pt[255], ref[271];
    _Alignas(64) uint8_t ibuf[255 + 16 + 32], obuf[271 + 32], abuf[24 + 32];
    size_t out_len, n = 0;
    int rc;
    pattern(pt, sizeof pt, 23);
    for (size_t pi = 0; pi < npaths; pi++)
        for (size_t a = 0; a < NALGS; a++) {
            vl_aead_key k;
            test_key(&k, ALGS[a], paths[pi], 10);
            for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
                size_t len = lens[li];
                ref_seal(&k, NONCE, 12, pt, len, AD, sizeof AD, ref);
                for (size_t io = 0; io < 16; io++)
                    for (size_t oo = 0; oo < 16; oo++) {
                        uint8_t *in = ibuf + io, *out = obuf + oo, *ad = abuf + ((io + oo) & 15);
                        memcpy(in, pt, len);
                        memcpy(ad, AD, sizeof AD);
                        rc = vl_aead_seal(&k, out, &out_len, len + 16, NONCE, 12, in, len, ad,
                                          sizeof AD);
                        cr_assert(rc == VL_OK && memcmp(out, ref, len + 16) == 0,
                                  "%s len %zu in+%zu out+%zu: seal", vt_alg_name(ALGS[a]), len,
                                  io, oo);
                        memset(in, 0, len);
                        rc = vl_aead_open(&k, in, &out_len, len, NONCE, 12, out, len + 16, ad,
                                          sizeof AD);
                        cr_assert(rc == VL_OK && memcmp(in, pt, len) == 0,
                                  "%s len %zu in+%zu out+%zu: open", vt_alg_name(ALGS[a]), len,
                                  io, oo);
                        n++;
                    }
            }
            vl_aead_wipe(&k);
        }
    fprintf(stderr, "[api] unaligned: %zu offset pairs (1..15) checked on %s\n", n,
            vt_path_names());
}

/* ---- guard pages ----------------------------------------------------------- */

/* Every buffer ends exactly at a PROT_NONE page: reading or writing one
 * byte too far crashes the test. Zero-length buffers point at the guard. */
Test(api, guard_pages)
{
    static const size_t lens[] = {0, 1, 15, 16, 17, 31, 33, 100};
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t npaths = vt_paths(paths);
    uint8_t *gp = vt_guard_alloc(), *ga = vt_guard_alloc(), *gn = vt_guard_alloc();
    uint8_t *go = vt_guard_alloc(), *gb = vt_guard_alloc();
    uint8_t pt[100], ref[116], tag[16];
    size_t out_len;
    int rc;
    pattern(pt, sizeof pt, 29);
    for (size_t pi = 0; pi < npaths; pi++)
        for (size_t a = 0; a < NALGS; a++) {
            vl_aead_key k;
            int siv = is_siv(ALGS[a]);
            const char *w = vt_alg_name(ALGS[a]);
            test_key(&k, ALGS[a], paths[pi], 11);
            size_t nonce_lens[2] = {12, siv ? 0 : 1};
            for (size_t ni = 0; ni < 2; ni++)
                for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
                    for (size_t al = 0; al <= 17; al += 17) {
                        size_t len = lens[li], nl = nonce_lens[ni];
                        uint8_t *p = gp - len, *ad = ga - al, *nonce = gn - nl;
                        uint8_t *o = go - (len + 16), *back = gb - len;
                        memcpy(p, pt, len);
                        memcpy(ad, AD, al);
                        memcpy(nonce, NONCE, nl);
                        ref_seal(&k, NONCE, nl, pt, len, AD, al, ref);
                        rc = vl_aead_seal(&k, o, &out_len, len + 16, nonce, nl, p, len, ad, al);
                        cr_assert(rc == VL_OK && memcmp(o, ref, len + 16) == 0,
                                  "%s pt %zu ad %zu nonce %zu at a guard page: seal", w, len, al,
                                  nl);
                        rc = vl_aead_open(&k, back, &out_len, len, nonce, nl, o, len + 16, ad, al);
                        cr_assert(rc == VL_OK && out_len == len && memcmp(back, pt, len) == 0,
                                  "%s pt %zu ad %zu at a guard page: open", w, len, al);
                        o[0] ^= 1;
                        rc = vl_aead_open(&k, back, &out_len, len, nonce, nl, o, len + 16, ad, al);
                        EXPECT_FAIL(rc, VL_ERR_AUTH, back, len, out_len,
                                    "%s pt %zu at a guard page: bad open", w, len);
                        o[0] ^= 1;
                        /* Detached, body and tag each ending at a guard. */
                        uint8_t *dt = ga - 16, *dout = go - len;
                        rc = vl_aead_seal_detached(&k, dout, dt, nonce, nl, p, len, AD, al);
                        cr_assert(rc == VL_OK, "%s detached at guard: %d", w, rc);
                        cr_assert(memcmp(dout, siv ? ref + 16 : ref, len) == 0 &&
                                      memcmp(dt, siv ? ref : ref + len, 16) == 0,
                                  "%s detached at guard", w);
                        memcpy(tag, dt, 16);
                        rc = vl_aead_open_detached(&k, back, dt, nonce, nl, dout, len, AD, al);
                        cr_assert(rc == VL_OK && memcmp(back, pt, len) == 0);
                    }
            /* Zero-length plaintext and AD given as the guard address itself. */
            uint8_t *o = go - 16;
            size_t nl = siv ? 0 : 12;
            memcpy(gn - 12, NONCE, 12);
            rc = vl_aead_seal(&k, o, &out_len, 16, gn - 12, nl, gp, 0, ga, 0);
            cr_assert(rc == VL_OK && out_len == 16, "%s: empty inputs at the guard: %d", w, rc);
            ref_seal(&k, NONCE, nl, pt, 0, AD, 0, ref);
            cr_assert(memcmp(o, ref, 16) == 0);
            rc = vl_aead_open(&k, gb, &out_len, 0, gn - 12, nl, o, 16, ga, 0);
            cr_assert(rc == VL_OK && out_len == 0, "%s: empty open at the guard: %d", w, rc);
            o[15] ^= 1;
            rc = vl_aead_open(&k, gb, &out_len, 0, gn - 12, nl, o, 16, ga, 0);
            cr_assert(rc == VL_ERR_AUTH && out_len == 0, "%s: empty bad open at guard", w);
            vl_aead_wipe(&k);
        }
    vt_guard_free(gp), vt_guard_free(ga), vt_guard_free(gn), vt_guard_free(go);
    vt_guard_free(gb);
}

/* ---- detached == combined -------------------------------------------------- */

Test(api, detached_matches_combined)
{
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t npaths = vt_paths(paths);
    uint8_t pt[200], ref[216], body[200], tag[16], back[200];
    int rc;
    pattern(pt, sizeof pt, 31);
    for (size_t pi = 0; pi < npaths; pi++)
        for (size_t a = 0; a < NALGS; a++) {
            vl_aead_key k;
            int siv = is_siv(ALGS[a]);
            const char *w = vt_alg_name(ALGS[a]);
            test_key(&k, ALGS[a], paths[pi], 12);
            for (size_t len = 0; len <= 200; len += (len < 40 ? 1 : 23)) {
                size_t nl = siv ? (len % 3 ? 16 : 0) : 12, al = len % 25;
                ref_seal(&k, NONCE, nl, pt, len, AD, al, ref);
                rc = vl_aead_seal_detached(&k, body, tag, NONCE, nl, pt, len, AD, al);
                cr_assert_eq(rc, VL_OK);
                cr_assert(memcmp(body, siv ? ref + 16 : ref, len) == 0, "%s len %zu: body", w,
                          len);
                cr_assert(memcmp(tag, siv ? ref : ref + len, 16) == 0, "%s len %zu: tag", w, len);
                rc = vl_aead_open_detached(&k, back, tag, NONCE, nl, body, len, AD, al);
                cr_assert(rc == VL_OK && memcmp(back, pt, len) == 0, "%s len %zu: open", w, len);
                /* Truncated-looking or flipped tags fail, output zeroed. */
                for (int bit = 0; bit < 128; bit += 37) {
                    tag[bit / 8] ^= (uint8_t)(1 << (bit % 8));
                    memset(back, FILL, sizeof back);
                    rc = vl_aead_open_detached(&k, back, tag, NONCE, nl, body, len, AD, al);
                    EXPECT_FAIL(rc, VL_ERR_AUTH, back, len, 0, "%s len %zu: tag bit %d", w, len,
                                bit);
                    cr_assert_eq(back[len < 200 ? len : 199], len < 200 ? FILL : 0);
                    tag[bit / 8] ^= (uint8_t)(1 << (bit % 8));
                }
            }
            vl_aead_wipe(&k);
        }
}

/* ---- batch ------------------------------------------------------------------ */

#define NMSG 9
#define BAD_SEAL 3 /* out_cap one short */
#define BAD_OPEN_AUTH 2
#define BAD_OPEN_ARG 6 /* in_len < 16 */

Test(api, batch)
{
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t npaths = vt_paths(paths);
    static const size_t lens[NMSG] = {0, 1, 16, 40, 100, 17, 64, 3, 255};
    uint8_t pt[NMSG][255], nonce[NMSG][16], ad[NMSG][20];
    uint8_t sealed[NMSG][271], ref[NMSG][271], opened[NMSG][255];
    vl_aead_msg m[NMSG];
    size_t out_len;
    int rc;
    for (size_t i = 0; i < NMSG; i++) {
        pattern(pt[i], sizeof pt[i], (uint8_t)(40 + i));
        pattern(nonce[i], sizeof nonce[i], (uint8_t)(60 + i));
        pattern(ad[i], sizeof ad[i], (uint8_t)(80 + i));
    }
    for (size_t pi = 0; pi < npaths; pi++)
        for (size_t a = 0; a < NALGS; a++) {
            vl_aead_key k;
            vl_usage u0, u1;
            const char *w = vt_alg_name(ALGS[a]);
            test_key(&k, ALGS[a], paths[pi], 13);
            for (size_t i = 0; i < NMSG; i++)
                ref_seal(&k, nonce[i], is_siv(ALGS[a]) && i % 2 ? 0 : 12, pt[i], lens[i], ad[i],
                         i % 4 == 0 ? 0 : i + 3, ref[i]);

            /* Seal: one bad message in the middle. */
            for (size_t i = 0; i < NMSG; i++) {
                m[i] = (vl_aead_msg){nonce[i], is_siv(ALGS[a]) && i % 2 ? 0 : 12,
                                     i % 4 == 0 ? NULL : ad[i], i % 4 == 0 ? 0 : i + 3,
                                     pt[i], lens[i], sealed[i], lens[i] + 16, 777, 999};
            }
            m[BAD_SEAL].out_cap = lens[BAD_SEAL] + 15;
            memset(sealed, FILL, sizeof sealed);
            vl_aead_usage(&k, &u0);
            rc = vl_aead_seal_batch(&k, m, NMSG);
            vl_aead_usage(&k, &u1);
            cr_assert_eq(rc, VL_ERR_ARG, "%s seal_batch returned %d", w, rc);
            for (size_t i = 0; i < NMSG; i++) {
                if (i == BAD_SEAL) {
                    EXPECT_FAIL(m[i].status, VL_ERR_ARG, sealed[i], m[i].out_cap, m[i].out_len,
                                "%s seal_batch message %zu", w, i);
                    continue;
                }
                cr_assert_eq(m[i].status, VL_OK, "%s seal_batch message %zu: %d", w, i,
                             m[i].status);
                cr_assert_eq(m[i].out_len, lens[i] + 16);
                cr_assert(memcmp(sealed[i], ref[i], lens[i] + 16) == 0,
                          "%s seal_batch message %zu differs from vl_aead_seal", w, i);
            }
            cr_assert_eq(u1.seals - u0.seals, NMSG - 1, "%s: batch counted %llu seals", w,
                         (unsigned long long)(u1.seals - u0.seals));

            /* Open: a tampered message, then a malformed one; the first
             * error is returned. */
            memcpy(sealed[BAD_SEAL], ref[BAD_SEAL], lens[BAD_SEAL] + 16);
            for (size_t i = 0; i < NMSG; i++)
                m[i] = (vl_aead_msg){nonce[i], is_siv(ALGS[a]) && i % 2 ? 0 : 12,
                                     i % 4 == 0 ? NULL : ad[i], i % 4 == 0 ? 0 : i + 3,
                                     sealed[i], lens[i] + 16, opened[i], lens[i], 777, 999};
            sealed[BAD_OPEN_AUTH][5] ^= 0x20;
            m[BAD_OPEN_ARG].in_len = 15;
            memset(opened, FILL, sizeof opened);
            rc = vl_aead_open_batch(&k, m, NMSG);
            cr_assert_eq(rc, VL_ERR_AUTH, "%s open_batch returned %d, want the first error", w,
                         rc);
            for (size_t i = 0; i < NMSG; i++) {
                if (i == BAD_OPEN_AUTH || i == BAD_OPEN_ARG) {
                    EXPECT_FAIL(m[i].status, i == BAD_OPEN_AUTH ? VL_ERR_AUTH : VL_ERR_ARG,
                                opened[i], m[i].out_cap, m[i].out_len,
                                "%s open_batch message %zu", w, i);
                    continue;
                }
                cr_assert_eq(m[i].status, VL_OK, "%s open_batch message %zu: %d", w, i,
                             m[i].status);
                cr_assert_eq(m[i].out_len, lens[i]);
                cr_assert(memcmp(opened[i], pt[i], lens[i]) == 0, "%s open_batch message %zu", w,
                          i);
                /* Same as one by one. */
                uint8_t one[255];
                rc = vl_aead_open(&k, one, &out_len, lens[i], m[i].nonce, m[i].nonce_len, m[i].in,
                                  m[i].in_len, m[i].ad, m[i].ad_len);
                cr_assert(rc == VL_OK && memcmp(one, opened[i], lens[i]) == 0);
            }
            /* Reversed order of the two failures: ARG comes first now. */
            m[BAD_OPEN_AUTH].in_len = 15;
            m[BAD_OPEN_ARG].in_len = lens[BAD_OPEN_ARG] + 16;
            sealed[BAD_OPEN_AUTH][5] ^= 0x20;
            sealed[BAD_OPEN_ARG][0] ^= 0x01;
            rc = vl_aead_open_batch(&k, m, NMSG);
            cr_assert_eq(rc, VL_ERR_ARG, "%s open_batch returned %d", w, rc);
            cr_assert_eq(m[BAD_OPEN_ARG].status, VL_ERR_AUTH);

            /* Empty batches; NULL with a count. */
            cr_assert_eq(vl_aead_seal_batch(&k, NULL, 0), VL_OK);
            cr_assert_eq(vl_aead_open_batch(&k, NULL, 0), VL_OK);
            cr_assert_eq(vl_aead_seal_batch(&k, NULL, 2), VL_ERR_ARG);
            cr_assert_eq(vl_aead_open_batch(&k, NULL, 2), VL_ERR_ARG);
            vl_aead_wipe(&k);
        }
}

/* Many messages of mixed shapes in one batch (enough to fill every lane of
 * a multi-buffer path several times over), a few bad ones among them:
 * each status and output equals the one-by-one call. */
Test(api, batch_many)
{
    enum { N = 240, MAXPT = 700, MAXAD = 100 };
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t npaths = vt_paths(paths);
    uint8_t *pt = malloc(N * MAXPT), *ad = malloc(N * MAXAD), *nonce = malloc(N * 32);
    uint8_t *sealed = malloc(N * (MAXPT + 16)), *ref = malloc(N * (MAXPT + 16));
    uint8_t *opened = malloc(N * MAXPT);
    vl_aead_msg *m = malloc(N * sizeof *m);
    size_t *ref_len = malloc(N * sizeof *ref_len);
    int *ref_rc = malloc(N * sizeof *ref_rc);
    cr_assert(pt && ad && nonce && sealed && ref && opened && m && ref_len && ref_rc);
    vt_rng r = {0xba7c4};
    vt_rng_fill(&r, pt, N * MAXPT);
    vt_rng_fill(&r, ad, N * MAXAD);
    vt_rng_fill(&r, nonce, N * 32);
    for (size_t pi = 0; pi < npaths; pi++)
        for (size_t a = 0; a < NALGS; a++) {
            vl_aead_key k;
            int siv = is_siv(ALGS[a]), first = VL_OK;
            const char *w = vt_alg_name(ALGS[a]);
            test_key(&k, ALGS[a], paths[pi], 14);
            for (size_t i = 0; i < N; i++) {
                size_t len = vt_rng_below(&r, 5) == 0 ? vt_rng_range(&r, 0, 32)
                                                      : vt_rng_range(&r, 0, MAXPT);
                size_t al = vt_rng_below(&r, 3) == 0 ? 0 : vt_rng_range(&r, 0, MAXAD);
                size_t nl = siv ? (size_t)(vt_rng_below(&r, 2) ? 0 : vt_rng_range(&r, 1, 32))
                                : (vt_rng_below(&r, 4) ? 12 : vt_rng_range(&r, 1, 32));
                m[i] = (vl_aead_msg){nonce + 32 * i, nl, al ? ad + MAXAD * i : NULL, al,
                                     pt + MAXPT * i, len, sealed + (MAXPT + 16) * i, len + 16,
                                     777, 999};
                if (i % 37 == 36)
                    m[i].out_cap--; /* bad: capacity */
                if (i % 53 == 52)
                    m[i].nonce = NULL, m[i].nonce_len = 12; /* bad: NULL nonce */
                ref_rc[i] = vl_aead_seal(&k, ref + (MAXPT + 16) * i, &ref_len[i], m[i].out_cap,
                                         m[i].nonce, m[i].nonce_len, m[i].in, m[i].in_len, m[i].ad,
                                         m[i].ad_len);
                if (ref_rc[i] != VL_OK && first == VL_OK)
                    first = ref_rc[i];
            }
            memset(sealed, FILL, N * (MAXPT + 16));
            int rc = vl_aead_seal_batch(&k, m, N);
            cr_assert_eq(rc, first, "%s: seal_batch %d, first error %d", w, rc, first);
            for (size_t i = 0; i < N; i++) {
                cr_assert_eq(m[i].status, ref_rc[i], "%s message %zu: status %d, one-by-one %d",
                             w, i, m[i].status, ref_rc[i]);
                cr_assert_eq(m[i].out_len, ref_len[i], "%s message %zu", w, i);
                if (ref_rc[i] == VL_OK)
                    cr_assert(memcmp(m[i].out, ref + (MAXPT + 16) * i, m[i].in_len + 16) == 0,
                              "%s seal_batch message %zu (pt %zu, ad %zu, nonce %zu) differs", w,
                              i, m[i].in_len, m[i].ad_len, m[i].nonce_len);
                else
                    cr_assert(vt_is_zero(m[i].out, m[i].out_cap), "%s message %zu", w, i);
            }
            /* Open them all back; tamper with a few. */
            first = VL_OK;
            for (size_t i = 0; i < N; i++) {
                size_t len = m[i].in_len;
                if (m[i].status != VL_OK) { /* reseal it properly */
                    m[i].nonce = nonce + 32 * i;
                    m[i].out_cap = len + 16;
                    cr_assert_eq(vl_aead_seal(&k, m[i].out, &m[i].out_len, len + 16, m[i].nonce,
                                              m[i].nonce_len, m[i].in, len, m[i].ad, m[i].ad_len),
                                 VL_OK);
                }
                m[i] = (vl_aead_msg){m[i].nonce, m[i].nonce_len, m[i].ad, m[i].ad_len, m[i].out,
                                     len + 16, opened + MAXPT * i, len, 777, 999};
                if (i % 29 == 28)
                    sealed[(MAXPT + 16) * i + vt_rng_below(&r, len + 16)] ^= 0x04;
                ref_rc[i] = i % 29 == 28 ? VL_ERR_AUTH : VL_OK;
                if (ref_rc[i] != VL_OK && first == VL_OK)
                    first = ref_rc[i];
            }
            memset(opened, FILL, N * MAXPT);
            rc = vl_aead_open_batch(&k, m, N);
            cr_assert_eq(rc, first, "%s: open_batch %d, first error %d", w, rc, first);
            for (size_t i = 0; i < N; i++) {
                cr_assert_eq(m[i].status, ref_rc[i], "%s open message %zu: status %d, want %d", w,
                             i, m[i].status, ref_rc[i]);
                if (ref_rc[i] == VL_OK)
                    cr_assert(m[i].out_len == m[i].out_cap &&
                                  memcmp(m[i].out, pt + MAXPT * i, m[i].out_cap) == 0,
                              "%s open_batch message %zu", w, i);
                else
                    cr_assert(m[i].out_len == 0 && vt_is_zero(m[i].out, m[i].out_cap),
                              "%s open_batch message %zu: not zeroed", w, i);
            }
            vl_aead_wipe(&k);
        }
    free(pt), free(ad), free(nonce), free(sealed), free(ref), free(opened), free(m);
    free(ref_len), free(ref_rc);
}


/* Usage limits inside a batch: reserved message by message, in order, so a
 * batch on one key and the same calls one by one on a twin key (same key
 * bytes, same limits) give the same statuses, outputs and usage. */
Test(api, batch_respects_limits)
{
    enum { N = 40, MAXPT = 200 };
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t npaths = vt_paths(paths);
    static uint8_t pt[N][MAXPT], out_b[N][MAXPT + 16], out_s[N][MAXPT + 16];
    static uint8_t nonce[N][12];
    size_t lens[N];
    vt_rng r = {0x11a17};
    for (size_t i = 0; i < N; i++) {
        lens[i] = vt_rng_range(&r, 0, MAXPT);
        vt_rng_fill(&r, pt[i], MAXPT);
        vt_rng_fill(&r, nonce[i], 12);
    }
    const vl_limits limits[] = {
        {7, UINT64_MAX, UINT64_MAX, 3},          /* seal count runs out mid-batch */
        {UINT64_MAX, 2000, UINT64_MAX, UINT64_MAX}, /* bytes run out; small ones still fit */
        {0, UINT64_MAX, UINT64_MAX, 0},          /* nothing may be sealed */
    };
    for (size_t pi = 0; pi < npaths; pi++)
        for (size_t a = 0; a < NALGS; a++)
            for (size_t li = 0; li < sizeof limits / sizeof limits[0]; li++) {
                vl_aead_key kb, ks;
                vl_aead_msg m[N];
                vl_usage ub, us;
                const char *w = vt_alg_name(ALGS[a]);
                test_key(&kb, ALGS[a], paths[pi], 16);
                test_key(&ks, ALGS[a], paths[pi], 16);
                cr_assert_eq(vl_aead_set_limits(&kb, &limits[li]), VL_OK);
                cr_assert_eq(vl_aead_set_limits(&ks, &limits[li]), VL_OK);
                int first = VL_OK;
                memset(out_b, FILL, sizeof out_b);
                for (size_t i = 0; i < N; i++) {
                    size_t ol = 0;
                    int rc = vl_aead_seal(&ks, out_s[i], &ol, lens[i] + 16, nonce[i], 12, pt[i],
                                          lens[i], AD, i % 24);
                    if (rc != VL_OK && first == VL_OK)
                        first = rc;
                    m[i] = (vl_aead_msg){nonce[i], 12, AD, i % 24, pt[i], lens[i], out_b[i],
                                         lens[i] + 16, 777, rc /* expected, checked below */};
                }
                int exp[N];
                for (size_t i = 0; i < N; i++)
                    exp[i] = m[i].status, m[i].status = 999;
                int rc = vl_aead_seal_batch(&kb, m, N);
                cr_assert_eq(rc, first, "%s limits #%zu: batch returned %d, want %d", w, li, rc,
                             first);
                for (size_t i = 0; i < N; i++) {
                    cr_assert_eq(m[i].status, exp[i], "%s limits #%zu message %zu: %d, want %d",
                                 w, li, i, m[i].status, exp[i]);
                    if (exp[i] == VL_OK)
                        cr_assert(m[i].out_len == lens[i] + 16 &&
                                      memcmp(out_b[i], out_s[i], lens[i] + 16) == 0,
                                  "%s limits #%zu message %zu output", w, li, i);
                    else
                        cr_assert(m[i].out_len == 0 && vt_is_zero(out_b[i], lens[i] + 16),
                                  "%s limits #%zu message %zu: refused but not zeroed", w, li,
                                  i);
                }
                vl_aead_usage(&kb, &ub);
                vl_aead_usage(&ks, &us);
                cr_assert(ub.seals == us.seals && ub.bytes_sealed == us.bytes_sealed,
                          "%s limits #%zu: batch usage %llu/%llu, one by one %llu/%llu", w, li,
                          (unsigned long long)ub.seals, (unsigned long long)ub.bytes_sealed,
                          (unsigned long long)us.seals, (unsigned long long)us.bytes_sealed);
                cr_assert_eq(vl_aead_should_rotate(&kb), vl_aead_should_rotate(&ks));
                vl_aead_wipe(&kb);
                vl_aead_wipe(&ks);
            }
}
