# vellum: the only build. `make` needs nothing but a C compiler.
#   make            build/libvellum.a
#   make check      install missing test packages (Debian), build, run every suite
#   make check-aarch64  the armv8-ce path, cross-built and run under qemu-aarch64 (part of check)
#   make sqlite     build/libvellum-sqlite.a, the SQLite record store (needs libsqlite3-dev)
#   make json       build/libvellum-json.a, DEK Registry JSON records (needs libjansson-dev)
#   make kmip       build/libvellum-kmip.a, the KMIP provider (needs libssl-dev)
#   make check-kmip the KMIP suite against a throwaway PyKMIP server (part of check)
#   make cli        build/vellum, the command line (needs libjansson-dev, libsqlite3-dev,
#                   libssl-dev; part of `all`, skipped with a message when one is missing)
#   make demo       build everything and run tests/demo.sh: the whole story end to end
#   make install PREFIX=/usr/local [DESTDIR=]   archives, headers, bin/vellum, pkg-config files
#   make check-cli-more check-cli-kmip check-install   the CLI and install tests (part of check)
#   make bench      the benchmark suite: bench/results/<cpu>.{md,png,json}
#   make bench-quick  a < 60 s subset of it, results under build/bench/quick
#   make fuzz       the libFuzzer targets (clang), build/fuzz/bin; fuzz/README.md
#   make fuzz-smoke / fuzz-long FUZZ_SECONDS=N   every target 30 s (part of check) / N s
#   make check-asan check-valgrind check-analyzer   the suites under ASan+UBSan and
#                   memcheck, clang-tidy's analyzer (part of check)
CC      ?= cc
ARCH    ?= $(shell uname -m)
HOST_ARCH := $(shell uname -m)
# ARCH=aarch64 builds into its own tree (never clobbering the host's), and
# on any other host cross-builds with Debian's gcc-aarch64-linux-gnu.
ifeq ($(ARCH),aarch64)
BUILD   ?= build/aarch64
ifneq ($(HOST_ARCH),aarch64)
ifeq ($(origin CC),default)
CC      := aarch64-linux-gnu-gcc
endif
ifeq ($(origin AR),default)
AR      := aarch64-linux-gnu-ar
endif
endif
endif
BUILD   ?= build
OPT     ?= -O2
CFLAGS_BASE := -std=c11 -Wall -Wextra -Werror -Wshadow -Wvla -Wstrict-prototypes \
               -fno-strict-aliasing -D_GNU_SOURCE -Iinclude -Icore
CFLAGS  ?=
ALL_CFLAGS = $(CFLAGS_BASE) $(OPT) $(CFLAGS) $(EXTRA_CFLAGS) $(ISA_FLAGS)

# Instruction-set flags per file, chosen by the file name's path suffix
# (STYLE.md §4.1: one file per path). Only these files may use the
# instructions; the dispatch table calls them after the CPU probe.
X86_AESNI_FLAGS  := -maes -mpclmul -mssse3 -msse4.1
X86_AVX2_FLAGS   := $(X86_AESNI_FLAGS) -mavx -mavx2 -mvaes -mvpclmulqdq
X86_AVX512_FLAGS := $(X86_AVX2_FLAGS) -mavx512f -mavx512bw -mavx512vl
$(BUILD)/obj/arch/x86_64/aes_x86.o: ISA_FLAGS := $(X86_AESNI_FLAGS)
$(BUILD)/obj/arch/x86_64/%_aesni.o: ISA_FLAGS := $(X86_AESNI_FLAGS)
$(BUILD)/obj/arch/x86_64/%_vaes_avx2.o: ISA_FLAGS := $(X86_AVX2_FLAGS)
$(BUILD)/obj/arch/x86_64/%_vaes_avx512.o: ISA_FLAGS := $(X86_AVX512_FLAGS)
# ARMv8 Crypto Extensions (AESE/AESMC, PMULL/PMULL2) for arch/aarch64/*_armv8_ce.c
# only; a flag per file, since clang 14 hides the intrinsics from per-function
# target attributes.
ARM_CE_FLAGS := -march=armv8-a+crypto
$(BUILD)/obj/arch/aarch64/%_armv8_ce.o: ISA_FLAGS := $(ARM_CE_FLAGS)

# The SQLite store is its own archive (DESIGN.md: libvellum.a is libc-only).
SQLITE_SRC := core/store_sqlite.c
# Likewise the DEK Registry JSON records (jansson) and the CLI's own files.
JSON_SRC := core/json_records.c
CLI_SRC  := $(sort $(wildcard core/cli_*.c))
# And the KMIP provider (TLS through OpenSSL); its TTLV codec stays in the core.
KMIP_SRC := core/kms_kmip.c
CORE_SRC := $(sort $(filter-out $(SQLITE_SRC) $(JSON_SRC) $(CLI_SRC) $(KMIP_SRC),$(wildcard core/*.c)))
ifeq ($(ARCH),x86_64)
ARCH_SRC := $(sort $(wildcard arch/x86_64/*.c))
else ifeq ($(ARCH),aarch64)
ARCH_SRC := $(sort $(wildcard arch/aarch64/*.c))
else
ARCH_SRC :=
endif
LIB_SRC := $(CORE_SRC) $(ARCH_SRC)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB     := $(BUILD)/libvellum.a
SQLITE_LIB := $(BUILD)/libvellum-sqlite.a

.PHONY: all lib sqlite json kmip cli clean check deps bench bench-quick
all: lib cli
lib: $(LIB)

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# Not part of `all`: `make` needs nothing but a C compiler. Hosts link
# build/libvellum-sqlite.a build/libvellum.a -lsqlite3 -lpthread.
sqlite: $(SQLITE_LIB)

$(SQLITE_LIB): $(SQLITE_SRC:%.c=$(BUILD)/obj/%.o)
	@rm -f $@
	$(AR) rcs $@ $^

# The KMIP provider (include/vellum/kms_kmip.h). Hosts link
# build/libvellum-kmip.a build/libvellum.a -lssl -lcrypto -lpthread.
KMIP_LIB := $(BUILD)/libvellum-kmip.a
kmip: $(KMIP_LIB)

$(KMIP_LIB): $(KMIP_SRC:%.c=$(BUILD)/obj/%.o)
	@rm -f $@
	$(AR) rcs $@ $^

# DEK Registry JSON import/export (include/vellum/json.h). Hosts link
# build/libvellum-json.a build/libvellum.a -ljansson.
JSON_LIB := $(BUILD)/libvellum-json.a
CLI      := $(BUILD)/vellum
json: $(JSON_LIB)

$(JSON_LIB): $(JSON_SRC:%.c=$(BUILD)/obj/%.o)
	@rm -f $@
	$(AR) rcs $@ $^

# The `vellum` command needs jansson, SQLite (its key store) and OpenSSL
# (the KMIP provider): without their headers the library is still built and
# the CLI is skipped with a message.
CLI_HEADERS := jansson.h sqlite3.h openssl/ssl.h
CLI_LIBS    := -ljansson -lsqlite3 -lssl -lcrypto -lpthread -ldl
cli:
	@missing=; for h in $(CLI_HEADERS); do \
	    printf '#include <%s>\n' $$h | $(CC) -E -x c - >/dev/null 2>&1 || missing="$$missing $$h"; \
	done; \
	if [ -z "$$missing" ]; then \
	    $(MAKE) --no-print-directory $(CLI); \
	else \
	    echo "vellum CLI skipped:$$missing not found (Debian: apt-get install libjansson-dev libsqlite3-dev libssl-dev); $(LIB) is built"; \
	fi

$(CLI): $(CLI_SRC:%.c=$(BUILD)/obj/%.o) $(JSON_LIB) $(SQLITE_LIB) $(KMIP_LIB) $(LIB)
	$(CC) $(OPT) $(CFLAGS) $(LDFLAGS) $(filter %.o,$^) $(JSON_LIB) $(SQLITE_LIB) $(KMIP_LIB) \
	    $(LIB) $(CLI_LIBS) -o $@

$(BUILD)/obj/%.o: %.c $(wildcard include/*.h include/vellum/*.h core/*.h arch/*/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iarch/$(ARCH) -c $< -o $@

clean:
	rm -rf $(BUILD)

# ---------------------------------------------------------------- tests
# Test binaries link OpenSSL, jansson and Criterion as oracles and runner;
# the library itself never does.
VECTORS   ?= ../shared/vectors
TEST_CC   ?= $(CC)
TEST_CFLAGS := -std=gnu11 -O2 -gdwarf-4 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Icore -Itests
TEST_LIBS := -lcriterion -ljansson -lcrypto -lsqlite3 -lpthread -ldl
SUITE_SRC := $(filter-out tests/ct_check.c tests/paths.c tests/kat_runner.c tests/test_kms_kmip.c,$(sort $(wildcard tests/*.c)))
TEST_BIN  := $(BUILD)/tests/vellum_tests
PATHS_BIN := $(BUILD)/tests/vl_paths
KAT_BIN   := $(BUILD)/tests/kat_runner
CT_LIB    := $(BUILD)/ct/libvellum.a
CT_BIN    := $(BUILD)/ct/ct_check

$(TEST_BIN): $(SUITE_SRC) $(wildcard tests/*.h) $(LIB) $(SQLITE_LIB) $(JSON_LIB)
	@mkdir -p $(dir $@)
	$(TEST_CC) $(TEST_CFLAGS) $(SUITE_SRC) $(SQLITE_LIB) $(JSON_LIB) $(LIB) $(TEST_LIBS) -o $@

# The KMIP suite is its own binary: it needs a PyKMIP server (started by
# tests/pykmip.sh) and runs once, not once per AEAD path.
KMIP_TEST_BIN := $(BUILD)/tests/vellum_kmip_tests
$(KMIP_TEST_BIN): tests/test_kms_kmip.c $(KMIP_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(TEST_CC) $(TEST_CFLAGS) $< $(KMIP_LIB) $(LIB) -lcriterion -lssl -lcrypto -lpthread -o $@

$(PATHS_BIN): tests/paths.c $(LIB)
	@mkdir -p $(dir $@)
	$(TEST_CC) $(TEST_CFLAGS) $< $(LIB) -o $@

# Plain-C known-answer runner (no Criterion, no fork/exec), so that it stays
# inside qemu-user; without -DVL_KAT_JSON it builds without jansson and
# reads a flattened case file (--cases). See tests/kat_runner.c.
$(KAT_BIN): tests/kat_runner.c $(LIB)
	@mkdir -p $(dir $@)
	$(TEST_CC) $(TEST_CFLAGS) -DVL_KAT_JSON $< $(LIB) -ljansson -o $@

# The constant-time check: the library rebuilt with VL_CT_VALIDATION, run
# under valgrind with keys and plaintexts marked undefined.
$(CT_LIB): $(LIB_SRC) $(wildcard include/vellum/*.h core/*.h) Makefile
	$(MAKE) --no-print-directory lib BUILD=$(BUILD)/ct EXTRA_CFLAGS="-DVL_CT_VALIDATION -gdwarf-4"

$(CT_BIN): tests/ct_check.c $(CT_LIB)
	$(TEST_CC) $(TEST_CFLAGS) -DVL_CT_VALIDATION $< $(CT_LIB) -o $@

# Paths that valgrind can execute (it has no AVX-512).
CT_PATHS := portable aesni

deps:
	@sh tests/deps.sh

check: deps
	$(MAKE) --no-print-directory lib sqlite json kmip $(CLI)
	$(MAKE) --no-print-directory lib sqlite json kmip $(BUILD)/clang/vellum CC=clang BUILD=$(BUILD)/clang
	$(MAKE) --no-print-directory $(TEST_BIN) $(PATHS_BIN) $(CT_BIN)
	@echo "== dispatch, no override (auto choice)"
	VL_VECTORS=$(VECTORS) $(TEST_BIN) --filter 'dispatch/*'
	@set -e; for p in $$($(PATHS_BIN)); do \
	    echo "== every suite, VELLUM_IMPL=$$p"; \
	    VL_VECTORS=$(VECTORS) VELLUM_IMPL=$$p $(TEST_BIN); \
	done
	@set -e; for p in $$($(PATHS_BIN)); do \
	    case " $(CT_PATHS) " in *" $$p "*) ;; *) continue;; esac; \
	    echo "== constant-time check under valgrind, VELLUM_IMPL=$$p"; \
	    VELLUM_IMPL=$$p valgrind -q --error-exitcode=1 --track-origins=yes $(CT_BIN); \
	done
	@echo "== benchmark binary, quick run (checks every peer against vellum; no speed assertion)"
	$(MAKE) --no-print-directory bench-quick
	$(MAKE) --no-print-directory $(KAT_BIN)
	@echo "== kat_runner (plain C): vectors + cross-check vs portable on the auto-chosen path, no override"
	env -u VELLUM_IMPL VL_VECTORS=$(VECTORS) $(KAT_BIN)
	@if [ "$(ARCH)" = x86_64 ] && command -v qemu-x86_64 >/dev/null 2>&1; then \
	    echo "== kat_runner under qemu-x86_64 -cpu qemu64: that CPU has no AES-NI, so dispatch must choose portable by itself; passing proves it never executes an instruction the CPU lacks"; \
	    env -u VELLUM_IMPL VL_VECTORS=$(VECTORS) qemu-x86_64 -cpu qemu64 $(KAT_BIN) --expect-path portable; \
	else \
	    echo "== emulated no-AES-NI dispatch check skipped (needs x86_64 and qemu-x86_64 from qemu-user)"; \
	fi
	$(MAKE) --no-print-directory check-aarch64
	$(MAKE) --no-print-directory check-cli check-confluent
	$(MAKE) --no-print-directory check-cli-more check-cli-kmip check-install
	$(MAKE) --no-print-directory check-kmip
	@echo "== fuzzing and hardening (fuzz/README.md; the hardening section below)"
	$(MAKE) --no-print-directory fuzz-smoke
	$(MAKE) --no-print-directory check-asan
	$(MAKE) --no-print-directory check-valgrind
	$(MAKE) --no-print-directory check-analyzer

# ---------------------------------------------------------------- CLI, Confluent
# check-cli: the `vellum field` command (tests/test_cli.sh: exit codes, line
# errors, --on-failure none, the csfle-spec.md §5 fixtures). check-confluent:
# both directions against the real @confluentinc/schemaregistry client,
# installed from the npm registry into a temporary folder
# (tests/confluent/run.sh); prints SKIP when node or the registry is out of
# reach, and fails instead when CI=true.
.PHONY: check-cli check-confluent check-kmip
check-cli: $(CLI)
	sh tests/test_cli.sh $(CLI)

# check-cli-more: every other command end to end with bad input for each
# (tests/test_cli_more.sh, policies in tests/policies/). check-install:
# `make install` into a temporary DESTDIR, a program built with
# `pkg-config --static --cflags --libs vellum` against it, run.
.PHONY: check-cli-more check-cli-kmip check-install
check-cli-more: $(CLI)
	sh tests/test_cli_more.sh $(CLI)

check-install:
	sh tests/install/check.sh "$(MAKE)"

# check-cli-kmip: `vellum --kms kmip` against tests/pykmip.sh's throwaway
# server (SKIP without python3-pykmip, a failure when CI=true).
check-cli-kmip: $(CLI)
	sh tests/pykmip.sh run sh tests/test_cli_kmip.sh $(CLI)

check-confluent: $(CLI)
	sh tests/confluent/run.sh $(CLI)

# check-kmip: tests/test_kms_kmip.c against a PyKMIP server that
# tests/pykmip.sh sets up in a temp folder and always removes; prints SKIP
# when python3-pykmip is missing, and fails instead when CI=true.
check-kmip: $(KMIP_TEST_BIN)
	@echo "== KMIP provider against PyKMIP"
	@start=$$(date +%s%N); sh tests/pykmip.sh run $(KMIP_TEST_BIN) || exit 1; \
	echo "== KMIP suite: $$(( ($$(date +%s%N) - start) / 1000000 )) ms wall"

# ---------------------------------------------------------------- aarch64
# The armv8-ce path, from any host: the library cross-built for aarch64
# (gcc, and clang for its warnings), and tests/kat_runner.c built without
# jansson and run under qemu-aarch64 (qemu-user; Criterion's runner hangs
# there) on the vector cases the host's kat_runner flattens (--dump). Runs:
# no override (the auto choice must be armv8-ce: every qemu CPU model has
# AES and PMULL), VELLUM_IMPL=armv8-ce, VELLUM_IMPL=portable, then AT_HWCAP
# without AES/PMULL (a getauxval preloaded into the guest): the auto choice
# must be portable, and forcing armv8-ce must be refused, never fall back.
# Each run prints its path and its cases per file; on a path other than
# portable it also seals and opens against portable at every length 0..1024
# (random alignments, sealed on one path and opened on the other).
# --expect-path fails a run that landed on another path. Then
# arch/aarch64/test/ce_selftest.c, on the gcc and the clang library: the
# ops against portable's where the public single-AD API does not reach
# (multi-AD S2V, the multi-buffer s2v_batch), with guard pages.
A64_BUILD := $(BUILD)/aarch64
A64_CC    ?= aarch64-linux-gnu-gcc
A64_AR    ?= aarch64-linux-gnu-ar
A64_CLANG ?= clang --target=aarch64-linux-gnu
A64_KAT   := $(A64_BUILD)/tests/kat_runner_cases
A64_SHIM  := $(A64_BUILD)/tests/no_ce_hwcap.so
A64_SELF  := $(A64_BUILD)/tests/ce_selftest
KAT_CASES := $(BUILD)/kat_cases.txt
ifeq ($(HOST_ARCH),aarch64)
A64_RUN       :=
A64_RUN_NO_CE := env LD_PRELOAD=$(abspath $(A64_SHIM))
else
A64_RUN       := qemu-aarch64 -L /usr/aarch64-linux-gnu
A64_RUN_NO_CE := $(A64_RUN) -E LD_PRELOAD=$(abspath $(A64_SHIM))
endif

.PHONY: check-aarch64
check-aarch64: $(KAT_BIN)
	@if [ "$(ARCH)" != "$(HOST_ARCH)" ]; then \
	    echo "check-aarch64: run it without ARCH= (it cross-builds by itself)"; exit 1; fi
	@echo "== aarch64: the library cross-built with gcc and clang, the plain-C kat_runner"
	$(MAKE) --no-print-directory lib ARCH=aarch64 CC="$(A64_CC)" AR="$(A64_AR)" BUILD=$(A64_BUILD)
	$(MAKE) --no-print-directory lib ARCH=aarch64 CC="$(A64_CLANG)" AR="$(A64_AR)" BUILD=$(A64_BUILD)/clang
	@mkdir -p $(dir $(A64_KAT))
	$(A64_CC) $(TEST_CFLAGS) tests/kat_runner.c $(A64_BUILD)/libvellum.a -o $(A64_KAT)
	$(A64_CC) $(TEST_CFLAGS) arch/aarch64/test/ce_selftest.c $(A64_BUILD)/libvellum.a -o $(A64_SELF)
	$(A64_CC) $(TEST_CFLAGS) arch/aarch64/test/ce_selftest.c $(A64_BUILD)/clang/libvellum.a \
	    -o $(A64_SELF)-clang
	@printf '%s\n' '#define _GNU_SOURCE' '#include <dlfcn.h>' '#include <sys/auxv.h>' \
	    'unsigned long getauxval(unsigned long type)' '{' \
	    '    unsigned long (*real)(unsigned long) = (unsigned long (*)(unsigned long))dlsym(RTLD_NEXT, "getauxval");' \
	    '    return type == AT_HWCAP ? real(type) & ~(unsigned long)(HWCAP_AES | HWCAP_PMULL) : real(type);' \
	    '}' > $(A64_SHIM:.so=.c)
	$(A64_CC) -shared -fPIC -O2 -Wall -Wextra -Werror $(A64_SHIM:.so=.c) -o $(A64_SHIM) -ldl
	@aarch64-linux-gnu-readelf -h $(A64_KAT) | grep -q 'Machine: *AArch64' || \
	    { echo "$(A64_KAT) is not an AArch64 executable"; exit 1; }
	@aarch64-linux-gnu-nm $(A64_KAT) | grep -q ' T vl_gcm_armv8_ce_seal$$' || \
	    { echo "$(A64_KAT) does not contain the armv8-ce path"; exit 1; }
	VL_VECTORS=$(VECTORS) $(KAT_BIN) --dump $(KAT_CASES)
	@set -e; start=$$(date +%s); \
	echo "== aarch64 kat_runner, no override: the auto choice must be armv8-ce"; \
	env -u VELLUM_IMPL $(A64_RUN) $(A64_KAT) --cases $(KAT_CASES) --expect-path armv8-ce; \
	for p in armv8-ce portable; do \
	    echo "== aarch64 kat_runner, VELLUM_IMPL=$$p"; \
	    VELLUM_IMPL=$$p $(A64_RUN) $(A64_KAT) --cases $(KAT_CASES) --expect-path $$p; \
	done; \
	echo "== aarch64 kat_runner, AT_HWCAP without AES/PMULL: the auto choice must be portable"; \
	env -u VELLUM_IMPL $(A64_RUN_NO_CE) $(A64_KAT) --cases $(KAT_CASES) --expect-path portable --no-diff; \
	echo "== aarch64 kat_runner, AT_HWCAP without AES/PMULL, VELLUM_IMPL=armv8-ce: must be refused (VL_ERR_UNSUPPORTED = -7)"; \
	if VELLUM_IMPL=armv8-ce $(A64_RUN_NO_CE) $(A64_KAT) --cases $(KAT_CASES) --no-diff \
	        > $(A64_BUILD)/tests/no_ce_forced.log 2>&1 || \
	    ! grep -q 'failed: -7 ' $(A64_BUILD)/tests/no_ce_forced.log; then \
	    cat $(A64_BUILD)/tests/no_ce_forced.log; echo "FAIL: VELLUM_IMPL=armv8-ce was not refused"; exit 1; \
	fi; \
	sed -n '1,3p;$$p' $(A64_BUILD)/tests/no_ce_forced.log; \
	for lib in gcc clang; do \
	    echo "== aarch64 ce_selftest, library built with $$lib"; \
	    $(A64_RUN) $(A64_SELF)$$([ $$lib = gcc ] || echo -clang); \
	done; \
	echo "== aarch64 under emulation: $$(( $$(date +%s) - start )) s wall"

# ---------------------------------------------------------------- benchmarks
# bench/*.cc is one Google Benchmark binary (C++17) that links the library
# and its peers: OpenSSL, libsodium and, on x86-64, Intel ipsec-mb. See
# bench/README.md. `make bench` runs everything (every vellum path this CPU
# has, forced one by one), runs the OpenSSL rows again with OPENSSL_ia32cap=0
# (OpenSSL reads it once at startup; those rows are named openssl-noasm),
# then writes bench/results/<cpu>.md, .png and the raw JSON.
BENCH_CXX      ?= g++
BENCH_CXXFLAGS := -std=c++17 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Icore
BENCH_LIBS     := -lbenchmark -lpthread -lcrypto -lsodium
ifeq ($(ARCH),x86_64)
BENCH_LIBS     += -lIPSec_MB
endif
BENCH_SRC      := $(sort $(wildcard bench/*.cc))
BENCH_BIN      := $(BUILD)/bench/vellum_bench
BENCH_RESULTS  ?= bench/results
# Repetitions interleaved at random across benchmarks, medians reported;
# min_time is CPU seconds per repetition.
BENCH_ARGS     ?= --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true \
                  --benchmark_min_time=0.15 --benchmark_display_aggregates_only=true
# The quick subset: 64 B and 16 KiB (and both batch shapes) of everything.
QUICK_ARGS     ?= --benchmark_min_time=0.01
QUICK_SIZES    := /(64|16384|64x64|8x16384)$$
NOASM_FILTER   := ^openssl-noasm/

$(BENCH_BIN): $(BENCH_SRC) bench/bench.h $(LIB) $(SQLITE_LIB) Makefile
	@mkdir -p $(dir $@)
	$(BENCH_CXX) $(BENCH_CXXFLAGS) $(BENCH_SRC) $(SQLITE_LIB) $(LIB) $(BENCH_LIBS) -lsqlite3 -o $@

bench: deps
	$(MAKE) --no-print-directory $(BENCH_BIN)
	$(BENCH_BIN) $(BENCH_ARGS) \
	    --benchmark_out=$(BUILD)/bench/main.json --benchmark_out_format=json
	OPENSSL_ia32cap=0 $(BENCH_BIN) $(BENCH_ARGS) --benchmark_filter='$(NOASM_FILTER)' \
	    --benchmark_out=$(BUILD)/bench/openssl-noasm.json --benchmark_out_format=json
	python3 bench/report.py --out $(BENCH_RESULTS) \
	    $(BUILD)/bench/main.json $(BUILD)/bench/openssl-noasm.json

bench-quick: $(BENCH_BIN)
	$(BENCH_BIN) $(QUICK_ARGS) --benchmark_filter='$(QUICK_SIZES)' \
	    --benchmark_out=$(BUILD)/bench/quick.json --benchmark_out_format=json
	OPENSSL_ia32cap=0 $(BENCH_BIN) $(QUICK_ARGS) --benchmark_filter='$(NOASM_FILTER).*$(QUICK_SIZES)' \
	    --benchmark_out=$(BUILD)/bench/quick-noasm.json --benchmark_out_format=json
	python3 bench/report.py --out $(BUILD)/bench/quick \
	    $(BUILD)/bench/quick.json $(BUILD)/bench/quick-noasm.json

# ---------------------------------------------------------------- fuzzing
# libFuzzer targets, one file each in fuzz/ (fuzz/README.md): clang
# -fsanitize=fuzzer,address,undefined against a library built with
# ASan + UBSan + coverage (fuzzer-no-link) and
# -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, which makes vl_random a fixed
# stream (core/rand.c): that library is for fuzzing only, in its own tree.
# The constant-time crypto files (branch-free by design) are built without
# comparison tracing, which costs a third of the time and guides nothing.
#   make fuzz                         build every target and the seed corpora
#   make fuzz-smoke                   every target FUZZ_SMOKE_SECONDS (part of check)
#   make fuzz-long FUZZ_SECONDS=N     every target N seconds (default 600)
#   make fuzz-long FUZZ_SECONDS=N FUZZ_TARGETS=aead_diff    one target
# FUZZ_JOBS targets run side by side (default 2: this machine's cores).
FUZZ_CC      ?= clang
FUZZ_BUILD   := $(BUILD)/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_DEFS    := -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
FUZZ_HELPERS := fuzz/fuzz.c fuzz/ossl.c fuzz/gen_seeds.c
FUZZ_TARGETS ?= $(filter-out $(notdir $(basename $(FUZZ_HELPERS))),$(notdir $(basename $(wildcard fuzz/*.c))))
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 30
FUZZ_JOBS    ?= 2
FUZZ_LIBDIR  := $(FUZZ_BUILD)/lib
FUZZ_LIBS    := $(FUZZ_LIBDIR)/libvellum-sqlite.a $(FUZZ_LIBDIR)/libvellum-json.a \
                $(FUZZ_LIBDIR)/libvellum.a
FUZZ_STAMP   := $(FUZZ_BUILD)/lib.stamp
FUZZ_CFLAGS  := -std=c11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wvla -Wstrict-prototypes \
                -D_GNU_SOURCE -Iinclude -Icore -Ifuzz $(FUZZ_SAN) $(FUZZ_DEFS)
FUZZ_LDLIBS  := -lcrypto -lsqlite3 -ljansson -lpthread -ldl
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/bin/%)
FUZZ_SEEDS   := $(FUZZ_BUILD)/seeds/.done
# Read through $(FUZZ_FILE_FLAGS) in EXTRA_CFLAGS below (a recursive
# command-line variable, so this per-file value applies in the sub-make).
$(FUZZ_LIBDIR)/obj/core/%_ct.o $(FUZZ_LIBDIR)/obj/core/sha256.o $(FUZZ_LIBDIR)/obj/arch/%.o: \
    FUZZ_FILE_FLAGS := -fno-sanitize-coverage=trace-cmp

.PHONY: fuzz fuzz-smoke fuzz-long
fuzz: $(FUZZ_BINS) $(FUZZ_SEEDS)

# One sub-make builds the three archives into $(FUZZ_LIBDIR); the stamp
# stands for them (a rule naming the archives would be the sub-make's own).
$(FUZZ_STAMP): $(LIB_SRC) $(SQLITE_SRC) $(JSON_SRC) \
        $(wildcard include/*.h include/vellum/*.h core/*.h arch/*/*.h) Makefile
	$(MAKE) --no-print-directory -j$(FUZZ_JOBS) lib sqlite json CC=$(FUZZ_CC) BUILD=$(FUZZ_LIBDIR) \
	    FUZZ_BUILD=$(FUZZ_BUILD) \
	    EXTRA_CFLAGS='-g $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(FUZZ_DEFS) $$(FUZZ_FILE_FLAGS)'
	@touch $@

$(FUZZ_BUILD)/bin/%: fuzz/%.c $(wildcard fuzz/*.h) fuzz/fuzz.c fuzz/ossl.c $(FUZZ_STAMP)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< fuzz/fuzz.c fuzz/ossl.c $(FUZZ_LIBS) \
	    $(FUZZ_LDLIBS) -o $@

# Seed corpora from ../shared/vectors (and the keyring fixture's real
# ciphertexts), regenerated into $(FUZZ_BUILD)/seeds: never committed.
$(FUZZ_BUILD)/gen_seeds: fuzz/gen_seeds.c $(wildcard fuzz/*.h) fuzz/fuzz.c $(FUZZ_STAMP)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $< fuzz/fuzz.c $(FUZZ_LIBS) $(FUZZ_LDLIBS) -o $@

$(FUZZ_SEEDS): $(FUZZ_BUILD)/gen_seeds $(wildcard $(VECTORS)/*.json $(VECTORS)/*/*.json $(VECTORS)/*/*.rsp)
	rm -rf $(FUZZ_BUILD)/seeds
	VL_VECTORS=$(VECTORS) $(FUZZ_BUILD)/gen_seeds $(FUZZ_BUILD)/seeds
	@touch $@

.PHONY: $(FUZZ_TARGETS:%=fuzz-run-%)
$(FUZZ_TARGETS:%=fuzz-run-%): fuzz-run-%:
	@sh fuzz/run.sh $* $(FUZZ_RUN_SECONDS) $(FUZZ_BUILD)

fuzz-smoke: fuzz
	@echo "== fuzz-smoke: $(words $(FUZZ_TARGETS)) targets x $(FUZZ_SMOKE_SECONDS) s, $(FUZZ_JOBS) at a time"
	@$(MAKE) --no-print-directory -j$(FUZZ_JOBS) $(FUZZ_TARGETS:%=fuzz-run-%) \
	    FUZZ_RUN_SECONDS=$(FUZZ_SMOKE_SECONDS) FUZZ_TARGETS="$(FUZZ_TARGETS)"

fuzz-long: fuzz
	@echo "== fuzz-long: $(words $(FUZZ_TARGETS)) targets x $(FUZZ_SECONDS) s, $(FUZZ_JOBS) at a time"
	@$(MAKE) --no-print-directory -j$(FUZZ_JOBS) $(FUZZ_TARGETS:%=fuzz-run-%) \
	    FUZZ_RUN_SECONDS=$(FUZZ_SECONDS) FUZZ_TARGETS="$(FUZZ_TARGETS)" | tee $(FUZZ_BUILD)/long.txt

# ---------------------------------------------------------------- hardening
# check-asan      the Criterion suite (and the KMIP suite, through
#                 tests/pykmip.sh) built with clang ASan + UBSan, every
#                 error fatal, run once with no VELLUM_IMPL (every path).
# check-valgrind  the Criterion suite under valgrind memcheck, with
#                 VELLUM_IMPL=portable and =aesni (valgrind has no
#                 AVX-512): no errors, no definite leaks. VL_TEST_SCALE
#                 shrinks the randomized loops (tests/common.h).
# check-analyzer  clang-tidy's analyzer over core/ and arch/ (see below).
# Criterion runs every test in a re-executed child and ignores how the
# child exits once the test reported, so a leak report at exit would pass
# unseen: both sanitizer and valgrind reports go to one log file per
# process, and any non-empty log fails the check.
.PHONY: check-asan check-valgrind check-analyzer
ASAN_BUILD  := $(BUILD)/asan
ASAN_LIBDIR := $(ASAN_BUILD)/lib
ASAN_FLAGS  := -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
ASAN_BIN    := $(ASAN_BUILD)/tests/vellum_tests
ASAN_KMIP_BIN := $(ASAN_BUILD)/tests/vellum_kmip_tests
# libstdc++ loaded from the start: ASan's __cxa_throw interceptor resolves
# the real one at startup, and SoftHSM (the PKCS#11 tests dlopen it) is C++
# and throws internally; without it the first throw is a CHECK failure.
ASAN_STDCXX := -Wl,--push-state,--no-as-needed -lstdc++ -Wl,--pop-state
ASAN_ENV     = ASAN_OPTIONS=log_path=$(abspath $(ASAN_BUILD))/logs/asan:detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1 \
               UBSAN_OPTIONS=log_path=$(abspath $(ASAN_BUILD))/logs/ubsan:print_stacktrace=1:halt_on_error=1

$(ASAN_BUILD)/lib.stamp: $(LIB_SRC) $(SQLITE_SRC) $(JSON_SRC) $(KMIP_SRC) \
        $(wildcard include/*.h include/vellum/*.h core/*.h arch/*/*.h) Makefile
	$(MAKE) --no-print-directory lib sqlite json kmip CC=clang BUILD=$(ASAN_LIBDIR) \
	    EXTRA_CFLAGS='$(ASAN_FLAGS)'
	@touch $@

$(ASAN_BIN): $(SUITE_SRC) $(wildcard tests/*.h) $(ASAN_BUILD)/lib.stamp
	@mkdir -p $(dir $@)
	clang $(TEST_CFLAGS) $(ASAN_FLAGS) $(SUITE_SRC) $(ASAN_LIBDIR)/libvellum-sqlite.a \
	    $(ASAN_LIBDIR)/libvellum-json.a $(ASAN_LIBDIR)/libvellum.a $(TEST_LIBS) $(ASAN_STDCXX) -o $@

$(ASAN_KMIP_BIN): tests/test_kms_kmip.c $(ASAN_BUILD)/lib.stamp
	@mkdir -p $(dir $@)
	clang $(TEST_CFLAGS) $(ASAN_FLAGS) $< $(ASAN_LIBDIR)/libvellum-kmip.a $(ASAN_LIBDIR)/libvellum.a \
	    -lcriterion -lssl -lcrypto -lpthread -o $@

check-asan: $(ASAN_BIN) $(ASAN_KMIP_BIN)
	@rm -rf $(ASAN_BUILD)/logs && mkdir -p $(ASAN_BUILD)/logs
	@echo "== every suite under ASan + UBSan (clang), every path"
	@start=$$(date +%s); \
	env -u VELLUM_IMPL $(ASAN_ENV) VL_VECTORS=$(VECTORS) $(ASAN_BIN); rc=$$?; \
	$(ASAN_ENV) sh tests/pykmip.sh run $(ASAN_KMIP_BIN) || rc=1; \
	if [ -n "$$(find $(ASAN_BUILD)/logs -type f -size +0)" ]; then \
	    cat $(ASAN_BUILD)/logs/*; echo "FAIL: sanitizer reports above"; rc=1; fi; \
	echo "== ASan + UBSan: $$(( $$(date +%s) - start )) s wall"; exit $$rc

# check-analyzer: clang-tidy (its static analyzer, security checks
# included, and the bug-prone and CERT checks) over every file in core/ and
# arch/<this arch>; tests/analyzer.py says which checks are left out and
# why, and tests/analyzer_baseline.txt explains each remaining warning that
# is not a bug. Anything else fails. (gcc -fanalyzer was tried first: over
# 9 minutes on this tree on 2 cores, too slow for make check; run it alone
# with `make check-fanalyzer`.)
ANALYZER_SRC := $(sort $(wildcard core/*.c)) $(ARCH_SRC)
check-analyzer:
	@echo "== static analysis: clang-tidy over core/ and arch/$(ARCH)"
	@start=$$(date +%s); python3 tests/analyzer.py tests/analyzer_baseline.txt $(FUZZ_JOBS) \
	    $(ANALYZER_SRC) || rc=1; \
	echo "== static analysis: $$(( $$(date +%s) - start )) s wall"; exit $${rc:-0}

.PHONY: check-fanalyzer
check-fanalyzer:
	$(MAKE) --no-print-directory -k lib sqlite json kmip CC=gcc BUILD=$(BUILD)/fanalyzer \
	    EXTRA_CFLAGS='-fanalyzer -Wno-error'

VG_BUILD  := $(BUILD)/valgrind
VG_PATHS  ?= portable aesni
VG_SCALE  ?= 0.02
# api/gcm_length_limits reserves 2 x 64 GiB of PROT_NONE address space,
# more than valgrind's address-space manager hands out; it runs natively
# on every path and under ASan.
VG_FILTER := '!(api/gcm_length_limits)'
# /usr and /bin: what the tests start besides their own re-executions
# (sh, sqlite3, softhsm2-util, ...) is not ours to check.
VG_FLAGS  := -q --trace-children=yes --trace-children-skip='/usr/*,/bin/*,/sbin/*' \
             --error-exitcode=1 --leak-check=full --show-leak-kinds=definite \
             --errors-for-leak-kinds=definite --num-callers=30

check-valgrind: $(TEST_BIN)
	@set -e; for p in $(VG_PATHS); do \
	    log=$(VG_BUILD)/$$p; rm -rf $$log; mkdir -p $$log; start=$$(date +%s); \
	    echo "== every suite under valgrind memcheck, VELLUM_IMPL=$$p, VL_TEST_SCALE=$(VG_SCALE)"; \
	    rc=0; VELLUM_IMPL=$$p VL_TEST_SCALE=$(VG_SCALE) VL_VECTORS=$(VECTORS) \
	        valgrind $(VG_FLAGS) --log-file=$$log/vg.%p $(TEST_BIN) -j2 --filter $(VG_FILTER) || rc=1; \
	    if [ -n "$$(find $$log -type f -size +0)" ]; then \
	        cat $$log/*; echo "FAIL: valgrind reports above"; rc=1; fi; \
	    echo "== valgrind, $$p: $$(ls $$log | wc -l) processes, $$(( $$(date +%s) - start )) s wall"; \
	    [ $$rc = 0 ] || exit 1; \
	done

# ---------------------------------------------------------------- demo, install
# make demo: builds everything, then tests/demo.sh runs the whole story on
# the embedded defaults (local KMS, a SQLite store in a temporary folder).
.PHONY: demo install
demo:
	@$(MAKE) --no-print-directory lib cli
	@sh tests/demo.sh $(CLI)

# make install PREFIX=/usr/local DESTDIR=: libvellum.a, the optional
# archives that are built (libvellum-{sqlite,json,kmip}.a, each with its own
# vellum-<name>.pc that requires vellum), the headers, bin/vellum (when
# built) and lib/pkgconfig/vellum.pc. Hosts link with
#   cc app.c $$(pkg-config --static --cflags --libs vellum)
PREFIX  ?= /usr/local
DESTDIR ?=
IDIR    := $(DESTDIR)$(PREFIX)
PC_HEAD  = 'prefix=$(PREFIX)' 'libdir=$${prefix}/lib' 'includedir=$${prefix}/include' ''
install:
	@$(MAKE) --no-print-directory lib cli
	install -d $(IDIR)/lib/pkgconfig $(IDIR)/include/vellum $(IDIR)/bin
	install -m 644 $(LIB) $(IDIR)/lib/
	install -m 644 include/vellum.h $(IDIR)/include/
	install -m 644 include/vellum/*.h $(IDIR)/include/vellum/
	@printf '%s\n' $(PC_HEAD) 'Name: vellum' \
	    'Description: envelope encryption: AEAD, KMS providers, keyring, CSFLE' \
	    'Version: $(shell sed -n 's/^#define VL_VERSION_STRING "\(.*\)"/\1/p' include/vellum/version.h)' \
	    'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -lvellum' 'Libs.private: -ldl -lpthread' \
	    > $(IDIR)/lib/pkgconfig/vellum.pc
	@set -e; for x in sqlite:-lsqlite3 json:-ljansson kmip:'-lssl -lcrypto'; do \
	    n=$${x%%:*}; deps=$${x#*:}; \
	    [ -f $(BUILD)/libvellum-$$n.a ] || continue; \
	    install -m 644 $(BUILD)/libvellum-$$n.a $(IDIR)/lib/; \
	    printf '%s\n' $(PC_HEAD) "Name: vellum-$$n" "Description: vellum's $$n archive" \
	        'Version: $(shell sed -n 's/^#define VL_VERSION_STRING "\(.*\)"/\1/p' include/vellum/version.h)' \
	        'Requires: vellum' 'Libs: -L$${libdir} -lvellum-'$$n "Libs.private: $$deps" \
	        > $(IDIR)/lib/pkgconfig/vellum-$$n.pc; \
	    echo "installed libvellum-$$n.a and vellum-$$n.pc"; \
	done
	@if [ -f $(CLI) ]; then install -m 755 $(CLI) $(IDIR)/bin/; echo "installed bin/vellum"; fi
	@echo "installed vellum into $(IDIR)"
