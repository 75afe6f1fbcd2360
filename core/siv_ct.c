/* Portable constant-time AES-SIV, RFC 5297: S2V (§2.4) on AES-CMAC under K1
 * and CTR (§2.5) on AES under K2. Everything that depends on the key alone
 * is computed once in init. Branches depend on lengths and counts only,
 * which are public; secret stack copies are wiped before returning. */
#include <string.h>

#include "impl.h"
#include "internal.h"
#include "siv_ct.h"

_Static_assert(sizeof(vl_siv_ct) <= VL_IMPL_STATE_BYTES, "vl_siv_ct must fit the impl state");
_Static_assert(_Alignof(vl_siv_ct) <= 64, "the impl state is only 64-byte aligned");

static inline void xor_block(uint8_t x[16], const uint8_t y[16])
{
    uint64_t a[2], b[2];

    memcpy(a, x, 16);
    memcpy(b, y, 16);
    a[0] ^= b[0];
    a[1] ^= b[1];
    memcpy(x, a, 16);
}

int vl_siv_ct_init_key(vl_siv_ct *s, const uint8_t *key, size_t key_len)
{
    static const uint8_t zero[16];
    size_t half = key_len / 2;

    /* §2.6: K1 = leftmost half (S2V), K2 = rightmost half (CTR). */
    if ((key_len != 32 && key_len != 48 && key_len != 64) ||
        vl_cmac_ct_init(&s->mac, key, half) != 0 ||
        vl_aes_ct_init(&s->ctr, key + half, half) != 0) {
        vl_memzero(s, sizeof *s);
        return -1;
    }
    /* §2.4: D = AES-CMAC(K, <zero>) starts every S2V; an empty component
     * contributes AES-CMAC(K, <empty>). */
    vl_cmac_ct_mac(&s->mac, s->d0, zero, sizeof zero);
    vl_cmac_ct_mac(&s->mac, s->mac_empty, NULL, 0);
    vl_cmac_ct_dbl(s->d_empty, s->d0);
    xor_block(s->d_empty, s->mac_empty);
    return 0;
}

void vl_siv_ct_init(void *st, const uint8_t key[64])
{
    /* 64 is always accepted. */
    (void)vl_siv_ct_init_key(st, key, 64);
}

/* One step of the §2.4 loop for a component S_i before the last:
 * D = dbl(D) xor AES-CMAC(K, S_i). */
static void s2v_absorb(const vl_siv_ct *s, uint8_t d[16], const uint8_t *p, size_t len)
{
    _Alignas(16) uint8_t m[16];

    if (len == 0)
        memcpy(m, s->mac_empty, 16);
    else
        vl_cmac_ct_mac(&s->mac, m, p, len);
    vl_cmac_ct_dbl(d, d);
    xor_block(d, m);
    vl_memzero(m, sizeof m);
}

/* The end of §2.4 for the last component S_n = |pt|: V = AES-CMAC(K, T) with
 * T = S_n xorend D when len >= 16, else T = dbl(D) xor pad(S_n). */
static void s2v_last(const vl_siv_ct *s, uint8_t v[16], const uint8_t d[16], const uint8_t *pt,
                     size_t len)
{
    _Alignas(16) uint8_t x[16] = {0};
    _Alignas(16) uint8_t t[32];
    size_t tail, head;

    if (len >= 16) {
        /* xorend changes only the last 16 bytes: the whole blocks before
         * them are MACed in place, and the last one or two blocks (16 to 31
         * bytes) are copied to take D. */
        tail = 16 + (len & 15);
        vl_cmac_ct_blocks(&s->mac, x, pt, (len - tail) / 16);
        memcpy(t, pt + (len - tail), tail);
        xor_block(t + tail - 16, d);
    } else {
        /* pad(X) = X || 10^(127-|X|), XORed with dbl(D). */
        tail = 16;
        vl_cmac_ct_dbl(t, d);
        for (size_t i = 0; i < len; i++)
            t[i] ^= pt[i];
        t[len] ^= 0x80;
    }
    head = vl_cmac_ct_head(tail);
    vl_cmac_ct_blocks(&s->mac, x, t, head / 16);
    vl_cmac_ct_final(&s->mac, x, t + head, tail - head);
    memcpy(v, x, 16);
    vl_memzero(t, sizeof t);
    vl_memzero(x, sizeof x);
}

void vl_siv_ct_s2v(const void *st, uint8_t v[16], const vl_slice *ad, size_t ad_count,
                   const uint8_t *nonce, size_t nonce_len, const uint8_t *pt, size_t len)
{
    const vl_siv_ct *s = st;
    _Alignas(16) uint8_t d[16];
    size_t i = 0;

    /* The plaintext is always S_n, so n >= 1 and §2.4's n = 0 case (V =
     * CMAC(<one>)) cannot arise. Start from D0, or from the precomputed D
     * after a leading empty AD component. */
    if (ad_count > 0 && ad[0].len == 0) {
        memcpy(d, s->d_empty, 16);
        i = 1;
    } else {
        memcpy(d, s->d0, 16);
    }
    for (; i < ad_count; i++)
        s2v_absorb(s, d, ad[i].ptr, ad[i].len);
    /* §3: the nonce is the last component before the plaintext. */
    if (nonce_len > 0)
        s2v_absorb(s, d, nonce, nonce_len);
    s2v_last(s, v, d, pt, len);
    vl_memzero(d, sizeof d);
}

void vl_siv_ct_ctr(const void *st, const uint8_t v[16], uint8_t *out, const uint8_t *in,
                   size_t len)
{
    const vl_siv_ct *s = st;
    _Alignas(16) uint8_t q[16];

    if (len == 0)
        return;
    /* §2.5: Q = V bitand (1^64 || 0^1 || 1^31 || 0^1 || 1^31). Clearing
     * bits 63 and 31 lets other implementations count with 64- or 32-bit
     * additions; the increment itself is still the full 128-bit one. */
    memcpy(q, v, 16);
    q[8] &= 0x7f;
    q[12] &= 0x7f;
    vl_aes_ct_ctr128(&s->ctr, q, out, in, len);
    vl_memzero(q, sizeof q);
}
