// The harness shared by every file of the benchmark binary.
//
// One run measures vellum and its peers on the same buffers: a single
// plaintext area, a single output area, one key, one AD and one set of
// nonces (see Data). Every case is a (implementation, algorithm, operation,
// message set) with a runner object T:
//
//   T(const Msgs &m, extra...)  sets up outside any timing (key schedule,
//                               contexts); sets err on failure
//   bool T::run()               processes every message of |m| once; this is
//                               what the timed loop calls
//
// add_case<T>() registers the case twice: in the startup check (every case,
// whatever --benchmark_filter says, so `make bench-quick` still compares all
// sizes), and as a Google Benchmark that checks its output once more, then
// times run(). "Checked" means the bytes T wrote equal vellum's: a sealed
// message equals the one the portable path sealed (Data::ref), an opened
// one equals the plaintext. Openers get vellum's sealed messages as input.
//
// Adding a group of benchmarks (the envelope layer will be
// bench/bench_envelope.cc): write a function that calls add_case (or
// benchmark::RegisterBenchmark with check_add for anything not shaped like a
// message set), and register it with VB_SUITE at file scope. main.cc needs no
// change; the Makefile builds every bench/*.cc.
#ifndef VB_BENCH_H
#define VB_BENCH_H

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>

#include <benchmark/benchmark.h>

extern "C" {
#include "impl.h"
#include "vellum/aead.h"
}

namespace vb {

// ---- what is measured ----------------------------------------------------

struct Alg {
    vl_alg id;
    const char *name;  // "AES-128-GCM", ...
    size_t key_len;    // 16, 32, 64
    bool siv;
};
extern const Alg kAlgs[3];

// Single-message sizes (bytes).
constexpr size_t kSizes[] = {16, 64, 256, 1350, 8192, 16384, 65536};
// Batch shapes: |count| messages of |len| bytes in one call.
struct Shape {
    size_t count, len;
};
constexpr Shape kBatches[] = {{64, 64}, {8, 16384}};

constexpr size_t kMaxMsgs = 64;
constexpr size_t kTag = 16;
constexpr size_t kAlign = 64;
// Largest message set, in plaintext bytes (8 x 16 KiB = 128 KiB).
constexpr size_t kMaxBytes = 131072;
// GCM messages carry 13 bytes of AD (TLS's record header, as BoringSSL's
// bench/aead.cc) and a 12-byte nonce. SIV messages are the field-encryption
// case: one empty AD component and no nonce (deterministic).
constexpr size_t kGcmAdLen = 13;
constexpr size_t kGcmNonceLen = 12;

// Bytes between consecutive messages of a set, in the output area and in
// the reference: room for the message and its tag, rounded up to 64.
constexpr size_t stride(size_t len)
{
    return (len + kTag + kAlign - 1) / kAlign * kAlign;
}

constexpr bool sets_fit()
{
    for (size_t n : kSizes)
        if (n > kMaxBytes)
            return false;
    for (const Shape &s : kBatches)
        if (s.count > kMaxMsgs || s.count * s.len > kMaxBytes)
            return false;
    return true;
}
static_assert(sets_fit(), "a message set does not fit the shared buffers");

// ---- the shared buffers --------------------------------------------------

struct Data {
    uint8_t *pt;   // kMaxBytes of plaintext, 64-byte aligned
    uint8_t *out;  // kMaxMsgs * stride(...) output area, 64-byte aligned
    size_t out_bytes;
    alignas(64) uint8_t key[64];  // AES-128 uses the first 16 bytes, AES-256-GCM 32
    alignas(64) uint8_t ad[kGcmAdLen];
    alignas(64) uint8_t nonce[kMaxMsgs][kGcmNonceLen];  // nonce[i]: message i
};
// Filled once by main before any suite runs; read-only afterwards.
extern Data g_data;
inline const Data &data() { return g_data; }

// The sealed messages vellum's portable path produced for (alg, len, count):
// message i at ref + i * stride(len), as C || T (GCM) or V || C (SIV).
// Built once at startup for every size and batch shape.
const uint8_t *ref(const Alg &alg, size_t len, size_t count);

enum class Op { seal, open };

// A set of |count| messages of |len| bytes under |alg|, and where each one
// is read from and written to. The same Msgs always means the same bytes in
// the same places, whichever implementation runs it. Build it with msgs();
// the accessors are plain pointer arithmetic, cheap enough for the timed loop.
struct Msgs {
    const Alg *alg;
    Op op;
    size_t len;
    size_t count;
    const uint8_t *pt_;   // Data::pt
    uint8_t *out_;        // Data::out
    const uint8_t *ref_;  // ref(alg, len, count)

    // Input of message i: the plaintext (seal), or vellum's sealed message
    // (open, len + 16 bytes).
    const uint8_t *in(size_t i) const
    {
        return op == Op::seal ? pt_ + i * len : ref_ + i * stride(len);
    }
    size_t in_len() const { return op == Op::seal ? len : len + kTag; }
    // Output of message i: len + 16 bytes for seal, len for open.
    uint8_t *out(size_t i) const { return out_ + i * stride(len); }
    size_t out_len() const { return op == Op::seal ? len + kTag : len; }
    // What out(i) must hold afterwards.
    const uint8_t *expected(size_t i) const
    {
        return op == Op::seal ? ref_ + i * stride(len) : pt_ + i * len;
    }
    const uint8_t *nonce(size_t i) const { return data().nonce[i]; }
    size_t nonce_len() const { return alg->siv ? 0 : kGcmNonceLen; }
    const uint8_t *ad() const { return data().ad; }
    size_t ad_len() const { return alg->siv ? 0 : kGcmAdLen; }
    const uint8_t *key() const { return data().key; }

    // Body and tag of a sealed message |p| (GCM: C || T; SIV: V || C).
    template <class P>
    P *body(P *p) const { return alg->siv ? p + kTag : p; }
    template <class P>
    P *tag(P *p) const { return alg->siv ? p : p + len; }
};

Msgs msgs(const Alg &alg, Op op, size_t len, size_t count);

// "16384" for one message, "64x64" for a set.
std::string size_name(const Msgs &m);

// Calls f(i) for every message; false as soon as one returns false. Every
// implementation goes through this same loop, so its cost is the same for
// all (and negligible: one predictable branch per message).
template <class F>
inline bool each(const Msgs &m, F &&f)
{
    for (size_t i = 0; i < m.count; i++)
        if (!f(i))
            return false;
    return true;
}

// Constant-time tag compare for peers whose open only computes the tag.
inline bool tag_equal(const uint8_t *a, const uint8_t *b)
{
    uint8_t d = 0;
    for (size_t i = 0; i < kTag; i++)
        d |= (uint8_t)(a[i] ^ b[i]);
    return d == 0;
}

// ---- timing ----------------------------------------------------------------

// The time-stamp counter (rdtsc) on x86-64, else CLOCK_MONOTONIC in ns.
uint64_t ticks();
// Ticks per second (the TSC frequency), measured at startup against
// CLOCK_MONOTONIC.
double ticks_hz();
// This thread's CPU time in ns (CLOCK_THREAD_CPUTIME_ID).
uint64_t cpu_ns();

// Runs |t| in the timed loop and sets the counters, all over the thread's
// CPU time (also Google Benchmark's default clock, so its Time/CPU columns
// and bytes_per_second agree): ns_per_msg, and cpb = CPU time x TSC
// frequency per byte. CPU time, not wall time, because the machines this
// runs on are shared: wall time counts whatever else ran on the core
// meanwhile (on the 2-vCPU VM of the first results, 13-18% run-to-run spread
// on wall time against 0.2% on CPU time). The wall clock is still recorded,
// from rdtsc read just before and after the loop, as wall_ns_per_msg: the
// report uses it to flag the rows where the machine was busy.
template <class T>
void timed(benchmark::State &st, T &t, const Msgs &m)
{
    const uint64_t w0 = ticks(), c0 = cpu_ns();
    for (auto _ : st) {
        bool ok = t.run();
        benchmark::DoNotOptimize(ok);
        benchmark::ClobberMemory();
        if (!ok) {
            st.SkipWithError("operation failed inside the timed loop");
            break;
        }
    }
    const uint64_t c1 = cpu_ns(), w1 = ticks();
    const double iters = (double)st.iterations();
    if (iters <= 0)
        return;
    const double msgs = iters * (double)m.count;
    const double bytes = msgs * (double)m.len;
    st.SetBytesProcessed((int64_t)bytes);
    st.counters["ns_per_msg"] = (double)(c1 - c0) / msgs;
    st.counters["cpb"] = (double)(c1 - c0) * 1e-9 * ticks_hz() / bytes;
    st.counters["wall_ns_per_msg"] = (double)(w1 - w0) / ticks_hz() * 1e9 / msgs;
}

// ---- registration ------------------------------------------------------------

// Clears the output area, runs |t| once and compares what it wrote with
// vellum's; "" when equal, else what went wrong.
template <class T>
std::string verify(T &t, const Msgs &m)
{
    if (!t.err.empty())
        return t.err;
    std::memset(data().out, 0xA5, data().out_bytes);
    if (!t.run())
        return "the operation failed";
    for (size_t i = 0; i < m.count; i++)
        if (std::memcmp(m.out(i), m.expected(i), m.out_len()) != 0)
            return "message " + std::to_string(i) + " differs from vellum's";
    return "";
}

// Adds a check to the startup pass: |fn| returns "" on success.
void check_add(const std::string &name, std::function<std::string()> fn);
// Called when a benchmark finds its output wrong: makes the process fail.
void check_failed(const std::string &name, const std::string &why);

// Registers |impl|/<alg>/|op_name|/<size> for the runner T built as
// T(m, args...).
template <class T, class... A>
void add_case(const std::string &impl, const char *op_name, const Msgs &m, A... args)
{
    const std::string name =
        impl + "/" + m.alg->name + "/" + op_name + "/" + size_name(m);
    check_add(name, [=]() {
        T t(m, args...);
        return verify(t, m);
    });
    benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State &st) {
        T t(m, args...);
        const std::string why = verify(t, m);
        if (!why.empty()) {
            check_failed(name, why);
            st.SkipWithError(why.c_str());
            return;
        }
        timed(st, t, m);
    });
}

// Registers |impl|/<alg>/seal|open/<size> for every algorithm in |algs| and
// every single-message size: T(m, args...) per case.
template <class T, class... A>
void add_sizes(const std::string &impl, std::initializer_list<vl_alg> algs, A... args)
{
    for (const Alg &alg : kAlgs) {
        bool want = false;
        for (vl_alg a : algs)
            want = want || a == alg.id;
        if (!want)
            continue;
        for (Op op : {Op::seal, Op::open})
            for (size_t len : kSizes)
                add_case<T>(impl, op == Op::seal ? "seal" : "open", msgs(alg, op, len, 1),
                            args...);
    }
}

// Machine and library facts for the JSON context and the report.
void context(const std::string &key, const std::string &value);

// ---- suites --------------------------------------------------------------------

// A suite registers its benchmarks when main calls it, after the buffers,
// the references and the TSC frequency are ready. Lower order runs first.
using SuiteFn = void (*)();
int suite_add(const char *name, int order, SuiteFn fn);
#define VB_SUITE(name, order, fn) \
    static const int vb_suite_##name##_registered = ::vb::suite_add(#name, order, fn)

}  // namespace vb

#endif  // VB_BENCH_H
