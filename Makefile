# capgate — build, test and run.
#
#   make            build build/capgate (installs missing Debian packages first)
#   make test       unit tests (cmocka) + end-to-end tests through real processes
#   make run        the whole stack on its embedded defaults
#
# Sources are discovered: every src/<module>/*.c goes into build/libcapgate.a, src/main.c
# is the command, and every tests/unit/<dir>/test_<module>.c is one cmocka test program
# (tests/unit mirrors src: the tests of src/net/h1.c are tests/unit/net/test_h1.c).

CC      ?= cc
PKGS    := libmicrohttpd libcurl yaml-0.1 jansson sqlite3 libcrypto libxml-2.0 avro-c md4c libseccomp hiredis
BUILD   := build

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter -Wformat=2 -Wvla
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -pthread $(WARN) -Isrc
LDLIBS  += -pthread -lm

# pkg-config only once the packages are there (the deps target installs them).
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libxml2 and avro-c are compiled against but not linked: src/common/lazylib.c loads them on
# first use (their sonames come from the installed libraries).
LAZY_PKGS  := libxml-2.0 avro-c
PKG_LIBS   = $(shell pkg-config --libs $(filter-out $(LAZY_PKGS),$(PKGS)) 2>/dev/null) -lcsv  # libcsv ships no .pc file
# test_formats writes Avro itself (capgate only reads it)
TEST_LIBS  = $(shell pkg-config --libs avro-c 2>/dev/null)
soname     = $(shell objdump -p $$($(CC) -print-file-name=$(1)) 2>/dev/null | awk '/SONAME/ {print $$2}')

LIB_SRCS  := $(sort $(shell find src -mindepth 2 -name '*.c'))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(sort $(shell find tests/unit -name 'test_*.c'))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
VERSION   := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

FUZZ_SRCS := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRCS:fuzz/%.c=build-fuzz/%)
FUZZ_SECONDS ?= 60
SANITIZE  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

.PHONY: test-valgrind all deps test unit e2e run clean fuzz fuzz-smoke fuzz-build test-asan \
        format format-check
all: deps $(BUILD)/capgate

# Installs the Debian packages the project needs, only when something is missing.
deps:
	@scripts/install-deps.sh --check-or-install

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -DCAPGATE_VERSION='"$(VERSION)"' -MMD -MP -c $< -o $@

$(BUILD)/src/common/lazylib.o: CFLAGS += -DCG_LIBXML2_SONAME='"$(call soname,libxml2.so)"' \
                                         -DCG_LIBAVRO_SONAME='"$(call soname,libavro.so)"'

# The web pages are embedded with .incbin (src/common/embed.h): their objects depend on them.
$(BUILD)/src/console/console.o: $(wildcard src/console/www/*)
$(BUILD)/src/studio/page.o: $(wildcard src/studio/www/*)
$(BUILD)/src/common/www.o: $(wildcard src/common/www/*)

$(BUILD)/libcapgate.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/capgate: $(BUILD)/src/main.o $(BUILD)/libcapgate.a
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

# a test program is rebuilt when a header the tests share changes too (loopback.h)
$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h tests/unit/*/*.h) $(BUILD)/libcapgate.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libcapgate.a \
	    $(PKG_LIBS) $(shell pkg-config --libs cmocka 2>/dev/null) $(LDLIBS) $(TEST_LIBS)

unit: deps $(UNIT_BINS)
	@tests/run-unit.sh $(UNIT_BINS)

e2e: deps $(BUILD)/capgate
	@tests/run-e2e.sh

test: format-check unit e2e fuzz-smoke

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer (clang), in
# build-asan/: unit programs and every e2e script run against the instrumented binary.
test-asan: deps
	@CC=clang CFLAGS="-O1 -g $(SANITIZE)" LDLIBS="$(SANITIZE)" \
	    $(MAKE) --no-print-directory BUILD=build-asan build-asan/capgate \
	    $(UNIT_SRCS:tests/unit/%.c=build-asan/tests/%)
	@tests/run-unit.sh $(UNIT_SRCS:tests/unit/%.c=build-asan/tests/%)
	@CAPGATE_BIN=$(CURDIR)/build-asan/capgate ASAN_OPTIONS=detect_leaks=1 tests/run-e2e.sh

# The e2e suite again with every capgate process under valgrind memcheck (errors and
# definite/indirect leaks fail it; reports in build/valgrind/). Slow: see README.
test-valgrind: deps $(BUILD)/capgate
	@rm -rf $(BUILD)/valgrind
	@CAPGATE_BIN=$(CURDIR)/tests/valgrind/capgate VALGRIND_LOGS=$(CURDIR)/$(BUILD)/valgrind tests/run-e2e.sh; \
	    e2e=$$?; tests/valgrind/summarize.sh $(BUILD)/valgrind && exit $$e2e

# Fuzzing (clang libFuzzer + ASan/UBSan). The library is rebuilt in build-fuzz/ with
# coverage instrumentation; each fuzz/fuzz_NAME.c is one target with its seed corpus in
# fuzz/corpus/NAME/. `make fuzz` runs each for FUZZ_SECONDS; `make test` runs each briefly.
fuzz-build: deps
	@CC=clang CFLAGS="-O1 -g -fsanitize=fuzzer-no-link $(SANITIZE)" \
	    $(MAKE) --no-print-directory BUILD=build-fuzz build-fuzz/libcapgate.a
	@$(MAKE) --no-print-directory $(FUZZ_BINS)

build-fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/loopback.h build-fuzz/libcapgate.a
	clang -O1 -g -std=c11 -D_GNU_SOURCE -Isrc $(PKG_CFLAGS) -fsanitize=fuzzer $(SANITIZE) \
	    -o $@ $< build-fuzz/libcapgate.a $(PKG_LIBS) $(LDLIBS)

fuzz: fuzz-build
	@fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

fuzz-smoke: fuzz-build
	@fuzz/run.sh 8 $(FUZZ_BINS)

run: all
	@scripts/run-stack.sh

# One style for all C (.clang-format, clang-format 14): `make format` rewrites the files in
# place, `make format-check` lists what it would change and fails if anything would.
CLANG_FORMAT ?= clang-format-14
FORMAT_SRCS = $(shell git ls-files 'src/*.[ch]' 'tests/unit/*.[ch]' 'fuzz/*.[ch]' 'bench/*.[ch]')

format: deps
	@$(CLANG_FORMAT) -i $(FORMAT_SRCS)

format-check: deps
	@$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_SRCS)

clean:
	rm -rf $(BUILD) build-fuzz build-asan

-include $(LIB_OBJS:.o=.d) $(BUILD)/src/main.d
