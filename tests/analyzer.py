#!/usr/bin/env python3
"""`make check-analyzer`: clang-tidy's static analyzer (clang-analyzer-*,
security.* included) and the bug-prone and CERT checks over core/ and arch/.

    tests/analyzer.py BASELINE JOBS FILE...

Every warning must either be gone or be listed in BASELINE with the reason
it is not a bug; a warning not listed fails the check, and a listed one
that no longer shows up is reported (so the list shrinks as code is fixed).
A baseline line is

    path | check | the flagged source line, trimmed | why it is not a bug

(fields separated by " | "; the source text may contain " | " itself, the
reason may not)

keyed on the line's text rather than its number, so edits elsewhere in the
file do not invalidate it.

Checks left out entirely, and why:
  clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling
      asks for C11 Annex K (memcpy_s, ...), which glibc does not provide.
  clang-analyzer-security.insecureAPI.strcpy
      every strcpy/strcat in core/ copies a string whose length was checked
      against the destination just before (vl_kr_name_ok, the store's
      record checks, strnlen <= HOST_MAX, explicit strlen tests); reviewed
      site by site when this check was set up; the checker cannot see
      those guards and flags every call.
  bugprone-easily-swappable-parameters
      a rule about API shape (BoringSSL-style (out, out_len, in, in_len)
      lists trip it everywhere), not about bugs.
  bugprone-implicit-widening-of-multiplication-result
      small products (block index * 16) used as offsets; they cannot
      overflow 32 bits, and the widening is what is wanted.
  bugprone-narrowing-conversions, bugprone-macro-parentheses
      deliberate truncations in byte-level crypto code; macro arguments
      used as initializers and statements.
  cert-err33-c
      the ignored results are memcpy/memset/fprintf/snprintf return values.
"""
import concurrent.futures
import os
import re
import subprocess
import sys

CHECKS = ",".join([
    "-*",
    "clang-analyzer-*",
    "-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling",
    "-clang-analyzer-security.insecureAPI.strcpy",
    "bugprone-*",
    "-bugprone-easily-swappable-parameters",
    "-bugprone-implicit-widening-of-multiplication-result",
    "-bugprone-narrowing-conversions",
    "-bugprone-macro-parentheses",
    "cert-*",
    "-cert-err33-c",
])

AESNI = ["-maes", "-mpclmul", "-mssse3", "-msse4.1"]
AVX2 = AESNI + ["-mavx", "-mavx2", "-mvaes", "-mvpclmulqdq"]
AVX512 = AVX2 + ["-mavx512f", "-mavx512bw", "-mavx512vl"]


def isa_flags(path):
    """The Makefile's per-file instruction-set flags."""
    name = os.path.basename(path)
    if name.endswith("_vaes_avx512.c"):
        return AVX512
    if name.endswith("_vaes_avx2.c"):
        return AVX2
    if name.endswith("_aesni.c") or name == "aes_x86.c":
        return AESNI
    if name.endswith("_armv8_ce.c"):
        return ["--target=aarch64-linux-gnu", "-march=armv8-a+crypto"]
    return []


WARNING = re.compile(r"^(?P<path>[^:\s]+):(?P<line>\d+):(?P<col>\d+): warning: "
                     r"(?P<msg>.*) \[(?P<check>[^\]]+)\]$")


def tidy(path):
    arch = "aarch64" if "/aarch64/" in path else "x86_64"
    cmd = ["clang-tidy", "--quiet", "-checks=" + CHECKS, path, "--",
           "-std=c11", "-D_GNU_SOURCE", "-Iinclude", "-Icore", "-Iarch/" + arch] + isa_flags(path)
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True).stdout
    found = []
    for line in out.splitlines():
        if ": error: " in line:
            # A file that does not compile was not analyzed: that fails too.
            found.append((path, "clang-diagnostic-error", line, line))
            continue
        m = WARNING.match(line)
        if not m:
            continue
        rel = os.path.relpath(m["path"])
        with open(rel, errors="replace") as f:
            src = f.read().splitlines()
        n = int(m["line"])
        text = src[n - 1].strip() if 0 < n <= len(src) else ""
        found.append((rel, m["check"], text, "%s:%s: %s [%s]" % (rel, n, m["msg"], m["check"])))
    return found


def main():
    baseline_path, jobs, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    baseline = {}
    with open(baseline_path) as f:
        for raw in f:
            if raw.startswith("#") or not raw.strip():
                continue
            # The source text may hold " | " itself: path and check are the
            # first two fields, the reason the last.
            head = raw.strip().split(" | ", 2)
            parts = head[:2] + head[2].rsplit(" | ", 1) if len(head) == 3 else head
            parts = [p.strip() for p in parts]
            if len(parts) != 4 or not parts[3]:
                sys.exit("%s: malformed line (path | check | source | reason): %s"
                         % (baseline_path, raw.strip()))
            baseline[tuple(parts[:3])] = parts[3]
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        results = [w for ws in pool.map(tidy, files) for w in ws]
    seen, new = {}, []
    for path, check, text, shown in sorted(set(results)):
        seen.setdefault((path, check, text), shown)
    explained = sum(1 for k in seen if k in baseline)
    new = [shown for k, shown in sorted(seen.items()) if k not in baseline]
    stale = [k for k in baseline if k not in seen and k[0] in files]
    for k in stale:
        print("analyzer: baseline entry no longer flagged (remove it): %s | %s | %s" % k)
    for w in new:
        print(w)
    print("analyzer: clang-tidy over %d files: %d warnings, %d explained in %s, %d new"
          % (len(files), len(seen), explained, baseline_path, len(new)))
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main())
