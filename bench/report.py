#!/usr/bin/env python3
"""Turn vellum_bench's Google Benchmark JSON into a Markdown table and a plot.

    report.py [--out DIR] [--name NAME] MAIN.json [MORE.json ...]

Reads one or more --benchmark_out files (the first one's context describes
the machine; later ones add rows, e.g. the OPENSSL_ia32cap=0 run whose rows
are named openssl-noasm), and writes to DIR (default bench/results):

    NAME.md     machine, method, a summary of vellum's best path against the
                best peer for every row, then per algorithm and operation the
                implementations side by side (GB/s, ns/message, cycles/byte)
    NAME.png    throughput against message size, log-log, one line per
                implementation (gnuplot)
    NAME.json   a copy of MAIN.json; NAME.<stem>.json for each further file

NAME defaults to the CPU ("amd-epyc-zen5"): the model name from the JSON
context, with the microarchitecture appended for AMD families that name it.
Every number is the median over the repetitions (the single run when there
was one). Python 3 standard library only; gnuplot must be on PATH.
"""

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys

ALGS = ["AES-128-GCM", "AES-256-GCM", "AES-256-SIV"]
OPS = ["seal", "open"]
VELLUM_ORDER = ["vaes-avx512", "vaes-avx2", "aesni", "armv8-ce", "portable"]
PEER_ORDER = ["openssl", "openssl-fresh", "openssl-noasm", "libsodium", "libsodium-pre",
              "ipsec-mb", "ipsec-mb-avx2"]
# Not a candidate for "best peer": deliberately crippled, it is the
# counterpart of vellum's portable path only.
NOT_BEST = {"openssl-noasm"}
BUSY = 1.10
# Plot colours by name, so a line keeps its colour from machine to machine.
COLORS = {
    "vellum/vaes-avx512": "#006400", "vellum/vaes-avx2": "#00a0a0", "vellum/aesni": "#7fbf00",
    "vellum/armv8-ce": "#8000ff", "vellum/portable": "#303030",
    "openssl": "#d62728", "openssl-fresh": "#ff9896", "openssl-noasm": "#8c564b",
    "libsodium": "#1f77b4", "libsodium-pre": "#9ecae1", "ipsec-mb": "#ff7f0e",
    "ipsec-mb-avx2": "#bcbd22",
}  # wall time over CPU time above which a row is flagged as disturbed

PEER_NOTES = {
    "openssl": "OpenSSL EVP, one context keyed once, nonce set per message",
    "openssl-fresh": "OpenSSL EVP, a new context per message (new, init with key, free)",
    "openssl-noasm": "OpenSSL EVP as `openssl`, run with OPENSSL_ia32cap=0: its generic "
                     "x86-64 code (table-based AES, 4-bit-table GHASH; not constant-time)",
    "libsodium": "crypto_aead_aes256gcm_encrypt/_decrypt (key schedule per message)",
    "libsodium-pre": "crypto_aead_aes256gcm_beforenm once, then _afternm",
    "ipsec-mb": "Intel ipsec-mb direct GCM API, manager from init_mb_mgr_auto",
    "ipsec-mb-avx2": "Intel ipsec-mb direct GCM API, init_mb_mgr_avx2",
}


# ---- reading -----------------------------------------------------------------

def load(paths):
    """Returns (context of the first file, {name: row}); a row holds medians."""
    ctx = None
    runs = {}      # name -> list of iteration runs
    medians = {}   # name -> median aggregate
    cvs = {}       # name -> cv aggregate
    for p in paths:
        with open(p) as f:
            doc = json.load(f)
        if ctx is None:
            ctx = doc.get("context", {})
        for b in doc.get("benchmarks", []):
            if b.get("error_occurred"):
                print(f"report.py: {b['name']}: {b.get('error_message', 'error')}",
                      file=sys.stderr)
                continue
            name = b.get("run_name", b["name"])
            if b.get("run_type") == "aggregate":
                if b.get("aggregate_name") == "median":
                    medians[name] = b
                elif b.get("aggregate_name") == "cv":
                    cvs[name] = b
            else:
                runs.setdefault(name, []).append(b)
    rows = {}
    for name in set(runs) | set(medians):
        rs = runs.get(name, [])
        parts = name.split("/")
        if len(parts) < 4:
            continue
        fields = ("ns_per_msg", "cpb", "bytes_per_second", "wall_ns_per_msg")
        if name in medians:
            vals = {k: medians[name].get(k) for k in fields}
        else:
            vals = {k: statistics.median(r[k] for r in rs) for k in fields if k in rs[0]}
        reps = len(rs) or medians[name].get("repetitions", 1)
        if any(vals.get(k) is None for k in fields):
            continue
        size = parts[-1]
        count, _, length = size.rpartition("x")
        rows[name] = {
            "impl": "/".join(parts[:-3]), "alg": parts[-3], "op": parts[-2], "size": size,
            "len": int(length), "count": int(count) if count else 1,
            "reps": reps, "ns": vals["ns_per_msg"], "cpb": vals["cpb"],
            "gbps": vals["bytes_per_second"] / 1e9, "wall_ns": vals["wall_ns_per_msg"],
            "cv": cvs[name]["cpu_time"] if name in cvs else None,
        }
        # Envelope rows carry these too (bench/bench_envelope.cc).
        for k in ("seals_per_reservation", "kms_unwraps"):
            src = medians.get(name) or (rs[0] if rs else {})
            if k in src:
                rows[name][k] = src[k]
    return ctx or {}, rows


def cpu_name(ctx):
    """'amd-epyc-zen5' from the context's model name, family and model."""
    model = ctx.get("cpu_model_name", "unknown-cpu")
    s = re.sub(r"\((R|TM|tm|r)\)", "", model)
    s = re.sub(r"@.*$", "", s)
    s = re.sub(r"\b(CPU|Processor|\d+-Core)\b", "", s)
    s = re.sub(r"[^A-Za-z0-9]+", "-", s).strip("-").lower() or "unknown-cpu"
    uarch = microarch(ctx)
    if uarch and uarch not in s:
        s += "-" + uarch
    return s


def microarch(ctx):
    """Zen generation from the AMD family/model (None when not AMD or unknown)."""
    if "AMD" not in ctx.get("cpu_model_name", ""):
        return None
    try:
        fam = int(ctx.get("cpu_family", ""), 16)
        mod = int(ctx.get("cpu_model", ""), 16)
    except ValueError:
        return None
    if fam == 0x17:
        return "zen2" if mod >= 0x30 else "zen"
    if fam == 0x19:
        return "zen4" if (0x10 <= mod <= 0x1F or 0x60 <= mod <= 0xAF) else "zen3"
    if fam == 0x1A:
        return "zen5"
    return None


# ---- shaping ---------------------------------------------------------------------

def is_vellum(impl):
    return impl.startswith("vellum/")


def impl_order(impls):
    def key(i):
        if is_vellum(i):
            p = i.split("/", 1)[1]
            return (0, VELLUM_ORDER.index(p) if p in VELLUM_ORDER else 99, p)
        return (1, PEER_ORDER.index(i) if i in PEER_ORDER else 99, i)
    return sorted(impls, key=key)


def single_rows(rows, alg, op):
    """{size_len: {impl: row}} for the single-message rows of (alg, op)."""
    out = {}
    for r in rows.values():
        if r["alg"] == alg and r["op"] == op and r["count"] == 1:
            out.setdefault(r["len"], {})[r["impl"]] = r
    return out


def best(cells, want_vellum):
    cands = [(r["gbps"], i) for i, r in cells.items()
             if is_vellum(i) == want_vellum and i not in NOT_BEST]
    return max(cands) if cands else None


def fmt_size(n):
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} B"


def fmt(x, digits=3):
    if x is None:
        return "–"
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    d = max(0, digits - 1 - mag)
    return f"{x:.{d}f}"


def short(impl):
    return impl.split("/", 1)[1] if is_vellum(impl) else impl


# ---- markdown -----------------------------------------------------------------------

def table(header, body, left=1):
    """Markdown table; the first |left| columns left-aligned, the rest right."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i < left else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def machine_section(ctx, rows, name):
    reps = sorted({r["reps"] for r in rows.values()})
    fam, mod = ctx.get("cpu_family", "?"), ctx.get("cpu_model", "?")
    uarch = microarch(ctx)
    flags = ctx.get("cpu_flags", "")
    lines = [
        f"# vellum benchmarks: {name}",
        "",
        "Produced by `make bench` (bench/vellum_bench, then bench/report.py). Raw Google "
        f"Benchmark JSON: [{name}.json]({name}.json) and the further runs beside it.",
        "",
        "## Machine",
        "",
        table(["", ""], [
            ["CPU", f"{ctx.get('cpu_model_name', '?')} (family {fam}, model {mod}, stepping "
                    f"{ctx.get('cpu_stepping', '?')}" + (f": {uarch.replace('zen', 'Zen ')}"
                                                         if uarch else "") + ")"],
            ["flags", f"`{flags}`"],
            ["CPUs", f"{ctx.get('num_cpus', '?')}" +
             (" (a virtual machine: `hypervisor` flag)" if "hypervisor" in flags.split() else "")],
            ["TSC", f"{ctx.get('tsc_ghz', '?')} GHz, measured at startup against "
                    "CLOCK_MONOTONIC"],
            ["date", ctx.get("date", "?")],
            ["compiler", f"vellum with the Makefile's flags; harness g++ {ctx.get('compiler', '?')}"],
            ["vellum paths", ctx.get("vellum_paths", "?") +
             (f" (compiled in: {ctx['vellum_paths_compiled']})"
              if ctx.get("vellum_paths_compiled", ctx.get("vellum_paths")) != ctx.get("vellum_paths")
              else "")],
            ["OpenSSL", ctx.get("openssl", "?")],
            ["libsodium", ctx.get("libsodium", "not measured")],
            ["ipsec-mb", f"{ctx.get('ipsec_mb', 'not measured')}; auto: "
                         f"{ctx.get('ipsec_mb_arch', '–')}; avx2 manager: "
                         f"{ctx.get('ipsec_mb_avx2', '–')}"],
        ], left=2),
        "",
        "## Method",
        "",
        f"- Every number is the median of {'/'.join(map(str, reps))} repetition(s)" +
        (", run interleaved at random with the other benchmarks' repetitions "
         "(`--benchmark_enable_random_interleaving`)." if max(reps) > 1 else "."),
        "- Time is the benchmark thread's **CPU time**, so time other processes took on a "
        "shared machine does not count. **GB/s** = 10^9 bytes of plaintext per CPU second; "
        "**ns/msg** = CPU ns per message; **c/B** = CPU time × TSC frequency per byte: "
        "TSC reference cycles, not core clock cycles (a core running above the TSC frequency "
        "does more work per TSC cycle).",
        f"- GCM messages: {ctx.get('gcm_message', '?')}. SIV messages: "
        f"{ctx.get('siv_message', '?')}.",
        "- Before anything is timed, every implementation's output is checked equal to "
        "vellum's (sealed bytes equal to the portable path's; opened bytes equal to the "
        "plaintext, opening vellum's sealed messages).",
        "- **ratio** = throughput of vellum's fastest path ÷ throughput of the fastest peer "
        "(openssl-noasm excluded); above 1, vellum is faster. Bold: the fastest in the row.",
        "",
        "Peers:",
        "",
    ]
    present = {r["impl"] for r in rows.values() if not is_vellum(r["impl"])}
    for p in impl_order(present):
        lines.append(f"- `{p}`: {PEER_NOTES.get(p, '')}")
    return lines


def summary_section(rows):
    body = []
    for alg in ALGS:
        for op in OPS:
            for n, cells in sorted(single_rows(rows, alg, op).items()):
                v, p = best(cells, True), best(cells, False)
                body.append([f"{alg} {op} {fmt_size(n)}",
                             f"{fmt(v[0])} ({short(v[1])})" if v else "–",
                             f"{fmt(p[0])} ({p[1]})" if p else "–",
                             f"**{v[0] / p[0]:.2f}**" if v and p else "–"])
    return ["## Summary: vellum's best path against the best peer", "",
            table(["", "vellum GB/s (path)", "best peer GB/s", "ratio"], body), ""]


def alg_sections(rows):
    out = []
    metrics = [("GB/s", "gbps", max), ("ns/message", "ns", min), ("cycles/byte", "cpb", min)]
    for alg in ALGS:
        for op in OPS:
            sizes = single_rows(rows, alg, op)
            if not sizes:
                continue
            impls = impl_order({i for cells in sizes.values() for i in cells})
            out += [f"## {alg} {op}", ""]
            for title, key, better in metrics:
                header = [title] + [short(i) if not is_vellum(i) else f"vellum {short(i)}"
                                    for i in impls]
                if key == "gbps":
                    header.append("ratio")
                body = []
                for n, cells in sorted(sizes.items()):
                    vals = [cells[i][key] if i in cells else None for i in impls]
                    top = better(v for v in vals if v is not None)
                    row = [fmt_size(n)] + [("**" + fmt(v) + "**") if v == top else fmt(v)
                                           for v in vals]
                    if key == "gbps":
                        v, p = best(cells, True), best(cells, False)
                        row.append(f"{v[0] / p[0]:.2f}" if v and p else "–")
                    body.append(row)
                out += [table(header, body), ""]
    return out


def portable_section(rows):
    body = []
    for alg in ALGS:
        for op in OPS:
            for n, cells in sorted(single_rows(rows, alg, op).items()):
                a, b = cells.get("vellum/portable"), cells.get("openssl-noasm")
                if a and b:
                    body.append([f"{alg} {op} {fmt_size(n)}", fmt(a["gbps"]), fmt(b["gbps"]),
                                 f"{a['gbps'] / b['gbps']:.2f}"])
    if not body:
        return []
    return ["## vellum portable against OpenSSL without assembly extensions", "",
            "vellum's portable path is constant-time C (bitsliced AES, GHASH from masked "
            "multiplies). `openssl-noasm` is OpenSSL with OPENSSL_ia32cap=0: its generic "
            "x86-64 code, table-based AES and 4-bit-table GHASH, which index memory with "
            "secret data.", "",
            table(["", "vellum portable GB/s", "openssl-noasm GB/s", "ratio"], body), ""]


def batch_section(rows):
    paths = impl_order({r["impl"] for r in rows.values() if r["count"] > 1})
    body = []
    for impl in paths:
        for alg in ALGS:
            shapes = sorted({(r["count"], r["len"]) for r in rows.values()
                             if r["impl"] == impl and r["alg"] == alg and r["count"] > 1},
                            key=lambda s: s[1])
            for c, n in shapes:
                size = f"{c}x{n}"
                row = [short(impl), alg, f"{c} × {fmt_size(n)}"]
                for op in OPS:
                    b = rows.get(f"{impl}/{alg}/{op}-batch/{size}")
                    l = rows.get(f"{impl}/{alg}/{op}-loop/{size}")
                    row += [fmt(b["gbps"]) if b else "–", fmt(l["gbps"]) if l else "–",
                            f"{b['gbps'] / l['gbps']:.2f}" if b and l else "–"]
                body.append(row)
    if not body:
        return []
    return ["## Batch API", "",
            "`*-batch`: one vl_aead_seal_batch / vl_aead_open_batch call for all the messages; "
            "`*-loop`: the same messages, one vl_aead_seal / vl_aead_open call each. GB/s; "
            "gain = batch ÷ loop.", "",
            table(["path", "alg", "messages", "seal-batch", "seal-loop", "gain",
                   "open-batch", "open-loop", "gain"], body, left=3), ""]


def noise_section(rows):
    ratios = sorted(((r["wall_ns"] / r["ns"], n) for n, r in rows.items() if r["ns"] > 0),
                    reverse=True)
    busy = [x for x in ratios if x[0] > BUSY]
    cvs = sorted(r["cv"] for r in rows.values() if r["cv"] is not None)
    spread = sorted(((r["cv"], n) for n, r in rows.items()
                     if r["cv"] is not None and r["cv"] > 0.05), reverse=True)
    lines = ["## Noise", ""]
    lines.append(f"Wall time exceeded CPU time by more than {int((BUSY - 1) * 100)}% (the "
                 "machine was busy, and the benchmark thread waited) in "
                 f"{len(busy)} of {len(ratios)} rows" +
                 (f"; worst: {busy[0][1]} at {busy[0][0]:.2f}×." if busy else "."))
    if cvs:
        lines.append(f"Spread of CPU time between repetitions (coefficient of variation): "
                     f"median {statistics.median(cvs) * 100:.1f}%, "
                     f"90th percentile {cvs[int(0.9 * (len(cvs) - 1))] * 100:.1f}%, "
                     f"max {cvs[-1] * 100:.1f}%.")
    if spread:
        lines += ["", f"Rows whose repetitions spread more than 5% (the median still stands "
                      f"for them, but read them with care): " +
                  ", ".join(f"{n} ({c * 100:.0f}%)" for c, n in spread[:12]) +
                  (f", and {len(spread) - 12} more." if len(spread) > 12 else ".")]
    return lines + [""]


def envelope_section(rows):
    env = [r for r in rows.values() if r["impl"].startswith("envelope/")]
    if not env:
        return ["## Envelope layer", "", "No envelope rows in this run "
                "(bench/bench_envelope.cc).", ""]
    # The raw seal the envelope is measured against: the same algorithm on
    # vellum's fastest path, 64 B (that row has 13 bytes of AD, these none).
    raw = {}
    for r in rows.values():
        if is_vellum(r["impl"]) and r["op"] == "seal" and r["size"] == "64":
            if r["alg"] not in raw or r["ns"] < raw[r["alg"]]["ns"]:
                raw[r["alg"]] = r
    lines = ["## Envelope layer", "",
             "One 64-byte field through the keyring (vl_field_encrypt / vl_field_decrypt, "
             "Confluent wire format, local KMS). `field-encrypt`: the DEK cached; "
             "`field-encrypt-miss`: the DEK evicted before every call, so each one unwraps it "
             "again through the local KMS. `sqlite`: durable seal reservations in a SQLite "
             "store (synchronous=FULL), amortised over adaptive chunks; its wall time includes "
             "the fsync waits, which CPU time does not. **vs raw** = ns ÷ vl_aead_seal of "
             "64 B on vellum's fastest path.", ""]
    body = []
    for r in sorted(env, key=lambda r: (r["impl"], r["alg"], r["op"])):
        base = raw.get(r["alg"])
        ratio = fmt(r["ns"] / base["ns"], 2) if base and r["op"] == "field-encrypt" else ""
        spr = r.get("seals_per_reservation")
        body.append([r["impl"].split("/", 1)[1], r["alg"], r["op"], fmt(r["ns"]),
                     fmt(r["wall_ns"]), ratio, fmt(spr) if spr else "",
                     fmt(r.get("kms_unwraps", 0), 2)])
    lines += [table(["store", "alg", "operation", "ns/field (CPU)", "ns/field (wall)", "vs raw",
                     "seals per reservation", "KMS unwraps per field"], body, left=3)]
    return lines + [""]


# ---- plot -------------------------------------------------------------------------------

def plot(rows, png, title):
    if shutil.which("gnuplot") is None:
        print("report.py: gnuplot not found, no plot", file=sys.stderr)
        return False
    impls = impl_order({r["impl"] for r in rows.values() if r["count"] == 1})
    spare = iter(["#9467bd", "#e377c2", "#17becf", "#7f7f7f", "#c49c94", "#dbdb8d"] * 4)
    color = {i: COLORS.get(i) or next(spare) for i in impls}
    s = [f"set terminal pngcairo size 1800,1150 font 'Sans,10'",
         f"set output '{png}'",
         "set logscale xy", "set grid xtics ytics mytics lc rgb '#dddddd'",
         "set xtics ('16' 16, '64' 64, '256' 256, '1350' 1350, '8K' 8192, '16K' 16384, "
         "'64K' 65536)",
         "set xlabel 'message bytes'", "set ylabel 'GB/s (CPU time)'",
         "set key top left font 'Sans,8' box opaque samplen 2 spacing 0.9",
         f"set multiplot layout 2,3 title '{title}' font 'Sans,13'"]
    for op in OPS:
        for alg in ALGS:
            sizes = single_rows(rows, alg, op)
            here = [i for i in impls if any(i in c for c in sizes.values())]
            s.append(f"set title '{alg} {op}'")
            cmds, data = [], []
            for i in here:
                pts = [(n, c[i]["gbps"]) for n, c in sorted(sizes.items()) if i in c]
                block = "$d" + re.sub(r"[^A-Za-z0-9]", "", f"{alg}{op}{i}")
                data.append(f"{block} << EOD\n" + "\n".join(f"{n} {g}" for n, g in pts)
                            + "\nEOD")
                style = (f"lw 2.5 pt 7 ps 0.8 dt 1" if is_vellum(i)
                         else f"lw 1.6 pt 6 ps 0.8 dt 2")
                label = f"vellum {short(i)}" if is_vellum(i) else i
                cmds.append(f"{block} using 1:2 with linespoints {style} "
                            f"lc rgb '{color[i]}' title '{label}'")
            s += data
            s.append("plot " + ", \\\n     ".join(cmds) if cmds else "plot NaN notitle")
    s.append("unset multiplot")
    r = subprocess.run(["gnuplot"], input="\n".join(s) + "\n", text=True,
                       capture_output=True)
    if r.returncode != 0:
        print("report.py: gnuplot failed:\n" + r.stderr, file=sys.stderr)
        return False
    return True


def write_compact(src, dst):
    """The same JSON document, one benchmark per line (about 30% smaller than
    Google Benchmark's indented output, and still diffable)."""
    with open(src) as f:
        doc = json.load(f)
    benches = doc.pop("benchmarks", [])
    head = json.dumps(doc, separators=(",", ":"))
    with open(dst, "w") as f:
        f.write(head[:-1] + ',"benchmarks":[\n')
        f.write(",\n".join(json.dumps(b, separators=(",", ":")) for b in benches))
        f.write("\n]}\n")


# ---- main -------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--name", default=None)
    ap.add_argument("json", nargs="+")
    a = ap.parse_args()
    ctx, rows = load(a.json)
    if not rows:
        sys.exit("report.py: no benchmark rows in " + " ".join(a.json))
    name = a.name or cpu_name(ctx)
    os.makedirs(a.out, exist_ok=True)
    for k, p in enumerate(a.json):
        stem = os.path.splitext(os.path.basename(p))[0]
        dst = os.path.join(a.out, f"{name}.json" if k == 0 else f"{name}.{stem}.json")
        if os.path.abspath(p) != os.path.abspath(dst):
            write_compact(p, dst)
    png = os.path.join(a.out, name + ".png")
    have_plot = plot(rows, png, f"vellum and peers: {name}, throughput against message size")
    lines = machine_section(ctx, rows, name)
    lines += [""]
    if have_plot:
        lines += [f"![throughput against message size]({name}.png)", ""]
    lines += summary_section(rows) + portable_section(rows) + batch_section(rows)
    lines += alg_sections(rows) + noise_section(rows) + envelope_section(rows)
    md = os.path.join(a.out, name + ".md")
    with open(md, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    print(f"report.py: wrote {md}" + (f" and {png}" if have_plot else ""))


if __name__ == "__main__":
    main()
