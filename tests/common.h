/* Shared helpers for the Criterion suites in tests/: hex, the list of CPU
 * paths every test loops over, key setup pinned to one path, vector files,
 * a seeded PRNG, guard pages, and OpenSSL EVP oracles for GCM and SIV.
 *
 * Paths: every entry of vl_impl_list() whose supported() is 1, or, when the
 * environment variable VELLUM_IMPL is set (and non-empty, as core/dispatch.c
 * reads it), only that path, which must then exist and be supported.
 * Vector files are read from $VL_VECTORS, default "../shared/vectors"
 * (relative to the repository root, where `make check` runs the tests). */
#ifndef VT_COMMON_H
#define VT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "impl.h"
#include "vellum/aead.h"

#define VT_MAX_PATHS 16

/* ---- hex ---------------------------------------------------------------- */

/* vt_unhex decodes |hex| (even length, upper or lower case) into a fresh
 * heap buffer of at least one byte (so an empty field is a valid non-NULL
 * pointer with length 0). Fails the test on malformed hex. Free with free(). */
uint8_t *vt_unhex(const char *hex, size_t *len);
/* Same, for a JSON string member of |obj|; fails the test if it is absent. */
uint8_t *vt_json_hex(const json_t *obj, const char *field, size_t *len);
/* Lower-case hex of |len| bytes into a static-per-call heap string (for
 * failure messages). Free with free(). */
char *vt_hex(const uint8_t *p, size_t len);

/* ---- paths and keys ------------------------------------------------------ */

/* vt_paths fills |out| with the paths to test (see above) and returns how
 * many; fails the test if there are none. */
size_t vt_paths(const struct vl_impl *out[VT_MAX_PATHS]);
/* vt_path_names returns "portable,aesni,..." for log lines (static buffer). */
const char *vt_path_names(void);

/* The key length vl_aead_init wants for |alg|. */
size_t vt_key_len(vl_alg alg);
const char *vt_alg_name(vl_alg alg);

/* vt_key_init runs vl_aead_init_impl on |impl|, asserts VL_OK, and asserts
 * that vl_aead_impl(k) is impl->name and vl_aead_alg(k) is |alg|. */
void vt_key_init(vl_aead_key *k, vl_alg alg, const uint8_t *key, size_t key_len,
                 const struct vl_impl *impl);

/* ---- vector files ------------------------------------------------------- */

/* "$VL_VECTORS/<rel>" (heap string). */
char *vt_vector_path(const char *rel);
/* Whole file (heap, NUL-terminated); fails the test when unreadable. */
char *vt_read_vector_file(const char *rel, size_t *len);
/* Parsed JSON (json_decref when done); fails the test on a parse error. */
json_t *vt_load_json(const char *rel);
/* Integer / string member helpers that fail the test when absent. */
long long vt_json_int(const json_t *obj, const char *field);
const char *vt_json_str(const json_t *obj, const char *field);

/* ---- checks -------------------------------------------------------------- */

/* 1 when all |n| bytes at |p| are zero (n == 0 counts as zero). */
int vt_is_zero(const void *p, size_t n);

/* ---- run length ---------------------------------------------------------- */

/* VL_TEST_SCALE: a factor (default 1) the heavy randomized loops multiply
 * their case counts by; `make check-valgrind` sets it well below 1, since
 * memcheck runs the suite 30-50x slower. vt_scale() reads it once
 * (non-numeric or <= 0: 1). vt_scaled(n) is max(1, n * scale). Loops
 * that promise a full sweep (every length 0..1024) step through it with
 * vt_scaled_step() instead, so they keep both ends. */
double vt_scale(void);
size_t vt_scaled(size_t n);
/* The stride that makes a sweep of |n| values take vt_scaled(n) steps. */
size_t vt_scaled_step(size_t n);

/* ---- deterministic PRNG (splitmix64) ------------------------------------ */

typedef struct vt_rng {
    uint64_t s;
} vt_rng;

uint64_t vt_rng_next(vt_rng *r);
/* Uniform in [0, n); n > 0. */
uint64_t vt_rng_below(vt_rng *r, uint64_t n);
/* Uniform in [lo, hi]. */
size_t vt_rng_range(vt_rng *r, size_t lo, size_t hi);
void vt_rng_fill(vt_rng *r, void *buf, size_t n);

/* ---- guard pages --------------------------------------------------------- */

/* vt_guard maps two pages and makes the second PROT_NONE. Returns the
 * address of the guard page: data of length n placed at (ret - n) ends
 * exactly at the boundary, and a zero-length buffer can point at ret
 * itself. Release with vt_guard_free(ret). */
uint8_t *vt_guard_alloc(void);
void vt_guard_free(uint8_t *guard);
size_t vt_page_size(void);

/* ---- OpenSSL EVP oracles ------------------------------------------------- */

/* GCM with a 16-byte tag: out = C || T. key_len 16 or 32, nonce_len
 * 1..128 (OpenSSL's cap). Return 1 on success, 0 on any EVP error. */
int vt_ossl_gcm_seal(const uint8_t *key, size_t key_len, const uint8_t *nonce, size_t nonce_len,
                     const uint8_t *ad, size_t ad_len, const uint8_t *pt, size_t pt_len,
                     uint8_t *out);
/* |in| = C || T (in_len >= 16). Returns 1 when the tag verifies (|out|
 * holds in_len - 16 bytes of plaintext), 0 otherwise. */
int vt_ossl_gcm_open(const uint8_t *key, size_t key_len, const uint8_t *nonce, size_t nonce_len,
                     const uint8_t *ad, size_t ad_len, const uint8_t *in, size_t in_len,
                     uint8_t *out);

/* AES-SIV (RFC 5297) with key_len 32, 48 or 64: S2V runs over ad[0..ad_count)
 * (each one EVP AAD update, an empty one included), then the nonce when
 * nonce_len > 0 (one more AAD update), then the plaintext; out = V || C.
 * OpenSSL 3.0 cannot seal or open an empty plaintext (openssl#26580): the
 * caller must not ask (pt_len == 0 returns 0). */
int vt_ossl_siv_seal(const uint8_t *key, size_t key_len, const vl_slice *ad, size_t ad_count,
                     const uint8_t *nonce, size_t nonce_len, const uint8_t *pt, size_t pt_len,
                     uint8_t *out);
int vt_ossl_siv_open(const uint8_t *key, size_t key_len, const vl_slice *ad, size_t ad_count,
                     const uint8_t *nonce, size_t nonce_len, const uint8_t *in, size_t in_len,
                     uint8_t *out);

#endif /* VT_COMMON_H */
