/* Untrusted-bytes parsers of the envelope layer: base64 (core/base64.c)
 * against OpenSSL and a plain reference validator, the Tink key proto
 * (core/tink_key.c), and the CSFLE field split (core/wire.c). Every parser
 * also runs on inputs that end exactly at a PROT_NONE guard page, so a
 * read past the end crashes the test. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "base64.h"
#include "tink_key.h"
#include "wire.h"

#include "vellum/kms.h"

#define FILL 0xa5

/* ---- base64 --------------------------------------------------------------- */

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* A deliberately plain strict validator (RFC 4648 §4, canonical), written
 * apart from the library's constant-time one: returns the decoded length,
 * or -1 for text the library must refuse. */
static long ref_valid(const char *s, size_t n)
{
    if (n % 4 != 0)
        return -1;
    size_t pad = 0;
    if (n >= 4 && s[n - 1] == '=')
        pad = (s[n - 2] == '=') ? 2 : 1;
    for (size_t i = 0; i < n - pad; i++)
        if (s[i] == '\0' || strchr(ALPHABET, s[i]) == NULL)
            return -1;
    if (pad > 0) {
        int last = (int)(strchr(ALPHABET, s[n - pad - 1]) - ALPHABET);
        if ((pad == 2 && (last & 0x0f) != 0) || (pad == 1 && (last & 0x03) != 0))
            return -1;
    }
    return (long)(n / 4 * 3 - pad);
}

Test(base64, round_trip_vs_openssl)
{
    uint8_t in[301], dec[301], ref[310];
    char enc[410], ossl[410];
    vt_rng r = {0xb64};
    for (size_t len = 0; len <= 300; len++) {
        vt_rng_fill(&r, in, len);
        size_t want = (size_t)EVP_EncodeBlock((unsigned char *)ossl, in, (int)len);
        cr_assert_eq(vl_base64_encoded_len(len), want);
        cr_assert_eq(vl_base64_encode(enc, want + 1, in, len), VL_OK);
        cr_assert_str_eq(enc, ossl, "length %zu", len);
        size_t n = 7;
        memset(dec, FILL, sizeof dec);
        cr_assert_eq(vl_base64_decode(dec, len, &n, enc, want), VL_OK, "length %zu", len);
        cr_assert_eq(n, len);
        cr_assert(memcmp(dec, in, len) == 0, "length %zu", len);
        /* EVP_DecodeBlock counts padding as zero bytes; the prefix agrees. */
        int ol = EVP_DecodeBlock(ref, (const unsigned char *)enc, (int)want);
        cr_assert_geq(ol, (int)len);
        cr_assert(memcmp(ref, dec, len) == 0);
        /* One byte short of capacity: VL_ERR_ARG, output zeroed. */
        if (len > 0) {
            memset(dec, FILL, sizeof dec);
            n = 7;
            cr_assert_eq(vl_base64_decode(dec, len - 1, &n, enc, want), VL_ERR_ARG);
            cr_assert_eq(n, 0);
            cr_assert(vt_is_zero(dec, len - 1));
        }
        memset(enc, FILL, sizeof enc);
        cr_assert_eq(vl_base64_encode(enc, want, in, len), VL_ERR_ARG, "no room for the NUL");
        cr_assert(vt_is_zero(enc, want));
    }
}

Test(base64, known)
{
    static const struct {
        const char *bin, *text;
    } cases[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                 {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                 {"foobar", "Zm9vYmFy"}}; /* RFC 4648 §10 */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char enc[16];
        uint8_t dec[16];
        size_t n;
        size_t bl = strlen(cases[i].bin);
        cr_assert_eq(vl_base64_encode(enc, sizeof enc, (const uint8_t *)cases[i].bin, bl), VL_OK);
        cr_assert_str_eq(enc, cases[i].text);
        cr_assert_eq(vl_base64_decode(dec, sizeof dec, &n, cases[i].text, strlen(cases[i].text)),
                     VL_OK);
        cr_assert_eq(n, bl);
        cr_assert(memcmp(dec, cases[i].bin, bl) == 0);
    }
    /* Every byte value, through every alphabet character. */
    uint8_t all[256], back[256];
    char text[400];
    size_t n;
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    cr_assert_eq(vl_base64_encode(text, sizeof text, all, 256), VL_OK);
    cr_assert_eq(vl_base64_decode(back, sizeof back, &n, text, strlen(text)), VL_OK);
    cr_assert(n == 256 && memcmp(all, back, 256) == 0);
    cr_assert_eq(vl_base64_decode(NULL, 0, &n, NULL, 0), VL_OK);
    cr_assert_eq(n, 0);
}

static void expect_bad(const char *text, size_t len)
{
    uint8_t out[64];
    size_t n = 5;
    memset(out, FILL, sizeof out);
    int rc = vl_base64_decode(out, sizeof out, &n, text, len);
    cr_assert_eq(rc, VL_ERR_FORMAT, "\"%.*s\" (%zu chars) accepted: %d", (int)len, text, len, rc);
    cr_assert_eq(n, 0);
    cr_assert(vt_is_zero(out, sizeof out), "\"%.*s\": output not zeroed", (int)len, text);
}

Test(base64, strict_rejection)
{
    static const char *bad[] = {
        "Zg",   "Zg=",  "Zm9",   "Z",        "Zm9vY",    /* length not a multiple of 4 */
        "Z===", "====", "Zg=v",  "Z=g=",     "Zm9v====", /* misplaced padding */
        "=Zm9", "Zg==Zg==",      "Zm9vZg==Zm9v",         /* padding before the end */
        "Zh==", "Zm9=", "Zm/=",  "Zr==",                 /* non-zero unused bits */
        "Zm9v\n", "Zm 9", " Zm9", "Zm9v\r\n", "Zm\t9",   /* whitespace */
        "Zm-_", "Zm9.", "Zm9*", "Zm9\x80", "Zm9\xff",    /* outside the alphabet */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_bad(bad[i], strlen(bad[i]));
    expect_bad("Zm\0v", 4); /* embedded NUL */
    expect_bad("Zm9v\0\0\0\0", 8);
    expect_bad("\0\0\0\0", 4);
    uint8_t out[8];
    size_t n;
    cr_assert_eq(vl_base64_decode(out, sizeof out, NULL, "Zm9v", 4), VL_ERR_ARG);
    cr_assert_eq(vl_base64_decode(out, sizeof out, &n, NULL, 4), VL_ERR_ARG);
    cr_assert_eq(vl_base64_decode(NULL, 4, &n, "Zm9v", 4), VL_ERR_ARG);
    char enc[8];
    cr_assert_eq(vl_base64_encode(NULL, 8, out, 3), VL_ERR_ARG);
    cr_assert_eq(vl_base64_encode(enc, sizeof enc, NULL, 3), VL_ERR_ARG);
    cr_assert_eq(vl_base64_encode(enc, 1, NULL, 0), VL_OK);
    cr_assert_eq(enc[0], '\0');
    cr_assert_eq(vl_base64_encoded_len(SIZE_MAX), SIZE_MAX);
}

/* Every single-character substitution (all 256 byte values) at every
 * position of valid encodings of lengths 0..12: the decoder accepts
 * exactly what the reference accepts, and what it accepts re-encodes to
 * the same text (one encoding per byte string). The text ends at a guard
 * page throughout. */
Test(base64, every_substitution)
{
    uint8_t *guard = vt_guard_alloc();
    vt_rng r = {0x5b5};
    for (size_t len = 0; len <= 12; len++) {
        uint8_t bin[16], out[16];
        char enc[32], again[32];
        vt_rng_fill(&r, bin, len);
        cr_assert_eq(vl_base64_encode(enc, sizeof enc, bin, len), VL_OK);
        size_t tl = strlen(enc);
        char *text = (char *)guard - tl;
        for (size_t pos = 0; pos < tl; pos++) {
            for (int c = 0; c < 256; c++) {
                memcpy(text, enc, tl);
                text[pos] = (char)c;
                size_t n = 99;
                long want = ref_valid(text, tl);
                int rc = vl_base64_decode(out, sizeof out, &n, text, tl);
                if (want < 0) {
                    cr_assert_eq(rc, VL_ERR_FORMAT, "\"%.*s\" accepted", (int)tl, text);
                    cr_assert(n == 0 && vt_is_zero(out, sizeof out));
                    continue;
                }
                cr_assert_eq(rc, VL_OK, "\"%.*s\" refused: %d", (int)tl, text, rc);
                cr_assert_eq((long)n, want);
                cr_assert_eq(vl_base64_encode(again, sizeof again, out, n), VL_OK);
                cr_assert(strlen(again) == tl && memcmp(again, text, tl) == 0,
                          "\"%.*s\" decodes to bytes that encode as \"%s\"", (int)tl, text,
                          again);
            }
        }
        /* Every truncation of the text. */
        for (size_t cut = 0; cut < tl; cut++) {
            size_t n = 99;
            int rc = vl_base64_decode(out, sizeof out, &n, (char *)guard - cut, cut);
            cr_assert_eq(rc, ref_valid((char *)guard - cut, cut) < 0 ? VL_ERR_FORMAT : VL_OK);
        }
    }
    vt_guard_free(guard);
}

/* ---- Tink key proto ---------------------------------------------------------- */

static const vl_alg ALGS[] = {VL_AES128_GCM, VL_AES256_GCM, VL_AES256_SIV};

/* Decodes |in| placed right before a guard page. */
static int decode_guarded(vl_alg alg, const uint8_t *in, size_t in_len, uint8_t *key,
                          size_t *key_len)
{
    uint8_t *guard = vt_guard_alloc();
    memcpy(guard - in_len, in, in_len);
    memset(key, FILL, 64);
    *key_len = 99;
    int rc = vl_tink_key_decode(alg, guard - in_len, in_len, key, 64, key_len);
    if (rc != VL_OK) {
        cr_assert_eq(*key_len, 0);
        cr_assert(vt_is_zero(key, 64), "key not zeroed after failure");
    }
    vt_guard_free(guard);
    return rc;
}

/* |hex| with "K16"/"K32"/"K64" expanded to that many key bytes 00 01 02 ... */
static size_t build(uint8_t *out, const char *hex)
{
    size_t n = 0;
    while (*hex) {
        if (*hex == 'K') {
            int k = (hex[1] - '0') * 10 + (hex[2] - '0');
            for (int i = 0; i < k; i++)
                out[n++] = (uint8_t)i;
            hex += 3;
            continue;
        }
        char two[3] = {hex[0], hex[1], 0};
        out[n++] = (uint8_t)strtoul(two, NULL, 16);
        hex += 2;
    }
    return n;
}

static void expect_key(vl_alg alg, const char *hex, int want)
{
    uint8_t in[256], key[64];
    size_t in_len = build(in, hex), key_len;
    int rc = decode_guarded(alg, in, in_len, key, &key_len);
    cr_assert_eq(rc, want, "%s \"%s\": %d, want %d", vt_alg_name(alg), hex, rc, want);
    if (rc == VL_OK) {
        cr_assert_eq(key_len, vt_key_len(alg));
        for (size_t i = 0; i < key_len; i++)
            cr_assert_eq(key[i], (uint8_t)i, "%s \"%s\": key byte %zu", vt_alg_name(alg), hex, i);
    }
}

Test(tink_key, encode_exact_and_round_trip)
{
    static const char *want[] = {"1a10", "1a20", "1240"};
    vt_rng r = {0x71c};
    for (size_t a = 0; a < 3; a++) {
        uint8_t key[64], out[VL_TINK_KEY_MAX], back[64];
        size_t kl = vt_key_len(ALGS[a]), n, bl;
        vt_rng_fill(&r, key, sizeof key);
        cr_assert_eq(vl_tink_key_encode(ALGS[a], key, kl, out, sizeof out, &n), VL_OK);
        cr_assert_eq(n, kl + 2);
        char *h = vt_hex(out, 2);
        cr_assert_str_eq(h, want[a]);
        free(h);
        cr_assert(memcmp(out + 2, key, kl) == 0);
        cr_assert_eq(decode_guarded(ALGS[a], out, n, back, &bl), VL_OK);
        cr_assert(bl == kl && memcmp(back, key, kl) == 0);
        /* Encoder arguments. */
        memset(out, FILL, sizeof out);
        n = 9;
        cr_assert_eq(vl_tink_key_encode(ALGS[a], key, kl, out, kl + 1, &n), VL_ERR_ARG);
        cr_assert(n == 0 && vt_is_zero(out, kl + 1));
        cr_assert_eq(vl_tink_key_encode(ALGS[a], key, kl + 1, out, sizeof out, &n), VL_ERR_ARG);
        cr_assert_eq(vl_tink_key_encode(ALGS[a], key, kl - 1, out, sizeof out, &n), VL_ERR_ARG);
        cr_assert_eq(vl_tink_key_encode(ALGS[a], NULL, kl, out, sizeof out, &n), VL_ERR_ARG);
        cr_assert_eq(vl_tink_key_encode(ALGS[a], key, kl, NULL, sizeof out, &n), VL_ERR_ARG);
        cr_assert_eq(vl_tink_key_encode(ALGS[a], key, kl, out, sizeof out, NULL), VL_ERR_ARG);
        /* Decoder arguments: key buffer too small is VL_ERR_ARG. */
        cr_assert_eq(vl_tink_key_encode(ALGS[a], key, kl, out, sizeof out, &n), VL_OK);
        memset(back, FILL, sizeof back);
        cr_assert_eq(vl_tink_key_decode(ALGS[a], out, n, back, kl - 1, &bl), VL_ERR_ARG);
        cr_assert(bl == 0 && vt_is_zero(back, kl - 1));
        cr_assert_eq(vl_tink_key_decode(ALGS[a], NULL, n, back, 64, &bl), VL_ERR_ARG);
        cr_assert_eq(vl_tink_key_decode(ALGS[a], out, n, NULL, 64, &bl), VL_ERR_ARG);
        cr_assert_eq(vl_tink_key_decode(ALGS[a], out, n, back, 64, NULL), VL_ERR_ARG);
    }
    uint8_t key[64] = {0}, out[80];
    size_t n;
    cr_assert_eq(vl_tink_key_encode((vl_alg)0, key, 16, out, sizeof out, &n), VL_ERR_ARG);
    cr_assert_eq(vl_tink_key_encode((vl_alg)4, key, 16, out, sizeof out, &n), VL_ERR_ARG);
    cr_assert_eq(vl_tink_key_decode((vl_alg)0, out, 18, key, sizeof key, &n), VL_ERR_ARG);
}

Test(tink_key, accepts_valid_encodings)
{
    /* Explicit version 0, before or after the key; an over-long varint 0. */
    expect_key(VL_AES256_GCM, "08001a20K32", VL_OK);
    expect_key(VL_AES256_GCM, "1a20K320800", VL_OK);
    expect_key(VL_AES128_GCM, "088000" "1a10K16", VL_OK);
    expect_key(VL_AES128_GCM, "0880808080808080808000" "1a10K16", VL_OK); /* 10-byte 0 */
    expect_key(VL_AES256_SIV, "08001240K64", VL_OK);
    /* Key length as an over-long varint (0x20 in two bytes). */
    expect_key(VL_AES256_GCM, "1aa000K32", VL_OK);
    /* Unknown fields of every skippable wire type, around the key. */
    expect_key(VL_AES256_GCM, "7805" "1a20K32", VL_OK);                   /* 15: varint */
    expect_key(VL_AES256_GCM, "21" "0102030405060708" "1a20K32", VL_OK);  /* 4: 64-bit */
    expect_key(VL_AES256_GCM, "2a03616263" "1a20K32" "2a00", VL_OK);      /* 5: bytes */
    expect_key(VL_AES256_GCM, "35" "01020304" "1a20K32", VL_OK);          /* 6: 32-bit */
    expect_key(VL_AES256_GCM, "c03e" "ffffffffffffffffff01" "1a20K32", VL_OK); /* 1000 */
    expect_key(VL_AES256_GCM, "f8ffffff0f00" "1a20K32", VL_OK); /* field 2^29 - 1 */
    /* For GCM, field 2 is unknown; for SIV, field 3 is. */
    expect_key(VL_AES128_GCM, "1203aabbcc" "1a10K16", VL_OK);
    expect_key(VL_AES256_SIV, "1a03aabbcc" "1240K64", VL_OK);
    /* A repeated key_value: the last one wins. */
    expect_key(VL_AES128_GCM, "1a10ffffffffffffffffffffffffffffffff" "1a10K16", VL_OK);
    expect_key(VL_AES128_GCM, "1a00" "1a10K16", VL_OK);
    expect_key(VL_AES128_GCM, "1a10K16" "1a00", VL_ERR_FORMAT);
    /* A repeated version: the last one counts. */
    expect_key(VL_AES128_GCM, "0801" "0800" "1a10K16", VL_OK);
    expect_key(VL_AES128_GCM, "0800" "0801" "1a10K16", VL_ERR_FORMAT);
}

Test(tink_key, rejects_malformed)
{
    expect_key(VL_AES128_GCM, "", VL_ERR_FORMAT);
    expect_key(VL_AES128_GCM, "0800", VL_ERR_FORMAT);             /* no key */
    expect_key(VL_AES128_GCM, "1210K16", VL_ERR_FORMAT);          /* SIV's field number */
    expect_key(VL_AES256_SIV, "1a40K64", VL_ERR_FORMAT);          /* GCM's field number */
    /* Wrong key sizes. */
    expect_key(VL_AES128_GCM, "1a20K32", VL_ERR_FORMAT);
    expect_key(VL_AES256_GCM, "1a10K16", VL_ERR_FORMAT);
    expect_key(VL_AES256_GCM, "1a40K64", VL_ERR_FORMAT);
    expect_key(VL_AES256_SIV, "1220K32", VL_ERR_FORMAT);
    expect_key(VL_AES256_GCM, "1a1fK16K15", VL_ERR_FORMAT);
    expect_key(VL_AES256_GCM, "1a00", VL_ERR_FORMAT);
    /* Non-zero version, including one that would truncate to 0 as uint32. */
    expect_key(VL_AES128_GCM, "08011a10K16", VL_ERR_FORMAT);
    expect_key(VL_AES128_GCM, "1a10K160802", VL_ERR_FORMAT);
    expect_key(VL_AES128_GCM, "088080808010" "1a10K16", VL_ERR_FORMAT);
    /* Known fields with the wrong wire type. */
    expect_key(VL_AES128_GCM, "0d00000000" "1a10K16", VL_ERR_FORMAT);   /* version as I32 */
    expect_key(VL_AES128_GCM, "0a00" "1a10K16", VL_ERR_FORMAT);         /* version as bytes */
    expect_key(VL_AES128_GCM, "1800" "1a10K16", VL_ERR_FORMAT);         /* key as varint */
    /* Lengths past the end. */
    expect_key(VL_AES128_GCM, "1a11K16", VL_ERR_FORMAT);
    expect_key(VL_AES128_GCM, "1a10K16" "2a05616263", VL_ERR_FORMAT);
    expect_key(VL_AES128_GCM, "1a10K16" "2affffffffffffffffff01", VL_ERR_FORMAT);
    expect_key(VL_AES128_GCM, "1a10K16" "2affffffff0f", VL_ERR_FORMAT);
    expect_key(VL_AES128_GCM, "1a10K16" "21010203", VL_ERR_FORMAT);     /* short 64-bit */
    expect_key(VL_AES128_GCM, "1a10K16" "3501", VL_ERR_FORMAT);         /* short 32-bit */
    /* Varints: truncated, 11 bytes, over 64 bits. */
    expect_key(VL_AES128_GCM, "1a10K16" "0880", VL_ERR_FORMAT);
    expect_key(VL_AES128_GCM, "1a10K16" "7880", VL_ERR_FORMAT);
    expect_key(VL_AES128_GCM, "1a10K16" "80", VL_ERR_FORMAT);
    expect_key(VL_AES128_GCM, "088080808080808080808000" "1a10K16", VL_ERR_FORMAT);
    expect_key(VL_AES128_GCM, "08ffffffffffffffffff02" "1a10K16", VL_ERR_FORMAT);
    expect_key(VL_AES128_GCM, "1a10K16" "78ffffffffffffffffff7f", VL_ERR_FORMAT);
    /* Tags: field 0, over 32 bits, groups and undefined wire types. */
    expect_key(VL_AES128_GCM, "0000" "1a10K16", VL_ERR_FORMAT);
    expect_key(VL_AES128_GCM, "0500000000" "1a10K16", VL_ERR_FORMAT);
    expect_key(VL_AES128_GCM, "808080801000" "1a10K16", VL_ERR_FORMAT);
    expect_key(VL_AES128_GCM, "1a10K16" "2b2c", VL_ERR_FORMAT);         /* group 5 */
    expect_key(VL_AES128_GCM, "1a10K16" "2c", VL_ERR_FORMAT);
    expect_key(VL_AES128_GCM, "1a10K16" "2e00", VL_ERR_FORMAT);
    expect_key(VL_AES128_GCM, "1a10K16" "2f00", VL_ERR_FORMAT);
    /* Over VL_KMS_MAX_BLOB bytes, even when well formed. */
    static uint8_t big[VL_KMS_MAX_BLOB + 1];
    uint8_t key[64];
    size_t kl;
    build(big, "1a10K16");
    big[18] = 0x2a; /* field 5, bytes, filling the rest */
    size_t fill = VL_KMS_MAX_BLOB + 1 - 21;
    big[19] = (uint8_t)(0x80 | (fill & 0x7f));
    big[20] = (uint8_t)(fill >> 7);
    cr_assert_eq(vl_tink_key_decode(VL_AES128_GCM, big, VL_KMS_MAX_BLOB + 1, key, 64, &kl),
                 VL_ERR_FORMAT);
    fill--;
    big[19] = (uint8_t)(0x80 | (fill & 0x7f));
    big[20] = (uint8_t)(fill >> 7);
    cr_assert_eq(vl_tink_key_decode(VL_AES128_GCM, big, VL_KMS_MAX_BLOB, key, 64, &kl), VL_OK);
}

/* Every truncation of every valid encoding fails cleanly, at a guard page. */
Test(tink_key, every_truncation)
{
    static const char *valid[] = {"1a10K16", "08001a20K32", "1240K642a03616263"};
    static const vl_alg alg[] = {VL_AES128_GCM, VL_AES256_GCM, VL_AES256_SIV};
    for (size_t v = 0; v < 3; v++) {
        uint8_t in[128], key[64];
        size_t n = build(in, valid[v]), kl;
        cr_assert_eq(decode_guarded(alg[v], in, n, key, &kl), VL_OK);
        for (size_t cut = 0; cut < n; cut++)
            cr_assert_eq(decode_guarded(alg[v], in, cut, key, &kl),
                         v == 2 && cut == 66 ? VL_OK : VL_ERR_FORMAT,
                         "%s cut to %zu", vt_alg_name(alg[v]), cut);
    }
}

/* Random bytes and random mutations of valid encodings: never a crash, a
 * read past the end, or an accepted key of the wrong size. */
Test(tink_key, random_inputs)
{
    uint8_t *guard = vt_guard_alloc();
    vt_rng r = {0xf022};
    size_t accepted = 0;
    for (int iter = 0; iter < 200000; iter++) {
        uint8_t buf[128], key[64];
        vl_alg alg = ALGS[iter % 3];
        size_t n, kl = 99;
        if (iter & 1) {
            n = vt_rng_range(&r, 0, 100);
            vt_rng_fill(&r, buf, n);
            if (n > 0 && vt_rng_below(&r, 2))
                buf[0] = (uint8_t)(alg == VL_AES256_SIV ? 0x12 : 0x1a);
        } else {
            uint8_t k[64];
            vt_rng_fill(&r, k, sizeof k);
            cr_assert_eq(vl_tink_key_encode(alg, k, vt_key_len(alg), buf, sizeof buf, &n), VL_OK);
            for (int m = (int)vt_rng_range(&r, 1, 3); m > 0; m--) {
                size_t pos = vt_rng_below(&r, n + 1);
                switch (vt_rng_below(&r, 3)) {
                case 0: /* flip a byte */
                    if (pos < n)
                        buf[pos] ^= (uint8_t)vt_rng_range(&r, 1, 255);
                    break;
                case 1: /* truncate */
                    n = pos;
                    break;
                default: /* append a random tail */
                    if (n + 8 <= sizeof buf) {
                        vt_rng_fill(&r, buf + n, 8);
                        n += 8;
                    }
                }
            }
        }
        memcpy(guard - n, buf, n);
        int rc = vl_tink_key_decode(alg, guard - n, n, key, sizeof key, &kl);
        cr_assert(rc == VL_OK || rc == VL_ERR_FORMAT, "rc %d", rc);
        if (rc == VL_OK) {
            cr_assert_eq(kl, vt_key_len(alg));
            accepted++;
        } else {
            cr_assert(kl == 0 && vt_is_zero(key, sizeof key));
        }
    }
    cr_assert_gt(accepted, 0);
    vt_guard_free(guard);
}

/* ---- CSFLE field split ------------------------------------------------------- */

static int split(vl_alg alg, int versioned, const uint8_t *in, size_t len, int32_t *version,
                 const uint8_t **body, size_t *body_len)
{
    *version = 77;
    *body = (const uint8_t *)"x";
    *body_len = 77;
    int rc = vl_wire_field_split(alg, versioned, in, len, version, body, body_len);
    if (rc != VL_OK)
        cr_assert(*version == 0 && *body == NULL && *body_len == 0,
                  "outputs not cleared after failure");
    return rc;
}

Test(wire, put_version)
{
    uint8_t p[5];
    static const struct {
        int32_t v;
        const char *hex;
    } cases[] = {{1, "0000000001"},          {2, "0000000002"},
                 {0x01020304, "0001020304"}, {INT32_MAX, "007fffffff"},
                 {-1, "00ffffffff"},         {INT32_MIN, "0080000000"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vl_wire_put_version(p, cases[i].v);
        char *h = vt_hex(p, 5);
        cr_assert_str_eq(h, cases[i].hex);
        free(h);
    }
}

Test(wire, split_with_and_without_prefix)
{
    uint8_t f[64];
    int32_t v;
    const uint8_t *body;
    size_t bl;
    for (size_t i = 0; i < sizeof f; i++)
        f[i] = (uint8_t)i;
    /* No prefix: version 1, body is everything. */
    cr_assert_eq(split(VL_AES256_GCM, 0, f, 40, &v, &body, &bl), VL_OK);
    cr_assert(v == 1 && body == f && bl == 40);
    cr_assert_eq(split(VL_AES256_SIV, 0, f, 16, &v, &body, &bl), VL_OK);
    cr_assert(v == 1 && body == f && bl == 16);
    /* Prefix. */
    vl_wire_put_version(f, 2);
    cr_assert_eq(split(VL_AES128_GCM, 1, f, 40, &v, &body, &bl), VL_OK);
    cr_assert(v == 2 && body == f + 5 && bl == 35);
    vl_wire_put_version(f, INT32_MAX);
    cr_assert_eq(split(VL_AES256_SIV, 1, f, 21, &v, &body, &bl), VL_OK);
    cr_assert(v == INT32_MAX && body == f + 5 && bl == 16);
    /* A prefixed field read without expecting one is just a body. */
    cr_assert_eq(split(VL_AES256_SIV, 0, f, 21, &v, &body, &bl), VL_OK);
    cr_assert(v == 1 && body == f && bl == 21);
}

Test(wire, bad_magic_and_version)
{
    uint8_t f[64] = {0};
    int32_t v;
    const uint8_t *body;
    size_t bl;
    for (int m = 1; m < 256; m++) {
        vl_wire_put_version(f, 1);
        f[0] = (uint8_t)m;
        cr_assert_eq(split(VL_AES256_GCM, 1, f, 40, &v, &body, &bl), VL_ERR_FORMAT, "magic %d",
                     m);
    }
    static const int32_t bad[] = {0, -1, INT32_MIN, -2};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vl_wire_put_version(f, bad[i]);
        cr_assert_eq(split(VL_AES256_GCM, 1, f, 40, &v, &body, &bl), VL_ERR_FORMAT,
                     "version %d", bad[i]);
        cr_assert_eq(split(VL_AES256_SIV, 1, f, 40, &v, &body, &bl), VL_ERR_FORMAT);
    }
}

Test(wire, minimum_bodies)
{
    static const struct {
        vl_alg alg;
        size_t min;
    } cases[] = {{VL_AES128_GCM, 28}, {VL_AES256_GCM, 28}, {VL_AES256_SIV, 16}};
    uint8_t *guard = vt_guard_alloc();
    for (size_t c = 0; c < 3; c++) {
        for (int versioned = 0; versioned <= 1; versioned++) {
            size_t pre = versioned ? 5 : 0;
            for (size_t n = 0; n <= cases[c].min + pre + 2; n++) {
                uint8_t *f = guard - n;
                int32_t v;
                const uint8_t *body;
                size_t bl;
                memset(f, 0, n);
                if (versioned && n >= 5)
                    vl_wire_put_version(f, 3);
                int want = n >= cases[c].min + pre ? VL_OK : VL_ERR_FORMAT;
                int rc = split(cases[c].alg, versioned, f, n, &v, &body, &bl);
                cr_assert_eq(rc, want, "%s versioned=%d, %zu bytes: %d",
                             vt_alg_name(cases[c].alg), versioned, n, rc);
                if (rc == VL_OK)
                    cr_assert(v == (versioned ? 3 : 1) && body == f + pre && bl == n - pre);
            }
        }
    }
    vt_guard_free(guard);
}

Test(wire, arguments)
{
    uint8_t f[40] = {0};
    int32_t v;
    const uint8_t *body;
    size_t bl;
    cr_assert_eq(vl_wire_field_split(VL_AES256_GCM, 0, f, 40, NULL, &body, &bl), VL_ERR_ARG);
    cr_assert_eq(vl_wire_field_split(VL_AES256_GCM, 0, f, 40, &v, NULL, &bl), VL_ERR_ARG);
    cr_assert_eq(vl_wire_field_split(VL_AES256_GCM, 0, f, 40, &v, &body, NULL), VL_ERR_ARG);
    cr_assert_eq(split(VL_AES256_GCM, 0, NULL, 40, &v, &body, &bl), VL_ERR_ARG);
    cr_assert_eq(split((vl_alg)0, 0, f, 40, &v, &body, &bl), VL_ERR_ARG);
    cr_assert_eq(split((vl_alg)9, 1, f, 40, &v, &body, &bl), VL_ERR_ARG);
    cr_assert_eq(split(VL_AES256_GCM, 0, NULL, 0, &v, &body, &bl), VL_ERR_FORMAT);
}

/* Every truncation of the real fields (csfle-spec.md §5) fails cleanly:
 * FORMAT when too short to split, AUTH from the AEAD otherwise, and never
 * any plaintext. Each truncation ends at a guard page. */
static void truncations(vl_alg alg, const char *dek_b64, const char *field_b64, int versioned)
{
    uint8_t field[128], pt[128], blob[128], proto[VL_KMS_MAX_KEY], key[64];
    size_t key_len, field_len, blob_len, proto_len;
    vl_kms *kms = NULL;
    cr_assert_eq(vl_kms_local_new(&kms, "mysecret", 8), VL_OK);
    cr_assert_eq(vl_base64_decode(blob, sizeof blob, &blob_len, dek_b64, strlen(dek_b64)), VL_OK);
    cr_assert_eq(vl_kms_unwrap(kms, "mykey", blob, blob_len, proto, sizeof proto, &proto_len),
                 VL_OK);
    cr_assert_eq(vl_tink_key_decode(alg, proto, proto_len, key, sizeof key, &key_len), VL_OK);
    vl_kms_close(kms);
    cr_assert_eq(vl_base64_decode(field, sizeof field, &field_len, field_b64, strlen(field_b64)),
                 VL_OK);
    vl_aead_key k;
    cr_assert_eq(vl_aead_init(&k, alg, key, key_len), VL_OK);
    uint8_t *guard = vt_guard_alloc();
    size_t nonce_len = alg == VL_AES256_SIV ? 0 : 12;
    for (size_t cut = 0; cut <= field_len; cut++) {
        uint8_t *f = guard - cut;
        int32_t v;
        const uint8_t *body;
        size_t bl, pt_len = 5;
        memcpy(f, field, cut);
        int rc = split(alg, versioned, f, cut, &v, &body, &bl);
        if (rc == VL_OK) {
            memset(pt, FILL, sizeof pt);
            rc = vl_aead_open(&k, pt, &pt_len, sizeof pt, body, nonce_len, body + nonce_len,
                              bl - nonce_len, NULL, 0);
            if (cut == field_len) {
                cr_assert_eq(rc, VL_OK);
                cr_assert(pt_len == 11 && memcmp(pt, "hello world", 11) == 0);
                continue;
            }
            cr_assert_eq(rc, VL_ERR_AUTH, "cut to %zu: %d", cut, rc);
            cr_assert(pt_len == 0 && vt_is_zero(pt, sizeof pt));
        } else {
            cr_assert_eq(rc, VL_ERR_FORMAT, "cut to %zu: %d", cut, rc);
        }
    }
    vt_guard_free(guard);
    vl_aead_wipe(&k);
}

Test(wire, every_truncation_of_real_fields)
{
    truncations(VL_AES256_GCM,
                "07V2ndh02DA73p+dTybwZFm7DKQSZN1tEwQh+FoX1DZL"
                "k4Yj2LLu4omYjp/84tAg3BYlkfGSz+zZacJHIE4=",
                "zgy/jFNMV/eFilaHrMyeBgdaVzrR0udGeotW8cA/Jal7ukr+M/yz", 0);
    truncations(VL_AES256_SIV,
                "YSx3DTlAHrmpoDChquJMifmPntBzxgRVdMzgYL82rgWBKn7aUSnG+WIu9ozBNS3y2vXd++mBtK07w4/W/"
                "G6w0da39X9hfOVZsGnkSvry/QRht84V8yz3dqKxGMOK5A==",
                "D6YtxrlBnkTWW9N6Vbk3IInjWH81xmYh3k4d", 0);
    truncations(VL_AES256_GCM,
                "W/v6hOQYq1idVAcs1pPWz9UUONMVZW4IrglTnG88TsWj"
                "eCjxmtRQ4VaNe/I5dCfm2zyY9Cu0nqdvqImtUk4=",
                "AAAAAAG4HI6b1nXPXqLyG8cII35NHQseqqUCd+IeLeFVAeNpSS3fxPnJ32A=", 1);
}
