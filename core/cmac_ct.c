/* Portable constant-time AES-CMAC, NIST SP 800-38B (RFC 4493).
 *
 * CMAC is a serial CBC-MAC chain: each block waits for the previous AES
 * call, so the cost is one single-block vl_aes_ct_encrypt per block. The
 * loop around it does a 16-byte XOR straight from the caller's buffer and
 * nothing else; only the last block is copied (to pad it). Every branch
 * depends on lengths alone. */
#include <string.h>

#include "cmac_ct.h"
#include "internal.h"

/* x ^= y over one block, as two 64-bit words (memcpy: no alignment or
 * aliasing assumption on the caller's buffer). */
static inline void xor_block(uint8_t x[16], const uint8_t y[16])
{
    uint64_t a[2], b[2];

    memcpy(a, x, 16);
    memcpy(b, y, 16);
    a[0] ^= b[0];
    a[1] ^= b[1];
    memcpy(x, a, 16);
}

void vl_cmac_ct_dbl(uint8_t out[16], const uint8_t in[16])
{
    uint64_t hi = vl_load_be64(in), lo = vl_load_be64(in + 8);
    /* All ones when the bit shifted out is set: then reduce by R_128 = 0^120
     * 10000111 (SP 800-38B §5.3, §6.1), selected by mask, not by branch. */
    uint64_t mask = (uint64_t)0 - (hi >> 63);

    hi = (hi << 1) | (lo >> 63);
    lo = (lo << 1) ^ (mask & 0x87);
    vl_store_be64(out, hi);
    vl_store_be64(out + 8, lo);
}

int vl_cmac_ct_init(vl_cmac_ct *c, const uint8_t *key, size_t key_len)
{
    _Alignas(16) uint8_t l[16] = {0};

    if ((key_len != 16 && key_len != 24 && key_len != 32) ||
        vl_aes_ct_init(&c->aes, key, key_len) != 0) {
        vl_memzero(c, sizeof *c);
        return -1;
    }
    /* SP 800-38B §6.1: L = CIPH_K(0^128), K1 = dbl(L), K2 = dbl(K1). */
    vl_aes_ct_encrypt(&c->aes, l, l, 1);
    vl_cmac_ct_dbl(c->k1, l);
    vl_cmac_ct_dbl(c->k2, c->k1);
    vl_memzero(l, sizeof l);
    return 0;
}

void vl_cmac_ct_blocks(const vl_cmac_ct *c, uint8_t x[16], const uint8_t *in, size_t nblocks)
{
    /* §6.2 step 6: C_i = CIPH_K(C_{i-1} ^ M_i), in place in |x|. */
    for (; nblocks > 0; nblocks--, in += 16) {
        xor_block(x, in);
        vl_aes_ct_encrypt(&c->aes, x, x, 1);
    }
}

void vl_cmac_ct_final(const vl_cmac_ct *c, uint8_t x[16], const uint8_t *last, size_t last_len)
{
    _Alignas(16) uint8_t m[16] = {0};

    if (last_len == 16) {
        /* §6.2 step 4: a whole last block, M_n = K1 ^ M_n*. */
        xor_block(x, last);
        xor_block(x, c->k1);
    } else {
        /* A partial (or empty) one: M_n = K2 ^ (M_n* || 10^j). */
        if (last_len > 0)
            memcpy(m, last, last_len);
        m[last_len] = 0x80;
        xor_block(x, m);
        xor_block(x, c->k2);
        vl_memzero(m, sizeof m);
    }
    vl_aes_ct_encrypt(&c->aes, x, x, 1);
}

void vl_cmac_ct_mac(const vl_cmac_ct *c, uint8_t tag[16], const uint8_t *msg, size_t len)
{
    _Alignas(16) uint8_t x[16] = {0};
    size_t head = vl_cmac_ct_head(len);

    vl_cmac_ct_blocks(c, x, msg, head / 16);
    /* |msg| may be NULL when len == 0: no arithmetic on it then. */
    vl_cmac_ct_final(c, x, len > 0 ? msg + head : msg, len - head);
    memcpy(tag, x, 16);
    vl_memzero(x, sizeof x);
}
