/* Path selection: the list of compiled-in paths, and the process-wide
 * choice made once from the CPU and the VELLUM_IMPL override. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "impl.h"

/* Most preferred first; only the target architecture's paths are built. */
static const struct vl_impl *const impls[] = {
#if defined(__x86_64__)
    &vl_impl_vaes_avx512,
    &vl_impl_vaes_avx2,
    &vl_impl_aesni,
#endif
#if defined(__aarch64__)
    &vl_impl_armv8_ce,
#endif
    &vl_impl_portable,
};

const struct vl_impl *const *vl_impl_list(size_t *count)
{
    *count = sizeof(impls) / sizeof(impls[0]);
    return impls;
}

const struct vl_impl *vl_impl_find(const char *name)
{
    for (size_t i = 0; i < sizeof(impls) / sizeof(impls[0]); i++)
        if (strcmp(impls[i]->name, name) == 0)
            return impls[i];
    return NULL;
}

static const struct vl_impl *choose(void)
{
    const char *forced = getenv("VELLUM_IMPL");
    if (forced != NULL && forced[0] != '\0') {
        /* Never fall back silently: an unknown or unrunnable name is an
         * error at every vl_aead_init. */
        const struct vl_impl *impl = vl_impl_find(forced);
        return (impl != NULL && impl->supported()) ? impl : NULL;
    }
    for (size_t i = 0; i < sizeof(impls) / sizeof(impls[0]); i++)
        if (impls[i]->supported())
            return impls[i];
    return NULL;
}

/* 0 = not decided yet, 1 = decided (chosen_impl may be NULL: unsupported). */
static atomic_int decided;
static _Atomic(const struct vl_impl *) chosen_impl;

/* The probe is pure, so threads racing here compute the same answer and
 * the last store wins harmlessly; no lock or call_once needed. */
const struct vl_impl *vl_impl_default(void)
{
    if (!atomic_load_explicit(&decided, memory_order_acquire)) {
        atomic_store_explicit(&chosen_impl, choose(), memory_order_relaxed);
        atomic_store_explicit(&decided, 1, memory_order_release);
    }
    return atomic_load_explicit(&chosen_impl, memory_order_relaxed);
}
