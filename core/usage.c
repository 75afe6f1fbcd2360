/* Per-key usage accounting and the default limits.
 *
 * Default limits, all aimed at an attacker advantage of at most about 2^-57
 * per key (the target the CFRG draft "Usage Limits on AEAD Algorithms",
 * draft-irtf-cfrg-aead-limits, uses in its worked examples):
 *
 * AES-GCM (128 and 256)
 *   max_seals = 2^32: SP 800-38D §8.3, the total number of invocations with
 *     randomly generated IVs (vellum's envelope layer draws 96-bit nonces).
 *   max_bytes = 2^40 (2^36 blocks): the draft's confidentiality bound
 *     (sigma + q + 1)^2 / 2^129 with sigma <= 2^36 blocks and q <= 2^32
 *     messages gives about 2^-56.9.
 *   max_open_failures = 2^36: the draft's integrity bound 2v(l + 1) / 2^128
 *     with l <= 2^32 blocks (the longest GCM message) gives 2^-59.
 * AES-256-SIV
 *   The draft does not cover SIV. S2V is a CMAC-based PRF with a birthday
 *   bound of about sigma^2 / 2^128, sigma counting every block S2V and CTR
 *   process. max_bytes = 2^39 (2^35 blocks of data) and max_seals = 2^32
 *   (at most about 2^34 blocks of per-message overhead) keep sigma below
 *   2^35.6, about 2^-56.8. max_open_failures = 2^36 as for GCM.
 * rotate_at_seals = max_seals / 2: the should-rotate flag rises half way,
 *   so a host has the second half of the budget to roll a new key out
 *   before seals start failing (compare s2n's key_update_pending). */
#include "key.h"

#include "vellum/aead.h"

int vl_aead_default_limits(vl_alg alg, vl_limits *l)
{
    if (l == NULL)
        return VL_ERR_ARG;
    switch (alg) {
    case VL_AES128_GCM:
    case VL_AES256_GCM:
        l->max_seals = UINT64_C(1) << 32;
        l->max_bytes = UINT64_C(1) << 40;
        break;
    case VL_AES256_SIV:
        l->max_seals = UINT64_C(1) << 32;
        l->max_bytes = UINT64_C(1) << 39;
        break;
    default:
        return VL_ERR_ARG;
    }
    l->max_open_failures = UINT64_C(1) << 36;
    l->rotate_at_seals = l->max_seals / 2;
    return VL_OK;
}

static void store_limits(struct vl_key *key, const vl_limits *l)
{
    atomic_store_explicit(&key->max_seals, l->max_seals, memory_order_relaxed);
    atomic_store_explicit(&key->max_bytes, l->max_bytes, memory_order_relaxed);
    atomic_store_explicit(&key->max_open_failures, l->max_open_failures, memory_order_relaxed);
    atomic_store_explicit(&key->rotate_at_seals, l->rotate_at_seals, memory_order_relaxed);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define VL_PAIR_CAS 1

/* CMPXCHG16B exists on every x86-64 CPU but the first AMD64 parts; check,
 * once: CPUID traps to the hypervisor on VMs (about 7 us here), which would
 * dominate every vl_aead_init. A race only probes twice. */
static uint32_t cpu_has_cx16(void)
{
    static atomic_uint cached; /* 0 = unknown, else 1 + the answer */
    unsigned v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v == 0) {
        unsigned a, b, c, d;
        v = 1 + (__get_cpuid(1, &a, &b, &c, &d) ? (c >> 13) & 1 : 0);
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return v - 1;
}

/* One locked compare-and-swap of the 16-byte pair at |p| (seals, bytes):
 * half the cost of two locked adds, and the pair moves as one. */
static int cas_pair(_Atomic uint64_t *p, uint64_t *lo, uint64_t *hi, uint64_t new_lo,
                    uint64_t new_hi)
{
    unsigned char ok;
    __asm__ __volatile__("lock cmpxchg16b %1\n\tsete %0"
                         : "=q"(ok), "+m"(*(volatile __int128 *)(void *)p), "+a"(*lo), "+d"(*hi)
                         : "b"(new_lo), "c"(new_hi)
                         : "memory", "cc");
    return ok;
}
#endif

void vl_usage_reset(struct vl_key *key)
{
    vl_limits l;
    (void)vl_aead_default_limits((vl_alg)key->alg, &l);
    store_limits(key, &l);
    atomic_init(&key->seals, 0);
    atomic_init(&key->bytes_sealed, 0);
    atomic_init(&key->open_failures, 0);
#ifdef VL_PAIR_CAS
    key->pair_cas = cpu_has_cx16();
#endif
}

/* Add |n| to |*c| unless the sum would pass |max|. Returns 1 when added.
 * The compare-and-swap loop makes the check and the add one step, so N
 * threads racing for the last unit cannot all win. */
static int add_below(_Atomic uint64_t *c, uint64_t n, uint64_t max)
{
    uint64_t cur = atomic_load_explicit(c, memory_order_relaxed);
    do {
        if (n > max || cur > max - n)
            return 0;
    } while (!atomic_compare_exchange_weak_explicit(c, &cur, cur + n, memory_order_relaxed,
                                                    memory_order_relaxed));
    return 1;
}

int vl_usage_reserve_seal(struct vl_key *key, uint64_t count, uint64_t bytes)
{
    uint64_t max_seals = atomic_load_explicit(&key->max_seals, memory_order_relaxed);
    uint64_t max_bytes = atomic_load_explicit(&key->max_bytes, memory_order_relaxed);
    if (count > max_seals || bytes > max_bytes)
        return VL_ERR_LIMIT;
#ifdef VL_PAIR_CAS
    if (key->pair_cas) {
        /* The two loads may tear; the CAS then fails and reloads both. */
        uint64_t s = atomic_load_explicit(&key->seals, memory_order_relaxed);
        uint64_t b = atomic_load_explicit(&key->bytes_sealed, memory_order_relaxed);
        do {
            if (s > max_seals - count || b > max_bytes - bytes)
                return VL_ERR_LIMIT;
        } while (!cas_pair(&key->seals, &s, &b, s + count, b + bytes));
        return VL_OK;
    }
#endif
    if (!add_below(&key->seals, count, max_seals))
        return VL_ERR_LIMIT;
    if (!add_below(&key->bytes_sealed, bytes, max_bytes)) {
        /* Give the seals back: these messages do not fit the byte budget. */
        atomic_fetch_sub_explicit(&key->seals, count, memory_order_relaxed);
        return VL_ERR_LIMIT;
    }
    return VL_OK;
}

/* Failed opens are checked with a load and counted after the fact rather
 * than reserved: a reservation costs two locked operations on every
 * successful open, which is the common case. The price is that the count
 * may pass max_open_failures by the number of opens in flight when it is
 * reached (one per thread at most); the defaults (2^36) leave orders of
 * magnitude of margin for that, and every open after it is refused. */
int vl_usage_open_allowed(const struct vl_key *key)
{
    struct vl_key *k = (struct vl_key *)key;
    uint64_t max = atomic_load_explicit(&k->max_open_failures, memory_order_relaxed);
    uint64_t failures = atomic_load_explicit(&k->open_failures, memory_order_relaxed);
    return failures < max ? VL_OK : VL_ERR_LIMIT;
}

void vl_usage_count_failures(struct vl_key *key, uint64_t failed)
{
    if (failed)
        atomic_fetch_add_explicit(&key->open_failures, failed, memory_order_relaxed);
}

static int key_ok(const vl_aead_key *k)
{
    return k != NULL && vl_key_of_const(k)->magic == VL_KEY_MAGIC;
}

void vl_aead_usage(const vl_aead_key *k, vl_usage *u)
{
    if (u == NULL)
        return;
    if (!key_ok(k)) {
        *u = (vl_usage){0, 0, 0};
        return;
    }
    /* The fields are read one by one; an atomic snapshot of all three is
     * not needed for accounting and would cost a lock. */
    struct vl_key *key = vl_key_of((vl_aead_key *)k);
    u->seals = atomic_load_explicit(&key->seals, memory_order_relaxed);
    u->bytes_sealed = atomic_load_explicit(&key->bytes_sealed, memory_order_relaxed);
    u->open_failures = atomic_load_explicit(&key->open_failures, memory_order_relaxed);
}

int vl_aead_set_limits(vl_aead_key *k, const vl_limits *l)
{
    if (!key_ok(k) || l == NULL)
        return VL_ERR_ARG;
    store_limits(vl_key_of(k), l);
    return VL_OK;
}

void vl_aead_get_limits(const vl_aead_key *k, vl_limits *l)
{
    if (l == NULL)
        return;
    if (!key_ok(k)) {
        *l = (vl_limits){0, 0, 0, 0};
        return;
    }
    struct vl_key *key = vl_key_of((vl_aead_key *)k);
    l->max_seals = atomic_load_explicit(&key->max_seals, memory_order_relaxed);
    l->max_bytes = atomic_load_explicit(&key->max_bytes, memory_order_relaxed);
    l->max_open_failures = atomic_load_explicit(&key->max_open_failures, memory_order_relaxed);
    l->rotate_at_seals = atomic_load_explicit(&key->rotate_at_seals, memory_order_relaxed);
}

int vl_aead_should_rotate(const vl_aead_key *k)
{
    if (!key_ok(k))
        return 0;
    vl_limits l;
    vl_usage u;
    vl_aead_get_limits(k, &l);
    vl_aead_usage(k, &u);
    return u.seals >= l.rotate_at_seals || u.seals >= l.max_seals ||
           u.bytes_sealed >= l.max_bytes || u.open_failures >= l.max_open_failures;
}
