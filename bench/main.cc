// vellum_bench: vellum against OpenSSL, libsodium and Intel ipsec-mb, in one
// Google Benchmark binary (see bench/README.md and bench/bench.h).
//
// Startup, before anything is timed: measure the TSC frequency against
// CLOCK_MONOTONIC, fill the shared buffers, seal every reference message on
// vellum's portable path, let each suite register its cases, then run every
// case once and compare its output with vellum's (all cases, whatever the
// filter). A mismatch anywhere makes the process exit 1, as does a benchmark
// whose output check fails later.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "bench.h"

namespace vb {

Data g_data;

const Alg kAlgs[3] = {
    {VL_AES128_GCM, "AES-128-GCM", 16, false},
    {VL_AES256_GCM, "AES-256-GCM", 32, false},
    {VL_AES256_SIV, "AES-256-SIV", 64, true},
};

namespace {

// ---- clock ---------------------------------------------------------------------

double g_ticks_hz = 1e9;

uint64_t mono_ns()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

// One (monotonic ns, ticks) pair, the ticks taken as the midpoint of two
// reads bracketing the clock read; retried while the bracket is wide (an
// interrupt landed in between).
std::pair<uint64_t, double> clock_pair()
{
    for (int tries = 0;; tries++) {
        const uint64_t a = ticks();
        const uint64_t ns = mono_ns();
        const uint64_t b = ticks();
        if (b - a < 2000 || tries > 100)
            return {ns, ((double)a + (double)b) / 2};
    }
}

// Ticks per second over ~150 ms of CLOCK_MONOTONIC (asleep, which an
// invariant TSC does not mind).
double measure_ticks_hz()
{
    const auto p0 = clock_pair();
    timespec nap = {0, 150000000};
    while (nanosleep(&nap, &nap) != 0 && errno == EINTR) {
    }
    const auto p1 = clock_pair();
    return (p1.second - p0.second) * 1e9 / (double)(p1.first - p0.first);
}

// ---- references --------------------------------------------------------------------

std::map<std::tuple<vl_alg, size_t, size_t>, uint8_t *> g_refs;

void *aligned(size_t bytes)
{
    void *p = std::aligned_alloc(kAlign, (bytes + kAlign - 1) / kAlign * kAlign);
    if (p == nullptr) {
        std::fprintf(stderr, "vellum_bench: out of memory\n");
        std::exit(2);
    }
    return p;
}

// Seals message set (alg, len, count) on the portable path, message by
// message: the bytes every implementation must reproduce.
void build_ref(const Alg &alg, size_t len, size_t count)
{
    uint8_t *r = (uint8_t *)aligned(count * stride(len));
    std::memset(r, 0, count * stride(len));
    vl_aead_key k;
    int rc = vl_aead_init_impl(&k, alg.id, g_data.key, alg.key_len, &vl_impl_portable);
    for (size_t i = 0; rc == VL_OK && i < count; i++) {
        const size_t nlen = alg.siv ? 0 : kGcmNonceLen, alen = alg.siv ? 0 : kGcmAdLen;
        size_t out_len = 0;
        rc = vl_aead_seal(&k, r + i * stride(len), &out_len, len + kTag, g_data.nonce[i], nlen,
                          g_data.pt + i * len, len, g_data.ad, alen);
    }
    vl_aead_wipe(&k);
    if (rc != VL_OK) {
        std::fprintf(stderr, "vellum_bench: portable %s seal failed: %s\n", alg.name,
                     vl_strerror(rc));
        std::exit(2);
    }
    g_refs[{alg.id, len, count}] = r;
}

void setup_data()
{
    g_data.pt = (uint8_t *)aligned(kMaxBytes);
    g_data.out_bytes = 0;
    for (size_t len : kSizes)
        g_data.out_bytes = std::max(g_data.out_bytes, stride(len));
    for (const Shape &s : kBatches)
        g_data.out_bytes = std::max(g_data.out_bytes, s.count * stride(s.len));
    g_data.out = (uint8_t *)aligned(g_data.out_bytes);
    // Fixed pseudo-random bytes (xorshift64), the same on every run.
    uint64_t x = 0x9E3779B97F4A7C15ull;
    auto next = [&x]() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return (uint8_t)(x >> 24);
    };
    for (size_t i = 0; i < kMaxBytes; i++)
        g_data.pt[i] = next();
    for (uint8_t &b : g_data.key)
        b = next();
    for (uint8_t &b : g_data.ad)
        b = next();
    for (size_t i = 0; i < kMaxMsgs; i++) {
        for (size_t j = 0; j < 8; j++)
            g_data.nonce[i][j] = next();
        for (size_t j = 0; j < 4; j++)
            g_data.nonce[i][8 + j] = (uint8_t)(i >> (24 - 8 * j));
    }
    std::memset(g_data.out, 0, g_data.out_bytes);
    for (const Alg &alg : kAlgs) {
        for (size_t len : kSizes)
            build_ref(alg, len, 1);
        for (const Shape &s : kBatches)
            build_ref(alg, s.len, s.count);
    }
}

// ---- checks, context, suites -----------------------------------------------------

std::vector<std::pair<std::string, std::function<std::string()>>> &checks()
{
    static std::vector<std::pair<std::string, std::function<std::string()>>> v;
    return v;
}

bool g_failed = false;

std::vector<std::pair<std::string, std::string>> &contexts()
{
    static std::vector<std::pair<std::string, std::string>> v;
    return v;
}

struct Suite {
    const char *name;
    int order;
    SuiteFn fn;
};

std::vector<Suite> &suites()
{
    static std::vector<Suite> v;
    return v;
}

// "model name", "cpu family", "model", "stepping", "flags" of the first CPU.
std::map<std::string, std::string> cpuinfo()
{
    std::map<std::string, std::string> m;
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line)) {
        if (line.empty())
            break;  // first processor only
        const size_t colon = line.find(':');
        if (colon == std::string::npos)
            continue;
        std::string k = line.substr(0, colon), v = line.substr(colon + 1);
        k.erase(k.find_last_not_of(" \t") + 1);
        v.erase(0, v.find_first_not_of(" \t"));
        m[k] = v;
    }
    return m;
}

void machine_context()
{
    auto ci = cpuinfo();
    context("cpu_model_name", ci.count("model name") ? ci["model name"] : "unknown");
    auto hex = [](const std::string &dec) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "0x%lx", std::strtoul(dec.c_str(), nullptr, 10));
        return std::string(buf);
    };
    if (ci.count("cpu family"))
        context("cpu_family", hex(ci["cpu family"]));
    if (ci.count("model"))
        context("cpu_model", hex(ci["model"]));
    if (ci.count("stepping"))
        context("cpu_stepping", ci["stepping"]);
    // The flags that decide which paths run, as /proc/cpuinfo spells them.
    static const char *const wanted[] = {
        "aes",       "pclmulqdq",  "ssse3",    "sse4_1",   "avx",      "avx2",
        "bmi2",      "sha_ni",     "gfni",     "vaes",     "vpclmulqdq", "avx512f",
        "avx512dq",  "avx512bw",   "avx512vl", "avx512ifma", "hypervisor", "constant_tsc",
        "nonstop_tsc", "asimd",    "pmull",
    };
    std::string have, flags = " " + (ci.count("flags") ? ci["flags"] : ci["Features"]) + " ";
    for (const char *w : wanted)
        if (flags.find(std::string(" ") + w + " ") != std::string::npos)
            have += (have.empty() ? "" : " ") + std::string(w);
    context("cpu_flags", have);
    char ghz[64];
#if defined(__x86_64__)
    std::snprintf(ghz, sizeof ghz, "%.4f", g_ticks_hz / 1e9);
    context("tsc_ghz", ghz);
    context("cycles", "thread CPU time around each timed loop x measured TSC frequency: "
                      "invariant TSC reference cycles, not core clock cycles");
#else
    std::snprintf(ghz, sizeof ghz, "%.4f", g_ticks_hz / 1e9);
    context("tsc_ghz", ghz);
    context("cycles", "no TSC on this architecture: cycles are CPU ns (1 GHz)");
#endif
    context("compiler", __VERSION__);
    char buf[256];
    std::snprintf(buf, sizeof buf, "%zu-byte nonce, %zu-byte AD", kGcmNonceLen, kGcmAdLen);
    context("gcm_message", buf);
    context("siv_message", "one empty AD component, no nonce (deterministic)");
}

}  // namespace

// ---- the interface of bench.h ----------------------------------------------------

uint64_t ticks()
{
#if defined(__x86_64__)
    return __rdtsc();
#else
    return mono_ns();
#endif
}

double ticks_hz()
{
    return g_ticks_hz;
}

uint64_t cpu_ns()
{
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

const uint8_t *ref(const Alg &alg, size_t len, size_t count)
{
    auto it = g_refs.find({alg.id, len, count});
    if (it == g_refs.end()) {
        std::fprintf(stderr, "vellum_bench: no reference for %s %zu x %zu\n", alg.name, count,
                     len);
        std::exit(2);
    }
    return it->second;
}

Msgs msgs(const Alg &alg, Op op, size_t len, size_t count)
{
    return Msgs{&alg, op, len, count, g_data.pt, g_data.out, ref(alg, len, count)};
}

std::string size_name(const Msgs &m)
{
    return m.count == 1 ? std::to_string(m.len)
                        : std::to_string(m.count) + "x" + std::to_string(m.len);
}

void check_add(const std::string &name, std::function<std::string()> fn)
{
    checks().emplace_back(name, std::move(fn));
}

void check_failed(const std::string &name, const std::string &why)
{
    std::fprintf(stderr, "vellum_bench: CHECK FAILED %s: %s\n", name.c_str(), why.c_str());
    g_failed = true;
}

void context(const std::string &key, const std::string &value)
{
    for (auto &kv : contexts())
        if (kv.first == key) {
            kv.second = value;
            return;
        }
    contexts().emplace_back(key, value);
}

int suite_add(const char *name, int order, SuiteFn fn)
{
    suites().push_back({name, order, fn});
    return (int)suites().size();
}

}  // namespace vb

int main(int argc, char **argv)
{
    using namespace vb;
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 2;

    g_ticks_hz = measure_ticks_hz();
#if defined(__x86_64__)
    std::fprintf(stderr, "vellum_bench: TSC %.4f GHz (rdtsc against CLOCK_MONOTONIC over 150 ms)\n",
                 g_ticks_hz / 1e9);
#endif
    setup_data();
    machine_context();

    std::stable_sort(suites().begin(), suites().end(),
                     [](const Suite &a, const Suite &b) { return a.order < b.order; });
    for (const Suite &s : suites())
        s.fn();

    // Every case once, before anything is timed.
    size_t bad = 0;
    for (auto &c : checks()) {
        const std::string why = c.second();
        if (!why.empty()) {
            check_failed(c.first, why);
            bad++;
        }
    }
    std::fprintf(stderr, "vellum_bench: checked %zu cases against vellum's output: %s\n",
                 checks().size(), bad == 0 ? "all equal" : "MISMATCHES (see above)");
    if (bad != 0)
        return 1;

    for (auto &kv : contexts()) {
        std::fprintf(stderr, "vellum_bench: %s: %s\n", kv.first.c_str(), kv.second.c_str());
        benchmark::AddCustomContext(kv.first, kv.second);
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return g_failed ? 1 : 0;
}
