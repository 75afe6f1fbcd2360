/* Constant-time check (STYLE.md §13), run under valgrind memcheck by
 * `make check` with VELLUM_IMPL forcing one path at a time.
 *
 * The library is built with -DVL_CT_VALIDATION. Key and plaintext are
 * marked undefined (secret); memcheck then reports any branch or memory
 * index that depends on them. Only the tag verdict (inside the library) and
 * the outputs this program checks are declassified. Any report fails the
 * run through valgrind's --error-exitcode. A plain C program, not a
 * Criterion suite, so valgrind sees one process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <valgrind/memcheck.h>

#include "vellum.h"

#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))

static int failures;

static void fail(const char *what, vl_alg alg, size_t len)
{
    fprintf(stderr, "ct_check: %s (alg %d, len %zu)\n", what, (int)alg, len);
    failures++;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

static void one(vl_alg alg, size_t key_len, size_t len, size_t ad_len, size_t nonce_len)
{
    uint8_t key[64], nonce[64], ad[80], pt[300], ct[316], back[300];
    size_t ct_len = 0, back_len = 0;
    vl_aead_key k;

    fill(key, sizeof key, (uint32_t)(len * 7 + alg));
    fill(nonce, sizeof nonce, (uint32_t)len + 1);
    fill(ad, sizeof ad, (uint32_t)len + 2);
    fill(pt, sizeof pt, (uint32_t)len + 3);

    SECRET(key, key_len);
    SECRET(pt, len);
    if (vl_aead_init(&k, alg, key, key_len) != VL_OK) {
        fail("init", alg, len);
        return;
    }
    int rc = vl_aead_seal(&k, ct, &ct_len, sizeof ct, nonce, nonce_len, pt, len, ad, ad_len);
    PUBLIC(ct, sizeof ct); /* the ciphertext is what gets published */
    if (rc != VL_OK || ct_len != len + 16)
        fail("seal", alg, len);

    rc = vl_aead_open(&k, back, &back_len, sizeof back, nonce, nonce_len, ct, ct_len, ad, ad_len);
    PUBLIC(back, sizeof back);
    PUBLIC(pt, sizeof pt);
    if (rc != VL_OK || back_len != len || memcmp(back, pt, len) != 0)
        fail("open", alg, len);

    /* A forged tag must be refused through the same constant-time path. */
    ct[ct_len - 1] ^= 1;
    rc = vl_aead_open(&k, back, &back_len, sizeof back, nonce, nonce_len, ct, ct_len, ad, ad_len);
    if (rc != VL_ERR_AUTH)
        fail("forgery accepted", alg, len);
    vl_aead_wipe(&k);
}

/* The batch form, whose SIV messages go through the multi-buffer S2V. */
static void batch(vl_alg alg, size_t key_len)
{
    enum { N = 9 };
    uint8_t key[64], nonce[N][12], pt[N][70], ct[N][86], back[N][70];
    vl_aead_msg m[N];
    vl_aead_key k;

    fill(key, sizeof key, 99u + alg);
    SECRET(key, key_len);
    if (vl_aead_init(&k, alg, key, key_len) != VL_OK) {
        fail("batch init", alg, 0);
        return;
    }
    for (size_t i = 0; i < N; i++) {
        size_t len = i * 7;
        fill(nonce[i], 12, (uint32_t)i);
        fill(pt[i], len, (uint32_t)i + 50);
        SECRET(pt[i], len);
        m[i] = (vl_aead_msg){.nonce = nonce[i], .nonce_len = alg == VL_AES256_SIV ? i % 2 * 12 : 12,
                             .in = pt[i], .in_len = len, .out = ct[i], .out_cap = sizeof ct[i]};
    }
    int rc = vl_aead_seal_batch(&k, m, N);
    PUBLIC(ct, sizeof ct);
    if (rc != VL_OK)
        fail("seal_batch", alg, 0);
    for (size_t i = 0; i < N; i++)
        m[i] = (vl_aead_msg){.nonce = nonce[i], .nonce_len = m[i].nonce_len, .in = ct[i],
                             .in_len = m[i].out_len, .out = back[i], .out_cap = sizeof back[i]};
    ct[3][0] ^= 1; /* one forgery among genuine messages */
    rc = vl_aead_open_batch(&k, m, N);
    PUBLIC(back, sizeof back);
    PUBLIC(pt, sizeof pt);
    for (size_t i = 0; i < N; i++) {
        int want = i == 3 ? VL_ERR_AUTH : VL_OK;
        if (m[i].status != want || (want == VL_OK && memcmp(back[i], pt[i], i * 7) != 0))
            fail("open_batch", alg, i * 7);
    }
    if (rc != VL_ERR_AUTH)
        fail("open_batch verdict", alg, 0);
    vl_aead_wipe(&k);
}

int main(void)
{
    static const size_t lens[] = {0, 1, 15, 16, 17, 31, 32, 33, 64, 100, 255, 256, 300};
    const char *impl = getenv("VELLUM_IMPL");
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t len = lens[i];
        one(VL_AES128_GCM, 16, len, len % 70, 12);
        one(VL_AES256_GCM, 32, len, len % 70, 12);
        one(VL_AES256_GCM, 32, len, 3, 1 + len % 60); /* hashed J0 */
        one(VL_AES256_SIV, 64, len, len % 70, 0);
        one(VL_AES256_SIV, 64, len, 0, 16);
    }
    batch(VL_AES128_GCM, 16);
    batch(VL_AES256_GCM, 32);
    batch(VL_AES256_SIV, 64);
    /* The path actually checked, so a silent fallback would show. */
    uint8_t key[16] = {0};
    vl_aead_key k;
    if (vl_aead_init(&k, VL_AES128_GCM, key, sizeof key) != VL_OK) {
        fprintf(stderr, "ct_check: init failed\n");
        return 1;
    }
    const char *ran = vl_aead_impl(&k);
    if (impl != NULL && strcmp(impl, ran) != 0) {
        fprintf(stderr, "ct_check: forced %s but ran %s\n", impl, ran);
        failures++;
    }
    printf("ct_check: path %s, %zu lengths x 5 configurations + 3 batches, %d failures\n", ran,
           sizeof lens / sizeof lens[0], failures);
    vl_aead_wipe(&k);
    return failures ? 1 : 0;
}
