# optgate - GNU make, no autotools.  See README.md.
#
#   make            build lib/ and every program into build/
#   make check      install missing Debian packages, build, run all tests
#   make asan       the whole suite under ASan + UBSan (clang)
#   make fuzz       libFuzzer targets, FUZZ_SECONDS each (default 60)
#   make bench      benchmarks (N=10000000 addresses by default)
#   make demo       a campaign through a throwaway Postfix (README: "See it work")
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
CC ?= cc
SAN ?=
WERROR ?= -Werror
FUZZ_SECONDS ?= 60
N ?= 10000000
VERSION := 0.1.0

PKGS := lmdb libcrypto libidn2 inih
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Wformat=2 -Wshadow -Wno-unused-parameter $(WERROR)
CFLAGS ?= -O2 -g
OG_CFLAGS := -std=c11 -D_GNU_SOURCE -DOG_VERSION=\"$(VERSION)\" -Ilib $(WARN) $(PKG_CFLAGS) $(SAN) \
	-MMD -MP
OG_LDFLAGS := $(SAN)
LIBS := $(PKG_LIBS) -lpthread

LIB := $(BUILD)/lib/liboptgate.a
LIB_SRCS := $(filter-out %_test.c %_fuzz.c,$(wildcard lib/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)

UNIT_SRCS := $(wildcard lib/*_test.c tools/*_test.c)
UNIT_BINS := $(UNIT_SRCS:%.c=$(BUILD)/test/%)

BINDIR := $(BUILD)/bin
PROGS :=
PROGS_TEST :=

all: build

# Each program folder adds itself to PROGS with its own rules.
include $(sort $(wildcard */module.mk))

build: $(LIB) $(PROGS) $(PROGS_TEST) $(UNIT_BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(OG_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/test/%_test: $(BUILD)/%_test.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(OG_LDFLAGS) $(TEST_LDFLAGS) -o $@ $< $(LIB) $(LIBS) -lcmocka

# Their objects are kept: deleted as intermediates, they were named by
# their .d files on the next run, so the make after the first rebuilt
# and relinked them.
.SECONDARY: $(UNIT_SRCS:%.c=$(BUILD)/%.o)

# og_gate_test fails the erasure lookup on demand (a read error there
# must not become an accept).
$(BUILD)/test/lib/og_gate_test: TEST_LDFLAGS = -Wl,--wrap=og_store_erased
# og_store_test stops a process between the store's look at a file's
# size and LMDB setting the file to the map, or between its mapping and
# the store's first transaction (races with another process), and counts
# descriptors closed twice.
$(BUILD)/test/lib/og_store_test: TEST_LDFLAGS = \
	-Wl,--wrap=mdb_env_open -Wl,--wrap=mdb_env_set_mapsize \
	-Wl,--wrap=close

deps:
	@sh tools/install-deps.sh

check: deps
	@$(MAKE) --no-print-directory build
	@BUILD=$(BUILD) sh tests/run

# ThreadSanitizer over the tests of the threaded parts: the store's
# reader threads, config snapshots, optgate-milter (libmilter's workers),
# optgate-policyd (its counters thread) and optgate-unsubd (HTTP threads,
# committer, reaper).  Not part of check or .ci/run (slow under TSan).
tsan:
	@sh tools/install-deps.sh
	@$(MAKE) --no-print-directory BUILD=build/tsan CC=clang \
	    SAN="-fsanitize=thread" CFLAGS="-O1 -g" build
	@for t in store_threads og_snap milter_ policyd_ unsubd; do \
	    BUILD=build/tsan \
	    TSAN_OPTIONS="halt_on_error=1 handle_segv=0 suppressions=$(CURDIR)/tests/milter/tsan.supp" \
	    sh tests/run $$t || exit 1; done

asan:
	@sh tools/install-deps.sh
	@$(MAKE) --no-print-directory BUILD=build/asan CC=clang \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	    CFLAGS="-O1 -g" build
	@BUILD=build/asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 sh tests/run

FUZZ_SRCS := $(wildcard tests/fuzz/*_fuzz.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/bin/%)

# The instrumented library and extra objects, made once by one sub-make
# before any target links (one sub-make per target raced on the archive
# under -j).
fuzz-objs:
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang \
	    SAN="-fsanitize=fuzzer-no-link,address,undefined" CFLAGS="-O1 -g" \
	    build/fuzz/lib/liboptgate.a \
	    $(foreach t,$(FUZZ_SRCS:tests/fuzz/%.c=%),$(FUZZ_EXTRA_LIBS_$(t)))

build/fuzz/bin/%: tests/fuzz/%.c fuzz-objs
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -Ilib -O1 -g \
	    -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS) \
	    $(FUZZ_CFLAGS_$*) -o $@ $< $(FUZZ_OBJS_$*) \
	    build/fuzz/lib/liboptgate.a $(FUZZ_LIBS_$*) $(LIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: deps fuzz-build
	@sh tests/fuzz/run $(FUZZ_SECONDS) $(FUZZ_BINS)

bench: deps
	@$(MAKE) --no-print-directory build
	@BUILD=$(BUILD) N=$(N) sh tests/bench/run

demo: deps
	@$(MAKE) --no-print-directory build
	@BUILD=$(BUILD) sh tests/demo.sh

# Programs in sbin (where conf/*.service and the Postfix snippets look),
# the example config and snippets in share/optgate, the README where the
# units' Documentation= points.  conf/ names them under /usr/local: the
# copies installed name them under PREFIX, where they are.
install: build
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/optgate \
	    $(DESTDIR)$(PREFIX)/share/doc/optgate
	install -m 0755 $(PROGS) $(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 conf/* $(DESTDIR)$(PREFIX)/share/optgate/
	cd $(DESTDIR)$(PREFIX)/share/optgate && \
	    sed -i 's#/usr/local/#$(PREFIX)/#g' $(notdir $(wildcard conf/*))
	install -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/optgate/

format:
	clang-format -i $(wildcard lib/*.[ch] */*.c */*.h)

clean:
	rm -rf build

.PHONY: tsan all build deps check asan fuzz fuzz-build fuzz-objs bench demo install \
	format clean

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
