/* Usage counters and limits (SP 800-38D §8.3), on every path:
 * exact under 4 racing threads, saturating, byte budget, the should-rotate
 * flag, open after the seal limit, the failed-open limit. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <criterion/criterion.h>

#include "common.h"

static const vl_alg algs[] = {VL_AES128_GCM, VL_AES256_GCM, VL_AES256_SIV};

static void key_for(vl_aead_key *k, vl_alg alg, const struct vl_impl *impl)
{
    uint8_t key[64];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(i * 13 + alg);
    vt_key_init(k, alg, key, vt_key_len(alg), impl);
}

Test(limits, defaults_match_the_documented_derivation)
{
    vl_limits l;
    cr_assert_eq(vl_aead_default_limits(VL_AES128_GCM, &l), VL_OK);
    cr_assert_eq(l.max_seals, UINT64_C(1) << 32);
    cr_assert_eq(l.max_bytes, UINT64_C(1) << 40);
    cr_assert_eq(l.max_open_failures, UINT64_C(1) << 36);
    cr_assert_eq(l.rotate_at_seals, UINT64_C(1) << 31);
    cr_assert_eq(vl_aead_default_limits(VL_AES256_SIV, &l), VL_OK);
    cr_assert_eq(l.max_bytes, UINT64_C(1) << 39);
    cr_assert_eq(vl_aead_default_limits((vl_alg)9, &l), VL_ERR_ARG);
    cr_assert_eq(vl_aead_default_limits(VL_AES256_GCM, NULL), VL_ERR_ARG);

    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t n = vt_paths(paths);
    for (size_t p = 0; p < n; p++) {
        for (size_t a = 0; a < 3; a++) {
            vl_aead_key k;
            vl_limits got, want;
            key_for(&k, algs[a], paths[p]);
            vl_aead_get_limits(&k, &got);
            cr_assert_eq(vl_aead_default_limits(algs[a], &want), VL_OK);
            cr_assert_eq(memcmp(&got, &want, sizeof got), 0);
            vl_usage u;
            vl_aead_usage(&k, &u);
            cr_assert(u.seals == 0 && u.bytes_sealed == 0 && u.open_failures == 0);
            cr_assert_eq(vl_aead_should_rotate(&k), 0);
            vl_aead_wipe(&k);
        }
    }
}

struct race {
    vl_aead_key *k;
    atomic_ulong ok, refused, other;
    atomic_int go;
};

static void *racer(void *arg)
{
    struct race *r = arg;
    uint8_t nonce[12] = {0}, out[16 + 8];
    uint8_t pt[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    size_t out_len;
    while (!atomic_load(&r->go))
        ;
    for (;;) {
        int rc = vl_aead_seal(r->k, out, &out_len, sizeof out, nonce, sizeof nonce, pt, sizeof pt,
                              NULL, 0);
        if (rc == VL_OK) {
            atomic_fetch_add(&r->ok, 1);
        } else if (rc == VL_ERR_LIMIT) {
            /* Once refused, always refused: the budget never comes back. */
            atomic_fetch_add(&r->refused, 1);
            if (atomic_load(&r->refused) > 64)
                break;
        } else {
            atomic_fetch_add(&r->other, 1);
            break;
        }
    }
    return NULL;
}

/* max_seals = 100,000 is far enough from 0 that the threads are granted
 * seals in advance at first (core/usage.c); near the end every seal is
 * counted one by one, so threads sealing until refused get exactly
 * max_seals. */
Test(limits, four_threads_get_exactly_max_seals, .timeout = 240)
{
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t n = vt_paths(paths);
    for (size_t p = 0; p < n; p++) {
        for (size_t a = 0; a < 3; a++) {
            vl_aead_key k;
            key_for(&k, algs[a], paths[p]);
            vl_limits l;
            vl_aead_get_limits(&k, &l);
            l.max_seals = 100000;
            l.rotate_at_seals = 75000;
            cr_assert_eq(vl_aead_set_limits(&k, &l), VL_OK);

            struct race r = {.k = &k};
            pthread_t t[4];
            for (int i = 0; i < 4; i++)
                cr_assert_eq(pthread_create(&t[i], NULL, racer, &r), 0);
            atomic_store(&r.go, 1);
            for (int i = 0; i < 4; i++)
                pthread_join(t[i], NULL);

            cr_assert_eq(atomic_load(&r.other), 0, "unexpected error on %s", paths[p]->name);
            cr_assert_eq(atomic_load(&r.ok), 100000, "%s %s: %lu seals succeeded",
                         paths[p]->name, vt_alg_name(algs[a]), (unsigned long)atomic_load(&r.ok));
            vl_usage u;
            vl_aead_usage(&k, &u);
            cr_assert_eq(u.seals, 100000);
            cr_assert_eq(u.bytes_sealed, 800000);
            cr_assert_eq(u.open_failures, 0);
            cr_assert_eq(vl_aead_should_rotate(&k), 1);
            vl_aead_wipe(&k);
        }
    }
}

Test(limits, rotate_flag_then_hard_limit_then_open_still_works)
{
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t n = vt_paths(paths);
    for (size_t p = 0; p < n; p++) {
        for (size_t a = 0; a < 3; a++) {
            vl_aead_key k;
            key_for(&k, algs[a], paths[p]);
            vl_limits l = {.max_seals = 5, .max_bytes = UINT64_MAX,
                           .max_open_failures = UINT64_MAX, .rotate_at_seals = 3};
            cr_assert_eq(vl_aead_set_limits(&k, &l), VL_OK);
            uint8_t nonce[12] = {9}, pt[20] = {7}, ct[5][36], out[40];
            size_t len;
            for (int i = 0; i < 5; i++) {
                nonce[1] = (uint8_t)i;
                cr_assert_eq(vl_aead_should_rotate(&k), i >= 3);
                cr_assert_eq(vl_aead_seal(&k, ct[i], &len, 36, nonce, 12, pt, 20, NULL, 0), VL_OK);
            }
            cr_assert_eq(vl_aead_should_rotate(&k), 1);
            /* The sixth seal is refused and writes nothing but zeroes. */
            memset(out, 0xaa, sizeof out);
            len = 99;
            cr_assert_eq(vl_aead_seal(&k, out, &len, sizeof out, nonce, 12, pt, 20, NULL, 0),
                         VL_ERR_LIMIT);
            cr_assert_eq(len, 0);
            cr_assert(vt_is_zero(out, sizeof out));
            vl_usage u;
            vl_aead_usage(&k, &u);
            cr_assert_eq(u.seals, 5);
            cr_assert_eq(u.bytes_sealed, 100);
            /* Open is not limited by seals: old data stays readable. */
            for (int i = 0; i < 5; i++) {
                nonce[1] = (uint8_t)i;
                cr_assert_eq(vl_aead_open(&k, out, &len, sizeof out, nonce, 12, ct[i], 36, NULL, 0),
                             VL_OK);
                cr_assert_eq(len, 20);
                cr_assert_eq(memcmp(out, pt, 20), 0);
            }
            vl_aead_wipe(&k);
        }
    }
}

Test(limits, byte_budget_is_exact)
{
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t n = vt_paths(paths);
    for (size_t p = 0; p < n; p++) {
        vl_aead_key k;
        key_for(&k, VL_AES256_GCM, paths[p]);
        vl_limits l;
        vl_aead_get_limits(&k, &l);
        l.max_bytes = 100;
        cr_assert_eq(vl_aead_set_limits(&k, &l), VL_OK);
        uint8_t nonce[12] = {0}, pt[64] = {0}, out[80];
        size_t len;
        cr_assert_eq(vl_aead_seal(&k, out, &len, sizeof out, nonce, 12, pt, 64, NULL, 0), VL_OK);
        /* 64 + 64 > 100: refused, and the refused seal is not counted. */
        cr_assert_eq(vl_aead_seal(&k, out, &len, sizeof out, nonce, 12, pt, 64, NULL, 0),
                     VL_ERR_LIMIT);
        cr_assert_eq(vl_aead_seal(&k, out, &len, sizeof out, nonce, 12, pt, 36, NULL, 0), VL_OK);
        cr_assert_eq(vl_aead_seal(&k, out, &len, sizeof out, nonce, 12, pt, 1, NULL, 0),
                     VL_ERR_LIMIT);
        cr_assert_eq(vl_aead_seal(&k, out, &len, sizeof out, nonce, 12, pt, 0, NULL, 0), VL_OK);
        vl_usage u;
        vl_aead_usage(&k, &u);
        cr_assert_eq(u.seals, 3);
        cr_assert_eq(u.bytes_sealed, 100);
        cr_assert_eq(vl_aead_should_rotate(&k), 1);
        vl_aead_wipe(&k);
    }
}

Test(limits, failed_open_limit_refuses_every_open)
{
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t n = vt_paths(paths);
    for (size_t p = 0; p < n; p++) {
        for (size_t a = 0; a < 3; a++) {
            vl_aead_key k;
            key_for(&k, algs[a], paths[p]);
            vl_limits l;
            vl_aead_get_limits(&k, &l);
            l.max_open_failures = 3;
            cr_assert_eq(vl_aead_set_limits(&k, &l), VL_OK);
            uint8_t nonce[12] = {1}, pt[10] = {2}, ct[26], bad[26], out[10];
            size_t len;
            cr_assert_eq(vl_aead_seal(&k, ct, &len, sizeof ct, nonce, 12, pt, 10, NULL, 0), VL_OK);
            memcpy(bad, ct, sizeof bad);
            bad[3] ^= 0x10;
            /* Successful opens do not use up the failure budget. */
            for (int i = 0; i < 10; i++)
                cr_assert_eq(vl_aead_open(&k, out, &len, sizeof out, nonce, 12, ct, 26, NULL, 0),
                             VL_OK);
            for (int i = 0; i < 3; i++)
                cr_assert_eq(vl_aead_open(&k, out, &len, sizeof out, nonce, 12, bad, 26, NULL, 0),
                             VL_ERR_AUTH);
            vl_usage u;
            vl_aead_usage(&k, &u);
            cr_assert_eq(u.open_failures, 3);
            cr_assert_eq(vl_aead_should_rotate(&k), 1);
            /* Now every open is refused, even a genuine one, output zeroed. */
            memset(out, 0x55, sizeof out);
            cr_assert_eq(vl_aead_open(&k, out, &len, sizeof out, nonce, 12, ct, 26, NULL, 0),
                         VL_ERR_LIMIT);
            cr_assert_eq(len, 0);
            cr_assert(vt_is_zero(out, sizeof out));
            /* Seals are unaffected by the failure budget. */
            cr_assert_eq(vl_aead_seal(&k, ct, &len, sizeof ct, nonce, 12, pt, 10, NULL, 0), VL_OK);
            vl_aead_usage(&k, &u);
            cr_assert_eq(u.open_failures, 3);
            vl_aead_wipe(&k);
        }
    }
}

Test(limits, no_limit_and_uninitialised_keys)
{
    vl_aead_key k;
    memset(&k, 0, sizeof k);
    vl_limits l = {1, 1, 1, 1};
    cr_assert_eq(vl_aead_set_limits(&k, &l), VL_ERR_ARG);
    cr_assert_eq(vl_aead_set_limits(NULL, &l), VL_ERR_ARG);
    vl_usage u = {7, 7, 7};
    vl_aead_usage(&k, &u);
    cr_assert(u.seals == 0 && u.bytes_sealed == 0 && u.open_failures == 0);
    cr_assert_eq(vl_aead_should_rotate(&k), 0);

    const struct vl_impl *paths[VT_MAX_PATHS];
    vt_paths(paths);
    key_for(&k, VL_AES128_GCM, paths[0]);
    cr_assert_eq(vl_aead_set_limits(&k, NULL), VL_ERR_ARG);
    l = (vl_limits){UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX};
    cr_assert_eq(vl_aead_set_limits(&k, &l), VL_OK);
    uint8_t nonce[12] = {0}, out[16];
    size_t len;
    for (int i = 0; i < 100; i++)
        cr_assert_eq(vl_aead_seal(&k, out, &len, sizeof out, nonce, 12, NULL, 0, NULL, 0), VL_OK);
    cr_assert_eq(vl_aead_should_rotate(&k), 0);
    vl_aead_wipe(&k);
}

/* Seal |n| messages of |len| bytes (at most 1024) on |k|; all must pass. */
static void seal_n(vl_aead_key *k, size_t n, size_t len)
{
    static uint8_t pt[1024], out[1024 + 16];
    uint8_t nonce[12] = {7};
    size_t out_len;
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(vl_aead_seal(k, out, &out_len, sizeof out, nonce, sizeof nonce, pt, len,
                                  NULL, 0),
                     VL_OK, "seal %zu of %zu", i, n);
}

/* Far from its limits a thread counts seals in advance into its shard of
 * the key (core/usage.c, "per-thread shards"); the counts stay exact:
 * what a shard holds unspent is not reported as used. */
Test(limits, shard_counts_are_exact)
{
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t n = vt_paths(paths);
    for (size_t p = 0; p < n; p++) {
        for (size_t a = 0; a < 3; a++) {
            vl_aead_key k;
            vl_usage u;
            key_for(&k, algs[a], paths[p]);
            seal_n(&k, 2000, 64);
            vl_aead_usage(&k, &u);
            cr_assert(u.seals == 2000 && u.bytes_sealed == 2000 * 64,
                      "%s %s: %llu seals, %llu bytes counted", paths[p]->name,
                      vt_alg_name(algs[a]), (unsigned long long)u.seals,
                      (unsigned long long)u.bytes_sealed);
            /* A longer message (bytes top-up), one past the grant size
             * (counted alone), then short ones again. */
            seal_n(&k, 1, 1000);
            seal_n(&k, 1, 1024);
            seal_n(&k, 100, 16);
            vl_aead_usage(&k, &u);
            cr_assert(u.seals == 2102 && u.bytes_sealed == 2000 * 64 + 1000 + 1024 + 1600,
                      "%s: %llu seals, %llu bytes counted", paths[p]->name,
                      (unsigned long long)u.seals, (unsigned long long)u.bytes_sealed);
            vl_aead_wipe(&k);
        }
    }
}

/* A thread moving between keys in runs: each key's count stays exact, and a
 * grant left behind comes back when the thread returns, so near the limit
 * the key still gives exactly max_seals to a thread that seals until
 * refused. */
Test(limits, runs_across_keys_count_exactly)
{
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t n = vt_paths(paths);
    uint8_t nonce[12] = {0}, pt[16] = {0}, out[32];
    size_t out_len;
    for (size_t p = 0; p < n; p++) {
        vl_aead_key k1, k2;
        vl_usage u1, u2;
        vl_limits l;
        key_for(&k1, VL_AES256_GCM, paths[p]);
        key_for(&k2, VL_AES256_SIV, paths[p]);
        vl_aead_get_limits(&k1, &l);
        l.max_seals = 3000; /* grants stop 512 seals before the limit */
        cr_assert_eq(vl_aead_set_limits(&k1, &l), VL_OK);
        for (int run = 0; run < 10; run++) {
            seal_n(&k1, 250, 16);
            seal_n(&k2, 250 + (size_t)run, 32);
        }
        vl_aead_usage(&k1, &u1);
        vl_aead_usage(&k2, &u2);
        cr_assert(u1.seals == 2500 && u1.bytes_sealed == 2500 * 16, "%s: %llu seals, %llu bytes",
                  paths[p]->name, (unsigned long long)u1.seals,
                  (unsigned long long)u1.bytes_sealed);
        cr_assert(u2.seals == 2545 && u2.bytes_sealed == 2545 * 32);
        /* k2's grant is left behind; k1 sealed until refused. */
        uint64_t more = 0;
        while (vl_aead_seal(&k1, out, &out_len, sizeof out, nonce, 12, pt, 16, NULL, 0) == VL_OK)
            more++;
        cr_assert_eq(2500 + more, l.max_seals, "%s: %llu seals before the limit",
                     paths[p]->name, (unsigned long long)(2500 + more));
        vl_aead_usage(&k1, &u1);
        cr_assert_eq(u1.seals, l.max_seals);
        vl_aead_wipe(&k1);
        vl_aead_wipe(&k2);
    }
}

/* New limits end every grant made under the old ones: lowering max_seals
 * to the count stops the next seal, and raising it by 10 gives exactly 10
 * more (the unspent grant came back). A key wiped and set up again at the
 * same address starts from zero, whatever a thread held in the old one. */
Test(limits, new_limits_and_new_keys_end_grants)
{
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t n = vt_paths(paths);
    uint8_t nonce[12] = {0}, pt[16] = {0}, out[32];
    size_t out_len;
    for (size_t p = 0; p < n; p++) {
        vl_aead_key k;
        vl_usage u;
        vl_limits l;
        key_for(&k, VL_AES128_GCM, paths[p]);
        seal_n(&k, 1000, 16);
        vl_aead_usage(&k, &u);
        cr_assert_eq(u.seals, 1000);
        vl_aead_get_limits(&k, &l);
        l.max_seals = 1000;
        cr_assert_eq(vl_aead_set_limits(&k, &l), VL_OK);
        cr_assert_eq(vl_aead_seal(&k, out, &out_len, sizeof out, nonce, 12, pt, 16, NULL, 0),
                     VL_ERR_LIMIT, "%s: a seal passed the lowered limit", paths[p]->name);
        l.max_seals = 1010;
        cr_assert_eq(vl_aead_set_limits(&k, &l), VL_OK);
        uint64_t more = 0;
        while (vl_aead_seal(&k, out, &out_len, sizeof out, nonce, 12, pt, 16, NULL, 0) == VL_OK)
            more++;
        cr_assert_eq(more, 10, "%s: %llu seals after raising the limit by 10", paths[p]->name,
                     (unsigned long long)more);
        vl_aead_usage(&k, &u);
        cr_assert(u.seals == 1010 && u.bytes_sealed == 1010 * 16);

        vl_aead_wipe(&k);
        key_for(&k, VL_AES128_GCM, paths[p]);
        seal_n(&k, 1, 16);
        vl_aead_usage(&k, &u);
        cr_assert(u.seals == 1 && u.bytes_sealed == 16, "%s: a grant outlived its key",
                  paths[p]->name);
        vl_aead_wipe(&k);
    }
}
