/* Constant-time check (STYLE.md §13), run under valgrind memcheck by
 * `make check` with VELLUM_IMPL forcing one path at a time.
 *
 * The library is built with -DVL_CT_VALIDATION. Key and plaintext are
 * marked undefined (secret); memcheck then reports any branch or memory
 * index that depends on them. Only the tag verdict (inside the library) and
 * the outputs this program checks are declassified. The envelope part
 * (envelope() below) does the same through a keyring. Any report fails the
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

/* ---- the envelope encrypt path ------------------------------------------------
 * A keyring on the in-memory store with the local KMS. Secret: the KMS
 * secret (hence the KEK derived from it), every plaintext, and every DEK
 * the keyring generates -- vl_random's output while vl_ct_random_secret
 * is set (core/rand.c, VL_CT_VALIDATION builds only), which also makes the
 * wrap IVs and the nonce-pool keys secret. Covered: the first encrypt of
 * each algorithm (DEK generation, Tink proto encoding, wrap through the
 * KMS, the store write, the DEK's key setup, the seal), later encrypts
 * from the cache, an explicit rotation to version 2, and decrypts served
 * from the cache. What the keyring branches on is public by design (names,
 * versions, lengths, the store's record checks of lengths and flags); no
 * declassification was needed in the library for this path. Outputs are
 * declassified here, as published. */
extern int vl_ct_random_secret;

#define CT_OK(what, x)                                                              \
    do {                                                                            \
        int rc_ = (x);                                                              \
        if (rc_ != VL_OK) {                                                         \
            fprintf(stderr, "ct_check: envelope: %s: %s\n", what, vl_strerror(rc_)); \
            failures++;                                                             \
            return;                                                                 \
        }                                                                           \
    } while (0)

static void envelope_alg(vl_keyring *kr, vl_alg alg)
{
    static const size_t lens[] = {0, 1, 16, 33, 100, 300};
    uint8_t pt[300], field[300 + 64], back[300 + 64];
    size_t over = vl_field_overhead(alg, 1), n = 0, m = 0;
    for (size_t round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            size_t len = lens[i];
            fill(pt, sizeof pt, (uint32_t)(len * 13 + alg + round));
            SECRET(pt, len);
            int rc = vl_field_encrypt(kr, "kek", "subject", alg, pt, len, field, sizeof field, &n);
            PUBLIC(field, sizeof field); /* the field is what gets published */
            PUBLIC(&n, sizeof n);
            if (rc != VL_OK || n != len + over) {
                fail("envelope encrypt", alg, len);
                continue;
            }
            rc = vl_field_decrypt(kr, "kek", "subject", alg, field, n, back, sizeof back, &m);
            PUBLIC(back, sizeof back);
            PUBLIC(pt, sizeof pt);
            if (rc != VL_OK || m != len || memcmp(back, pt, len) != 0)
                fail("envelope decrypt (cached DEK)", alg, len);
        }
        if (round == 0) {
            int32_t v = 0;
            CT_OK("rotate", vl_dek_rotate(kr, "kek", "subject", alg, &v));
            if (v != 2)
                fail("rotation to version 2", alg, 0);
        }
    }
}

static void envelope(void)
{
    char secret[] = "ct_check: the local KMS secret";
    vl_store *store = NULL;
    vl_kms *kms = NULL;
    vl_keyring *kr = NULL;
    SECRET(secret, sizeof secret - 1);
    CT_OK("store", vl_store_mem_new(&store));
    CT_OK("local KMS", vl_kms_local_new(&kms, secret, sizeof secret - 1));
    vl_keyring_config cfg = {.store = store, .versioned = 1};
    CT_OK("keyring", vl_keyring_new(&kr, &cfg));
    CT_OK("register KMS", vl_keyring_register_kms(kr, "local-kms", kms));
    CT_OK("KEK", vl_kek_create(kr, "kek", "local-kms", "key-1", 0, ""));
    vl_ct_random_secret = 1;
    envelope_alg(kr, VL_AES128_GCM);
    envelope_alg(kr, VL_AES256_GCM);
    envelope_alg(kr, VL_AES256_SIV);
    vl_ct_random_secret = 0;
    vl_keyring_free(kr);
    vl_kms_close(kms);
    vl_store_close(store);
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
    envelope();
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
    printf("ct_check: path %s, %zu lengths x 5 configurations + 3 batches + the envelope "
           "encrypt path (3 algorithms, 2 DEK versions), %d failures\n",
           ran, sizeof lens / sizeof lens[0], failures);
    vl_aead_wipe(&k);
    return failures ? 1 : 0;
}
