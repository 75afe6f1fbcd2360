/* Standard base64, RFC 4648 §4 (alphabet A-Z a-z 0-9 + /, '=' padding),
 * as Confluent stores encryptedKeyMaterial and STRING fields
 * (csfle-spec.md §3, §4.4; Node's Buffer.toString('base64')).
 *
 * Both directions run in time that depends only on the length: every
 * 6-bit value <-> character mapping is computed with arithmetic masks over
 * the whole alphabet, never with a table indexed by the data (compare
 * BoringSSL's constant-time base64 in crypto/base64/base64.cc). The one
 * fact about the content that decoding reveals by design is the amount of
 * padding, i.e. the decoded length, which the caller receives anyway.
 *
 * Decoding is strict (RFC 4648 §3.3, §3.5): the length is a multiple of 4,
 * '=' appears only as one or two final characters, every other character
 * is in the alphabet (so whitespace, NUL and the URL-safe alphabet are
 * refused), and the unused low bits of the last character before padding
 * are zero, so every byte string has exactly one accepted encoding. */
#include "base64.h"

#include <stdint.h>

#include "internal.h"

#include "vellum/error.h"

/* All-ones when lo <= c <= hi, else 0 (c, lo, hi < 2^31). */
static inline uint32_t in_range(uint32_t c, uint32_t lo, uint32_t hi)
{
    return (((c - lo) | (hi - c)) >> 31) - 1u;
}

/* All-ones when v >= k, else 0 (v, k < 2^31, k >= 1). */
static inline uint32_t ge_mask(uint32_t v, uint32_t k)
{
    return 0u - ((k - 1u - v) >> 31);
}

/* All-ones when c == x, else 0. */
static inline uint32_t eq_mask(uint32_t c, uint32_t x)
{
    return in_range(c, x, x);
}

/* 1 when x != 0, else 0 (x < 2^31), without a comparison. */
static inline uint32_t nonzero(uint32_t x)
{
    return (x | (0u - x)) >> 31;
}

/* The character for a 6-bit value: start from 'A' + v and add, branch
 * free, the offset of each later alphabet range v has reached. */
static char enc6(uint32_t v)
{
    uint32_t c = v + 'A';
    c += ge_mask(v, 26) & (uint32_t)('a' - 26 - 'A');
    c += ge_mask(v, 52) & (uint32_t)(('0' - 52) - ('a' - 26));
    c += ge_mask(v, 62) & (uint32_t)('+' - 62 - ('0' - 52));
    c += ge_mask(v, 63) & (uint32_t)('/' - 63 - '+' + 62);
    return (char)(c & 0xff);
}

/* The 6-bit value of a character, with *bad |= 1 when it is not in the
 * alphabet (then the value is 0). Every range is tested for every c. */
static uint32_t dec6(unsigned char ch, uint32_t *bad)
{
    uint32_t c = ch, m, v = 0, ok = 0;
    m = in_range(c, 'A', 'Z');
    v |= m & (c - 'A');
    ok |= m;
    m = in_range(c, 'a', 'z');
    v |= m & (c - 'a' + 26);
    ok |= m;
    m = in_range(c, '0', '9');
    v |= m & (c - '0' + 52);
    ok |= m;
    m = eq_mask(c, '+');
    v |= m & 62;
    ok |= m;
    m = eq_mask(c, '/');
    v |= m & 63;
    ok |= m;
    *bad |= ~ok & 1u;
    return v;
}

size_t vl_base64_encoded_len(size_t len)
{
    size_t groups = len / 3 + (len % 3 != 0);
    if (groups > SIZE_MAX / 4)
        return SIZE_MAX; /* saturates: no buffer is that large */
    return groups * 4;
}

static void encode_group(char out[4], const uint8_t *in, size_t n)
{
    uint32_t w = (uint32_t)in[0] << 16;
    if (n > 1)
        w |= (uint32_t)in[1] << 8;
    if (n > 2)
        w |= in[2];
    out[0] = enc6(w >> 18);
    out[1] = enc6((w >> 12) & 63);
    out[2] = n > 1 ? enc6((w >> 6) & 63) : '=';
    out[3] = n > 2 ? enc6(w & 63) : '=';
}

int vl_base64_encode(char *out, size_t out_cap, const uint8_t *in, size_t len)
{
    size_t need = vl_base64_encoded_len(len);
    if (out == NULL || (in == NULL && len != 0) || need == SIZE_MAX || out_cap < need + 1) {
        if (out != NULL)
            vl_memzero(out, out_cap);
        return VL_ERR_ARG;
    }
    for (size_t i = 0; i < len; i += 3, out += 4)
        encode_group(out, in + i, len - i < 3 ? len - i : 3);
    *out = '\0';
    return VL_OK;
}

/* How many '=' end the text (0, 1 or 2), with the padding rules checked:
 * a '=' in the third position needs one in the fourth. The count is the
 * decoded length's only dependence on content, so it is declassified. */
static size_t pad_count(const char *last4, uint32_t *bad)
{
    uint32_t p2 = eq_mask((unsigned char)last4[2], '=') & 1u;
    uint32_t p3 = eq_mask((unsigned char)last4[3], '=') & 1u;
    uint32_t pad = p3 + (p2 & p3);
    *bad |= p2 & ~p3;
    VL_CT_DECLASSIFY(&pad, sizeof pad);
    return pad;
}

/* Decodes one group of four characters into 3 - pad bytes. A padding
 * character counts as value 0; the bits it leaves unused in the previous
 * character must be zero (RFC 4648 §3.5, canonical encoding). */
static void decode_group(uint8_t *out, const char *in, size_t pad, uint32_t *bad)
{
    uint32_t b2 = 0, b3 = 0;
    uint32_t v0 = dec6((unsigned char)in[0], bad);
    uint32_t v1 = dec6((unsigned char)in[1], bad);
    uint32_t v2 = dec6((unsigned char)in[2], pad >= 2 ? &b2 : bad);
    uint32_t v3 = dec6((unsigned char)in[3], pad >= 1 ? &b3 : bad);
    uint32_t w = v0 << 18 | v1 << 12 | v2 << 6 | v3;
    if (pad == 2)
        *bad |= nonzero(v1 & 0x0f);
    else if (pad == 1)
        *bad |= nonzero(v2 & 0x03);
    out[0] = (uint8_t)(w >> 16);
    if (pad < 2)
        out[1] = (uint8_t)(w >> 8);
    if (pad < 1)
        out[2] = (uint8_t)w;
}

static int decode_fail(uint8_t *out, size_t out_cap, size_t *out_len, int err)
{
    if (out != NULL)
        vl_memzero(out, out_cap);
    if (out_len != NULL)
        *out_len = 0;
    return err;
}

int vl_base64_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *in,
                     size_t in_len)
{
    uint32_t bad = 0;
    if (out_len == NULL || (out == NULL && out_cap != 0) || (in == NULL && in_len != 0))
        return decode_fail(out, out_cap, out_len, VL_ERR_ARG);
    *out_len = 0;
    if (in_len % 4 != 0)
        return decode_fail(out, out_cap, out_len, VL_ERR_FORMAT);
    if (in_len == 0)
        return VL_OK;
    size_t groups = in_len / 4, pad = pad_count(in + in_len - 4, &bad);
    size_t n = groups * 3 - pad;
    if (out_cap < n)
        return decode_fail(out, out_cap, out_len, VL_ERR_ARG);
    for (size_t g = 0; g < groups; g++)
        decode_group(out + 3 * g, in + 4 * g, g + 1 == groups ? pad : 0, &bad);
    VL_CT_DECLASSIFY(&bad, sizeof bad);
    if (bad != 0)
        return decode_fail(out, out_cap, out_len, VL_ERR_FORMAT);
    *out_len = n;
    return VL_OK;
}
