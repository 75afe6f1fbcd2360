/* Shared helpers for the libFuzzer targets in fuzz/ (see fuzz/README.md).
 *
 * Every target is one LLVMFuzzerTestOneInput, built by `make fuzz` with
 * clang -fsanitize=fuzzer,address,undefined against a library built with
 * -fsanitize=address,undefined,fuzzer-no-link and
 * -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION (deterministic vl_random,
 * core/rand.c). A broken invariant calls FZ_CHECK, which prints what and
 * where and aborts: libFuzzer saves the input as a crash artifact.
 *
 * Inputs are read front to back through a cursor that never fails: a
 * field the input is too short for reads as zeros (fixed-size fields) or
 * as short as what is left (variable ones), so every byte string is a
 * valid input and the fuzzer never wastes time on refused ones. */
#ifndef VL_FUZZ_H
#define VL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "impl.h"
#include "vellum.h"

#define FZ_CHECK(cond, ...)                                                      \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
            abort();                                                             \
        }                                                                        \
    } while (0)

/* ---- the input cursor ----------------------------------------------------- */

typedef struct fz {
    const uint8_t *p;
    size_t n; /* bytes left */
} fz;

static inline uint8_t fz_u8(fz *f)
{
    if (f->n == 0)
        return 0;
    f->n--;
    return *f->p++;
}

static inline uint16_t fz_u16(fz *f)
{
    uint16_t lo = fz_u8(f);
    return (uint16_t)(lo | (uint16_t)fz_u8(f) << 8);
}

static inline uint32_t fz_u32(fz *f)
{
    uint32_t lo = fz_u16(f);
    return lo | (uint32_t)fz_u16(f) << 16;
}

/* Up to |want| bytes; *got is how many there were. Never NULL. */
static inline const uint8_t *fz_take(fz *f, size_t want, size_t *got)
{
    static const uint8_t none[1];
    const uint8_t *p = f->n ? f->p : none;
    *got = want < f->n ? want : f->n;
    f->p += *got;
    f->n -= *got;
    return p;
}

/* Exactly |len| bytes into |dst|, zero-filled past the end of the input. */
void fz_fill(fz *f, uint8_t *dst, size_t len);

/* ---- buffers ASan can police ---------------------------------------------- */

/* A heap copy of exactly |len| bytes (a non-NULL, zero-size block for 0),
 * so that any read or write past the end is an ASan report. */
uint8_t *fz_dup(const uint8_t *p, size_t len);
/* A heap block of exactly |len| bytes filled with |fill|. */
uint8_t *fz_alloc(size_t len, uint8_t fill);
/* 1 when all |n| bytes are zero. */
int fz_is_zero(const uint8_t *p, size_t n);
/* "0a1b..." of at most 64 bytes, for failure messages (static buffer). */
const char *fz_hex(const uint8_t *p, size_t n);

/* ---- paths ---------------------------------------------------------------- */

/* The paths this CPU runs (vl_impl_list, supported() == 1); cached. */
size_t fz_paths(const struct vl_impl *const **out);
const struct vl_impl *fz_portable(void);
size_t fz_key_len(vl_alg alg);
/* Byte -> VL_AES128_GCM, VL_AES256_GCM or VL_AES256_SIV. */
static inline vl_alg fz_alg(uint8_t b)
{
    return (vl_alg)(b % 3 + 1);
}

/* ---- determinism ---------------------------------------------------------- */

/* core/rand.c, fuzz builds only: restart vl_random's fixed stream. */
void vl_random_fuzz_reset(uint64_t seed);

/* ---- a keyring for the envelope targets ----------------------------------- */

/* A keyring on the in-memory store and a local KMS (secret "mysecret",
 * Confluent's test fixture), KEK FZ_KEK (local-kms), versioned or not.
 * fz_keyring_setup creates, for every algorithm, versions 1..FZ_VERSIONS
 * of subject FZ_SUBJECT by rotating (versioned) or version 1 (plain). The
 * same calls in the same order give the same DEKs in every fuzz-mode
 * process (the random stream is reset first), so seed files written by
 * fuzz/gen_seeds.c stay valid for the targets. */
#define FZ_KEK "kek1"
#define FZ_SUBJECT "topic1-value"
#define FZ_VERSIONS 3

struct fz_keyring {
    vl_store *store;
    vl_kms *kms;
    vl_keyring *kr;
    int versioned;
};

/* Aborts on failure: a fixture that cannot be built is a bug. */
void fz_keyring_setup(struct fz_keyring *k, int versioned);
void fz_keyring_free(struct fz_keyring *k);

/* ---- seed files ----------------------------------------------------------- */

/* Writes |len| bytes to <dir>/<name> (dir created). Aborts on I/O errors. */
void fz_write_seed(const char *dir, const char *name, const uint8_t *p, size_t len);

#endif /* VL_FUZZ_H */
