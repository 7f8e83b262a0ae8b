# memdemo: a C HTTP server on the Boehm GC whose heap and collections you can watch with
# go tool pprof and go tool trace.
#
# Targets:
#   make              build ./memdemo (needs the packages listed in .ci/deps)
#   make run          install missing packages, build, run ./memdemo -repetitions 1000
#   make test         install missing packages, build, run every test; last line "N passed, N failed, N skipped"
#   make bench        install missing packages, build, compare memdemo with the Go peer (bench/),
#                     time heap profiles with 10,000 stacks (build/bench/heapstacks) and
#                     measure what a CPU-profile sample costs (build/bench/cpusample)
#   make images       regenerate the pprof graphs README.md shows (bench/images/*.png)
#   make install      install memdemo to $(DESTDIR)$(PREFIX)/bin (PREFIX=/usr/local)
#   make clean        remove build products
# Variables: SANITIZER=address|undefined builds everything with that sanitizer (thread
# sanitizer cannot work with a conservative collector's signals); CC, CFLAGS_EXTRA.

CC        ?= gcc
PREFIX    ?= /usr/local
BUILD     := build
PKGS      := bdw-gc libmicrohttpd libprotobuf-c zlib libdw

# Flags are computed lazily so that `make run`/`make test` can install pkg-config and
# the libraries before anything asks pkg-config.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
# bdwgc is linked statically (Debian's libgc.a): in a shared libgc every allocation
# looked up its thread-local free lists through __tls_get_addr, 7% of /noleaker's CPU.
PKG_LIBS   = -Wl,-Bstatic -lgc -Wl,-Bdynamic \
             $(shell pkg-config --libs $(filter-out bdw-gc,$(PKGS))) -lpthread -ldl -lm
SAN_FLAGS  = $(if $(SANITIZER),-fsanitize=$(SANITIZER) -fno-sanitize-recover=all,)
CFLAGS     = -std=c11 -O2 -g -Wall -Wextra -Wstrict-prototypes -D_GNU_SOURCE -DGC_THREADS \
             -fno-omit-frame-pointer -MMD -MP -I. -I$(BUILD) $(PKG_CFLAGS) $(SAN_FLAGS) $(CFLAGS_EXTRA)
LDFLAGS    = -rdynamic $(SAN_FLAGS)

PROTO_SRC := $(BUILD)/profile/profile.pb-c.c
LIB_SRCS  := $(wildcard gc/*.c profile/*.c) $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJS  := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS)) $(PROTO_SRC:.c=.o)
MAIN_OBJ  := $(BUILD)/src/main.o
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
BENCH_BINS := $(BUILD)/bench/heapstacks $(BUILD)/bench/cpusample

.PHONY: all run test bench images install clean deps unit-tests
all: memdemo

deps:
	@.ci/deps

memdemo: $(LIB_OBJS) $(MAIN_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# Objects that include the generated protobuf header must wait for it.
$(LIB_OBJS) $(MAIN_OBJ): | $(PROTO_SRC)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/profile/profile.pb-c.c: profile/profile.proto
	@mkdir -p $(BUILD)/profile
	protoc-c --proto_path=profile --c_out=$(BUILD)/profile profile/profile.proto

# The dashboard's files are embedded with the assembler's .incbin, which -MMD cannot see.
$(BUILD)/src/assets.o: $(wildcard src/dashboard/*.html src/dashboard/*.js src/dashboard/vendor/uplot/*)

$(BUILD)/profile/profile.pb-c.o: $(BUILD)/profile/profile.pb-c.c
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS) tests/unit/unit.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(PKG_LIBS)

unit-tests: $(UNIT_BINS)

# Benchmark programs: their own main(), linked with the library objects like a unit test.
$(BUILD)/bench/%: bench/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(PKG_LIBS)

run: deps
	@$(MAKE) --no-print-directory memdemo
	./memdemo -repetitions 1000

test: deps
	@$(MAKE) --no-print-directory memdemo unit-tests
	@tests/run

bench: deps
	@$(MAKE) --no-print-directory memdemo $(BENCH_BINS)
	@bench/run

images: deps
	@$(MAKE) --no-print-directory memdemo
	@bench/make-images

install: memdemo
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 memdemo $(DESTDIR)$(PREFIX)/bin/memdemo

clean:
	rm -rf $(BUILD) memdemo bench/goref/goref

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
