/* Per-thread nonce pools; see keyring_nonce.h for the why.
 *
 * A pool is one VL_NONCE_MAP-byte anonymous mapping per thread:
 * MADV_WIPEONFORK (Linux >= 4.14) zeroes it in a forked child, so
 * |seeded| reads 0 there and the child reseeds from getrandom before its
 * first nonce. A pthread key destructor wipes and unmaps it at thread
 * exit. */
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"
#include "key.h"
#include "keyring_nonce.h"
#include "rand.h"

#define POOL_BYTES                                                                      \
    ((VL_NONCE_MAP - sizeof(struct vl_nonce_pool) - VL_AEAD_TAG_BYTES) / VL_NONCE_BYTES * \
     VL_NONCE_BYTES)

_Static_assert(sizeof(struct vl_nonce_pool) + POOL_BYTES + VL_AEAD_TAG_BYTES <= VL_NONCE_MAP,
               "nonce pool must fit its mapping");

_Thread_local struct vl_nonce_pool *vl_nonce_tls;
/* Set when this thread cannot have a wipe-on-fork pool: one getrandom
 * call per nonce. */
static _Thread_local int direct_only;

static pthread_key_t exit_key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void pool_unmap(struct vl_nonce_pool *p)
{
    vl_aead_wipe(&p->key);
    vl_memzero(p, VL_NONCE_MAP);
    munmap(p, VL_NONCE_MAP);
}

static void on_thread_exit(void *arg)
{
    vl_nonce_tls = NULL;
    pool_unmap(arg);
}

static void init_once(void)
{
    (void)pthread_key_create(&exit_key, on_thread_exit);
}

static struct vl_nonce_pool *pool_map(void)
{
    void *m = mmap(NULL, VL_NONCE_MAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
#ifdef MADV_WIPEONFORK
    if (madvise(m, VL_NONCE_MAP, MADV_WIPEONFORK) == 0) {
        pthread_once(&once, init_once);
        if (pthread_setspecific(exit_key, m) == 0)
            return m;
    }
#endif
    munmap(m, VL_NONCE_MAP);
    return NULL;
}

/* New keystream key from getrandom; a path that would make the keystream
 * slower than getrandom (portable) switches the pool to getrandom. */
static int pool_seed(struct vl_nonce_pool *p)
{
    uint8_t seed[32];
    int rc = vl_random(seed, sizeof seed);
    if (rc != VL_OK)
        return rc;
    vl_aead_wipe(&p->key);
    p->keystream = vl_aead_init(&p->key, VL_AES256_GCM, seed, sizeof seed) == VL_OK &&
                   strcmp(vl_aead_impl(&p->key), "portable") != 0;
    vl_memzero(seed, sizeof seed);
    p->refills = 0;
    p->seeded = 1;
    return VL_OK;
}

/* GCM over zeros with IV = be64(refills) || 0^32: the AES-CTR keystream
 * from a counter block no earlier refill under this key used. */
static int pool_refill(struct vl_nonce_pool *p)
{
    if (!p->seeded || p->refills >= VL_NONCE_RESEED) {
        int rc = pool_seed(p);
        if (rc != VL_OK)
            return rc;
    }
    p->pos = p->end = 0;
    if (!p->keystream) {
        int rc = vl_random(p->buf, POOL_BYTES);
        if (rc == VL_OK)
            p->end = POOL_BYTES;
        return rc;
    }
    uint8_t iv[VL_NONCE_BYTES] = {0};
    vl_store_be64(iv, p->refills++);
    memset(p->buf, 0, POOL_BYTES);
    /* The path's GCM directly, not vl_aead_seal: this key's use is bounded
     * by VL_NONCE_RESEED refills (far below its usage limits), and a
     * vl_aead_seal here would also end the thread's run of seals under its
     * DEK key, and with it the seals granted in advance (core/usage.c). */
    const struct vl_key *key = vl_key_of(&p->key);
    key->impl->gcm.seal(key->state, p->buf, p->buf + POOL_BYTES, iv, sizeof iv, p->buf,
                        POOL_BYTES, p->buf, 0);
    p->end = POOL_BYTES;
    return VL_OK;
}

int vl_nonce_refill_draw(uint8_t out[16])
{
    struct vl_nonce_pool *p = vl_nonce_tls;
    if (p == NULL && !direct_only) {
        p = pool_map();
        direct_only = p == NULL;
        vl_nonce_tls = p;
    }
    if (p == NULL)
        return vl_random(out, VL_NONCE_BYTES);
    if (p->end - p->pos < 16) {
        int rc = pool_refill(p); /* the last < 16 bytes are skipped */
        if (rc != VL_OK)
            return rc;
    }
    memcpy(out, p->buf + p->pos, 16);
    p->pos += VL_NONCE_BYTES;
    return VL_OK;
}
