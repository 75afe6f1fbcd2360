/* OS randomness through getrandom(2) (Linux >= 3.17, glibc >= 2.25): no
 * file descriptor to open or lose, and it blocks only until the kernel pool
 * is first initialised. See core/rand.h. */
#include <errno.h>
#include <sys/random.h>

#include "internal.h"
#include "rand.h"

#include "vellum/error.h"

/* getrandom(2) returns at most 33554431 bytes per call and may return
 * fewer when a signal arrives; ask in bounded chunks and loop. */
#define RAND_CHUNK 65536

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
/* ======================================================================
 * !!! FUZZ BUILDS ONLY: vl_random IS NOT RANDOM HERE. !!!
 *
 * Built with -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION (only `make fuzz`
 * does that, into build/fuzz/), vl_random returns a fixed, predictable
 * stream (splitmix64 over an atomic counter), so that a fuzz input
 * replays the same way every time: the same DEKs, the same local-KMS IVs,
 * the same nonce-pool seeds (BoringSSL's FUZZING.md does the same). GCM
 * nonces repeat and every "random" key is known. A library built this way
 * must never encrypt real data: the macro's name says so, and only the
 * Makefile's fuzz rules define it.
 * ====================================================================== */
#include <stdatomic.h>

static _Atomic uint64_t fuzz_counter;

/* Restarts the fixed stream at |seed|. Declared here, not in rand.h: only
 * fuzz/ calls it (extern), at the start of an input, so that each input
 * sees the same stream however many ran before it. */
void vl_random_fuzz_reset(uint64_t seed);
void vl_random_fuzz_reset(uint64_t seed)
{
    atomic_store(&fuzz_counter, seed);
}

static uint64_t splitmix64(uint64_t x)
{
    x += UINT64_C(0x9E3779B97F4A7C15);
    x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

int vl_random(void *buf, size_t len)
{
    uint8_t *p = buf;
    if (p == NULL && len != 0)
        return VL_ERR_ARG;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = splitmix64(atomic_fetch_add(&fuzz_counter, 1));
        size_t n = len - i < 8 ? len - i : 8;
        for (size_t j = 0; j < n; j++)
            p[i + j] = (uint8_t)(v >> (8 * j));
    }
    return VL_OK;
}
#else /* the real one */
#ifdef VL_CT_VALIDATION
/* Constant-time validation (tests/ct_check.c, under valgrind): while the
 * test sets vl_ct_random_secret, every byte vl_random hands out is marked
 * secret, so the keys the library makes for itself (a keyring's DEKs) are
 * checked like the keys a caller passes in. Declared here, not in rand.h:
 * only that test sets it. */
extern int vl_ct_random_secret;
int vl_ct_random_secret;
#endif

int vl_random(void *buf, size_t len)
{
    uint8_t *p = buf;
    size_t done = 0;
    if (p == NULL && len != 0)
        return VL_ERR_ARG;
    while (done < len) {
        size_t want = len - done < RAND_CHUNK ? len - done : RAND_CHUNK;
        ssize_t got = getrandom(p + done, want, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            /* Never hand back a half-filled buffer. */
            vl_memzero(p, len);
            return VL_ERR_RNG;
        }
        done += (size_t)got;
    }
#ifdef VL_CT_VALIDATION
    if (vl_ct_random_secret)
        VL_CT_SECRET(p, len);
#endif
    return VL_OK;
}
#endif /* FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION */
