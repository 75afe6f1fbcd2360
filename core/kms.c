/* The KMS front ends (include/vellum/kms.h): argument and size checks, the
 * fixed error mapping, and the output zeroed on every failure, in the
 * manner of the AEAD front end (STYLE.md §4.5, §4.9).
 *
 * Decisions:
 *   - ops->size must cover every field a call uses (ESDK's vt_size), so a
 *     table built against an older, shorter vl_kms_ops is never read past
 *     its end; a missing op is VL_ERR_ARG.
 *   - The provider sees a capacity clamped to VL_KMS_MAX_BLOB (wrap) or
 *     VL_KMS_MAX_KEY (unwrap), and writes its length into a local, never
 *     into the caller's *out_len directly.
 *   - A provider that reports success with a length over that capacity, or
 *     an empty wrapped blob, is broken: VL_ERR_KMS_UNAVAILABLE, the code
 *     every other provider fault maps to (not VL_ERR_FORMAT, which names
 *     the caller's input bytes as malformed). The output is zeroed.
 *   - Wrapping an empty key is VL_ERR_ARG. An unwrap blob over
 *     VL_KMS_MAX_BLOB is untrusted input that no KMS could have produced
 *     through vl_kms_wrap: VL_ERR_FORMAT.
 *   - vl_kms_probe without a probe op: a round trip of 32 fresh random
 *     bytes; a round trip that comes back different is VL_ERR_AUTH (the
 *     KMS handed back some other key). */
#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "rand.h"

#include "vellum/kms.h"

#define PROBE_KEY_BYTES 32

/* 1 when |ops| is long enough to hold field |f| and f is set. */
#define OPS_HAS(ops, f) \
    ((ops)->size >= offsetof(vl_kms_ops, f) + sizeof((ops)->f) && (ops)->f != NULL)

static int kms_ok(const vl_kms *kms)
{
    return kms != NULL && kms->ops != NULL;
}

/* kms.h: any code outside the documented set is VL_ERR_KMS_UNAVAILABLE. */
static int map_code(int rc)
{
    switch (rc) {
    case VL_OK:
    case VL_ERR_KMS_UNAVAILABLE:
    case VL_ERR_KMS_DENIED:
    case VL_ERR_KEY_DISABLED:
    case VL_ERR_KEY_DESTROYED:
    case VL_ERR_NOT_FOUND:
    case VL_ERR_AUTH:
    case VL_ERR_ARG: return rc;
    default: return VL_ERR_KMS_UNAVAILABLE;
    }
}

static int overlap(const void *a, size_t a_len, const void *b, size_t b_len)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return a_len != 0 && b_len != 0 && x < y + b_len && y < x + a_len;
}

static int fail(uint8_t *out, size_t out_cap, int rc)
{
    if (out != NULL)
        vl_memzero(out, out_cap);
    return rc;
}

int vl_kms_wrap(vl_kms *kms, const char *kek_id, const uint8_t *key, size_t key_len,
                uint8_t *out, size_t out_cap, size_t *out_len)
{
    size_t n = 0, cap = out_cap < VL_KMS_MAX_BLOB ? out_cap : VL_KMS_MAX_BLOB;
    if (out_len != NULL)
        *out_len = 0;
    if (!kms_ok(kms) || !OPS_HAS(kms->ops, wrap) || kek_id == NULL || key == NULL ||
        key_len == 0 || key_len > VL_KMS_MAX_KEY || out == NULL || out_len == NULL ||
        overlap(key, key_len, out, out_cap))
        return fail(out, out_cap, VL_ERR_ARG);
    int rc = map_code(kms->ops->wrap(kms, kek_id, key, key_len, out, cap, &n));
    if (rc == VL_OK && (n == 0 || n > cap))
        rc = VL_ERR_KMS_UNAVAILABLE;
    if (rc != VL_OK)
        return fail(out, out_cap, rc);
    *out_len = n;
    return VL_OK;
}

int vl_kms_unwrap(vl_kms *kms, const char *kek_id, const uint8_t *blob, size_t blob_len,
                  uint8_t *out, size_t out_cap, size_t *out_len)
{
    size_t n = 0, cap = out_cap < VL_KMS_MAX_KEY ? out_cap : VL_KMS_MAX_KEY;
    if (out_len != NULL)
        *out_len = 0;
    if (!kms_ok(kms) || !OPS_HAS(kms->ops, unwrap) || kek_id == NULL ||
        (blob == NULL && blob_len != 0) || out == NULL || out_len == NULL ||
        overlap(blob, blob_len, out, out_cap))
        return fail(out, out_cap, VL_ERR_ARG);
    if (blob_len > VL_KMS_MAX_BLOB)
        return fail(out, out_cap, VL_ERR_FORMAT);
    int rc = map_code(kms->ops->unwrap(kms, kek_id, blob, blob_len, out, cap, &n));
    if (rc == VL_OK && n > cap)
        rc = VL_ERR_KMS_UNAVAILABLE;
    if (rc != VL_OK)
        return fail(out, out_cap, rc);
    *out_len = n;
    return VL_OK;
}

/* Wrap 32 fresh random bytes, unwrap them, compare in constant time. */
static int probe_round_trip(vl_kms *kms, const char *kek_id)
{
    uint8_t key[PROBE_KEY_BYTES], blob[VL_KMS_MAX_BLOB], back[VL_KMS_MAX_KEY];
    size_t blob_len = 0, back_len = 0;
    int rc = vl_random(key, sizeof key);
    if (rc == VL_OK)
        rc = vl_kms_wrap(kms, kek_id, key, sizeof key, blob, sizeof blob, &blob_len);
    if (rc == VL_OK)
        rc = vl_kms_unwrap(kms, kek_id, blob, blob_len, back, sizeof back, &back_len);
    if (rc == VL_OK) {
        int same = back_len == sizeof key && vl_ct_eq(key, back, sizeof key);
        VL_CT_DECLASSIFY(&same, sizeof same); /* the probe's verdict is public */
        rc = same ? VL_OK : VL_ERR_AUTH;
    }
    vl_memzero(key, sizeof key);
    vl_memzero(back, sizeof back);
    vl_memzero(blob, blob_len);
    return rc;
}

int vl_kms_probe(vl_kms *kms, const char *kek_id)
{
    if (!kms_ok(kms) || kek_id == NULL)
        return VL_ERR_ARG;
    if (OPS_HAS(kms->ops, probe))
        return map_code(kms->ops->probe(kms, kek_id));
    return probe_round_trip(kms, kek_id);
}

/* The provider's close releases its context and, when the provider
 * allocated it (as vl_kms_local_new does), the vl_kms itself. */
void vl_kms_close(vl_kms *kms)
{
    if (kms_ok(kms) && OPS_HAS(kms->ops, close))
        kms->ops->close(kms);
}
