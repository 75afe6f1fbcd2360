/* base64: the strict, constant-time RFC 4648 base64 of core/base64.c, in
 * which Confluent stores encryptedKeyMaterial, keyMaterial and STRING
 * fields. Oracle: OpenSSL's EVP_DecodeBlock, plus the rules the decoder
 * documents (length a multiple of 4, '=' only as the last one or two
 * characters, canonical: unused bits zero), which EVP_DecodeBlock does not
 * enforce (it skips blanks and ignores unused bits); so:
 *   - decode(text) succeeds exactly when the text meets those rules and
 *     EVP_DecodeBlock decodes it, and then to the same bytes;
 *   - a successful decode re-encodes to the very same text;
 *   - encode(bytes) decodes back to the bytes, and equals
 *     EVP_EncodeBlock's text;
 *   - a refusal zeroes the output, and a too-small output is VL_ERR_ARG.
 *
 * Input: u8 flags | text (the rest). flags bit 0: output one byte short;
 * the text is also used as the bytes to encode. */
#include <openssl/evp.h>
#include <string.h>

#include "base64.h"
#include "fuzz.h"

static int in_alphabet(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

static int val(unsigned char c)
{
    return c >= 'A' && c <= 'Z'   ? c - 'A'
           : c >= 'a' && c <= 'z' ? c - 'a' + 26
           : c >= '0' && c <= '9' ? c - '0' + 52
           : c == '+'             ? 62
                                  : 63;
}

/* The strict rules, without decoding. */
static int strict_ok(const uint8_t *t, size_t n)
{
    if (n % 4 != 0)
        return 0;
    if (n == 0)
        return 1;
    size_t pad = t[n - 1] == '=' ? (t[n - 2] == '=' ? 2 : 1) : 0;
    for (size_t i = 0; i < n - pad; i++)
        if (!in_alphabet(t[i]))
            return 0;
    if (pad == 2 && (val(t[n - 3]) & 0x0f) != 0)
        return 0;
    if (pad == 1 && (val(t[n - 2]) & 0x03) != 0)
        return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz f = {data, size};
    unsigned flags = fz_u8(&f);
    size_t n;
    uint8_t *text = fz_dup(fz_take(&f, f.n, &n), n);
    size_t need = n / 4 * 3, cap = need, out_len = 777;
    int strict = strict_ok(text, n);
    size_t pad = strict && n > 0 ? (text[n - 1] == '=') + (text[n - 2] == '=') : 0;
    size_t want_len = need - pad;
    if ((flags & 1) && want_len > 0)
        cap = want_len - 1;
    uint8_t *out = fz_alloc(cap, 0xa5);
    int rc = vl_base64_decode(out, cap, &out_len, (const char *)text, n);
    if (!strict) {
        /* The capacity is checked before the content: a short buffer may
         * be VL_ERR_ARG first. */
        FZ_CHECK(rc == VL_ERR_FORMAT || (rc == VL_ERR_ARG && (flags & 1)),
                 "decode took a non-strict text (%d): %.80s", rc, text);
    } else if (cap < want_len) {
        FZ_CHECK(rc == VL_ERR_ARG, "decode into a short buffer: %d", rc);
    } else {
        FZ_CHECK(rc == VL_OK && out_len == want_len, "decode refused a strict text: %d", rc);
        uint8_t *ref = fz_alloc(need + 1, 0);
        int m = n ? EVP_DecodeBlock(ref, text, (int)n) : 0;
        FZ_CHECK(m == (int)need && memcmp(ref, out, want_len) == 0, "OpenSSL decodes otherwise");
        char *back = (char *)fz_alloc(n + 1, 0xa5);
        FZ_CHECK(vl_base64_encode(back, n + 1, out, out_len) == VL_OK &&
                     memcmp(back, text, n) == 0 && back[n] == '\0',
                 "decode then encode is not the same text");
        free(back);
        free(ref);
    }
    if (rc != VL_OK)
        FZ_CHECK(out_len == 0 && fz_is_zero(out, cap), "refused, output not zeroed");
    free(out);

    /* The text as bytes: encode, compare with OpenSSL, decode back. */
    size_t elen = vl_base64_encoded_len(n);
    char *enc = (char *)fz_alloc(elen + 1, 0xa5);
    uint8_t *ref = fz_alloc(elen + 1, 0);
    FZ_CHECK(vl_base64_encode(enc, elen + 1, text, n) == VL_OK, "encode");
    FZ_CHECK(EVP_EncodeBlock(ref, text, (int)n) == (int)elen && memcmp(ref, enc, elen + 1) == 0,
             "encode differs from OpenSSL");
    FZ_CHECK(vl_base64_encode(enc, elen, text, n) == VL_ERR_ARG && fz_is_zero((uint8_t *)enc, elen),
             "encode into a short buffer");
    vl_base64_encode(enc, elen + 1, text, n);
    uint8_t *dec = fz_alloc(n, 0xa5);
    FZ_CHECK(vl_base64_decode(dec, n, &out_len, enc, elen) == VL_OK && out_len == n &&
                 memcmp(dec, text, n) == 0,
             "encode then decode is not the same bytes");
    free(dec);
    free(enc);
    free(ref);
    free(text);
    return 0;
}
