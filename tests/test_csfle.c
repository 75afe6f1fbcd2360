/* Confluent CSFLE values without a keyring (core/csfle.c) and the DEK
 * Registry JSON records they come from (core/json_records.c):
 *   - the three cross-client fixtures of csfle-spec.md §5 as known answers,
 *     each through a DEK record in the registry's JSON, the local KMS, and
 *     the STRING helpers (SIV re-encrypted byte for byte; GCM re-sealed
 *     under the fixture's own IV, §10.2);
 *   - round trips for every algorithm, with and without the version
 *     prefix, BYTES / STRING / payload, lengths 0..300, DEKs created,
 *     exported to JSON, imported and unwrapped again;
 *   - the failure contract: each VL_ERR_*, outputs zeroed, on_failure NONE
 *     passing the input through (but never VL_ERR_ARG), no plaintext left
 *     behind in the STRING decrypt buffer;
 *   - payload framing (id, GUID, Protobuf message indexes), and every
 *     parser on inputs that end at a guard page. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "base64.h"
#include "internal.h"
#include "tink_key.h"

#include "vellum/csfle.h"
#include "vellum/json.h"
#include "vellum/kms.h"

#define FILL 0xa5
#define SECRET "mysecret"

/* csfle-spec.md §5 (from the package's avro.spec.js; the same fixture is
 * in Confluent's Java, Go, .NET, Python, Rust and C++ clients). */
#define GCM_EKM "07V2ndh02DA73p+dTybwZFm7DKQSZN1tEwQh+FoX1DZLk4Yj2LLu4omYjp/84tAg3BYlkfGSz+zZacJHIE4="
#define GCM_PROTO "1a2041e5234c24a6a4f85b1d8237e99a12df8722f0c21837556acd0ec7adde5869cf"
#define GCM_FIELD "zgy/jFNMV/eFilaHrMyeBgdaVzrR0udGeotW8cA/Jal7ukr+M/yz"
#define SIV_EKM                                                                                  \
    "YSx3DTlAHrmpoDChquJMifmPntBzxgRVdMzgYL82rgWBKn7aUSnG+WIu9ozBNS3y2vXd++mBtK07w4/W/G6w0da39X9h" \
    "fOVZsGnkSvry/QRht84V8yz3dqKxGMOK5A=="
#define SIV_FIELD "D6YtxrlBnkTWW9N6Vbk3IInjWH81xmYh3k4d"
#define ROT_EKM "W/v6hOQYq1idVAcs1pPWz9UUONMVZW4IrglTnG88TsWjeCjxmtRQ4VaNe/I5dCfm2zyY9Cu0nqdvqImtUk4="
#define ROT_FIELD "AAAAAAG4HI6b1nXPXqLyG8cII35NHQseqqUCd+IeLeFVAeNpSS3fxPnJ32A="
#define HELLO "hello world"

static vl_kms *local_kms(const char *secret)
{
    vl_kms *kms = NULL;
    cr_assert_eq(vl_kms_local_new(&kms, secret, strlen(secret)), VL_OK);
    return kms;
}

/* The DEK Registry's JSON for a fixture DEK, as the registry returns it. */
static void fixture_record(vl_dek_record *rec, const char *alg, const char *ekm)
{
    char json[1024];
    int n = snprintf(json, sizeof json,
                     "{\"kekName\":\"kek1\",\"subject\":\"topic1-value\",\"version\":1,"
                     "\"algorithm\":\"%s\",\"encryptedKeyMaterial\":\"%s\","
                     "\"ts\":11112223334,\"deleted\":false}",
                     alg, ekm);
    cr_assert(n > 0 && (size_t)n < sizeof json);
    cr_assert_eq(vl_json_dek_parse(rec, NULL, 0, json, (size_t)n), VL_OK);
    cr_assert_str_eq(rec->kek_name, "kek1");
    cr_assert_str_eq(rec->subject, "topic1-value");
    cr_assert_eq(rec->version, 1);
    cr_assert_eq(rec->ts_ms, 11112223334);
}

static void fixture_dek(vl_csfle_dek *d, const char *alg, const char *ekm)
{
    vl_dek_record rec;
    vl_kms *kms = local_kms(SECRET);
    fixture_record(&rec, alg, ekm);
    cr_assert_eq(vl_csfle_dek_unwrap(d, kms, "mykey", &rec), VL_OK);
    vl_kms_close(kms);
}

static void expect_hello(vl_csfle_dek *d, int versioned, const char *field)
{
    vl_csfle_opts o = {versioned, VL_CSFLE_ON_FAILURE_ERROR, 0};
    char out[128];
    size_t n = 99;
    int failure = 42;
    cr_assert_eq(vl_csfle_string_decrypt(d, 1, &o, field, strlen(field), out, sizeof out, &n,
                                         &failure),
                 VL_OK);
    cr_assert_eq(failure, VL_OK);
    cr_assert_eq(n, strlen(HELLO));
    cr_assert_str_eq(out, HELLO);
}

Test(csfle_kat, aes256_gcm_fixture)
{
    vl_csfle_dek d;
    fixture_dek(&d, "AES256_GCM", GCM_EKM);
    cr_assert_eq(d.alg, VL_AES256_GCM);
    expect_hello(&d, 0, GCM_FIELD);
    vl_csfle_dek_wipe(&d);
    cr_assert(vt_is_zero(&d, sizeof d));
}

/* The unwrapped proto is §5's, and re-sealing "hello world" under its key
 * with the fixture's own IV gives the fixture's bytes exactly. */
Test(csfle_kat, aes256_gcm_fixture_bytes)
{
    vl_dek_record rec;
    uint8_t proto[VL_KMS_MAX_KEY], key[32], field[64], out[64];
    size_t plen, klen, flen, n;
    vl_aead_key k;
    vl_kms *kms = local_kms(SECRET);
    fixture_record(&rec, "AES256_GCM", GCM_EKM);
    cr_assert_eq(rec.wrapped_len, 62);
    cr_assert_eq(vl_kms_unwrap(kms, "mykey", rec.wrapped, rec.wrapped_len, proto, sizeof proto,
                               &plen),
                 VL_OK);
    size_t want_len;
    uint8_t *want = vt_unhex(GCM_PROTO, &want_len);
    cr_assert(plen == want_len && memcmp(proto, want, plen) == 0);
    free(want);
    cr_assert_eq(vl_tink_key_decode(VL_AES256_GCM, proto, plen, key, sizeof key, &klen), VL_OK);
    cr_assert_eq(vl_base64_decode(field, sizeof field, &flen, GCM_FIELD, strlen(GCM_FIELD)),
                 VL_OK);
    cr_assert_eq(flen, 12 + 11 + 16);
    cr_assert_eq(vl_aead_init(&k, VL_AES256_GCM, key, klen), VL_OK);
    cr_assert_eq(vl_aead_seal(&k, out, &n, sizeof out, field, 12, (const uint8_t *)HELLO, 11,
                              NULL, 0),
                 VL_OK);
    cr_assert(n == flen - 12 && memcmp(out, field + 12, n) == 0);
    vl_aead_wipe(&k);
    vl_kms_close(kms);
}

Test(csfle_kat, aes256_siv_fixture)
{
    vl_csfle_dek d;
    vl_csfle_opts o = {0, VL_CSFLE_ON_FAILURE_ERROR, 0};
    char out[128];
    size_t n;
    fixture_dek(&d, "AES256_SIV", SIV_EKM);
    cr_assert_eq(d.alg, VL_AES256_SIV);
    expect_hello(&d, 0, SIV_FIELD);
    /* Deterministic: the same plaintext gives the fixture's text again. */
    cr_assert_eq(vl_csfle_string_cap(VL_AES256_SIV, 0, 11), strlen(SIV_FIELD) + 1);
    cr_assert_eq(vl_csfle_string_encrypt(&d, &o, HELLO, 11, out, sizeof out, &n), VL_OK);
    cr_assert_eq(n, strlen(SIV_FIELD));
    cr_assert_str_eq(out, SIV_FIELD);
    vl_csfle_dek_wipe(&d);
}

Test(csfle_kat, dek_rotation_fixture)
{
    vl_csfle_dek d;
    uint8_t raw[64];
    size_t n;
    int32_t v = 0;
    fixture_dek(&d, "AES256_GCM", ROT_EKM);
    expect_hello(&d, 1, ROT_FIELD);
    cr_assert_eq(vl_base64_decode(raw, sizeof raw, &n, ROT_FIELD, strlen(ROT_FIELD)), VL_OK);
    cr_assert_eq(vl_csfle_field_version(raw, n, 1, &v), VL_OK);
    cr_assert_eq(v, 1);
    /* Read without the prefix option, the prefix is taken for IV bytes. */
    vl_csfle_opts o = {0, VL_CSFLE_ON_FAILURE_ERROR, 0};
    char out[128];
    cr_assert_eq(vl_csfle_string_decrypt(&d, 1, &o, ROT_FIELD, strlen(ROT_FIELD), out,
                                         sizeof out, &n, NULL),
                 VL_ERR_AUTH);
    cr_assert(n == 0 && vt_is_zero(out, sizeof out));
    vl_csfle_dek_wipe(&d);
}

/* A wrong secret is a different KEK: the KMS refuses the DEK. */
Test(csfle_kat, wrong_secret)
{
    vl_dek_record rec;
    vl_csfle_dek d;
    vl_kms *kms = local_kms("not-mysecret");
    fixture_record(&rec, "AES256_GCM", GCM_EKM);
    cr_assert_eq(vl_csfle_dek_unwrap(&d, kms, "mykey", &rec), VL_ERR_AUTH);
    cr_assert(vt_is_zero(&d, sizeof d));
    vl_kms_close(kms);
}

/* ---- round trips ----------------------------------------------------------- */

static const vl_alg ALGS[] = {VL_AES128_GCM, VL_AES256_GCM, VL_AES256_SIV};

/* A DEK created, its record exported to JSON and read back, unwrapped. */
static void make_dek_pair(vl_kms *kms, vl_alg alg, int32_t version, vl_csfle_dek *writer,
                          vl_csfle_dek *reader)
{
    vl_dek_record rec, back;
    char json[VL_JSON_RECORD_MAX];
    size_t n;
    cr_assert_eq(vl_csfle_dek_generate(writer, &rec, kms, "k", "kek1", "t-value", alg, version,
                                       1700000000000),
                 VL_OK);
    cr_assert_eq(vl_json_dek_format(&rec, NULL, 0, json, sizeof json, &n), VL_OK);
    cr_assert_null(strstr(json, "keyMaterial\""));
    cr_assert_eq(vl_json_dek_parse(&back, NULL, 0, json, n), VL_OK);
    cr_assert(back.wrapped_len == rec.wrapped_len &&
              memcmp(back.wrapped, rec.wrapped, rec.wrapped_len) == 0);
    cr_assert(back.alg == alg && back.version == version && back.ts_ms == 1700000000000);
    cr_assert_eq(vl_csfle_dek_unwrap(reader, kms, "k", &back), VL_OK);
}

static void round_trip_bytes(vl_csfle_dek *w, vl_csfle_dek *r, int versioned, size_t len,
                             vt_rng *rng)
{
    vl_csfle_opts o = {versioned, VL_CSFLE_ON_FAILURE_ERROR, 0};
    uint8_t pt[400], ct[450], back[450];
    size_t n, m;
    vt_rng_fill(rng, pt, len);
    cr_assert_eq(vl_csfle_bytes_encrypt(w, &o, pt, len, ct, sizeof ct, &n), VL_OK);
    cr_assert_eq(n, len + vl_csfle_overhead(w->alg, versioned));
    if (versioned)
        cr_assert(ct[0] == 0 && vl_load_be32(ct + 1) == (uint32_t)w->version);
    cr_assert_eq(vl_csfle_bytes_decrypt(r, 1, &o, ct, n, back, sizeof back, &m, NULL), VL_OK);
    cr_assert(m == len && memcmp(back, pt, len) == 0, "length %zu", len);
}

static void round_trip_string(vl_csfle_dek *w, vl_csfle_dek *r, int versioned, size_t len,
                              vt_rng *rng)
{
    vl_csfle_opts o = {versioned, VL_CSFLE_ON_FAILURE_ERROR, 0};
    char pt[400], text[700], back[700];
    size_t n, m;
    vt_rng_fill(rng, pt, len);
    size_t cap = vl_csfle_string_cap(w->alg, versioned, len);
    memset(text, FILL, sizeof text);
    memset(back, FILL, sizeof back);
    cr_assert_eq(vl_csfle_string_encrypt(w, &o, pt, len, text, cap, &n), VL_OK);
    cr_assert(n == cap - 1 && text[n] == '\0' && strlen(text) == n);
    cr_assert_eq((unsigned char)text[cap], FILL); /* nothing past the capacity */
    cr_assert_eq(vl_csfle_string_decrypt(r, 1, &o, text, n, back, sizeof back, &m, NULL),
                 VL_OK);
    cr_assert(m == len && memcmp(back, pt, len) == 0 && back[m] == '\0', "length %zu", len);
    /* No copy of the plaintext is left behind the NUL. */
    if (len >= 8)
        cr_assert_null(memmem(back + m + 1, sizeof back - m - 1, pt, len), "length %zu", len);
}

static void round_trip_payload(vl_csfle_dek *w, vl_csfle_dek *r, int versioned, size_t len,
                               vt_rng *rng)
{
    vl_csfle_opts o = {versioned, VL_CSFLE_ON_FAILURE_ERROR, 0};
    uint8_t value[420], ct[480], back[480];
    size_t hdr = len % 2 ? 17 : 5, n, m;
    vt_rng_fill(rng, value, hdr + len);
    value[0] = len % 2 ? 0x01 : 0x00;
    cr_assert_eq(vl_csfle_payload_encrypt(w, &o, value, hdr + len, ct, sizeof ct, &n), VL_OK);
    cr_assert(n == hdr + len + vl_csfle_overhead(w->alg, versioned));
    cr_assert(memcmp(ct, value, hdr) == 0); /* the header stays in clear */
    cr_assert_eq(vl_csfle_payload_decrypt(r, 1, &o, ct, n, back, sizeof back, &m, NULL), VL_OK);
    cr_assert(m == hdr + len && memcmp(back, value, m) == 0, "length %zu", len);
}

Test(csfle, round_trips_every_alg)
{
    vl_kms *kms = local_kms("round trip secret");
    vt_rng rng = {0xc5f1e};
    for (size_t a = 0; a < 3; a++)
        for (int versioned = 0; versioned <= 1; versioned++) {
            vl_csfle_dek w, r;
            make_dek_pair(kms, ALGS[a], versioned ? 7 : 1, &w, &r);
            for (size_t len = 0; len <= 300; len += 1 + len / 16) {
                round_trip_bytes(&w, &r, versioned, len, &rng);
                round_trip_string(&w, &r, versioned, len, &rng);
                round_trip_payload(&w, &r, versioned, len, &rng);
            }
            vl_csfle_dek_wipe(&w);
            vl_csfle_dek_wipe(&r);
        }
    vl_kms_close(kms);
}

/* SIV is deterministic across DEK objects of the same key, GCM is not. */
Test(csfle, siv_deterministic_gcm_random)
{
    vl_kms *kms = local_kms("determinism");
    vl_csfle_opts o = {0, VL_CSFLE_ON_FAILURE_ERROR, 0};
    for (size_t a = 0; a < 3; a++) {
        vl_csfle_dek w, r;
        uint8_t c1[64], c2[64];
        size_t n1, n2;
        make_dek_pair(kms, ALGS[a], 1, &w, &r);
        cr_assert_eq(vl_csfle_bytes_encrypt(&w, &o, (const uint8_t *)"abc", 3, c1, sizeof c1, &n1),
                     VL_OK);
        cr_assert_eq(vl_csfle_bytes_encrypt(&r, &o, (const uint8_t *)"abc", 3, c2, sizeof c2, &n2),
                     VL_OK);
        cr_assert_eq(n1 == n2 && memcmp(c1, c2, n1) == 0, ALGS[a] == VL_AES256_SIV);
        vl_csfle_dek_wipe(&w);
        vl_csfle_dek_wipe(&r);
    }
    vl_kms_close(kms);
}

/* Decrypt picks the DEK by the version prefix among several. */
Test(csfle, picks_version)
{
    vl_kms *kms = local_kms("versions");
    vl_csfle_dek w[3], r[3];
    vl_csfle_opts o = {1, VL_CSFLE_ON_FAILURE_ERROR, 0};
    for (int i = 0; i < 3; i++)
        make_dek_pair(kms, VL_AES256_GCM, i + 1, &w[i], &r[i]);
    for (int i = 0; i < 3; i++) {
        uint8_t ct[64], back[64];
        size_t n, m;
        cr_assert_eq(vl_csfle_bytes_encrypt(&w[i], &o, (const uint8_t *)"v", 1, ct, sizeof ct, &n),
                     VL_OK);
        cr_assert_eq(vl_csfle_bytes_decrypt(r, 3, &o, ct, n, back, sizeof back, &m, NULL), VL_OK);
        cr_assert(m == 1 && back[0] == 'v');
        /* Without its version among the DEKs: not found. */
        vl_csfle_dek *others = i == 0 ? &r[1] : &r[0];
        cr_assert_eq(vl_csfle_bytes_decrypt(others, 1, &o, ct, n, back, sizeof back, &m, NULL),
                     VL_ERR_NOT_FOUND);
        cr_assert(m == 0 && vt_is_zero(back, sizeof back));
    }
    for (int i = 0; i < 3; i++) {
        vl_csfle_dek_wipe(&w[i]);
        vl_csfle_dek_wipe(&r[i]);
    }
    vl_kms_close(kms);
}

/* ---- failures -------------------------------------------------------------- */

struct fixture_state {
    vl_csfle_dek d;
    uint8_t ct[64];
    size_t n;
};

static void sealed_hello(struct fixture_state *s, int versioned)
{
    vl_kms *kms = local_kms("failures");
    vl_csfle_dek w;
    vl_csfle_opts o = {versioned, VL_CSFLE_ON_FAILURE_ERROR, 0};
    make_dek_pair(kms, VL_AES128_GCM, 1, &w, &s->d);
    cr_assert_eq(vl_csfle_bytes_encrypt(&w, &o, (const uint8_t *)HELLO, 11, s->ct, sizeof s->ct,
                                        &s->n),
                 VL_OK);
    vl_csfle_dek_wipe(&w);
    vl_kms_close(kms);
}

static void expect_error(vl_csfle_dek *d, const vl_csfle_opts *o, const uint8_t *in,
                         size_t in_len, int want)
{
    uint8_t out[128];
    size_t n = 7;
    int failure = 0;
    memset(out, FILL, sizeof out);
    cr_assert_eq(vl_csfle_bytes_decrypt(d, 1, o, in, in_len, out, sizeof out, &n, &failure), want);
    cr_assert(n == 0 && failure == want && vt_is_zero(out, sizeof out));
}

Test(csfle, errors)
{
    struct fixture_state s;
    vl_csfle_opts plain = {0, VL_CSFLE_ON_FAILURE_ERROR, 0};
    vl_csfle_opts ver = {1, VL_CSFLE_ON_FAILURE_ERROR, 0};
    sealed_hello(&s, 1);
    expect_error(&s.d, &plain, s.ct, s.n, VL_ERR_AUTH);      /* prefix read as IV */
    expect_error(&s.d, &ver, s.ct, 4, VL_ERR_FORMAT);        /* short prefix */
    expect_error(&s.d, &ver, s.ct, 5 + 27, VL_ERR_FORMAT);   /* body < 28 */
    s.ct[0] = 1;
    expect_error(&s.d, &ver, s.ct, s.n, VL_ERR_FORMAT);      /* magic byte */
    s.ct[0] = 0;
    s.ct[4] = 2;
    expect_error(&s.d, &ver, s.ct, s.n, VL_ERR_NOT_FOUND);   /* version 2 */
    s.ct[4] = 0;
    expect_error(&s.d, &ver, s.ct, s.n, VL_ERR_FORMAT);      /* version 0 */
    s.ct[1] = 0x80;
    expect_error(&s.d, &ver, s.ct, s.n, VL_ERR_FORMAT);      /* negative */
    s.ct[1] = 0;
    s.ct[4] = 1;
    s.ct[s.n - 1] ^= 1;
    expect_error(&s.d, &ver, s.ct, s.n, VL_ERR_AUTH);        /* altered tag */
    expect_error(NULL, &ver, s.ct, s.n, VL_ERR_ARG);         /* no DEKs at all is an ARG error */
    vl_csfle_dek_wipe(&s.d);
}

Test(csfle, on_failure_none_passes_through)
{
    struct fixture_state s;
    vl_csfle_opts none = {1, VL_CSFLE_ON_FAILURE_NONE, 0};
    uint8_t out[64];
    char text[128], sout[128];
    size_t n;
    int failure = 0;
    sealed_hello(&s, 1);
    s.ct[10] ^= 0x40;
    cr_assert_eq(vl_csfle_bytes_decrypt(&s.d, 1, &none, s.ct, s.n, out, sizeof out, &n, &failure),
                 VL_OK);
    cr_assert(failure == VL_ERR_AUTH && n == s.n && memcmp(out, s.ct, n) == 0);
    /* STRING: the stored base64 text itself, NUL-terminated. */
    cr_assert_eq(vl_base64_encode(text, sizeof text, s.ct, s.n), VL_OK);
    cr_assert_eq(vl_csfle_string_decrypt(&s.d, 1, &none, text, strlen(text), sout, sizeof sout,
                                         &n, &failure),
                 VL_OK);
    cr_assert(failure == VL_ERR_AUTH && n == strlen(text));
    cr_assert_str_eq(sout, text);
    cr_assert_eq(vl_csfle_string_decrypt(&s.d, 1, &none, "not base64!", 11, sout, sizeof sout,
                                         &n, &failure),
                 VL_OK);
    cr_assert(failure == VL_ERR_FORMAT && n == 11);
    cr_assert_str_eq(sout, "not base64!");
    /* Not swallowed: an output too small for the pass-through is the
     * caller's error, refused before anything is tried. */
    cr_assert_eq(vl_csfle_bytes_decrypt(&s.d, 1, &none, s.ct, s.n, out, s.n - 1, &n, &failure),
                 VL_ERR_ARG);
    cr_assert(failure == VL_ERR_ARG && n == 0);
    /* A good value decrypts as usual with NONE. */
    s.ct[10] ^= 0x40;
    cr_assert_eq(vl_csfle_bytes_decrypt(&s.d, 1, &none, s.ct, s.n, out, sizeof out, &n, &failure),
                 VL_OK);
    cr_assert(failure == VL_OK && n == 11 && memcmp(out, HELLO, 11) == 0);
    vl_csfle_dek_wipe(&s.d);
}

Test(csfle, argument_errors)
{
    struct fixture_state s;
    vl_csfle_opts o = {0, VL_CSFLE_ON_FAILURE_ERROR, 0}, bad = {0, 7, 0}, badflags = {0, 0, 8};
    uint8_t out[64];
    size_t n;
    sealed_hello(&s, 0);
    cr_assert_eq(vl_csfle_bytes_encrypt(&s.d, &o, out, 8, out + 4, 40, &n), VL_ERR_ARG);
    cr_assert_eq(vl_csfle_bytes_encrypt(&s.d, &o, (const uint8_t *)"x", 1, out, 28, &n),
                 VL_ERR_ARG); /* needs 29 */
    cr_assert_eq(vl_csfle_bytes_encrypt(&s.d, &bad, (const uint8_t *)"x", 1, out, 64, &n),
                 VL_ERR_ARG);
    cr_assert_eq(vl_csfle_bytes_encrypt(&s.d, &badflags, (const uint8_t *)"x", 1, out, 64, &n),
                 VL_ERR_ARG);
    cr_assert_eq(vl_csfle_bytes_decrypt(&s.d, 1, &o, s.ct, s.n, out, 10, &n, NULL), VL_ERR_ARG);
    /* NULL options: not versioned, ERROR. */
    cr_assert_eq(vl_csfle_bytes_decrypt(&s.d, 1, NULL, s.ct, s.n, out, sizeof out, &n, NULL),
                 VL_OK);
    vl_csfle_dek bogus;
    memset(&bogus, 0, sizeof bogus);
    bogus.alg = VL_AES256_GCM;
    bogus.version = 1;
    cr_assert_eq(vl_csfle_bytes_encrypt(&bogus, &o, (const uint8_t *)"x", 1, out, 64, &n),
                 VL_ERR_ARG); /* not initialised */
    cr_assert_eq(vl_csfle_dek_init(&bogus, VL_AES256_GCM, 0, NULL, 0), VL_ERR_ARG);
    cr_assert_eq(vl_csfle_dek_init(&bogus, VL_AES256_GCM, 1, (const uint8_t *)"\x1a\x01x", 3),
                 VL_ERR_FORMAT);
    vl_csfle_dek_wipe(&s.d);
}

/* ---- payload framing ------------------------------------------------------- */

static int frame(const char *hex, unsigned flags, size_t *hdr)
{
    size_t len;
    uint8_t *v = vt_unhex(hex, &len);
    int rc = vl_csfle_frame_len(v, len, flags, hdr);
    free(v);
    return rc;
}

Test(csfle, frame_len)
{
    size_t h;
    cr_assert(frame("0000000001", 0, &h) == VL_OK && h == 5);
    cr_assert(frame("0000000001aa", 0, &h) == VL_OK && h == 5);
    cr_assert(frame("01000102030405060708090a0b0c0d0e0f", 0, &h) == VL_OK && h == 17);
    cr_assert(frame("00000000", 0, &h) == VL_ERR_FORMAT && h == 0);
    cr_assert(frame("010001", 0, &h) == VL_ERR_FORMAT);
    cr_assert(frame("02000000010000", 0, &h) == VL_ERR_FORMAT);
    cr_assert(frame("", 0, &h) == VL_ERR_FORMAT);
    /* Protobuf: count 0 is one byte; count 2 (zigzag 4), indexes 1, 2. */
    cr_assert(frame("000000000100ff", VL_CSFLE_PROTOBUF, &h) == VL_OK && h == 6);
    cr_assert(frame("0000000001040204ff", VL_CSFLE_PROTOBUF, &h) == VL_OK && h == 8);
    cr_assert(frame("01000102030405060708090a0b0c0d0e0f0202", VL_CSFLE_PROTOBUF, &h) == VL_OK &&
              h == 19);
    cr_assert(frame("000000000101", VL_CSFLE_PROTOBUF, &h) == VL_ERR_FORMAT); /* count -1 */
    cr_assert(frame("00000000010403", VL_CSFLE_PROTOBUF, &h) == VL_ERR_FORMAT); /* index -2 */
    cr_assert(frame("000000000104", VL_CSFLE_PROTOBUF, &h) == VL_ERR_FORMAT); /* cut short */
    cr_assert(frame("00000000018201", VL_CSFLE_PROTOBUF, &h) == VL_ERR_FORMAT); /* 65 */
    cr_assert(frame("0000000001", VL_CSFLE_PROTOBUF, &h) == VL_ERR_FORMAT);
    cr_assert(frame("0000000001028080808010", VL_CSFLE_PROTOBUF, &h) == VL_ERR_FORMAT);
    cr_assert(frame("000000000102808080800f", VL_CSFLE_PROTOBUF, &h) == VL_OK && h == 11);
    cr_assert(frame("0000000001028080808080", VL_CSFLE_PROTOBUF, &h) == VL_ERR_FORMAT);
    cr_assert(frame("0000000001", 2, &h) == VL_ERR_ARG);
}

/* The payload helpers keep the Protobuf message indexes in clear. */
Test(csfle, payload_protobuf)
{
    vl_kms *kms = local_kms("protobuf");
    vl_csfle_dek w, r;
    vl_csfle_opts o = {1, VL_CSFLE_ON_FAILURE_ERROR, VL_CSFLE_PROTOBUF};
    uint8_t value[] = {0, 0, 0, 0, 9, 4, 2, 4, 0x08, 0x96, 0x01}, ct[64], back[64];
    size_t n, m;
    make_dek_pair(kms, VL_AES256_SIV, 3, &w, &r);
    cr_assert_eq(vl_csfle_payload_encrypt(&w, &o, value, sizeof value, ct, sizeof ct, &n), VL_OK);
    cr_assert(n == sizeof value + 21 && memcmp(ct, value, 8) == 0 && ct[8] == 0 && ct[12] == 3);
    cr_assert_eq(vl_csfle_payload_decrypt(&r, 1, &o, ct, n, back, sizeof back, &m, NULL), VL_OK);
    cr_assert(m == sizeof value && memcmp(back, value, m) == 0);
    vl_csfle_dek_wipe(&w);
    vl_csfle_dek_wipe(&r);
    vl_kms_close(kms);
}

/* ---- untrusted bytes at a guard page --------------------------------------- */

Test(csfle, parsers_at_guard_page)
{
    struct fixture_state s;
    uint8_t *g = vt_guard_alloc(), out[128];
    size_t n, h;
    int32_t v;
    vl_csfle_opts o = {1, VL_CSFLE_ON_FAILURE_ERROR, VL_CSFLE_PROTOBUF};
    sealed_hello(&s, 1);
    for (size_t len = 0; len <= s.n; len++) {
        uint8_t *p = g - len;
        memcpy(p, s.ct, len);
        int want = len == s.n ? VL_OK : len < 5 + 28 ? VL_ERR_FORMAT : VL_ERR_AUTH;
        cr_assert_eq(vl_csfle_bytes_decrypt(&s.d, 1, &o, p, len, out, sizeof out, &n, NULL), want,
                     "length %zu", len);
        vl_csfle_field_version(p, len, 1, &v);
        vl_csfle_frame_len(p, len, VL_CSFLE_PROTOBUF, &h);
        cr_assert_neq(vl_csfle_payload_decrypt(&s.d, 1, &o, p, len, out, sizeof out, &n, NULL),
                      VL_OK); /* no framing header this value could have */
    }
    vt_guard_free(g);
    vl_csfle_dek_wipe(&s.d);
}
