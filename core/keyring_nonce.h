/* Random 12-byte GCM nonces for field encryption, fast.
 *
 * Why not vl_random (getrandom) per nonce: measured on the reference
 * machine, getrandom costs ~250 ns per call and ~2.2 ns per byte even in
 * 4 KiB requests (~27 ns per nonce), more than the 64-byte seal it feeds.
 * So each thread keys an AES-256-GCM instance from getrandom and draws
 * nonces from its keystream (GCM over zeros = AES-CTR keystream, the
 * construction of SP 800-90A's CTR_DRBG without the derivation function),
 * refilling a buffer ~400 nonces at a time and reseeding from getrandom
 * every VL_NONCE_RESEED refills. Nonces stay random to anyone without the
 * per-thread key (which never leaves the thread's page), so the random-IV
 * bound of SP 800-38D §8.2.2 (2^32 seals per DEK) still applies.
 *
 * Fork safety: the state lives in a page mapped with MADV_WIPEONFORK, so
 * a child process finds it zeroed and reseeds before its first nonce; the
 * parent's and the child's streams never coincide. Where the kernel lacks
 * MADV_WIPEONFORK, or the AEAD runs on the slow portable path (where the
 * keystream would cost more than getrandom), nonces come from getrandom:
 * buffered (portable), or one call per nonce (no wipe-on-fork: a copied
 * buffer in a child could repeat the parent's nonces).
 *
 * Not async-signal-safe. */
#ifndef VL_CORE_KEYRING_NONCE_H
#define VL_CORE_KEYRING_NONCE_H

#include <stdint.h>
#include <string.h>

#include "vellum/aead.h"

#define VL_NONCE_BYTES 12
#define VL_NONCE_RESEED 4096 /* refills per key, ~1.7 million nonces */
#define VL_NONCE_MAP 8192    /* two pages per thread */

struct vl_nonce_pool {
    vl_aead_key key; /* the per-thread keystream key */
    uint32_t pos, end; /* unread bytes are buf[pos, end) */
    uint32_t seeded;   /* 0 in a fresh page and in a child after fork */
    uint32_t keystream; /* 1: refill from the key; 0: from getrandom */
    uint64_t refills;   /* refills under the current key: the GCM IV */
    uint8_t buf[];      /* the rest of the mapping */
};

extern _Thread_local struct vl_nonce_pool *vl_nonce_tls;

/* The slow path: sets up the thread's pool or refills it. */
int vl_nonce_refill_draw(uint8_t out[16]);

/* Writes one fresh nonce to out[0..12); out[12..16) is scratch. One
 * 16-byte copy rather than 8 + 4: the GCM paths load the nonce with one
 * 16-byte (masked) load, which a single 16-byte store can forward to,
 * while two narrower stores stall it (~4 ns measured). VL_OK or
 * VL_ERR_RNG. */
static inline int vl_nonce_draw(uint8_t out[16])
{
    struct vl_nonce_pool *p = vl_nonce_tls;
    if (__builtin_expect(p != NULL && p->end - p->pos >= 16, 1)) {
        memcpy(out, p->buf + p->pos, 16);
        p->pos += VL_NONCE_BYTES;
        return VL_OK;
    }
    return vl_nonce_refill_draw(out);
}

#endif /* VL_CORE_KEYRING_NONCE_H */
