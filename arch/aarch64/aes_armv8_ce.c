/* AES key expansion (FIPS 197 §5.2) for the armv8-ce path, AES-128 and
 * AES-256.
 *
 * Requires: AT_HWCAP HWCAP_AES (vl_arm_has_ce). Built with
 * -march=armv8-a+crypto (Makefile, *_armv8_ce.c).
 *
 * ARMv8 has no key-schedule instruction; SubWord comes from AESE with a
 * zero round key on a vector holding the word in all four columns, where
 * ShiftRows moves nothing, so AESE is SubBytes alone. Constant time: AESE
 * is, and the rest is word XORs and rotates. */
#include "armv8_ce.h"

#include "internal.h"

static uint32_t sub_word(uint32_t w)
{
    uint8x16_t x = vaeseq_u8(vreinterpretq_u8_u32(vdupq_n_u32(w)), vdupq_n_u8(0));
    return vgetq_lane_u32(vreinterpretq_u32_u8(x), 0);
}

/* Words are little-endian loads of the key bytes, so byte 0 of a word is
 * its low byte: RotWord is a right rotation by 8 and Rcon goes in the low
 * byte. */
static uint32_t rot_word(uint32_t w)
{
    return (w >> 8) | (w << 24);
}

void vl_aes_arm_expand(vl_aes_arm *k, const uint8_t *key, size_t key_len)
{
    static const uint8_t rcon[10] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1b, 0x36};
    const size_t nk = key_len / 4, rounds = nk + 6, total = 4 * (rounds + 1);
    uint32_t w[60];

    memset(k, 0, sizeof *k);
    memcpy(w, key, key_len);
    for (size_t i = nk; i < total; i++) {
        uint32_t t = w[i - 1];

        if (i % nk == 0)
            t = rot_word(sub_word(t)) ^ rcon[i / nk - 1];
        else if (nk > 6 && i % nk == 4)
            t = sub_word(t);
        w[i] = w[i - nk] ^ t;
    }
    for (size_t r = 0; r <= rounds; r++)
        k->rk[r] = vreinterpretq_u8_u32(vld1q_u32(w + 4 * r));
    k->rounds = (unsigned)rounds;
    vl_memzero(w, sizeof w);
}
