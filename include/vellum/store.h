/* vellum: where KEK and DEK records live. The keyring keeps no key
 * material of its own on disk: a store holds the records (a DEK only in
 * wrapped form) and the durable usage reservations of each DEK version.
 *
 * Built in: an in-memory store (core/, for tests and single processes) and
 * the SQLite store (its own archive, build/libvellum-sqlite.a, so the core
 * library stays libc-only): WAL mode, reservations in BEGIN IMMEDIATE
 * transactions, so several processes share one file safely.
 *
 * Records read back from a store are untrusted input: every field is
 * bounds-checked and a malformed record is VL_ERR_FORMAT. */
#ifndef VELLUM_STORE_H
#define VELLUM_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "vellum/aead.h"
#include "vellum/kms.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VL_NAME_MAX 256      /* KEK names, subjects (with the NUL) */
#define VL_KMS_TYPE_MAX 64
#define VL_KMS_KEY_ID_MAX 1024
#define VL_KMS_PROPS_MAX 2048 /* kmsProps as the registry's JSON object text */
#define VL_DOC_MAX 1024

typedef struct vl_kek_record {
    char name[VL_NAME_MAX];
    char kms_type[VL_KMS_TYPE_MAX];     /* "local-kms", "pkcs11", "kmip", "aws-kms", ... */
    char kms_key_id[VL_KMS_KEY_ID_MAX];
    char kms_props[VL_KMS_PROPS_MAX];   /* "" or a JSON object */
    char doc[VL_DOC_MAX];
    int shared;   /* the registry may call the KMS itself (Confluent "shared") */
    int deleted;  /* soft-deleted */
    int64_t ts_ms;
} vl_kek_record;

typedef struct vl_dek_record {
    char kek_name[VL_NAME_MAX];
    char subject[VL_NAME_MAX];
    vl_alg alg;
    int32_t version; /* >= 1 */
    uint8_t wrapped[VL_KMS_MAX_BLOB];
    size_t wrapped_len;
    int64_t ts_ms;   /* creation time, milliseconds since the epoch */
    int deleted;     /* soft-deleted */
    /* Seals of this version reserved so far, by every process ever (the
     * durable high-water mark; only vl_store_ops.reserve raises it). */
    uint64_t reserved_seals;
} vl_dek_record;

/* Identity of one DEK version; version -1 in a lookup means "latest". */
typedef struct vl_dek_id {
    const char *kek_name;
    const char *subject;
    vl_alg alg;
    int32_t version;
} vl_dek_id;

typedef struct vl_store vl_store;

/* Every function returns VL_OK or a VL_ERR_* code: VL_ERR_NOT_FOUND for a
 * missing record, VL_ERR_EXISTS when a create finds one, VL_ERR_IO for the
 * medium. Lookups see soft-deleted records too (the caller decides). */
typedef struct vl_store_ops {
    size_t size;
    const char *name;
    /* Insert (|create| = 1: VL_ERR_EXISTS if the name is taken) or update. */
    int (*put_kek)(vl_store *s, const vl_kek_record *r, int create);
    int (*get_kek)(vl_store *s, const char *name, vl_kek_record *out);
    /* Calls |fn| for each KEK until it returns non-zero (which is returned). */
    int (*each_kek)(vl_store *s, int (*fn)(void *arg, const vl_kek_record *r), void *arg);
    int (*delete_kek)(vl_store *s, const char *name);
    /* Insert (|create| = 1: VL_ERR_EXISTS if that version exists: how two
     * processes racing to rotate agree on exactly one new version) or
     * update; an update never lowers reserved_seals. */
    int (*put_dek)(vl_store *s, const vl_dek_record *r, int create);
    /* id->version -1: the highest version (deleted or not). */
    int (*get_dek)(vl_store *s, const vl_dek_id *id, vl_dek_record *out);
    /* Every version of every DEK under |kek_name| (NULL: all KEKs). */
    int (*each_dek)(vl_store *s, const char *kek_name,
                    int (*fn)(void *arg, const vl_dek_record *r), void *arg);
    int (*delete_dek)(vl_store *s, const vl_dek_id *id);
    /* Atomically and durably: *start = reserved_seals; *granted =
     * min(want, max - start) (0 when exhausted); reserved_seals += *granted.
     * Durable before it returns, so no crash can hand out a range twice. */
    int (*reserve)(vl_store *s, const vl_dek_id *id, uint64_t want, uint64_t max,
                   uint64_t *start, uint64_t *granted);
    void (*close)(vl_store *s);
} vl_store_ops;

struct vl_store {
    const vl_store_ops *ops;
    void *ctx;
};

/* The in-memory store (thread-safe; nothing survives the process). */
int vl_store_mem_new(vl_store **out);
/* Closes and frees |s| (NULL is a no-op). */
void vl_store_close(vl_store *s);

/* The SQLite store, in build/libvellum-sqlite.a (link with -lsqlite3):
 * opens or creates |path|. */
int vl_store_sqlite_open(vl_store **out, const char *path);

#ifdef __cplusplus
}
#endif

#endif /* VELLUM_STORE_H */
