/* The per-path function table behind the AEAD front end (core/aead.c).
 *
 * Each path (core/impl_portable.c, arch/x86_64/impl_*.c, arch/aarch64/...)
 * exports one const struct vl_impl. The front end validates every argument,
 * reserves usage, and only then calls these functions, which therefore
 * cannot fail. They never allocate. |st| is the path's own state, stored
 * inside the caller's vl_aead_key, 64-byte aligned, at most
 * VL_IMPL_STATE_BYTES; the front end zeroizes it on wipe. */
#ifndef VL_CORE_IMPL_H
#define VL_CORE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "vellum/aead.h"

/* The key's first 128 + 512 bytes are the front end's (core/key.h). */
#define VL_IMPL_STATE_BYTES (VL_AEAD_KEY_BYTES - 128 - 512)

struct vl_gcm_ops {
    /* key_len is 16 or 32. */
    void (*init)(void *st, const uint8_t *key, size_t key_len);
    /* out = CTR(in), tag = full 16-byte GCM tag. out == in allowed. */
    void (*seal)(const void *st, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                 size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                 size_t ad_len);
    /* out = CTR(in) (the plaintext), tag = the tag computed over |in|; the
     * caller compares it in constant time. out == in allowed. */
    void (*open)(const void *st, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                 size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                 size_t ad_len);
};

/* One message of a multi-buffer S2V (see vl_siv_ops.s2v_batch). */
struct vl_s2v_job {
    const vl_slice *ad;
    size_t ad_count;
    const uint8_t *nonce;
    size_t nonce_len;
    const uint8_t *pt;
    size_t len;
};

/* One message of a multi-message CTR (see vl_siv_ops.ctr_batch). */
struct vl_ctr_job {
    const uint8_t *in;
    uint8_t *out; /* == in, or apart from it */
    size_t len;
    uint8_t *tag; /* seal: where V goes (16 bytes, apart from in and out); open: NULL */
};

struct vl_siv_ops {
    /* key is 64 bytes: K1 (S2V/CMAC) then K2 (CTR), RFC 5297 §2.6. */
    void (*init)(void *st, const uint8_t key[64]);
    /* RFC 5297 §2.4 S2V over ad[0..ad_count), then the nonce when
     * nonce_len > 0, then the plaintext (always last). */
    void (*s2v)(const void *st, uint8_t v[16], const vl_slice *ad, size_t ad_count,
                const uint8_t *nonce, size_t nonce_len, const uint8_t *pt, size_t len);
    /* RFC 5297 §2.5 CTR: Q = V with bits 31 and 63 cleared, out = in XOR
     * AES-CTR(K2, Q). out == in allowed. */
    void (*ctr)(const void *st, const uint8_t v[16], uint8_t *out, const uint8_t *in,
                size_t len);
    /* Optional (NULL: the front end calls s2v per message). v[i] = S2V of
     * jobs[i], exactly as s2v would compute it, for i < n; the CMAC chains
     * of many messages are interleaved (multi-buffer), since one chain is
     * bound by AES latency. */
    void (*s2v_batch)(const void *st, uint8_t (*v)[16], const struct vl_s2v_job *jobs,
                      size_t n);
    /* Optional (NULL: the front end calls ctr per message and copies V to
     * the tag). For i < n, exactly ctr(st, v[i], jobs[i].out, jobs[i].in,
     * jobs[i].len), then v[i] copied to jobs[i].tag when it is set; the
     * counter blocks of several short messages share the registers in
     * flight. The jobs' buffers do not overlap one another (the batch
     * contract, vellum/aead.h). */
    void (*ctr_batch)(const void *st, const uint8_t (*v)[16], const struct vl_ctr_job *jobs,
                      size_t n);
    /* Optional (NULL: s2v_batch and the CTR above). Field encryption of
     * short messages, S2V and CTR in one pass with no staging per message:
     * for i < n, message m = msgs[idx[i]] has passed the front end's checks
     * and has nonce_len == 0, ad_len == 0 (one empty AD component, so D is
     * the key's precomputed one) and a body of at most VL_SIV_FIELD_MAX
     * bytes. field_seal writes m->out = V || C with V = S2V(<empty>, P),
     * C = CTR(V, P) for P = m->in (in place when m->out + 16 == m->in).
     * field_open writes m->out = P = CTR(T, C) for T = m->in[0..16) and
     * C = m->in + 16 (in place when m->out == C; m->out may be NULL for an
     * empty body), and v[idx[i]] = S2V(<empty>, P) for the front end to
     * compare with T. Buffers of different messages do not overlap. */
    void (*field_seal)(const void *st, const vl_aead_msg *msgs, const size_t *idx, size_t n);
    void (*field_open)(const void *st, const vl_aead_msg *msgs, const size_t *idx, size_t n,
                       uint8_t (*v)[16]);
};

/* The longest body field_seal and field_open take: one zmm. */
#define VL_SIV_FIELD_MAX 64

struct vl_impl {
    const char *name;
    int (*supported)(void); /* 1 when this CPU can run the path */
    struct vl_gcm_ops gcm;
    struct vl_siv_ops siv;
};

extern const struct vl_impl vl_impl_portable;
#if defined(__x86_64__)
extern const struct vl_impl vl_impl_aesni, vl_impl_vaes_avx2, vl_impl_vaes_avx512;
#endif
#if defined(__aarch64__)
extern const struct vl_impl vl_impl_armv8_ce;
#endif

/* Paths in order of preference; the first supported one is the default. */
const struct vl_impl *const *vl_impl_list(size_t *count);
/* The path for a name, or NULL when the name is unknown. */
const struct vl_impl *vl_impl_find(const char *name);

/* The process-wide path: VELLUM_IMPL if set (NULL when it names a path
 * this build or CPU cannot run), else the first supported path. */
const struct vl_impl *vl_impl_default(void);

/* For tests and benchmarks: like vl_aead_init, but on |impl| (which must be
 * supported, else VL_ERR_UNSUPPORTED), ignoring VELLUM_IMPL. */
int vl_aead_init_impl(vl_aead_key *k, vl_alg alg, const uint8_t *key, size_t key_len,
                      const struct vl_impl *impl);
/* The path's state inside an initialised key (tests call the ops directly). */
const void *vl_aead_state(const vl_aead_key *k);

#endif /* VL_CORE_IMPL_H */
