/* `vellum info` (library version, CPU features, the path of every
 * algorithm) and `vellum bench` (a short speed table of every path this
 * CPU runs). Neither touches a store or a KMS. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <sys/auxv.h>
#endif

#include "cli.h"
#include "impl.h"

#include "vellum/version.h"

static const vl_alg ALGS[] = {VL_AES128_GCM, VL_AES256_GCM, VL_AES256_SIV};
static const char *const ALG_NAMES[] = {"AES128_GCM", "AES256_GCM", "AES256_SIV"};
static const size_t KEY_LEN[] = {16, 32, 64};

void vl_cli_info_usage(FILE *f)
{
    fputs("usage: vellum info\n\n"
          "Prints the library version, the CPU features vellum looks for, every path\n"
          "compiled in and whether this CPU runs it, and the path each algorithm gets\n"
          "(VELLUM_IMPL=portable|aesni|vaes-avx2|vaes-avx512|armv8-ce forces one; a\n"
          "path the CPU cannot run is an error, never a silent fallback).\n"
          "exit status: 0 done, 1 VELLUM_IMPL names a path this CPU cannot run\n",
          f);
}

void vl_cli_bench_usage(FILE *f)
{
    fputs("usage: vellum bench [--time SECONDS]\n\n"
          "Seals 64-byte and 16 KiB messages on every path this CPU runs, for each\n"
          "algorithm, about SECONDS each (default 0.1), and prints MB/s. A quick\n"
          "look; `make bench` is the real benchmark against OpenSSL, libsodium and\n"
          "ipsec-mb.\n"
          "exit status: 0 done, 1 a path failed to seal, 2 usage error\n",
          f);
}

static void print_flag(const char *name, int on)
{
    printf(" %s%s", on ? "+" : "-", name);
}

static void cpu_flags(void)
{
    fputs("cpu features:", stdout);
#if defined(__x86_64__)
    unsigned a, b, c, d;
    unsigned c1 = 0, b7 = 0, c7 = 0;
    if (__get_cpuid(1, &a, &b, &c, &d))
        c1 = c;
    if (__get_cpuid_max(0, 0) >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        b7 = b;
        c7 = c;
    }
    print_flag("aes", (c1 >> 25) & 1);
    print_flag("pclmul", (c1 >> 1) & 1);
    print_flag("avx2", (b7 >> 5) & 1);
    print_flag("vaes", (c7 >> 9) & 1);
    print_flag("vpclmulqdq", (c7 >> 10) & 1);
    print_flag("avx512f", (b7 >> 16) & 1);
#elif defined(__aarch64__)
    unsigned long hw = getauxval(AT_HWCAP);
    print_flag("aes", (hw & HWCAP_AES) != 0);
    print_flag("pmull", (hw & HWCAP_PMULL) != 0);
#else
    fputs(" (no probe on this architecture)", stdout);
#endif
    fputs("\n", stdout);
}

static void paths(void)
{
    size_t n = 0;
    const struct vl_impl *const *list = vl_impl_list(&n);
    fputs("paths (preferred first):\n", stdout);
    for (size_t i = 0; i < n; i++)
        printf("  %-12s compiled, %s\n", list[i]->name,
               list[i]->supported() ? "supported by this CPU" : "NOT supported by this CPU");
}

static int chosen(void)
{
    const char *forced = getenv("VELLUM_IMPL");
    int rc = VL_CLI_OK;
    uint8_t key[64] = {0};
    printf("VELLUM_IMPL: %s\n", forced != NULL && *forced ? forced : "(not set: auto)");
    for (size_t i = 0; i < 3; i++) {
        vl_aead_key k;
        int e = vl_aead_init(&k, ALGS[i], key, KEY_LEN[i]);
        if (e == VL_OK)
            printf("  %-11s -> %s\n", ALG_NAMES[i], vl_aead_impl(&k));
        else
            printf("  %-11s -> error: %s\n", ALG_NAMES[i], vl_strerror(e));
        if (e != VL_OK)
            rc = VL_CLI_FAILED;
        vl_aead_wipe(&k);
    }
    if (rc != VL_CLI_OK)
        fprintf(stderr, "vellum info: VELLUM_IMPL=%s cannot run here; unset it or pick a "
                        "supported path\n", forced != NULL ? forced : "");
    return rc;
}

int vl_cli_info(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        vl_cli_info_usage(stdout);
        return VL_CLI_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "vellum info: unexpected argument '%s' (see vellum info --help)\n",
                argv[1]);
        return VL_CLI_USAGE;
    }
    printf("vellum %s (library %s)\n", VL_VERSION_STRING, vl_version());
    cpu_flags();
    paths();
    return chosen();
}

/* ---------------------------------------------------------------- bench */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* MB/s sealing |len|-byte messages for about |secs|. A fixed nonce: this
 * is a speed test on throwaway data under a throwaway key, limits off. */
static double speed(vl_aead_key *k, uint8_t *buf, size_t len, double secs)
{
    static const uint8_t nonce[12];
    static uint8_t out[16384 + 16];
    size_t out_len, iters = 0, batch = len < 1024 ? 4096 : 64;
    double t0 = now_s(), t;
    do {
        for (size_t i = 0; i < batch; i++)
            if (vl_aead_seal(k, out, &out_len, sizeof out, nonce, 12, buf, len, NULL, 0) != VL_OK)
                return 0;
        iters += batch;
    } while ((t = now_s() - t0) < secs);
    return (double)iters * (double)len / t / 1e6;
}

static int bench_cell(const struct vl_impl *impl, size_t a, uint8_t *buf, double secs,
                      double out[2])
{
    uint8_t key[64] = {1, 2, 3};
    vl_aead_key k;
    vl_limits l = {UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX};
    if (vl_aead_init_impl(&k, ALGS[a], key, KEY_LEN[a], impl) != VL_OK)
        return -1;
    vl_aead_set_limits(&k, &l);
    out[0] = speed(&k, buf, 64, secs);
    out[1] = speed(&k, buf, 16384, secs);
    vl_aead_wipe(&k);
    return out[0] > 0 && out[1] > 0 ? 0 : -1;
}

int vl_cli_bench(int argc, char **argv)
{
    double secs = 0.1;
    char *end;
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        vl_cli_bench_usage(stdout);
        return VL_CLI_OK;
    }
    if (argc == 3 && strcmp(argv[1], "--time") == 0) {
        secs = strtod(argv[2], &end);
        if (*end != '\0' || end == argv[2] || !(secs > 0 && secs <= 10)) {
            fprintf(stderr, "vellum bench: --time must be a number of seconds, 0 to 10\n");
            return VL_CLI_USAGE;
        }
    } else if (argc != 1) {
        fprintf(stderr, "vellum bench: usage: vellum bench [--time SECONDS]\n");
        return VL_CLI_USAGE;
    }
    static uint8_t buf[16384];
    size_t n = 0;
    int rc = VL_CLI_OK;
    const struct vl_impl *const *list = vl_impl_list(&n);
    printf("%-12s %-11s %12s %12s\n", "path", "algorithm", "64 B MB/s", "16 KiB MB/s");
    for (size_t i = 0; i < n; i++) {
        if (!list[i]->supported())
            continue;
        for (size_t a = 0; a < 3; a++) {
            double r[2];
            if (bench_cell(list[i], a, buf, secs, r) == 0) {
                printf("%-12s %-11s %12.0f %12.0f\n", list[i]->name, ALG_NAMES[a], r[0], r[1]);
            } else {
                printf("%-12s %-11s %12s %12s\n", list[i]->name, ALG_NAMES[a], "error", "error");
                rc = VL_CLI_FAILED;
            }
            fflush(stdout);
        }
    }
    return rc;
}
