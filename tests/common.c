/* Shared helpers for the Criterion suites; see common.h. */
#include "common.h"

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- hex ---------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

uint8_t *vt_unhex(const char *hex, size_t *len)
{
    cr_assert_not_null(hex);
    size_t n = strlen(hex);
    cr_assert_eq(n % 2, 0, "odd-length hex string (%zu chars)", n);
    uint8_t *b = malloc(n / 2 + 1);
    cr_assert_not_null(b);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        cr_assert(hi >= 0 && lo >= 0, "bad hex digit near offset %zu of \"%.40s\"", 2 * i, hex);
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return b;
}

uint8_t *vt_json_hex(const json_t *obj, const char *field, size_t *len)
{
    return vt_unhex(vt_json_str(obj, field), len);
}

char *vt_hex(const uint8_t *p, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * len + 1);
    cr_assert_not_null(s);
    for (size_t i = 0; i < len; i++) {
        s[2 * i] = digits[p[i] >> 4];
        s[2 * i + 1] = digits[p[i] & 15];
    }
    s[2 * len] = '\0';
    return s;
}

/* ---- paths and keys ------------------------------------------------------ */

static const char *forced_impl(void)
{
    const char *env = getenv("VELLUM_IMPL");
    return (env != NULL && env[0] != '\0') ? env : NULL;
}

size_t vt_paths(const struct vl_impl *out[VT_MAX_PATHS])
{
    const char *forced = forced_impl();
    if (forced != NULL) {
        const struct vl_impl *impl = vl_impl_find(forced);
        cr_assert_not_null(impl, "VELLUM_IMPL=%s names no compiled-in path", forced);
        cr_assert_eq(impl->supported(), 1, "VELLUM_IMPL=%s: this CPU cannot run that path",
                     forced);
        out[0] = impl;
        return 1;
    }
    size_t count = 0, m = 0;
    const struct vl_impl *const *list = vl_impl_list(&count);
    cr_assert_not_null(list);
    for (size_t i = 0; i < count; i++) {
        cr_assert_not_null(list[i]);
        cr_assert_not_null(list[i]->name);
        cr_assert_eq(vl_impl_find(list[i]->name), list[i], "vl_impl_find(\"%s\") disagrees",
                     list[i]->name);
        if (list[i]->supported() == 1) {
            cr_assert_lt(m, VT_MAX_PATHS);
            out[m++] = list[i];
        }
    }
    cr_assert_gt(m, 0, "no supported path at all");
    return m;
}

const char *vt_path_names(void)
{
    static char buf[256];
    const struct vl_impl *p[VT_MAX_PATHS];
    size_t n = vt_paths(p), used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < sizeof buf; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", i ? "," : "", p[i]->name);
    return buf;
}

size_t vt_key_len(vl_alg alg)
{
    switch (alg) {
    case VL_AES128_GCM: return 16;
    case VL_AES256_GCM: return 32;
    case VL_AES256_SIV: return 64;
    }
    return 0;
}

const char *vt_alg_name(vl_alg alg)
{
    switch (alg) {
    case VL_AES128_GCM: return "AES-128-GCM";
    case VL_AES256_GCM: return "AES-256-GCM";
    case VL_AES256_SIV: return "AES-256-SIV";
    }
    return "?";
}

void vt_key_init(vl_aead_key *k, vl_alg alg, const uint8_t *key, size_t key_len,
                 const struct vl_impl *impl)
{
    int rc = vl_aead_init_impl(k, alg, key, key_len, impl);
    cr_assert_eq(rc, VL_OK, "vl_aead_init_impl(%s, %zu-byte key, %s) = %d", vt_alg_name(alg),
                 key_len, impl->name, rc);
    cr_assert_str_eq(vl_aead_impl(k), impl->name, "key runs on \"%s\", wanted \"%s\"",
                     vl_aead_impl(k), impl->name);
    cr_assert_eq(vl_aead_alg(k), alg);
}

/* ---- vector files ------------------------------------------------------- */

char *vt_vector_path(const char *rel)
{
    const char *dir = getenv("VL_VECTORS");
    if (dir == NULL || dir[0] == '\0')
        dir = "../shared/vectors";
    size_t n = strlen(dir) + strlen(rel) + 2;
    char *p = malloc(n);
    cr_assert_not_null(p);
    snprintf(p, n, "%s/%s", dir, rel);
    return p;
}

char *vt_read_vector_file(const char *rel, size_t *len)
{
    char *path = vt_vector_path(rel);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s (set VL_VECTORS to the vectors directory)", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long sz = ftell(f);
    cr_assert_geq(sz, 0);
    rewind(f);
    char *buf = malloc((size_t)sz + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)sz, f), (size_t)sz, "short read on %s", path);
    buf[sz] = '\0';
    fclose(f);
    free(path);
    if (len != NULL)
        *len = (size_t)sz;
    return buf;
}

json_t *vt_load_json(const char *rel)
{
    char *path = vt_vector_path(rel);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    cr_assert_not_null(root, "%s:%d: %s (set VL_VECTORS to the vectors directory)", path,
                       err.line, err.text);
    free(path);
    return root;
}

long long vt_json_int(const json_t *obj, const char *field)
{
    json_t *v = json_object_get(obj, field);
    cr_assert(json_is_integer(v), "JSON member \"%s\" missing or not an integer", field);
    return (long long)json_integer_value(v);
}

const char *vt_json_str(const json_t *obj, const char *field)
{
    json_t *v = json_object_get(obj, field);
    cr_assert(json_is_string(v), "JSON member \"%s\" missing or not a string", field);
    return json_string_value(v);
}

/* ---- checks -------------------------------------------------------------- */

int vt_is_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= b[i];
    return acc == 0;
}

/* ---- PRNG ------------------------------------------------------------------ */

uint64_t vt_rng_next(vt_rng *r)
{
    uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

uint64_t vt_rng_below(vt_rng *r, uint64_t n)
{
    /* Modulo bias is irrelevant for test-case generation. */
    return vt_rng_next(r) % n;
}

size_t vt_rng_range(vt_rng *r, size_t lo, size_t hi)
{
    return lo + (size_t)vt_rng_below(r, (uint64_t)(hi - lo) + 1);
}

void vt_rng_fill(vt_rng *r, void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n >= 8) {
        uint64_t v = vt_rng_next(r);
        memcpy(p, &v, 8);
        p += 8;
        n -= 8;
    }
    if (n > 0) {
        uint64_t v = vt_rng_next(r);
        memcpy(p, &v, n);
    }
}

/* ---- run length ---------------------------------------------------------- */

double vt_scale(void)
{
    static double scale;
    if (scale == 0) {
        const char *env = getenv("VL_TEST_SCALE");
        double v = env != NULL ? strtod(env, NULL) : 0;
        scale = v > 0 ? v : 1;
    }
    return scale;
}

size_t vt_scaled(size_t n)
{
    double v = (double)n * vt_scale();
    return v < 1 ? 1 : (size_t)v;
}

size_t vt_scaled_step(size_t n)
{
    size_t steps = vt_scaled(n);
    return steps >= n ? 1 : (n + steps - 1) / steps;
}

/* ---- guard pages --------------------------------------------------------- */

size_t vt_page_size(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? (size_t)ps : 4096;
}

uint8_t *vt_guard_alloc(void)
{
    size_t ps = vt_page_size();
    uint8_t *base = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(base, MAP_FAILED, "mmap");
    cr_assert_eq(mprotect(base + ps, ps, PROT_NONE), 0, "mprotect");
    return base + ps;
}

void vt_guard_free(uint8_t *guard)
{
    size_t ps = vt_page_size();
    munmap(guard - ps, 2 * ps);
}

/* ---- OpenSSL EVP oracles ------------------------------------------------- */

/* Fetched once per process (Criterion runs each test in its own process). */
static EVP_CIPHER *fetch(const char *name)
{
    EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, name, NULL);
    cr_assert_not_null(c, "OpenSSL has no %s", name);
    return c;
}

static EVP_CIPHER *gcm_cipher(size_t key_len)
{
    static EVP_CIPHER *c128, *c256;
    if (key_len == 16)
        return c128 ? c128 : (c128 = fetch("AES-128-GCM"));
    cr_assert_eq(key_len, 32);
    return c256 ? c256 : (c256 = fetch("AES-256-GCM"));
}

static EVP_CIPHER *siv_cipher(size_t key_len)
{
    static EVP_CIPHER *c[3];
    static const char *names[3] = {"AES-128-SIV", "AES-192-SIV", "AES-256-SIV"};
    int i = key_len == 32 ? 0 : key_len == 48 ? 1 : 2;
    cr_assert(key_len == 32 || key_len == 48 || key_len == 64);
    return c[i] ? c[i] : (c[i] = fetch(names[i]));
}

/* EVP wants int lengths; every caller stays far below INT_MAX. */
#define ILEN(n) ((int)(n))

/* A valid pointer for zero-length updates: OpenSSL's SIV provider treats
 * EVP_*Update(ctx, NULL, &outl, NULL, 0) as "finish", not as an empty AD
 * component (checked against the Wycheproof empty-aad cases), so an empty
 * component needs a non-NULL pointer. */
static const uint8_t empty_byte[1];
#define NZ(p) ((p) != NULL ? (p) : empty_byte)

int vt_ossl_gcm_seal(const uint8_t *key, size_t key_len, const uint8_t *nonce, size_t nonce_len,
                     const uint8_t *ad, size_t ad_len, const uint8_t *pt, size_t pt_len,
                     uint8_t *out)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int ok = 0, outl = 0, fin = 0;
    if (ctx == NULL)
        return 0;
    if (EVP_EncryptInit_ex(ctx, gcm_cipher(key_len), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, ILEN(nonce_len), NULL) != 1 ||
        EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
        goto done;
    if (ad_len > 0 && EVP_EncryptUpdate(ctx, NULL, &outl, ad, ILEN(ad_len)) != 1)
        goto done;
    outl = 0;
    if (pt_len > 0 && EVP_EncryptUpdate(ctx, out, &outl, pt, ILEN(pt_len)) != 1)
        goto done;
    if (EVP_EncryptFinal_ex(ctx, out + outl, &fin) != 1 || (size_t)(outl + fin) != pt_len)
        goto done;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out + pt_len) != 1)
        goto done;
    ok = 1;
done:
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

int vt_ossl_gcm_open(const uint8_t *key, size_t key_len, const uint8_t *nonce, size_t nonce_len,
                     const uint8_t *ad, size_t ad_len, const uint8_t *in, size_t in_len,
                     uint8_t *out)
{
    EVP_CIPHER_CTX *ctx;
    int ok = 0, outl = 0, fin = 0;
    size_t len;
    uint8_t tag[16];
    if (in_len < 16)
        return 0;
    len = in_len - 16;
    memcpy(tag, in + len, 16);
    if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
        return 0;
    if (EVP_DecryptInit_ex(ctx, gcm_cipher(key_len), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, ILEN(nonce_len), NULL) != 1 ||
        EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
        goto done;
    if (ad_len > 0 && EVP_DecryptUpdate(ctx, NULL, &outl, ad, ILEN(ad_len)) != 1)
        goto done;
    outl = 0;
    if (len > 0 && EVP_DecryptUpdate(ctx, out, &outl, in, ILEN(len)) != 1)
        goto done;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag) != 1)
        goto done;
    if (EVP_DecryptFinal_ex(ctx, out + outl, &fin) != 1 || (size_t)(outl + fin) != len)
        goto done;
    ok = 1;
done:
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

static int siv_aad(EVP_CIPHER_CTX *ctx, int enc, const vl_slice *ad, size_t ad_count,
                   const uint8_t *nonce, size_t nonce_len)
{
    int outl = 0;
    for (size_t i = 0; i < ad_count; i++) {
        int r = enc ? EVP_EncryptUpdate(ctx, NULL, &outl, NZ(ad[i].ptr), ILEN(ad[i].len))
                    : EVP_DecryptUpdate(ctx, NULL, &outl, NZ(ad[i].ptr), ILEN(ad[i].len));
        if (r != 1)
            return 0;
    }
    if (nonce_len > 0) {
        int r = enc ? EVP_EncryptUpdate(ctx, NULL, &outl, nonce, ILEN(nonce_len))
                    : EVP_DecryptUpdate(ctx, NULL, &outl, nonce, ILEN(nonce_len));
        if (r != 1)
            return 0;
    }
    return 1;
}

int vt_ossl_siv_seal(const uint8_t *key, size_t key_len, const vl_slice *ad, size_t ad_count,
                     const uint8_t *nonce, size_t nonce_len, const uint8_t *pt, size_t pt_len,
                     uint8_t *out)
{
    EVP_CIPHER_CTX *ctx;
    int ok = 0, outl = 0, fin = 0;
    if (pt_len == 0 || (ctx = EVP_CIPHER_CTX_new()) == NULL)
        return 0;
    if (EVP_EncryptInit_ex(ctx, siv_cipher(key_len), NULL, key, NULL) != 1 ||
        !siv_aad(ctx, 1, ad, ad_count, nonce, nonce_len) ||
        EVP_EncryptUpdate(ctx, out + 16, &outl, pt, ILEN(pt_len)) != 1 ||
        EVP_EncryptFinal_ex(ctx, out + 16 + outl, &fin) != 1 || (size_t)(outl + fin) != pt_len ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out) != 1)
        goto done;
    ok = 1;
done:
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

int vt_ossl_siv_open(const uint8_t *key, size_t key_len, const vl_slice *ad, size_t ad_count,
                     const uint8_t *nonce, size_t nonce_len, const uint8_t *in, size_t in_len,
                     uint8_t *out)
{
    EVP_CIPHER_CTX *ctx;
    int ok = 0, outl = 0, fin = 0;
    uint8_t tag[16];
    if (in_len <= 16 || (ctx = EVP_CIPHER_CTX_new()) == NULL)
        return 0;
    memcpy(tag, in, 16);
    if (EVP_DecryptInit_ex(ctx, siv_cipher(key_len), NULL, key, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag) != 1 ||
        !siv_aad(ctx, 0, ad, ad_count, nonce, nonce_len) ||
        EVP_DecryptUpdate(ctx, out, &outl, in + 16, ILEN(in_len - 16)) != 1 ||
        EVP_DecryptFinal_ex(ctx, out + outl, &fin) != 1 || (size_t)(outl + fin) != in_len - 16)
        goto done;
    ok = 1;
done:
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}
