/* AES-NI key expansion (FIPS 197 §5.2), for AES-128 and AES-256.
 * Requires AES-NI (built with the aesni flags, see Makefile); only called
 * after vl_x86_has_aesni(). */
#include <string.h>

#include "aes_x86.h"

/* w[i] = w[i-Nk] xor f(w[i-1]) for the four words of a round key at once:
 * the shifts fold the running xor, the assist word brings SubWord/RotWord. */
static __m128i fold(__m128i prev, __m128i assist)
{
    prev = _mm_xor_si128(prev, _mm_slli_si128(prev, 4));
    prev = _mm_xor_si128(prev, _mm_slli_si128(prev, 4));
    prev = _mm_xor_si128(prev, _mm_slli_si128(prev, 4));
    return _mm_xor_si128(prev, assist);
}

#define NEXT128(i, rcon)                                                                   \
    k->rk[i] = fold(k->rk[(i) - 1],                                                        \
                    _mm_shuffle_epi32(_mm_aeskeygenassist_si128(k->rk[(i) - 1], rcon), 0xff))

static void expand128(vl_aes_x86 *k, const uint8_t *key)
{
    k->rk[0] = _mm_loadu_si128((const __m128i *)key);
    NEXT128(1, 0x01); NEXT128(2, 0x02); NEXT128(3, 0x04); NEXT128(4, 0x08);
    NEXT128(5, 0x10); NEXT128(6, 0x20); NEXT128(7, 0x40); NEXT128(8, 0x80);
    NEXT128(9, 0x1b); NEXT128(10, 0x36);
    k->rounds = 10;
}

/* AES-256 alternates RotWord+SubWord+Rcon (even) with SubWord only (odd). */
#define EVEN256(i, rcon)                                                                   \
    k->rk[i] = fold(k->rk[(i) - 2],                                                        \
                    _mm_shuffle_epi32(_mm_aeskeygenassist_si128(k->rk[(i) - 1], rcon), 0xff))
#define ODD256(i)                                                                          \
    k->rk[i] = fold(k->rk[(i) - 2],                                                        \
                    _mm_shuffle_epi32(_mm_aeskeygenassist_si128(k->rk[(i) - 1], 0), 0xaa))

static void expand256(vl_aes_x86 *k, const uint8_t *key)
{
    k->rk[0] = _mm_loadu_si128((const __m128i *)key);
    k->rk[1] = _mm_loadu_si128((const __m128i *)(key + 16));
    EVEN256(2, 0x01); ODD256(3); EVEN256(4, 0x02); ODD256(5); EVEN256(6, 0x04); ODD256(7);
    EVEN256(8, 0x08); ODD256(9); EVEN256(10, 0x10); ODD256(11); EVEN256(12, 0x20);
    ODD256(13); EVEN256(14, 0x40);
    k->rounds = 14;
}

void vl_aes_x86_expand(vl_aes_x86 *k, const uint8_t *key, size_t key_len)
{
    memset(k, 0, sizeof *k);
    if (key_len == 16)
        expand128(k, key);
    else
        expand256(k, key);
}
