# vellum: the only build. `make` needs nothing but a C compiler.
#   make            build/libvellum.a
#   make check      install missing test packages (Debian), build, run every suite
CC      ?= cc
ARCH    ?= $(shell uname -m)
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

CORE_SRC := $(sort $(wildcard core/*.c))
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

.PHONY: all lib clean check deps
all: lib
lib: $(LIB)

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

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
TEST_LIBS := -lcriterion -ljansson -lcrypto -lpthread
SUITE_SRC := $(filter-out tests/ct_check.c tests/paths.c,$(sort $(wildcard tests/*.c)))
TEST_BIN  := $(BUILD)/tests/vellum_tests
PATHS_BIN := $(BUILD)/tests/vl_paths
CT_LIB    := $(BUILD)/ct/libvellum.a
CT_BIN    := $(BUILD)/ct/ct_check

$(TEST_BIN): $(SUITE_SRC) $(wildcard tests/*.h) $(LIB)
	@mkdir -p $(dir $@)
	$(TEST_CC) $(TEST_CFLAGS) $(SUITE_SRC) $(LIB) $(TEST_LIBS) -o $@

$(PATHS_BIN): tests/paths.c $(LIB)
	@mkdir -p $(dir $@)
	$(TEST_CC) $(TEST_CFLAGS) $< $(LIB) -o $@

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
	$(MAKE) --no-print-directory lib
	$(MAKE) --no-print-directory lib CC=clang BUILD=$(BUILD)/clang
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
