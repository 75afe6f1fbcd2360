/* gen_seeds OUT_DIR: writes the seed corpora of the fuzz targets into
 * OUT_DIR/<target>/ (`make fuzz` runs it into build/fuzz/seeds; nothing
 * it writes is committed). Sources:
 *   - $VL_VECTORS (default ../shared/vectors): every Wycheproof GCM and
 *     SIV case with a key size vellum takes, the NIST CAVP GCM encrypt
 *     cases with 16-byte tags (one per parameter block), re-encoded in
 *     aead_diff's and aead_batch's input layout; their hex values as
 *     base64 texts for the base64 target;
 *   - the keyring fixture of fuzz.c (the same deterministic DEKs the
 *     targets build): real fields, STRING texts and payloads for field,
 *     real wrapped DEKs for wrapped_key;
 *   - hand-written records: Tink protos, kmsProps texts, DEK Registry
 *     JSON, store rows and operations, KMIP messages from the encoder.
 * Built like the targets (ASan, the fuzz-mode library) but with a main. */
#include <jansson.h>
#include <string.h>

#include "base64.h"
#include "fuzz.h"
#include "kmip_ttlv.h"
#include "tink_key.h"

#include "vellum/csfle.h"

/* The long JSON and plaintext seeds below are string literals split over
 * lines inside arrays, which is what clang's -Wstring-concatenation
 * (a guard against a forgotten comma) flags. */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wstring-concatenation"
#endif

static const char *out_dir;
static size_t written;

/* ---- a growable byte buffer ----------------------------------------------------- */

struct buf {
    uint8_t b[70000];
    size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
    FZ_CHECK(b->n + n <= sizeof b->b, "seed too large");
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void put8(struct buf *b, unsigned v)
{
    uint8_t c = (uint8_t)v;
    put(b, &c, 1);
}

static void put16(struct buf *b, unsigned v)
{
    put8(b, v & 0xff);
    put8(b, (v >> 8) & 0xff);
}

static void seed(const char *target, const char *name, const void *p, size_t n)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", out_dir, target);
    fz_write_seed(dir, name, p, n);
    written++;
}

static void seedf(const char *target, const struct buf *b, const char *fmt, size_t i)
{
    char name[128];
    snprintf(name, sizeof name, fmt, i);
    seed(target, name, b->b, b->n);
}

static uint8_t *unhex(const char *h, size_t *n)
{
    size_t len = strlen(h) / 2;
    uint8_t *p = malloc(len + 1);
    FZ_CHECK(p != NULL, "malloc");
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        FZ_CHECK(sscanf(h + 2 * i, "%2x", &v) == 1, "bad hex");
        p[i] = (uint8_t)v;
    }
    *n = len;
    return p;
}

/* ---- AEAD vectors ------------------------------------------------------------------ */

struct aead_case {
    vl_alg alg;
    const uint8_t *key, *nonce, *ad, *pt;
    size_t nonce_len, ad_len, pt_len;
};

static size_t n_aead;
static struct buf batch_pool[3];
static size_t batch_count[3];
static struct buf batch_specs[3];
static uint8_t batch_key[3][64];
static int batch_has_key[3];

/* One aead_diff seed; mutations and the API form vary with the index. */
static void aead_seed(const struct aead_case *c, const char *origin)
{
    static struct buf b;
    size_t i = n_aead++;
    b.n = 0;
    put8(&b, (unsigned)c->alg - 1);
    put8(&b, (unsigned)i);      /* path: all of them, in turn */
    put8(&b, (unsigned)(i % 16)); /* API form */
    put8(&b, (unsigned)c->nonce_len);
    put16(&b, (unsigned)c->ad_len);
    put8(&b, 4);
    put(&b, c->key, fz_key_len(c->alg));
    put(&b, c->nonce, c->nonce_len);
    put(&b, c->ad, c->ad_len);
    for (unsigned m = 0; m < 4; m++) {
        put8(&b, (unsigned)(i + m * 2) % 7);
        put16(&b, (unsigned)(i * 31 + m * 7));
        put8(&b, 1u << (m + i % 4));
    }
    put(&b, c->pt, c->pt_len);
    char name[160];
    snprintf(name, sizeof name, "%s-%05zu", origin, i);
    seed("aead_diff", name, b.b, b.n);

    /* base64 seeds: the plaintext's encoding. */
    if (c->pt_len > 0 && i % 4 == 0) {
        char text[2 * 4096];
        if (vl_base64_encode(text, sizeof text, c->pt, c->pt_len) == VL_OK) {
            struct buf t = {.n = 0};
            put8(&t, 0);
            put(&t, text, strlen(text));
            snprintf(name, sizeof name, "%s-%05zu", origin, i);
            seed("base64", name, t.b, t.n);
        }
    }

    /* aead_batch: gather up to 12 small messages per algorithm. */
    int a = (int)c->alg - 1;
    if (c->pt_len <= 600 && c->ad_len <= 255 && c->nonce_len <= 32 && batch_count[a] < 12) {
        if (!batch_has_key[a]) {
            memcpy(batch_key[a], c->key, fz_key_len(c->alg));
            batch_has_key[a] = 1;
        }
        struct buf *s = &batch_specs[a];
        put8(s, (unsigned)(batch_count[a] % 3 == 2 ? 4 : 0)); /* mflags: in place */
        put8(s, (unsigned)c->nonce_len);
        put8(s, (unsigned)c->ad_len);
        put16(s, (unsigned)c->pt_len);
        put8(s, (unsigned)batch_count[a]); /* tamper */
        put8(s, (unsigned)(batch_count[a] * 5));
        put(&batch_pool[a], c->nonce, c->nonce_len);
        put(&batch_pool[a], c->ad, c->ad_len);
        put(&batch_pool[a], c->pt, c->pt_len);
        batch_count[a]++;
    }
}

static void wycheproof(const char *dir, const char *file, vl_alg alg_hint)
{
    char path[1024];
    json_error_t err;
    snprintf(path, sizeof path, "%s/wycheproof/%s", dir, file);
    json_t *root = json_load_file(path, 0, &err), *g, *t;
    FZ_CHECK(root != NULL, "%s: %s", path, err.text);
    size_t gi, ti;
    json_array_foreach(json_object_get(root, "testGroups"), gi, g) {
        long long ks = json_integer_value(json_object_get(g, "keySize"));
        vl_alg alg = alg_hint;
        if (alg_hint != VL_AES256_SIV)
            alg = ks == 128 ? VL_AES128_GCM : ks == 256 ? VL_AES256_GCM : 0;
        else if (ks != 512)
            alg = 0;
        if (alg == 0)
            continue;
        json_array_foreach(json_object_get(g, "tests"), ti, t) {
            const char *iv = json_string_value(json_object_get(t, "iv"));
            size_t kl, nl = 0, al, pl;
            uint8_t *key = unhex(json_string_value(json_object_get(t, "key")), &kl);
            uint8_t *nonce = iv != NULL ? unhex(iv, &nl) : unhex("", &nl);
            uint8_t *ad = unhex(json_string_value(json_object_get(t, "aad")), &al);
            uint8_t *pt = unhex(json_string_value(json_object_get(t, "msg")), &pl);
            if (kl == fz_key_len(alg) && nl <= 255 && al <= 65535) {
                struct aead_case c = {alg, key, nonce, ad, pt, nl, al, pl};
                aead_seed(&c, "wycheproof");
            }
            free(key);
            free(nonce);
            free(ad);
            free(pt);
        }
    }
    json_decref(root);
}

/* NIST CAVP GCM encrypt files: the first case of every block with a
 * 128-bit tag. */
static void nist(const char *dir, const char *file, vl_alg alg)
{
    char path[1024], line[4096], key[256] = "", iv[1024] = "", pt[1024] = "", aad[1024] = "";
    int taglen = 0, count = -1;
    snprintf(path, sizeof path, "%s/nist-gcm/%s", dir, file);
    FILE *f = fopen(path, "r");
    FZ_CHECK(f != NULL, "%s", path);
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (sscanf(line, "[Taglen = %d]", &taglen) == 1)
            continue;
        if (sscanf(line, "Count = %d", &count) == 1)
            continue;
        char *eq = strstr(line, " = ");
        const char *v = eq != NULL ? eq + 3 : "";
        if (strncmp(line, "Key = ", 6) == 0)
            snprintf(key, sizeof key, "%s", v);
        else if (strncmp(line, "IV = ", 5) == 0)
            snprintf(iv, sizeof iv, "%s", v);
        else if (strncmp(line, "PT =", 4) == 0)
            snprintf(pt, sizeof pt, "%s", v);
        else if (strncmp(line, "AAD =", 5) == 0)
            snprintf(aad, sizeof aad, "%s", v);
        else if (strncmp(line, "Tag = ", 6) == 0 && taglen == 128 && count == 0) {
            size_t kl, nl, al, pl;
            uint8_t *k = unhex(key, &kl), *n = unhex(iv, &nl), *a = unhex(aad, &al),
                    *p = unhex(pt, &pl);
            struct aead_case c = {alg, k, n, a, p, nl, al, pl};
            if (nl <= 255)
                aead_seed(&c, "nist");
            free(k);
            free(n);
            free(a);
            free(p);
        }
    }
    fclose(f);
}

static void batch_seeds(void)
{
    for (int a = 0; a < 3; a++) {
        if (batch_count[a] == 0)
            continue;
        for (unsigned v = 0; v < 3; v++) {
            static struct buf b;
            b.n = 0;
            put8(&b, (unsigned)a);
            put8(&b, v);                   /* path */
            put8(&b, (unsigned)batch_count[a]);
            put8(&b, v == 2 ? 1 : 0);      /* limits on the third */
            put8(&b, 7);                   /* max_seals */
            put16(&b, 65535);
            put8(&b, 3);                   /* max_open_failures */
            put(&b, batch_key[a], fz_key_len((vl_alg)(a + 1)));
            put(&b, batch_specs[a].b, batch_specs[a].n);
            put(&b, batch_pool[a].b, batch_pool[a].n);
            char name[64];
            snprintf(name, sizeof name, "alg%d-v%u", a + 1, v);
            seed("aead_batch", name, b.b, b.n);
        }
    }
}

/* ---- the keyring fixture: fields and wrapped DEKs ------------------------------------ */

static void field_seeds(void)
{
    static const char *const pts[] = {"", "a", "0123456789abcdef", "Confluent CSFLE field",
                                      "a longer plaintext that spans more than two AES blocks "
                                      "and then some more bytes"};
    for (int versioned = 0; versioned <= 1; versioned++) {
        struct fz_keyring k;
        fz_keyring_setup(&k, versioned);
        for (int a = 1; a <= 3; a++)
            for (size_t p = 0; p < sizeof pts / sizeof pts[0]; p++) {
                uint8_t field[256];
                size_t len = 0, pl = strlen(pts[p]);
                FZ_CHECK(vl_field_encrypt(k.kr, FZ_KEK, FZ_SUBJECT, (vl_alg)a,
                                          (const uint8_t *)pts[p], pl, field, sizeof field,
                                          &len) == VL_OK,
                         "field_encrypt");
                struct buf b = {.n = 0};
                /* op 0: the field */
                put8(&b, (unsigned)a - 1);
                put8(&b, (unsigned)versioned);
                put8(&b, (unsigned)p & 1);
                put(&b, field, len);
                seedf("field", &b, "bytes-%zu", (size_t)(versioned * 100 + a * 10) + p);
                /* op 2: base64 STRING text */
                char text[512];
                FZ_CHECK(vl_base64_encode(text, sizeof text, field, len) == VL_OK, "b64");
                b.n = 0;
                put8(&b, (unsigned)a - 1);
                put8(&b, (unsigned)versioned | 2 << 1);
                put8(&b, 0);
                put(&b, text, strlen(text));
                seedf("field", &b, "string-%zu", (size_t)(versioned * 100 + a * 10) + p);
                /* op 3: payload, plain and Protobuf framing */
                for (int proto = 0; proto <= 1; proto++) {
                    b.n = 0;
                    put8(&b, (unsigned)a - 1);
                    put8(&b, (unsigned)versioned | 3 << 1);
                    put8(&b, proto ? 2u : 0u);
                    static const uint8_t id_hdr[] = {0x00, 0, 0, 0, 7};
                    static const uint8_t guid_hdr[] = {0x01, 1, 2,  3,  4,  5,  6,  7, 8,
                                                       9,    10, 11, 12, 13, 14, 15, 16};
                    if (p & 1)
                        put(&b, guid_hdr, sizeof guid_hdr);
                    else
                        put(&b, id_hdr, sizeof id_hdr);
                    if (proto) {
                        static const uint8_t idx[] = {0x04, 0x02, 0x06}; /* [1, 3] */
                        put(&b, idx, sizeof idx);
                    }
                    put(&b, field, len);
                    seedf("field", &b, "payload-%zu",
                          (size_t)(versioned * 1000 + proto * 100 + a * 10) + p);
                }
                /* op 1 and 4: plaintexts to write */
                b.n = 0;
                put8(&b, (unsigned)a - 1);
                put8(&b, (unsigned)versioned | (p & 1 ? 4u : 1u) << 1);
                put8(&b, (unsigned)p * 2);
                put8(&b, 1);                 /* version byte */
                if (!(p & 1)) {
                    put8(&b, 2);             /* two mutations */
                    put16(&b, 3);
                    put8(&b, 0x01);
                    put16(&b, 40);
                    put8(&b, 0x80);
                }
                put(&b, pts[p], pl);
                seedf("field", &b, "write-%zu", (size_t)(versioned * 100 + a * 10) + p);
            }
        if (versioned) {
            /* wrapped_key: the fixture's real wrapped DEKs, and their protos. */
            for (int a = 1; a <= 3; a++) {
                vl_dek_record rec;
                vl_dek_id id = {FZ_KEK, FZ_SUBJECT, (vl_alg)a, 1};
                FZ_CHECK(k.store->ops->get_dek(k.store, &id, &rec) == VL_OK, "get_dek");
                for (unsigned mode = 0; mode < 4; mode++) {
                    struct buf b = {.n = 0};
                    put8(&b, mode << 1 | (mode & 2 ? 16u : 0u));
                    put8(&b, (unsigned)a - 1);
                    put8(&b, (unsigned)a + mode);
                    put(&b, rec.wrapped, rec.wrapped_len);
                    seedf("wrapped_key", &b, "blob-%zu", (size_t)(a * 10 + mode));
                }
                uint8_t key[64], proto[VL_TINK_KEY_MAX];
                size_t pl;
                memset(key, 0x11 * a, sizeof key);
                FZ_CHECK(vl_tink_key_encode((vl_alg)a, key, fz_key_len((vl_alg)a), proto,
                                            sizeof proto, &pl) == VL_OK,
                         "encode");
                for (unsigned mode = 1; mode <= 3; mode += 2) {
                    struct buf b = {.n = 0};
                    put8(&b, mode);
                    put8(&b, (unsigned)a - 1);
                    put8(&b, 5);
                    put(&b, proto, pl);
                    seedf("wrapped_key", &b, "proto-%zu", (size_t)(a * 10 + mode));
                }
            }
        }
        fz_keyring_free(&k);
    }
}

/* ---- hand-written records ------------------------------------------------------------ */

static void tink_seeds(void)
{
    for (int a = 1; a <= 3; a++) {
        uint8_t key[64], enc[VL_TINK_KEY_MAX];
        size_t n, kl = fz_key_len((vl_alg)a);
        for (size_t i = 0; i < kl; i++)
            key[i] = (uint8_t)(i * 7 + a);
        FZ_CHECK(vl_tink_key_encode((vl_alg)a, key, kl, enc, sizeof enc, &n) == VL_OK, "encode");
        struct buf b = {.n = 0};
        put8(&b, (unsigned)a - 1);
        put(&b, enc, n);
        seedf("tink_key", &b, "canonical-%zu", (size_t)a);
        /* explicit version 0 first, an unknown varint, fixed32 and
         * length-delimited field, then the key twice (the last wins) */
        static const uint8_t pre[] = {0x08, 0x00, 0x20, 0x96, 0x01, 0x2d, 1, 2, 3, 4,
                                      0x3a, 0x02, 0xaa, 0xbb};
        b.n = 0;
        put8(&b, (unsigned)a - 1);
        put(&b, pre, sizeof pre);
        put(&b, enc, n);
        put(&b, enc, n);
        seedf("tink_key", &b, "extras-%zu", (size_t)a);
    }
}

static void text_seed(const char *target, const char *name, unsigned lead, const char *text)
{
    struct buf b = {.n = 0};
    if (lead != 256)
        put8(&b, lead);
    put(&b, text, strlen(text));
    seed(target, name, b.b, b.n);
}

static void props_seeds(void)
{
    static const char *const props[] = {
        "",
        "{}",
        "{\"encrypt.alternate.kms.key.ids\":\"key-2,key-3\"}",
        " { \"a\" : \"b\" , \"encrypt.alternate.kms.key.ids\" : \" k1 , ,k2 \" } ",
        "{\"encrypt\\u002ealternate.kms.key.ids\":\"x\\n\\u00e9\\u20ac\",\"z\":\"\\\"\\\\\\/\"}",
        "{\"encrypt.alternate.kms.key.ids\":\"a\",\"encrypt.alternate.kms.key.ids\":\"b\"}",
        "{\"k\":\"v\",\"k2\":\"caf\xc3\xa9\"}",
    };
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++) {
        struct buf b = {.n = 0};
        put8(&b, 9);
        put(&b, "new-key,ab", 9);
        put(&b, props[i], strlen(props[i]));
        seedf("kms_props", &b, "props-%zu", i);
    }
}

static void json_seeds(void)
{
    static const char *const keks[] = {
        "{\"name\":\"kek1\",\"kmsType\":\"local-kms\",\"kmsKeyId\":\"mykey\",\"kmsProps\":{},"
        "\"doc\":null,\"shared\":false,\"ts\":1700000000000,\"deleted\":false}",
        "{\"name\":\"kek2\",\"kmsType\":\"aws-kms\",\"kmsKeyId\":\"arn:aws:kms:us-east-1:1:key/x\","
        "\"kmsProps\":{\"encrypt.alternate.kms.key.ids\":\"a,b\",\"x\":\"\\u00e9\"},\"shared\":true}",
    };
    static const char *const deks[] = {
        "{\"kekName\":\"kek1\",\"subject\":\"topic1-value\",\"version\":1,\"algorithm\":"
        "\"AES256_GCM\",\"encryptedKeyMaterial\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g"
        "ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0=\",\"ts\":11112223334,\"deleted\":false}",
        "{\"kekName\":\"kek1\",\"subject\":\"s\",\"version\":2147483647,\"algorithm\":\"AES256_SIV"
        "\",\"keyMaterial\":\"EkAAAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKyw"
        "tLi8wMTIzNDU2Nzg5Ojs8PT4/\",\"encryptedKeyMaterial\":null}",
        "{\"kekName\":\"k\",\"subject\":\"s\",\"algorithm\":\"AES128_GCM\","
        "\"encryptedKeyMaterial\":\"AQI=\",\"unknown\":[1,{\"a\":null}]}",
    };
    for (size_t i = 0; i < 2; i++)
        text_seed("dek_json", i ? "kek-2" : "kek-1", 0, keks[i]);
    for (size_t i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "dek-%zu", i);
        text_seed("dek_json", name, 1, deks[i]);
        snprintf(name, sizeof name, "dek-km-%zu", i);
        text_seed("dek_json", name, 3, deks[i]);
    }
    /* record first */
    struct buf b = {.n = 0};
    put8(&b, 4 | 1);
    for (int s = 0; s < 2; s++) {
        put8(&b, 4);
        put(&b, "kek1", 4);
    }
    put8(&b, 2);
    put(&b, "\x01\x00\x00\x00", 4);
    put16(&b, 46);
    for (int i = 0; i < 46; i++)
        put8(&b, (unsigned)i);
    put8(&b, 0);
    put(&b, "\x10\x00\x00\x00", 4);
    put8(&b, 0);
    seed("dek_json", "record-dek", b.b, b.n);
}

static void store_seeds(void)
{
    /* rows: a good KEK row and a good DEK row, then the same with a
     * wrong type in one column */
    for (int bad = 0; bad <= 1; bad++) {
        struct buf b = {.n = 0};
        put8(&b, 0);
        put8(&b, 2);
        put8(&b, 0); /* keks */
        static const char *const kcols[] = {"kek1", "local-kms", "mykey", "", "doc"};
        for (int c = 0; c < 5; c++) {
            put8(&b, bad && c == 2 ? 5 : 4);
            put16(&b, (unsigned)strlen(kcols[c]));
            put(&b, kcols[c], strlen(kcols[c]));
        }
        put8(&b, 1);
        put8(&b, 0);
        put8(&b, 1);
        put8(&b, 1);
        put8(&b, 2);
        put(&b, "\x00\x10\x20\x30\x40\x50\x60\x70", 8);
        put8(&b, 3);   /* alg etc. used for lookups */
        put8(&b, 1);
        put8(&b, 1); /* deks */
        put8(&b, 4);
        put16(&b, 4);
        put(&b, "kek1", 4);
        put8(&b, 4);
        put16(&b, 12);
        put(&b, "topic1-value", 12);
        put8(&b, 1);
        put8(&b, 2);
        put8(&b, 1);
        put8(&b, bad ? 4 : 1);
        if (bad) {
            put16(&b, 1);
            put8(&b, '1');
        }
        put8(&b, 5);
        put16(&b, 46);
        for (int i = 0; i < 46; i++)
            put8(&b, (unsigned)i);
        put8(&b, 1);
        put8(&b, 5);
        put8(&b, 1);
        put8(&b, 0);
        put8(&b, 1);
        put8(&b, 0);
        put8(&b, 2);
        put8(&b, 1);
        seedf("store", &b, "rows-%zu", (size_t)bad);
    }
    /* ops: put a KEK, a DEK, get them, reserve, list */
    struct buf b = {.n = 0};
    put8(&b, 1);
    put8(&b, 8);
    put8(&b, 0x80); /* put_kek create */
    for (int s = 0; s < 5; s++)
        put8(&b, s == 3 ? 4 : 0);
    put8(&b, 0);
    put8(&b, 1);
    put(&b, "\x00\x01\x02\x03\x04\x05\x06\x07", 8);
    put8(&b, 0x83); /* put_dek create */
    put8(&b, 0);
    put8(&b, 3);
    put8(&b, 1);
    put8(&b, 0);
    put16(&b, 46);
    for (int i = 0; i < 46; i++)
        put8(&b, (unsigned)i);
    put(&b, "\x00\x00\x10\x00", 4);
    put8(&b, 0);
    put8(&b, 3);
    put8(&b, 9);
    put8(&b, 1); /* get_kek */
    put8(&b, 0);
    put8(&b, 4); /* get_dek */
    put8(&b, 0);
    put8(&b, 3);
    put8(&b, 1);
    put8(&b, 241);
    put8(&b, 6); /* reserve */
    put8(&b, 0);
    put8(&b, 3);
    put8(&b, 1);
    put8(&b, 0);
    put8(&b, 5);
    put8(&b, 64);
    put8(&b, 1);
    put16(&b, 1000);
    put8(&b, 7);
    put8(&b, 0);
    put8(&b, 5); /* delete_dek */
    put8(&b, 0);
    put8(&b, 3);
    put8(&b, 1);
    put8(&b, 0);
    seed("store", "ops-0", b.b, b.n);
}

static void kmip_seeds(void)
{
    static uint8_t buf[4096];
    size_t len = 0;
    static const uint8_t data[] = "wrapped key proto bytes", iv[12] = {1, 2, 3}, tag[16] = {9};
    vl_kmip_crypt c = {VL_KMIP_OP_DECRYPT, "uid-1", 5, data, iv, NULL, tag, sizeof data, 12, 0,
                       16};
    FZ_CHECK(vl_kmip_encode_crypt(buf, sizeof buf, &len, &c) == VL_OK, "encode");
    seed("kmip_ttlv", "gen-decrypt-request", buf, len);
    FZ_CHECK(vl_kmip_encode_get_state(buf, sizeof buf, &len, "uid-1", 5) == VL_OK, "encode");
    seed("kmip_ttlv", "gen-get-state-request", buf, len);
    /* replies: success with a payload, failure with a reason, attributes */
    for (int kind = 0; kind < 3; kind++) {
        vl_ttlv_enc e;
        vl_ttlv_enc_init(&e, buf, sizeof buf);
        vl_ttlv_begin(&e, VL_KMIP_TAG_RESPONSE_MESSAGE);
        vl_ttlv_begin(&e, VL_KMIP_TAG_RESPONSE_HEADER);
        vl_ttlv_begin(&e, VL_KMIP_TAG_PROTOCOL_VERSION);
        vl_ttlv_put_int(&e, VL_KMIP_TAG_PROTOCOL_MAJOR, 1);
        vl_ttlv_put_int(&e, VL_KMIP_TAG_PROTOCOL_MINOR, 4);
        vl_ttlv_end(&e);
        vl_ttlv_put_datetime(&e, 0x420092, 1700000000);
        vl_ttlv_put_int(&e, VL_KMIP_TAG_BATCH_COUNT, 1);
        vl_ttlv_end(&e);
        vl_ttlv_begin(&e, VL_KMIP_TAG_BATCH_ITEM);
        vl_ttlv_put_enum(&e, VL_KMIP_TAG_OPERATION,
                         kind == 2 ? VL_KMIP_OP_GET_ATTRIBUTES : VL_KMIP_OP_ENCRYPT);
        vl_ttlv_put_enum(&e, VL_KMIP_TAG_RESULT_STATUS, kind == 1);
        if (kind == 1) {
            vl_ttlv_put_enum(&e, VL_KMIP_TAG_RESULT_REASON, VL_KMIP_REASON_PERMISSION_DENIED);
            vl_ttlv_put_text(&e, VL_KMIP_TAG_RESULT_MESSAGE, "denied", 6);
        } else {
            vl_ttlv_begin(&e, VL_KMIP_TAG_RESPONSE_PAYLOAD);
            vl_ttlv_put_text(&e, VL_KMIP_TAG_UNIQUE_ID, "uid-1", 5);
            if (kind == 0) {
                vl_ttlv_put_bytes(&e, VL_KMIP_TAG_DATA, data, sizeof data);
                vl_ttlv_put_bytes(&e, VL_KMIP_TAG_IV, iv, sizeof iv);
                vl_ttlv_put_bytes(&e, VL_KMIP_TAG_AUTH_TAG, tag, sizeof tag);
            } else {
                vl_ttlv_begin(&e, VL_KMIP_TAG_ATTRIBUTE);
                vl_ttlv_put_text(&e, VL_KMIP_TAG_ATTRIBUTE_NAME, "State", 5);
                vl_ttlv_put_enum(&e, VL_KMIP_TAG_ATTRIBUTE_VALUE, VL_KMIP_STATE_ACTIVE);
                vl_ttlv_end(&e);
                vl_ttlv_put_bool(&e, 0x540001, 1);
                vl_ttlv_put_bigint(&e, 0x540002, data, 16);
                vl_ttlv_put_long(&e, 0x540003, -1);
                vl_ttlv_put_interval(&e, 0x540004, 60);
            }
            vl_ttlv_end(&e);
        }
        vl_ttlv_end(&e);
        vl_ttlv_end(&e);
        FZ_CHECK(vl_ttlv_enc_done(&e, &len) == VL_OK, "encode reply");
        char name[64];
        snprintf(name, sizeof name, "gen-reply-%d", kind);
        seed("kmip_ttlv", name, buf, len);
    }
}

int main(int argc, char **argv)
{
    const char *vectors = getenv("VL_VECTORS");
    if (argc != 2) {
        fprintf(stderr, "usage: gen_seeds OUT_DIR\n");
        return 2;
    }
    out_dir = argv[1];
    if (vectors == NULL || vectors[0] == '\0')
        vectors = "../shared/vectors";
    wycheproof(vectors, "aes_gcm_test.json", VL_AES128_GCM);
    wycheproof(vectors, "aes_siv_cmac_test.json", VL_AES256_SIV);
    wycheproof(vectors, "aead_aes_siv_cmac_test.json", VL_AES256_SIV);
    nist(vectors, "gcmEncryptExtIV128.rsp", VL_AES128_GCM);
    nist(vectors, "gcmEncryptExtIV256.rsp", VL_AES256_GCM);
    batch_seeds();
    field_seeds();
    tink_seeds();
    props_seeds();
    json_seeds();
    store_seeds();
    kmip_seeds();
    printf("gen_seeds: %zu seed files under %s (%zu AEAD cases)\n", written, out_dir, n_aead);
    return 0;
}
