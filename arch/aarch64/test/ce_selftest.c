/* ce_selftest: the armv8-ce path's ops against the portable path's, called
 * directly (core/impl.h), for what tests/kat_runner.c does not reach
 * through the single-AD public API: multi-component S2V, the multi-buffer
 * siv.s2v_batch (every lane-scheduler case), SIV CTR across a 32-bit word,
 * and GCM with inputs and outputs that end (or start) at an unmapped page,
 * so any read or write past a caller's buffer faults. A plain C program
 * that never forks: `make check-aarch64` runs it under qemu-aarch64.
 * Not part of the library, which takes only the .c files directly in
 * arch/aarch64. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "impl.h"

static uint64_t rng_state = UINT64_C(0x63655f73656c6674);

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static size_t below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

static void fill(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd();
}

/* n bytes that end right before an unmapped page (or start right after
 * one, with at_start). */
struct guarded {
    uint8_t *map;
    size_t len;
};

static uint8_t *guarded_alloc(struct guarded *g, size_t n, int at_start)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), pages = (n + pg - 1) / pg + 2;
    uint8_t *m = mmap(NULL, pages * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED || mprotect(m, pg, PROT_NONE) != 0 ||
        mprotect(m + (pages - 1) * pg, pg, PROT_NONE) != 0) {
        perror("ce_selftest: mmap");
        exit(2);
    }
    g->map = m;
    g->len = pages * pg;
    return at_start ? m + pg : m + (pages - 1) * pg - n;
}

static void guarded_free(struct guarded *g)
{
    munmap(g->map, g->len);
}

static _Alignas(64) uint8_t st_a[VL_IMPL_STATE_BYTES], st_p[VL_IMPL_STATE_BYTES];
static long checks, failures;

#define CHECK(cond, ...)                      \
    do {                                      \
        checks++;                             \
        if (!(cond) && failures++ < 20) {     \
            printf("FAIL: " __VA_ARGS__);     \
            putchar('\n');                    \
        }                                     \
    } while (0)

/* Seal and open one message on both paths; in place or not. */
static void gcm_one(const struct vl_impl *a, const struct vl_impl *p, size_t klen, size_t len,
                    size_t ad_len, size_t nonce_len, int in_place)
{
    struct guarded gi, go, ga, gn;
    int edge = (int)below(2);
    uint8_t key[32], ta[16], tp[16];
    uint8_t *in = guarded_alloc(&gi, len, edge);
    uint8_t *out = in_place ? in : guarded_alloc(&go, len, !edge);
    uint8_t *ad = guarded_alloc(&ga, ad_len, edge), *nonce = guarded_alloc(&gn, nonce_len, !edge);
    uint8_t *pt = malloc(len + 1), *ref = malloc(len + 1);

    fill(key, klen);
    fill(pt, len);
    fill(ad, ad_len);
    fill(nonce, nonce_len);
    a->gcm.init(st_a, key, klen);
    p->gcm.init(st_p, key, klen);
    memcpy(in, pt, len);
    p->gcm.seal(st_p, ref, tp, nonce, nonce_len, pt, len, ad, ad_len);
    a->gcm.seal(st_a, out, ta, nonce, nonce_len, in, len, ad_len ? ad : NULL, ad_len);
    CHECK(memcmp(out, ref, len) == 0 && memcmp(ta, tp, 16) == 0,
          "gcm seal: key %zu, pt %zu, ad %zu, nonce %zu, in place %d", klen, len, ad_len,
          nonce_len, in_place);
    memcpy(in, ref, len);
    a->gcm.open(st_a, out, ta, nonce, nonce_len, in, len, ad, ad_len);
    CHECK(memcmp(out, pt, len) == 0 && memcmp(ta, tp, 16) == 0,
          "gcm open: key %zu, pt %zu, ad %zu, nonce %zu, in place %d", klen, len, ad_len,
          nonce_len, in_place);
    free(pt);
    free(ref);
    guarded_free(&gi);
    if (!in_place)
        guarded_free(&go);
    guarded_free(&ga);
    guarded_free(&gn);
}

static void gcm_tests(const struct vl_impl *a, const struct vl_impl *p)
{
    for (size_t klen = 16; klen <= 32; klen += 16) {
        for (size_t len = 0; len <= 1100; len++)
            gcm_one(a, p, klen, len, below(4) == 0 ? 0 : below(3) ? below(300) : below(1200),
                    below(3) ? 12 : 1 + below(80), (int)below(2));
        for (int i = 0; i < 60; i++)
            gcm_one(a, p, klen, below(20000), below(2000), below(3) ? 12 : 1 + below(300),
                    (int)below(2));
    }
}

/* A component length from a mix that hits every scheduler case: empty,
 * partial, one block, around 8 blocks, many blocks. */
static size_t comp_len(size_t long_max)
{
    switch (below(8)) {
    case 0: return 0;
    case 1: return 1 + below(15);
    case 2: return 16;
    case 3: return 17 + below(16);
    case 4: return 112 + below(33);
    case 5: return 16 * (1 + below(12));
    case 6: return 33 + below(268);
    default: return below(long_max + 1);
    }
}

#define POOL 16384
enum { MAX_JOBS = 100, MAX_COMP = 6 };

/* A slice of the pool: at its very end (the next page is unmapped) or
 * anywhere; a zero-length one sometimes NULL. */
static const uint8_t *pool_at(const uint8_t *pool, size_t len)
{
    if (len == 0 && below(2))
        return NULL;
    return pool + (below(2) ? POOL - len : below(POOL - len + 1));
}

static void siv_s2v_ctr(const struct vl_impl *a, const struct vl_impl *p, const uint8_t *pool)
{
    for (int it = 0; it < 200; it++) {
        vl_slice c[MAX_COMP];
        size_t count = below(MAX_COMP + 1), nonce_len = below(3) ? comp_len(64) : 0;
        size_t len = comp_len(3000);
        const uint8_t *nonce = pool_at(pool, nonce_len), *pt = pool_at(pool, len);
        uint8_t va[16], vp[16], *ref = malloc(len + 1);
        struct guarded go;
        uint8_t *out = guarded_alloc(&go, len, (int)below(2));

        for (size_t i = 0; i < count; i++) {
            c[i].len = comp_len(700);
            c[i].ptr = pool_at(pool, c[i].len);
        }
        a->siv.s2v(st_a, va, count ? c : NULL, count, nonce, nonce_len, pt, len);
        p->siv.s2v(st_p, vp, count ? c : NULL, count, nonce, nonce_len, pt, len);
        CHECK(memcmp(va, vp, 16) == 0, "siv s2v: %zu AD, nonce %zu, pt %zu", count, nonce_len,
              len);
        a->siv.ctr(st_a, va, out, pt, len);
        p->siv.ctr(st_p, vp, ref, pt, len);
        CHECK(memcmp(out, ref, len) == 0, "siv ctr: %zu bytes", len);
        a->siv.ctr(st_a, va, out, out, len);
        CHECK(len == 0 || memcmp(out, pt, len) == 0, "siv ctr in place: %zu bytes", len);
        free(ref);
        guarded_free(&go);
    }
    /* Counters that carry out of their low 32 bits (and, with bits 31 and
     * 63 cleared, never out of the low 64). */
    for (int it = 0; it < 8; it++) {
        uint8_t v[16], out[16 * 40 + 7], ref[sizeof out];
        fill(v, 16);
        memset(v + 8, 0xff, 8);
        v[15] = (uint8_t)(0xff - it);
        a->siv.ctr(st_a, v, out, pool, sizeof out);
        p->siv.ctr(st_p, v, ref, pool, sizeof out);
        CHECK(memcmp(out, ref, sizeof out) == 0, "siv ctr carry %d", it);
    }
}

static void siv_batch(const struct vl_impl *a, const struct vl_impl *p, const uint8_t *pool)
{
    static struct vl_s2v_job jobs[MAX_JOBS];
    static vl_slice comps[MAX_JOBS][MAX_COMP];
    static uint8_t v[MAX_JOBS + 1][16];

    a->siv.s2v_batch(st_a, v, jobs, 0);
    for (int it = 0; it < 120; it++) {
        size_t n = it < 40 ? (size_t)it + 1 : 1 + below(MAX_JOBS);
        /* 0: lanes in lockstep; 1: one long job, the rest short; 2, 3: any
         * shape; 4: field encryption (none or one empty AD, no nonce). */
        int mode = (int)below(5), ok = 1;
        for (size_t j = 0; j < n; j++) {
            struct vl_s2v_job *jb = &jobs[j];
            size_t count = mode == 0 ? 1 : mode == 4 ? below(2) : below(MAX_COMP + 1);
            for (size_t i = 0; i < count; i++) {
                comps[j][i].len = mode == 0 ? 24 : mode == 4 ? 0 : comp_len(600);
                comps[j][i].ptr = pool_at(pool, comps[j][i].len);
            }
            jb->ad = count == 0 && below(2) ? NULL : comps[j];
            jb->ad_count = count;
            jb->nonce_len = mode == 0 ? 12 : mode == 4 ? 0 : below(3) ? comp_len(64) : 0;
            jb->nonce = pool_at(pool, jb->nonce_len);
            jb->len = mode == 0   ? 100
                      : mode == 1 ? (j == 0 ? 1000 + below(3097) : below(41))
                      : mode == 4 ? below(130)
                                  : comp_len(2000);
            jb->pt = pool_at(pool, jb->len);
        }
        memset(v, 0xa5, sizeof v);
        a->siv.s2v_batch(st_a, v, jobs, n);
        for (size_t j = 0; j < n; j++) {
            uint8_t w[16];
            p->siv.s2v(st_p, w, jobs[j].ad, jobs[j].ad_count, jobs[j].nonce, jobs[j].nonce_len,
                       jobs[j].pt, jobs[j].len);
            CHECK(memcmp(v[j], w, 16) == 0,
                  "s2v_batch: mode %d, job %zu of %zu: %zu AD, nonce %zu, pt %zu", mode, j, n,
                  jobs[j].ad_count, jobs[j].nonce_len, jobs[j].len);
        }
        for (size_t j = n; j <= MAX_JOBS; j++)
            for (int b = 0; b < 16; b++)
                ok &= v[j][b] == 0xa5;
        CHECK(ok, "s2v_batch wrote past v[%zu]", n - 1);
    }
}

int main(void)
{
    const struct vl_impl *a = vl_impl_find("armv8-ce"), *p = vl_impl_find("portable");
    struct guarded gp;
    uint8_t *pool, key[64];
    long gcm_checks;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (a == NULL || p == NULL || !a->supported()) {
        printf("ce_selftest: the armv8-ce path is %s\n", a == NULL ? "not built in" : "unsupported here");
        return 1;
    }
    gcm_tests(a, p);
    gcm_checks = checks;
    pool = guarded_alloc(&gp, POOL, 0);
    fill(pool, POOL);
    for (int k = 0; k < 6; k++) {
        fill(key, sizeof key);
        a->siv.init(st_a, key);
        p->siv.init(st_p, key);
        siv_s2v_ctr(a, p, pool);
        siv_batch(a, p, pool);
    }
    guarded_free(&gp);
    printf("[ce_selftest] armv8-ce vs portable: %ld GCM checks (lengths 0..1100 and up to 20000, "
           "guard pages), %ld SIV checks (multi-AD s2v, ctr, s2v_batch): %ld failed\n",
           gcm_checks, checks - gcm_checks, failures);
    return failures != 0;
}
