# capgate — build, test and run.
#
#   make            build build/capgate (installs missing Debian packages first)
#   make test       unit tests (cmocka) + end-to-end tests through real processes
#   make run        the whole stack on its embedded defaults
#
# Sources are discovered: every src/<module>/*.c goes into build/libcapgate.a, src/main.c
# is the command, and every tests/unit/test_*.c is one cmocka test program.

CC      ?= cc
PKGS    := libmicrohttpd libcurl yaml-0.1 jansson sqlite3 libcrypto
BUILD   := build

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter -Wformat=2 -Wvla
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -pthread $(WARN) -Isrc
LDLIBS  += -pthread -lm

# pkg-config only once the packages are there (the deps target installs them).
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

LIB_SRCS  := $(sort $(shell find src -mindepth 2 -name '*.c'))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
VERSION   := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

.PHONY: all deps test unit e2e run clean fuzz
all: deps $(BUILD)/capgate

# Installs the Debian packages the project needs, only when something is missing.
deps:
	@scripts/install-deps.sh --check-or-install

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -DCAPGATE_VERSION='"$(VERSION)"' -MMD -MP -c $< -o $@

$(BUILD)/libcapgate.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/capgate: $(BUILD)/src/main.o $(BUILD)/libcapgate.a
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libcapgate.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libcapgate.a \
	    $(PKG_LIBS) $(shell pkg-config --libs cmocka 2>/dev/null) $(LDLIBS)

unit: deps $(UNIT_BINS)
	@tests/run-unit.sh $(UNIT_BINS)

e2e: deps $(BUILD)/capgate
	@tests/run-e2e.sh

test: unit e2e

run: all
	@scripts/run-stack.sh

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJS:.o=.d) $(BUILD)/src/main.d
