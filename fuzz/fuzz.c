/* Shared helpers for the fuzz targets; see fuzz.h. */
#include "fuzz.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

void fz_fill(fz *f, uint8_t *dst, size_t len)
{
    size_t got;
    const uint8_t *p = fz_take(f, len, &got);
    memcpy(dst, p, got);
    memset(dst + got, 0, len - got);
}

uint8_t *fz_dup(const uint8_t *p, size_t len)
{
    /* ASan's malloc(0) is a unique pointer to zero accessible bytes. */
    uint8_t *b = malloc(len);
    FZ_CHECK(b != NULL || len == 0, "out of memory (%zu bytes)", len);
    if (len > 0)
        memcpy(b, p, len);
    return b;
}

uint8_t *fz_alloc(size_t len, uint8_t fill)
{
    uint8_t *b = malloc(len);
    FZ_CHECK(b != NULL || len == 0, "out of memory (%zu bytes)", len);
    if (len > 0)
        memset(b, fill, len);
    return b;
}

/* Not instrumented for coverage: a byte loop with comparison tracing cost
 * a tenth of aead_diff's time, and a zero test has nothing to guide. */
__attribute__((no_sanitize("coverage"))) int fz_is_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

const char *fz_hex(const uint8_t *p, size_t n)
{
    static char buf[2 * 64 + 4];
    static const char digits[] = "0123456789abcdef";
    size_t m = n < 64 ? n : 64, i;
    for (i = 0; i < m; i++) {
        buf[2 * i] = digits[p[i] >> 4];
        buf[2 * i + 1] = digits[p[i] & 15];
    }
    strcpy(buf + 2 * i, n > m ? "..." : "");
    return buf;
}

size_t fz_paths(const struct vl_impl *const **out)
{
    static const struct vl_impl *paths[16];
    static size_t n;
    if (n == 0) {
        size_t count = 0;
        const struct vl_impl *const *list = vl_impl_list(&count);
        for (size_t i = 0; i < count && n < 16; i++)
            if (list[i]->supported() == 1)
                paths[n++] = list[i];
        FZ_CHECK(n > 0, "no supported path");
    }
    *out = paths;
    return n;
}

const struct vl_impl *fz_portable(void)
{
    const struct vl_impl *p = vl_impl_find("portable");
    FZ_CHECK(p != NULL && p->supported() == 1, "no portable path");
    return p;
}

size_t fz_key_len(vl_alg alg)
{
    return alg == VL_AES128_GCM ? 16 : alg == VL_AES256_GCM ? 32 : 64;
}

/* ---- keyring fixture ------------------------------------------------------- */

/* A clock that never moves: cached DEKs never expire and record
 * timestamps are the same in every run. */
static int64_t fixed_clock(void *arg)
{
    (void)arg;
    return INT64_C(1700000000000);
}

#define OKAY(x)                                                              \
    do {                                                                     \
        int rc_ = (x);                                                       \
        FZ_CHECK(rc_ == VL_OK, "%s: %s", #x, vl_strerror(rc_));              \
    } while (0)

void fz_keyring_setup(struct fz_keyring *k, int versioned)
{
    static const char secret[] = "mysecret";
    memset(k, 0, sizeof *k);
    k->versioned = versioned;
    vl_random_fuzz_reset((uint64_t)versioned << 32 | 0x5eed);
    OKAY(vl_store_mem_new(&k->store));
    OKAY(vl_kms_local_new(&k->kms, secret, sizeof secret - 1));
    vl_keyring_config cfg = {
        .store = k->store,
        .versioned = versioned,
        .clock_ms = fixed_clock,
    };
    OKAY(vl_keyring_new(&k->kr, &cfg));
    OKAY(vl_keyring_register_kms(k->kr, "local-kms", k->kms));
    OKAY(vl_kek_create(k->kr, FZ_KEK, "local-kms", "mykey", 0, "fuzz"));
    for (int a = 1; a <= 3; a++) {
        uint8_t out[64];
        size_t n;
        OKAY(vl_field_encrypt(k->kr, FZ_KEK, FZ_SUBJECT, (vl_alg)a, (const uint8_t *)"x", 1, out,
                              sizeof out, &n));
        for (int v = 2; versioned && v <= FZ_VERSIONS; v++) {
            int32_t got = 0;
            OKAY(vl_dek_rotate(k->kr, FZ_KEK, FZ_SUBJECT, (vl_alg)a, &got));
            FZ_CHECK(got == v, "rotation gave version %d, want %d", (int)got, v);
        }
    }
}

void fz_keyring_free(struct fz_keyring *k)
{
    vl_keyring_free(k->kr);
    vl_kms_close(k->kms);
    vl_store_close(k->store);
    memset(k, 0, sizeof *k);
}

/* ---- seed files ------------------------------------------------------------ */

static void mkdirs(const char *dir)
{
    char buf[4096];
    size_t n = strlen(dir);
    FZ_CHECK(n < sizeof buf, "path too long: %s", dir);
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        FZ_CHECK(mkdir(buf, 0777) == 0 || errno == EEXIST, "mkdir %s: %s", buf,
                 strerror(errno));
        buf[i] = c;
    }
}

void fz_write_seed(const char *dir, const char *name, const uint8_t *p, size_t len)
{
    char path[4096];
    mkdirs(dir);
    FZ_CHECK((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) < sizeof path, "path");
    FILE *f = fopen(path, "wb");
    FZ_CHECK(f != NULL, "open %s: %s", path, strerror(errno));
    FZ_CHECK(fwrite(p, 1, len, f) == len && fclose(f) == 0, "write %s", path);
}
