/* The KMS layer and what it stands on: SHA-256 / HMAC / HKDF (core/sha256.c)
 * against the FIPS and RFC examples and against OpenSSL, the OS random
 * source (core/rand.c), the KMS front ends (core/kms.c) with fake providers,
 * and the local KMS (core/kms_local.c) against Confluent's own fixtures
 * (csfle-spec.md §2, §5): unwrap, decode the Tink key, decrypt the field on
 * every AEAD path.
 *
 * Failure contract checked throughout: the expected VL_ERR_*, *out_len 0
 * and the whole output buffer zeroed. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "base64.h"
#include "kms_local.h"
#include "rand.h"
#include "sha256.h"
#include "tink_key.h"
#include "wire.h"

#include "vellum/kms.h"

#define FILL 0xa5

static void check_hex(const uint8_t *got, size_t len, const char *want_hex, const char *what)
{
    size_t want_len;
    uint8_t *want = vt_unhex(want_hex, &want_len);
    char *g = vt_hex(got, len);
    cr_assert_eq(len, want_len, "%s: length %zu, want %zu", what, len, want_len);
    cr_assert(memcmp(got, want, len) == 0, "%s:\n got %s\nwant %s", what, g, want_hex);
    free(g);
    free(want);
}

/* ---- SHA-256: FIPS 180-2 Appendix B examples ------------------------------ */

Test(sha256, fips180_examples)
{
    uint8_t d[32];
    vl_sha256(d, "abc", 3);
    check_hex(d, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "abc");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    vl_sha256(d, m448, strlen(m448));
    check_hex(d, 32, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "448-bit");
    vl_sha256(d, "", 0);
    check_hex(d, 32, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "empty");
    vl_sha256(d, NULL, 0);
    check_hex(d, 32, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "NULL");
}

/* One million 'a', fed in uneven pieces so every buffering branch runs. */
Test(sha256, million_a)
{
    static uint8_t a[1000000];
    uint8_t d[32], d2[32];
    memset(a, 'a', sizeof a);
    vl_sha256(d, a, sizeof a);
    check_hex(d, 32, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", "1M a");
    vl_sha256_ctx c;
    vl_sha256_init(&c);
    size_t done = 0, step = 1;
    while (done < sizeof a) {
        size_t n = step < sizeof a - done ? step : sizeof a - done;
        vl_sha256_update(&c, a + done, n);
        done += n;
        step = step * 7 % 193 + 1;
    }
    vl_sha256_final(&c, d2);
    cr_assert(memcmp(d, d2, 32) == 0, "incremental hash differs");
    cr_assert(vt_is_zero(&c, sizeof c), "final did not wipe the context");
}

/* Every length 0..300 (and the 55/56/63/64 padding edges among them) vs
 * EVP_Digest, one-shot and split at every point. */
Test(sha256, vs_openssl)
{
    uint8_t msg[301], d[32], ref[32];
    unsigned ref_len;
    vt_rng r = {0x5a256};
    vt_rng_fill(&r, msg, sizeof msg);
    for (size_t len = 0; len <= 300; len++) {
        cr_assert(EVP_Digest(msg, len, ref, &ref_len, EVP_sha256(), NULL) == 1);
        vl_sha256(d, msg, len);
        cr_assert(memcmp(d, ref, 32) == 0, "length %zu", len);
        size_t cut = vt_rng_range(&r, 0, len);
        vl_sha256_ctx c;
        vl_sha256_init(&c);
        vl_sha256_update(&c, msg, cut);
        vl_sha256_update(&c, msg + cut, len - cut);
        vl_sha256_final(&c, d);
        cr_assert(memcmp(d, ref, 32) == 0, "length %zu split at %zu", len, cut);
    }
}

/* ---- HMAC-SHA256: RFC 4231 §4.2-4.8 --------------------------------------- */

struct hmac_case {
    const char *key_hex; /* NULL: key_rep repeated key_n times */
    uint8_t key_rep;
    size_t key_n;
    const char *data; /* text, or NULL: data_rep repeated data_n times */
    uint8_t data_rep;
    size_t data_n;
    const char *mac_hex; /* case 5: the 128-bit truncation */
};

static const struct hmac_case RFC4231[] = {
    {NULL, 0x0b, 20, "Hi There", 0, 0,
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
    {"4a656665", 0, 0, "what do ya want for nothing?", 0, 0,
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    {NULL, 0xaa, 20, NULL, 0xdd, 50,
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
    {"0102030405060708090a0b0c0d0e0f10111213141516171819", 0, 0, NULL, 0xcd, 50,
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
    {NULL, 0x0c, 20, "Test With Truncation", 0, 0, "a3b6167473100ee06e0c796c2955552b"},
    {NULL, 0xaa, 131, "Test Using Larger Than Block-Size Key - Hash Key First", 0, 0,
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
    {NULL, 0xaa, 131,
     "This is a test using a larger than block-size key and a larger than block-size data. "
     "The key needs to be hashed before being used by the HMAC algorithm.",
     0, 0, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
};

Test(hmac, rfc4231)
{
    for (size_t i = 0; i < sizeof RFC4231 / sizeof RFC4231[0]; i++) {
        const struct hmac_case *tc = &RFC4231[i];
        uint8_t key[200], data[200], mac[32];
        size_t key_len = tc->key_n, data_len = tc->data_n;
        if (tc->key_hex != NULL) {
            uint8_t *k = vt_unhex(tc->key_hex, &key_len);
            memcpy(key, k, key_len);
            free(k);
        } else {
            memset(key, tc->key_rep, key_len);
        }
        if (tc->data != NULL) {
            data_len = strlen(tc->data);
            memcpy(data, tc->data, data_len);
        } else {
            memset(data, tc->data_rep, data_len);
        }
        vl_hmac_sha256(mac, key, key_len, data, data_len);
        char what[32];
        snprintf(what, sizeof what, "RFC 4231 test case %zu", i + 1);
        check_hex(mac, strlen(tc->mac_hex) / 2, tc->mac_hex, what);
    }
}

/* Key lengths 0..300 (across the 64-byte block boundary) and message
 * lengths 0..300 vs OpenSSL's HMAC(). */
Test(hmac, vs_openssl)
{
    uint8_t key[301], msg[301], mac[32], ref[32];
    unsigned ref_len;
    vt_rng r = {0x4a4c};
    for (size_t n = 0; n <= 300; n++) {
        size_t key_len = n, msg_len = vt_rng_range(&r, 0, 300);
        vt_rng_fill(&r, key, sizeof key);
        vt_rng_fill(&r, msg, sizeof msg);
        cr_assert_not_null(HMAC(EVP_sha256(), key, (int)key_len, msg, msg_len, ref, &ref_len));
        vl_hmac_sha256(mac, key, key_len, msg, msg_len);
        cr_assert(memcmp(mac, ref, 32) == 0, "key %zu, msg %zu", key_len, msg_len);
        key_len = vt_rng_range(&r, 0, 300);
        msg_len = n;
        cr_assert_not_null(HMAC(EVP_sha256(), key, (int)key_len, msg, msg_len, ref, &ref_len));
        vl_hmac_sha256(mac, key, key_len, msg, msg_len);
        cr_assert(memcmp(mac, ref, 32) == 0, "key %zu, msg %zu", key_len, msg_len);
    }
}

/* ---- HKDF-SHA256: RFC 5869 Appendix A.1-A.3 -------------------------------- */

static uint8_t *seq(uint8_t first, size_t n)
{
    uint8_t *b = malloc(n + 1);
    cr_assert_not_null(b);
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(first + i);
    return b;
}

Test(hkdf, rfc5869)
{
    uint8_t ikm[22], okm[82];
    memset(ikm, 0x0b, sizeof ikm);
    /* A.1 */
    uint8_t *salt = seq(0x00, 13), *info = seq(0xf0, 10);
    cr_assert_eq(vl_hkdf_sha256(okm, 42, ikm, 22, salt, 13, info, 10), VL_OK);
    check_hex(okm, 42,
              "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
              "34007208d5b887185865",
              "A.1");
    free(salt);
    free(info);
    /* A.2 */
    uint8_t *ikm2 = seq(0x00, 80);
    salt = seq(0x60, 80);
    info = seq(0xb0, 80);
    cr_assert_eq(vl_hkdf_sha256(okm, 82, ikm2, 80, salt, 80, info, 80), VL_OK);
    check_hex(okm, 82,
              "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac78272"
              "71cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f"
              "1d87",
              "A.2");
    free(ikm2);
    free(salt);
    free(info);
    /* A.3: salt and info empty; NULL and "" are the same. */
    const char *a3 =
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8";
    cr_assert_eq(vl_hkdf_sha256(okm, 42, ikm, 22, NULL, 0, NULL, 0), VL_OK);
    check_hex(okm, 42, a3, "A.3");
    cr_assert_eq(vl_hkdf_sha256(okm, 42, ikm, 22, (const uint8_t *)"", 0, (const uint8_t *)"", 0),
                 VL_OK);
    check_hex(okm, 42, a3, "A.3, empty strings");
    /* The salt is "HashLen zeros" when absent: 32 explicit zeros agree. */
    uint8_t zeros[32] = {0};
    cr_assert_eq(vl_hkdf_sha256(okm, 42, ikm, 22, zeros, 32, NULL, 0), VL_OK);
    check_hex(okm, 42, a3, "A.3, 32 zero bytes of salt");
}

Test(hkdf, arguments)
{
    uint8_t okm[8200], ikm[4] = {1, 2, 3, 4};
    cr_assert_eq(vl_hkdf_sha256(okm, 255 * 32, ikm, 4, NULL, 0, NULL, 0), VL_OK);
    cr_assert_eq(vl_hkdf_sha256(okm, 255 * 32 + 1, ikm, 4, NULL, 0, NULL, 0), VL_ERR_ARG);
    cr_assert_eq(vl_hkdf_sha256(NULL, 1, ikm, 4, NULL, 0, NULL, 0), VL_ERR_ARG);
    cr_assert_eq(vl_hkdf_sha256(okm, 16, NULL, 4, NULL, 0, NULL, 0), VL_ERR_ARG);
    cr_assert_eq(vl_hkdf_sha256(okm, 16, ikm, 4, NULL, 3, NULL, 0), VL_ERR_ARG);
    cr_assert_eq(vl_hkdf_sha256(okm, 16, ikm, 4, NULL, 0, NULL, 3), VL_ERR_ARG);
    cr_assert_eq(vl_hkdf_sha256(NULL, 0, NULL, 0, NULL, 0, NULL, 0), VL_OK);
}

static void ossl_hkdf(uint8_t *out, size_t out_len, const uint8_t *ikm, size_t ikm_len,
                      const uint8_t *salt, size_t salt_len, const uint8_t *info, size_t info_len)
{
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    cr_assert_not_null(pctx);
    cr_assert_eq(EVP_PKEY_derive_init(pctx), 1);
    cr_assert_eq(EVP_PKEY_CTX_set_hkdf_md(pctx, EVP_sha256()), 1);
    cr_assert_eq(EVP_PKEY_CTX_set1_hkdf_salt(pctx, salt, (int)salt_len), 1);
    cr_assert_eq(EVP_PKEY_CTX_set1_hkdf_key(pctx, ikm, (int)ikm_len), 1);
    cr_assert_eq(EVP_PKEY_CTX_add1_hkdf_info(pctx, info, (int)info_len), 1);
    size_t n = out_len;
    cr_assert_eq(EVP_PKEY_derive(pctx, out, &n), 1);
    cr_assert_eq(n, out_len);
    EVP_PKEY_CTX_free(pctx);
}

/* IKM, salt, info and L each walk 0..300 (L from 1: OpenSSL refuses 0). */
Test(hkdf, vs_openssl)
{
    uint8_t ikm[301], salt[301], info[301], okm[301], ref[301];
    vt_rng r = {0x48b};
    for (size_t n = 0; n <= 300; n++) {
        size_t lens[4] = {n, vt_rng_range(&r, 0, 300), vt_rng_range(&r, 0, 300),
                          vt_rng_range(&r, 1, 300)};
        for (size_t rot = 0; rot < 4; rot++) {
            size_t ikm_len = lens[rot % 4], salt_len = lens[(rot + 1) % 4];
            size_t info_len = lens[(rot + 2) % 4], out_len = lens[(rot + 3) % 4];
            if (out_len == 0)
                out_len = 1;
            vt_rng_fill(&r, ikm, sizeof ikm);
            vt_rng_fill(&r, salt, sizeof salt);
            vt_rng_fill(&r, info, sizeof info);
            ossl_hkdf(ref, out_len, ikm, ikm_len, salt, salt_len, info, info_len);
            cr_assert_eq(vl_hkdf_sha256(okm, out_len, ikm, ikm_len, salt, salt_len, info,
                                        info_len),
                         VL_OK);
            cr_assert(memcmp(okm, ref, out_len) == 0, "ikm %zu salt %zu info %zu L %zu",
                      ikm_len, salt_len, info_len, out_len);
        }
    }
}

/* ---- OS randomness --------------------------------------------------------- */

Test(rand, fills)
{
    uint8_t a[64] = {0}, b[64] = {0};
    cr_assert_eq(vl_random(a, sizeof a), VL_OK);
    cr_assert_eq(vl_random(b, sizeof b), VL_OK);
    cr_assert(!vt_is_zero(a, sizeof a));
    cr_assert(memcmp(a, b, sizeof a) != 0);
    cr_assert_eq(vl_random(NULL, 0), VL_OK);
    cr_assert_eq(vl_random(NULL, 1), VL_ERR_ARG);
    /* More than one getrandom chunk: every 4 KiB stretch gets bytes. */
    size_t big = 1 << 20;
    uint8_t *p = calloc(1, big);
    cr_assert_not_null(p);
    cr_assert_eq(vl_random(p, big), VL_OK);
    for (size_t off = 0; off < big; off += 4096)
        cr_assert(!vt_is_zero(p + off, 4096), "stretch at %zu left zero", off);
    free(p);
}

/* ---- local KMS: Confluent's fixtures (csfle-spec.md §2, §5) ----------------- */

#define SECRET "mysecret"
#define KEK_ID "mykey"

static const char GCM_DEK_B64[] =
    "07V2ndh02DA73p+dTybwZFm7DKQSZN1tEwQh+FoX1DZLk4Yj2LLu4omYjp/84tAg3BYlkfGSz+zZacJHIE4=";
static const char GCM_PROTO_HEX[] =
    "1a2041e5234c24a6a4f85b1d8237e99a12df8722f0c21837556acd0ec7adde5869cf";
static const char GCM_FIELD_B64[] = "zgy/jFNMV/eFilaHrMyeBgdaVzrR0udGeotW8cA/Jal7ukr+M/yz";
static const char SIV_DEK_B64[] =
    "YSx3DTlAHrmpoDChquJMifmPntBzxgRVdMzgYL82rgWBKn7aUSnG+WIu9ozBNS3y2vXd++mBtK07w4/W/G6w0da39X9h"
    "fOVZsGnkSvry/QRht84V8yz3dqKxGMOK5A==";
static const char SIV_FIELD_B64[] = "D6YtxrlBnkTWW9N6Vbk3IInjWH81xmYh3k4d";
static const char ROT_DEK_B64[] =
    "W/v6hOQYq1idVAcs1pPWz9UUONMVZW4IrglTnG88TsWjeCjxmtRQ4VaNe/I5dCfm2zyY9Cu0nqdvqImtUk4=";
static const char ROT_FIELD_B64[] = "AAAAAAG4HI6b1nXPXqLyG8cII35NHQseqqUCd+IeLeFVAeNpSS3fxPnJ32A=";
static const char PLAINTEXT[] = "hello world";

static vl_kms *local_kms(const char *secret)
{
    vl_kms *kms = NULL;
    cr_assert_eq(vl_kms_local_new(&kms, secret, strlen(secret)), VL_OK);
    cr_assert_not_null(kms);
    cr_assert_str_eq(kms->ops->name, "local-kms");
    return kms;
}

static size_t b64(uint8_t *out, size_t cap, const char *text)
{
    size_t n = 0;
    int rc = vl_base64_decode(out, cap, &n, text, strlen(text));
    cr_assert_eq(rc, VL_OK, "base64 \"%s\": %d", text, rc);
    return n;
}

/* encryptedKeyMaterial -> unwrap -> Tink key proto. */
static size_t unwrap_b64(vl_kms *kms, const char *dek_b64, uint8_t proto[VL_KMS_MAX_KEY])
{
    uint8_t blob[256];
    size_t blob_len = b64(blob, sizeof blob, dek_b64), n = 0;
    int rc = vl_kms_unwrap(kms, KEK_ID, blob, blob_len, proto, VL_KMS_MAX_KEY, &n);
    cr_assert_eq(rc, VL_OK, "unwrap: %d", rc);
    cr_assert_eq(n, blob_len - 28);
    return n;
}

/* Opens |field| (already split) with |key| on every path, and re-seals on
 * every path to the same bytes (csfle-spec.md §10.2: GCM with the field's
 * own IV; SIV is deterministic). */
static void open_everywhere(vl_alg alg, const uint8_t *key, const uint8_t *body, size_t len)
{
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t np = vt_paths(paths);
    int gcm = alg != VL_AES256_SIV;
    size_t nonce_len = gcm ? VL_GCM_NONCE_BYTES : 0;
    for (size_t i = 0; i < np; i++) {
        vl_aead_key k;
        uint8_t pt[64], ct[64];
        size_t pt_len = 0, ct_len = 0;
        vt_key_init(&k, alg, key, vt_key_len(alg), paths[i]);
        int rc = vl_aead_open(&k, pt, &pt_len, sizeof pt, body, nonce_len, body + nonce_len,
                              len - nonce_len, NULL, 0);
        cr_assert_eq(rc, VL_OK, "%s on %s: open %d", vt_alg_name(alg), paths[i]->name, rc);
        cr_assert_eq(pt_len, strlen(PLAINTEXT));
        cr_assert(memcmp(pt, PLAINTEXT, pt_len) == 0, "%s on %s", vt_alg_name(alg),
                  paths[i]->name);
        rc = vl_aead_seal(&k, ct, &ct_len, sizeof ct, body, nonce_len, pt, pt_len, NULL, 0);
        cr_assert_eq(rc, VL_OK);
        cr_assert_eq(ct_len, len - nonce_len);
        cr_assert(memcmp(ct, body + nonce_len, ct_len) == 0, "%s on %s: re-seal differs",
                  vt_alg_name(alg), paths[i]->name);
        vl_aead_wipe(&k);
    }
}

static void field_fixture(vl_alg alg, const char *dek_b64, const char *field_b64, int versioned,
                          const char *proto_hex)
{
    vl_kms *kms = local_kms(SECRET);
    uint8_t proto[VL_KMS_MAX_KEY], key[64], field[128];
    size_t proto_len = unwrap_b64(kms, dek_b64, proto), key_len = 0;
    if (proto_hex != NULL)
        check_hex(proto, proto_len, proto_hex, "unwrapped Tink key proto");
    cr_assert_eq(vl_tink_key_decode(alg, proto, proto_len, key, sizeof key, &key_len), VL_OK);
    cr_assert_eq(key_len, vt_key_len(alg));
    size_t field_len = b64(field, sizeof field, field_b64);
    int32_t version = 0;
    const uint8_t *body = NULL;
    size_t body_len = 0;
    cr_assert_eq(vl_wire_field_split(alg, versioned, field, field_len, &version, &body, &body_len),
                 VL_OK);
    cr_assert_eq(version, 1);
    cr_assert_eq(body_len, strlen(PLAINTEXT) + (alg == VL_AES256_SIV ? 16 : 28));
    open_everywhere(alg, key, body, body_len);
    vl_kms_close(kms);
}

Test(kms, local_kek_derivation)
{
    uint8_t kek[VL_KMS_LOCAL_KEK_BYTES];
    cr_assert_eq(vl_kms_local_derive_kek(kek, SECRET, strlen(SECRET)), VL_OK);
    check_hex(kek, sizeof kek, "1ae4d97ac1e81594bfd1993c1a75ee36", "KEK of \"mysecret\"");
    cr_assert_eq(vl_kms_local_derive_kek(NULL, SECRET, 8), VL_ERR_ARG);
    cr_assert_eq(vl_kms_local_derive_kek(kek, NULL, 8), VL_ERR_ARG);
}

Test(kms, confluent_fixture_aes256_gcm)
{
    field_fixture(VL_AES256_GCM, GCM_DEK_B64, GCM_FIELD_B64, 0, GCM_PROTO_HEX);
}

Test(kms, confluent_fixture_aes256_siv)
{
    vl_kms *kms = local_kms(SECRET);
    uint8_t proto[VL_KMS_MAX_KEY];
    size_t n = unwrap_b64(kms, SIV_DEK_B64, proto);
    /* csfle-spec.md §5 abbreviates it: 1240 9b971301...8e7115498f. */
    cr_assert_eq(n, 66);
    check_hex(proto, 6, "12409b971301", "SIV proto head");
    check_hex(proto + 61, 5, "8e7115498f", "SIV proto tail");
    vl_kms_close(kms);
    field_fixture(VL_AES256_SIV, SIV_DEK_B64, SIV_FIELD_B64, 0, NULL);
}

Test(kms, confluent_fixture_rotation)
{
    field_fixture(VL_AES256_GCM, ROT_DEK_B64, ROT_FIELD_B64, 1, NULL);
}

/* The unwrapping key is exactly Confluent's: OpenSSL opens the fixture
 * blob with the derived KEK as IV(12) || C || TAG(16), AD empty. */
Test(kms, local_blob_layout_vs_openssl)
{
    uint8_t kek[16], blob[128], pt[128];
    cr_assert_eq(vl_kms_local_derive_kek(kek, SECRET, strlen(SECRET)), VL_OK);
    size_t n = b64(blob, sizeof blob, GCM_DEK_B64);
    cr_assert_eq(n, 62);
    cr_assert_eq(vt_ossl_gcm_open(kek, 16, blob, 12, NULL, 0, blob + 12, n - 12, pt), 1);
    check_hex(pt, n - 28, GCM_PROTO_HEX, "OpenSSL unwrap");
}

/* Fresh DEKs of each algorithm: wrapped sizes 46 / 62 / 94 (csfle-spec.md
 * §2), unwrap returns the proto, OpenSSL agrees on the blob. */
Test(kms, local_wrap_round_trip)
{
    static const vl_alg algs[] = {VL_AES128_GCM, VL_AES256_GCM, VL_AES256_SIV};
    static const size_t sizes[] = {46, 62, 94};
    vl_kms *kms = local_kms(SECRET);
    uint8_t kek[16];
    cr_assert_eq(vl_kms_local_derive_kek(kek, SECRET, strlen(SECRET)), VL_OK);
    for (size_t a = 0; a < 3; a++) {
        uint8_t dek[64], proto[VL_TINK_KEY_MAX], blob[VL_KMS_MAX_BLOB], back[VL_KMS_MAX_KEY];
        uint8_t ossl[128], key[64];
        size_t proto_len, blob_len, back_len, key_len;
        cr_assert_eq(vl_random(dek, sizeof dek), VL_OK);
        cr_assert_eq(vl_tink_key_encode(algs[a], dek, vt_key_len(algs[a]), proto, sizeof proto,
                                        &proto_len),
                     VL_OK);
        cr_assert_eq(vl_kms_wrap(kms, KEK_ID, proto, proto_len, blob, sizeof blob, &blob_len),
                     VL_OK);
        cr_assert_eq(blob_len, sizes[a], "%s: wrapped %zu bytes", vt_alg_name(algs[a]),
                     blob_len);
        cr_assert_eq(vt_ossl_gcm_open(kek, 16, blob, 12, NULL, 0, blob + 12, blob_len - 12, ossl),
                     1);
        cr_assert(memcmp(ossl, proto, proto_len) == 0);
        /* kek_id plays no part. */
        cr_assert_eq(vl_kms_unwrap(kms, "other", blob, blob_len, back, sizeof back, &back_len),
                     VL_OK);
        cr_assert_eq(back_len, proto_len);
        cr_assert(memcmp(back, proto, proto_len) == 0);
        cr_assert_eq(vl_tink_key_decode(algs[a], back, back_len, key, sizeof key, &key_len),
                     VL_OK);
        cr_assert(memcmp(key, dek, key_len) == 0);
        /* Two wraps of one key differ (fresh IV). */
        uint8_t blob2[VL_KMS_MAX_BLOB];
        size_t blob2_len;
        cr_assert_eq(vl_kms_wrap(kms, KEK_ID, proto, proto_len, blob2, sizeof blob2, &blob2_len),
                     VL_OK);
        cr_assert(memcmp(blob, blob2, 12) != 0);
    }
    vl_kms_close(kms);
}

#define EXPECT_FAIL(rc, want, out, cap, out_len, ...)                                          \
    do {                                                                                        \
        char what_[200];                                                                        \
        snprintf(what_, sizeof what_, __VA_ARGS__);                                             \
        cr_assert_eq((rc), (want), "%s: returned %d, want %d", what_, (int)(rc), (int)(want)); \
        cr_assert_eq((out_len), 0, "%s: out_len %zu after failure", what_, (size_t)(out_len)); \
        cr_assert(vt_is_zero((out), (cap)), "%s: output not zeroed", what_);                   \
    } while (0)

/* Every single-bit flip of a 46-byte blob (IV, body and tag) is refused. */
Test(kms, local_tampered_blob)
{
    vl_kms *kms = local_kms(SECRET);
    /* blob zeroed: the "extended" blobs below read past the 46 bytes
     * written (found by check-valgrind: uninitialised bytes in the tag). */
    uint8_t key[18] = {0x1a, 0x10}, blob[64] = {0}, out[VL_KMS_MAX_KEY];
    size_t blob_len, out_len;
    cr_assert_eq(vl_random(key + 2, 16), VL_OK);
    cr_assert_eq(vl_kms_wrap(kms, KEK_ID, key, sizeof key, blob, sizeof blob, &blob_len), VL_OK);
    cr_assert_eq(blob_len, 46);
    for (size_t bit = 0; bit < 8 * blob_len; bit++) {
        blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        memset(out, FILL, sizeof out);
        out_len = 99;
        int rc = vl_kms_unwrap(kms, KEK_ID, blob, blob_len, out, sizeof out, &out_len);
        EXPECT_FAIL(rc, VL_ERR_AUTH, out, sizeof out, out_len, "bit %zu flipped", bit);
        blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* Truncated and extended blobs. */
    for (size_t n = 0; n < blob_len + 2; n++) {
        if (n == blob_len)
            continue;
        memset(out, FILL, sizeof out);
        out_len = 99;
        int rc = vl_kms_unwrap(kms, KEK_ID, blob, n, out, sizeof out, &out_len);
        EXPECT_FAIL(rc, VL_ERR_AUTH, out, sizeof out, out_len, "blob of %zu bytes", n);
    }
    cr_assert_eq(vl_kms_unwrap(kms, KEK_ID, blob, blob_len, out, sizeof out, &out_len), VL_OK);
    cr_assert(memcmp(out, key, sizeof key) == 0);
    vl_kms_close(kms);
}

Test(kms, local_short_blob)
{
    vl_kms *kms = local_kms(SECRET);
    uint8_t blob[28] = {0}, out[32];
    size_t out_len;
    for (size_t n = 0; n < 28; n++) {
        memset(out, FILL, sizeof out);
        out_len = 7;
        int rc = vl_kms_unwrap(kms, KEK_ID, n ? blob : NULL, n, out, sizeof out, &out_len);
        EXPECT_FAIL(rc, VL_ERR_AUTH, out, sizeof out, out_len, "%zu-byte blob", n);
    }
    /* 28 bytes is a well-formed empty wrap, but not this one. */
    int rc = vl_kms_unwrap(kms, KEK_ID, blob, 28, out, sizeof out, &out_len);
    EXPECT_FAIL(rc, VL_ERR_AUTH, out, sizeof out, out_len, "28 zero bytes");
    vl_kms_close(kms);
}

Test(kms, local_wrong_secret)
{
    vl_kms *kms = local_kms("notmysecret");
    uint8_t blob[128], out[VL_KMS_MAX_KEY];
    size_t n = b64(blob, sizeof blob, GCM_DEK_B64), out_len = 5;
    memset(out, FILL, sizeof out);
    int rc = vl_kms_unwrap(kms, KEK_ID, blob, n, out, sizeof out, &out_len);
    EXPECT_FAIL(rc, VL_ERR_AUTH, out, sizeof out, out_len, "wrong secret");
    vl_kms_close(kms);
}

Test(kms, local_arguments)
{
    vl_kms *kms = (vl_kms *)&kms;
    cr_assert_eq(vl_kms_local_new(NULL, SECRET, 8), VL_ERR_ARG);
    cr_assert_eq(vl_kms_local_new(&kms, NULL, 8), VL_ERR_ARG);
    cr_assert_null(kms);
    cr_assert_eq(vl_kms_local_new(&kms, "", 0), VL_ERR_ARG);
    cr_assert_null(kms);
    /* Secrets are bytes: an embedded NUL is part of the secret. */
    vl_kms *a = NULL, *b = NULL;
    cr_assert_eq(vl_kms_local_new(&a, "ab\0c", 4), VL_OK);
    cr_assert_eq(vl_kms_local_new(&b, "ab", 2), VL_OK);
    uint8_t key[18] = {1}, blob[64], out[64];
    size_t blob_len, out_len = 3;
    cr_assert_eq(vl_kms_wrap(a, KEK_ID, key, sizeof key, blob, sizeof blob, &blob_len), VL_OK);
    cr_assert_eq(vl_kms_unwrap(b, KEK_ID, blob, blob_len, out, sizeof out, &out_len),
                 VL_ERR_AUTH);
    /* Capacity: wrap needs key_len + 28, unwrap blob_len - 28. */
    memset(blob, FILL, sizeof blob);
    int rc = vl_kms_wrap(a, KEK_ID, key, sizeof key, blob, 45, &blob_len);
    EXPECT_FAIL(rc, VL_ERR_ARG, blob, 45, blob_len, "wrap into 45 bytes");
    cr_assert_eq(vl_kms_wrap(a, KEK_ID, key, sizeof key, blob, 46, &blob_len), VL_OK);
    memset(out, FILL, sizeof out);
    rc = vl_kms_unwrap(a, KEK_ID, blob, blob_len, out, 17, &out_len);
    EXPECT_FAIL(rc, VL_ERR_ARG, out, 17, out_len, "unwrap into 17 bytes");
    cr_assert_eq(vl_kms_unwrap(a, KEK_ID, blob, blob_len, out, 18, &out_len), VL_OK);
    vl_kms_close(a);
    vl_kms_close(b);
}

Test(kms, local_probe)
{
    vl_kms *kms = local_kms(SECRET);
    cr_assert_eq(vl_kms_probe(kms, KEK_ID), VL_OK);
    cr_assert_eq(vl_kms_probe(kms, ""), VL_OK);
    cr_assert_eq(vl_kms_probe(kms, NULL), VL_ERR_ARG);
    cr_assert_eq(vl_kms_probe(NULL, KEK_ID), VL_ERR_ARG);
    vl_kms_close(kms);
    vl_kms_close(NULL);
}

/* One local KMS shared by several threads (the AEAD key inside is
 * thread-safe for seal and open). */
static void *wrap_unwrap_loop(void *arg)
{
    vl_kms *kms = arg;
    for (int i = 0; i < 200; i++) {
        uint8_t key[34] = {0x1a, 0x20}, blob[128], back[64];
        size_t blob_len, back_len;
        if (vl_random(key + 2, 32) != VL_OK ||
            vl_kms_wrap(kms, KEK_ID, key, sizeof key, blob, sizeof blob, &blob_len) != VL_OK ||
            vl_kms_unwrap(kms, KEK_ID, blob, blob_len, back, sizeof back, &back_len) != VL_OK ||
            back_len != sizeof key || memcmp(back, key, sizeof key) != 0)
            return (void *)1;
    }
    return NULL;
}

Test(kms, local_threads)
{
    vl_kms *kms = local_kms(SECRET);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, wrap_unwrap_loop, kms), 0);
    for (int i = 0; i < 4; i++) {
        void *res;
        cr_assert_eq(pthread_join(t[i], &res), 0);
        cr_assert_null(res, "thread %d failed", i);
    }
    vl_kms_close(kms);
}

/* ---- front ends with a fake provider --------------------------------------- */

struct fake {
    int rc;             /* what wrap/unwrap/probe return */
    size_t claim;       /* what they report in *out_len (on VL_OK) */
    int flip;           /* unwrap returns something else than was wrapped */
    size_t seen_cap;    /* the capacity the provider was given */
    int wraps, unwraps, probes, closes;
    uint8_t last[VL_KMS_MAX_KEY];
    size_t last_len;
};

static struct fake *fake_of(vl_kms *kms)
{
    return kms->ctx;
}

/* "Wraps" by copying, so unwrap can hand the key back. */
static int fake_wrap(vl_kms *kms, const char *kek_id, const uint8_t *key, size_t key_len,
                     uint8_t *out, size_t out_cap, size_t *out_len)
{
    struct fake *f = fake_of(kms);
    (void)kek_id;
    f->wraps++;
    f->seen_cap = out_cap;
    memset(out, 0x77, out_cap < 64 ? out_cap : 64);
    memcpy(f->last, key, key_len);
    f->last_len = key_len;
    *out_len = f->claim ? f->claim : key_len;
    return f->rc;
}

static int fake_unwrap(vl_kms *kms, const char *kek_id, const uint8_t *blob, size_t blob_len,
                       uint8_t *out, size_t out_cap, size_t *out_len)
{
    struct fake *f = fake_of(kms);
    (void)kek_id;
    (void)blob;
    (void)blob_len;
    f->unwraps++;
    f->seen_cap = out_cap;
    memset(out, 0x66, out_cap);
    memcpy(out, f->last, f->last_len < out_cap ? f->last_len : out_cap);
    if (f->flip)
        out[0] ^= 1;
    *out_len = f->claim ? f->claim : f->last_len;
    return f->rc;
}

static int fake_probe(vl_kms *kms, const char *kek_id)
{
    (void)kek_id;
    fake_of(kms)->probes++;
    return fake_of(kms)->rc;
}

static void fake_close(vl_kms *kms)
{
    fake_of(kms)->closes++;
}

static const vl_kms_ops FAKE_OPS = {sizeof(vl_kms_ops), "fake", fake_wrap, fake_unwrap, NULL,
                                    fake_close};
static const vl_kms_ops FAKE_PROBE_OPS = {sizeof(vl_kms_ops), "fake-probe", fake_wrap,
                                          fake_unwrap, fake_probe, fake_close};

static const int PASSED[] = {VL_ERR_KMS_UNAVAILABLE, VL_ERR_KMS_DENIED, VL_ERR_KEY_DISABLED,
                             VL_ERR_KEY_DESTROYED,   VL_ERR_NOT_FOUND,  VL_ERR_AUTH,
                             VL_ERR_ARG};
static const int MAPPED[] = {-999,          VL_ERR_NOMEM,  VL_ERR_LIMIT,       VL_ERR_FORMAT,
                             VL_ERR_RNG,    VL_ERR_IO,     VL_ERR_UNSUPPORTED, VL_ERR_EXISTS,
                             VL_ERR_BUSY,   1,             42,                 -14000};

/* wrap and unwrap through the front end with the fake returning |code|. */
static void run_code(int code, int want)
{
    struct fake f = {.rc = code};
    vl_kms kms = {&FAKE_OPS, &f};
    uint8_t key[20] = {3}, out[128];
    size_t out_len = 9;
    memset(out, FILL, sizeof out);
    int rc = vl_kms_wrap(&kms, KEK_ID, key, sizeof key, out, sizeof out, &out_len);
    if (want == VL_OK) {
        cr_assert_eq(rc, VL_OK);
        return;
    }
    EXPECT_FAIL(rc, want, out, sizeof out, out_len, "wrap, provider code %d", code);
    out_len = 9;
    memset(out, FILL, sizeof out);
    rc = vl_kms_unwrap(&kms, KEK_ID, key, sizeof key, out, sizeof out, &out_len);
    EXPECT_FAIL(rc, want, out, sizeof out, out_len, "unwrap, provider code %d", code);
    kms.ops = &FAKE_PROBE_OPS;
    cr_assert_eq(vl_kms_probe(&kms, KEK_ID), want, "probe, provider code %d", code);
    cr_assert_eq(f.probes, 1);
}

Test(kms, error_mapping)
{
    for (size_t i = 0; i < sizeof PASSED / sizeof PASSED[0]; i++)
        run_code(PASSED[i], PASSED[i]);
    for (size_t i = 0; i < sizeof MAPPED / sizeof MAPPED[0]; i++)
        run_code(MAPPED[i], VL_ERR_KMS_UNAVAILABLE);
}

/* A provider that claims more than the capacity it was given is refused
 * (VL_ERR_KMS_UNAVAILABLE) and what it wrote is wiped. */
Test(kms, lying_provider)
{
    struct fake f = {.rc = VL_OK};
    vl_kms kms = {&FAKE_OPS, &f};
    uint8_t key[20] = {3}, out[64];
    size_t out_len = 9;
    f.claim = sizeof out + 1;
    int rc = vl_kms_wrap(&kms, KEK_ID, key, sizeof key, out, sizeof out, &out_len);
    EXPECT_FAIL(rc, VL_ERR_KMS_UNAVAILABLE, out, sizeof out, out_len, "wrap claims 65 of 64");
    out_len = 9;
    rc = vl_kms_unwrap(&kms, KEK_ID, key, sizeof key, out, sizeof out, &out_len);
    EXPECT_FAIL(rc, VL_ERR_KMS_UNAVAILABLE, out, sizeof out, out_len, "unwrap claims 65 of 64");
    /* Unwrap: the capacity the provider sees is at most VL_KMS_MAX_KEY. */
    static uint8_t big[2 * VL_KMS_MAX_BLOB];
    f.claim = VL_KMS_MAX_KEY + 1;
    rc = vl_kms_unwrap(&kms, KEK_ID, key, sizeof key, big, sizeof big, &out_len);
    cr_assert_eq(f.seen_cap, VL_KMS_MAX_KEY);
    EXPECT_FAIL(rc, VL_ERR_KMS_UNAVAILABLE, big, sizeof big, out_len, "unwrap over max key");
    /* Wrap: at most VL_KMS_MAX_BLOB. */
    f.claim = VL_KMS_MAX_BLOB + 1;
    rc = vl_kms_wrap(&kms, KEK_ID, key, sizeof key, big, sizeof big, &out_len);
    cr_assert_eq(f.seen_cap, VL_KMS_MAX_BLOB);
    EXPECT_FAIL(rc, VL_ERR_KMS_UNAVAILABLE, big, sizeof big, out_len, "wrap over max blob");
    f.claim = VL_KMS_MAX_BLOB;
    cr_assert_eq(vl_kms_wrap(&kms, KEK_ID, key, sizeof key, big, sizeof big, &out_len), VL_OK);
    cr_assert_eq(out_len, VL_KMS_MAX_BLOB);
}

/* A wrap that "succeeds" with zero bytes is refused. */
static int zero_wrap(vl_kms *kms, const char *kek_id, const uint8_t *key, size_t key_len,
                     uint8_t *out, size_t out_cap, size_t *out_len)
{
    (void)kms, (void)kek_id, (void)key, (void)key_len, (void)out, (void)out_cap;
    *out_len = 0;
    return VL_OK;
}

Test(kms, empty_wrap_refused)
{
    static const vl_kms_ops ops = {sizeof(vl_kms_ops), "zero", zero_wrap, NULL, NULL, NULL};
    vl_kms kms = {&ops, NULL};
    uint8_t key[16] = {1}, out[64];
    size_t out_len = 3;
    int rc = vl_kms_wrap(&kms, KEK_ID, key, sizeof key, out, sizeof out, &out_len);
    EXPECT_FAIL(rc, VL_ERR_KMS_UNAVAILABLE, out, sizeof out, out_len, "empty wrap");
    /* No unwrap op: unwrap and the round-trip probe are VL_ERR_ARG. */
    rc = vl_kms_unwrap(&kms, KEK_ID, key, sizeof key, out, sizeof out, &out_len);
    EXPECT_FAIL(rc, VL_ERR_ARG, out, sizeof out, out_len, "no unwrap op");
    vl_kms_close(&kms); /* no close op: a no-op */
}

Test(kms, probe_paths)
{
    struct fake f = {.rc = VL_OK};
    vl_kms kms = {&FAKE_OPS, &f};
    /* No probe op: a wrap + unwrap round trip of a fresh 32-byte key. */
    cr_assert_eq(vl_kms_probe(&kms, KEK_ID), VL_OK);
    cr_assert_eq(f.wraps, 1);
    cr_assert_eq(f.unwraps, 1);
    cr_assert_eq(f.last_len, 32);
    cr_assert_eq(vl_kms_probe(&kms, KEK_ID), VL_OK);
    cr_assert_eq(f.wraps, 2);
    /* A KMS that hands back another key fails the probe. */
    f.flip = 1;
    cr_assert_eq(vl_kms_probe(&kms, KEK_ID), VL_ERR_AUTH);
    f.flip = 0;
    f.claim = 31; /* too short a key back */
    cr_assert_eq(vl_kms_probe(&kms, KEK_ID), VL_ERR_AUTH);
    f.claim = 0;
    f.rc = VL_ERR_KMS_DENIED;
    cr_assert_eq(vl_kms_probe(&kms, KEK_ID), VL_ERR_KMS_DENIED);
    /* With a probe op, only that op runs. */
    struct fake g = {.rc = VL_OK};
    vl_kms kp = {&FAKE_PROBE_OPS, &g};
    cr_assert_eq(vl_kms_probe(&kp, KEK_ID), VL_OK);
    cr_assert_eq(g.probes, 1);
    cr_assert_eq(g.wraps + g.unwraps, 0);
    vl_kms_close(&kp);
    cr_assert_eq(g.closes, 1);
}

Test(kms, front_end_arguments)
{
    struct fake f = {.rc = VL_OK};
    vl_kms kms = {&FAKE_OPS, &f};
    uint8_t key[VL_KMS_MAX_KEY + 1] = {1}, out[VL_KMS_MAX_BLOB + 1];
    size_t out_len = 1;
    int rc;
#define WRAP_FAIL(want, ...)                                                                   \
    do {                                                                                       \
        memset(out, FILL, sizeof out);                                                         \
        out_len = 1;                                                                           \
        rc = __VA_ARGS__;                                                                      \
        EXPECT_FAIL(rc, want, out, sizeof out, out_len, "%s", #__VA_ARGS__);                   \
    } while (0)
    WRAP_FAIL(VL_ERR_ARG, vl_kms_wrap(NULL, KEK_ID, key, 16, out, sizeof out, &out_len));
    WRAP_FAIL(VL_ERR_ARG, vl_kms_wrap(&kms, NULL, key, 16, out, sizeof out, &out_len));
    WRAP_FAIL(VL_ERR_ARG, vl_kms_wrap(&kms, KEK_ID, NULL, 16, out, sizeof out, &out_len));
    WRAP_FAIL(VL_ERR_ARG, vl_kms_wrap(&kms, KEK_ID, key, 0, out, sizeof out, &out_len));
    WRAP_FAIL(VL_ERR_ARG,
              vl_kms_wrap(&kms, KEK_ID, key, VL_KMS_MAX_KEY + 1, out, sizeof out, &out_len));
    WRAP_FAIL(VL_ERR_ARG, vl_kms_wrap(&kms, KEK_ID, out + 8, 16, out, sizeof out, &out_len));
    WRAP_FAIL(VL_ERR_ARG, vl_kms_unwrap(NULL, KEK_ID, key, 46, out, sizeof out, &out_len));
    WRAP_FAIL(VL_ERR_ARG, vl_kms_unwrap(&kms, NULL, key, 46, out, sizeof out, &out_len));
    WRAP_FAIL(VL_ERR_ARG, vl_kms_unwrap(&kms, KEK_ID, NULL, 46, out, sizeof out, &out_len));
    WRAP_FAIL(VL_ERR_ARG, vl_kms_unwrap(&kms, KEK_ID, out + 4, 46, out, sizeof out, &out_len));
    static uint8_t big_blob[VL_KMS_MAX_BLOB + 1];
    WRAP_FAIL(VL_ERR_FORMAT, vl_kms_unwrap(&kms, KEK_ID, big_blob, VL_KMS_MAX_BLOB + 1, out,
                                           sizeof out, &out_len));
    cr_assert_eq(f.wraps + f.unwraps, 0, "the provider was called on bad arguments");
    cr_assert_eq(vl_kms_wrap(&kms, KEK_ID, key, 16, NULL, 64, &out_len), VL_ERR_ARG);
    cr_assert_eq(vl_kms_wrap(&kms, KEK_ID, key, 16, out, sizeof out, NULL), VL_ERR_ARG);
    cr_assert(vt_is_zero(out, sizeof out));
    cr_assert_eq(vl_kms_unwrap(&kms, KEK_ID, key, 46, out, sizeof out, NULL), VL_ERR_ARG);
    /* Missing ops pointer, and an ops table too short for the field used. */
    vl_kms bare = {NULL, &f};
    cr_assert_eq(vl_kms_wrap(&bare, KEK_ID, key, 16, out, sizeof out, &out_len), VL_ERR_ARG);
    cr_assert_eq(vl_kms_probe(&bare, KEK_ID), VL_ERR_ARG);
    vl_kms_close(&bare);
    vl_kms_ops shortops = FAKE_PROBE_OPS;
    shortops.size = offsetof(vl_kms_ops, unwrap); /* only size, name, wrap */
    vl_kms s = {&shortops, &f};
    cr_assert_eq(vl_kms_wrap(&s, KEK_ID, key, 16, out, sizeof out, &out_len), VL_OK);
    cr_assert_eq(vl_kms_unwrap(&s, KEK_ID, key, 16, out, sizeof out, &out_len), VL_ERR_ARG);
    /* The probe op lies beyond size: ignored, and the round trip needs an
     * unwrap op the table does not have. */
    cr_assert_eq(vl_kms_probe(&s, KEK_ID), VL_ERR_ARG);
    cr_assert_eq(f.probes, 0);
    vl_kms_close(&s);
    cr_assert_eq(f.closes, 0, "close beyond ops->size was called");
    shortops.size = 0;
    cr_assert_eq(vl_kms_wrap(&s, KEK_ID, key, 16, out, sizeof out, &out_len), VL_ERR_ARG);
    /* Exactly VL_KMS_MAX_KEY and VL_KMS_MAX_BLOB are fine. */
    cr_assert_eq(vl_kms_wrap(&kms, KEK_ID, key, VL_KMS_MAX_KEY, out, sizeof out, &out_len),
                 VL_OK);
    cr_assert_eq(vl_kms_unwrap(&kms, KEK_ID, out, VL_KMS_MAX_BLOB, key, sizeof key, &out_len),
                 VL_OK);
#undef WRAP_FAIL
}
