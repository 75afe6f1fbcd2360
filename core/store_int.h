/* Internal to the record stores (core/store*.c and the SQLite archive):
 * record validation and ordering shared by every store, so each one
 * accepts and refuses exactly the same records. Not installed. */
#ifndef VL_CORE_STORE_INT_H
#define VL_CORE_STORE_INT_H

#include <stddef.h>

#include "vellum/store.h"

/* 1 when |s| has a NUL within its first |cap| bytes (and, with
 * |nonempty|, is not ""), else 0. Never reads past s[cap - 1]. */
int vl_store_str_ok(const char *s, size_t cap, int nonempty);

/* 1 for VL_AES128_GCM, VL_AES256_GCM, VL_AES256_SIV. */
int vl_store_alg_ok(long long alg);

/* Record checks, used on put (a bad record is the caller's: VL_ERR_ARG)
 * and on every read from a medium (the stores map it to VL_ERR_FORMAT).
 * Names non-empty, every string NUL-terminated within its array, flags 0
 * or 1, alg valid, version >= 1, wrapped_len <= VL_KMS_MAX_BLOB. */
int vl_store_check_kek(const vl_kek_record *r);
int vl_store_check_dek(const vl_dek_record *r);

/* An id as a caller passes it: non-empty names that fit VL_NAME_MAX, a
 * valid alg, version >= 1, or -1 ("latest") when |allow_latest|. */
int vl_store_check_id(const vl_dek_id *id, int allow_latest);

/* 1 when |r| has the identity |id| (id->version -1 matches any version). */
int vl_store_dek_match(const vl_dek_record *r, const vl_dek_id *id);

/* qsort comparators: KEKs by name, DEKs by (kek_name, subject, alg,
 * version), bytewise, the order SQLite's BINARY collation gives too. */
int vl_store_kek_cmp(const void *a, const void *b);
int vl_store_dek_cmp(const void *a, const void *b);

/* The reserve arithmetic of vl_store_ops.reserve, in one place: given the
 * current |reserved|, the grant of |want| under |max| (0 when exhausted,
 * max <= reserved included). Never overflows. */
static inline uint64_t vl_store_grant(uint64_t reserved, uint64_t want, uint64_t max)
{
    if (max <= reserved)
        return 0;
    return want < max - reserved ? want : max - reserved;
}

#endif /* VL_CORE_STORE_INT_H */
