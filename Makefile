# memdemo: a C HTTP server on the Boehm GC whose heap and collections you can watch with
# go tool pprof and go tool trace.
#
# Targets:
#   make              build ./memdemo, ./gcprof and libgcprof.so (needs the packages `.ci/deps --list run` prints)
#   make run          install what running and viewing need (.ci/deps run), build, run
#                     ./memdemo -repetitions 1000
#   make test         install the test tools too (.ci/deps test), build, run every test;
#                     last line "N passed, N failed, N skipped"
#                     (tests/run: files in parallel; MEMDEMO_SLOW=1 adds the minutes-long
#                     bounded fuzz runs and bench smoke run, which .ci/run always runs)
#   make bench        install missing packages (.ci/deps bench), build, compare memdemo
#                     with the Go peer (bench/),
#                     time heap profiles with 10,000 stacks (build/bench/heapstacks) and
#                     measure what a CPU-profile sample costs (build/bench/cpusample)
#   make images       regenerate the graphs and screenshots README.md shows (bench/images/*.png)
#   make fuzz         install missing packages (.ci/deps fuzz), build the libFuzzer harnesses (tests/fuzz/)
#                     and run each for FUZZ_SECONDS (default 300; FUZZ_TARGETS picks some)
#   make gcprof       build only libgcprof.so and ./gcprof (profile any program on libgc.so.1)
#   make install      install memdemo and gcprof to $(DESTDIR)$(PREFIX)/bin, libgcprof.so to
#                     $(DESTDIR)$(PREFIX)/lib/gcprof (PREFIX=/usr/local)
#   make clean        remove build products
# Variables: SANITIZER=address|undefined builds everything with that sanitizer into its
# own build-$(SANITIZER)/ and ./memdemo-$(SANITIZER), so a sanitizer build never clobbers
# the normal one (`make test SANITIZER=address` tests that binary; thread sanitizer
# cannot work with a conservative collector's signals); CC, CFLAGS_EXTRA; FUZZ_CC.

CC        ?= gcc
PREFIX    ?= /usr/local
BUILD     := build$(if $(SANITIZER),-$(SANITIZER))
BIN       := memdemo$(if $(SANITIZER),-$(SANITIZER))
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
# gcprof's own files (the interposer, the library's top and the command) are not memdemo's.
GCPROF_ONLY := gc/gcinterpose.c src/gcprof.c src/gcprof_lib.c src/gcprof_vars.c src/gcprof_http.c
LIB_SRCS  := $(filter-out $(GCPROF_ONLY),$(wildcard gc/*.c profile/*.c) $(filter-out src/main.c,$(wildcard src/*.c)))
LIB_OBJS  := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS)) $(PROTO_SRC:.c=.o)
MAIN_OBJ  := $(BUILD)/src/main.o
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(wildcard tests/tools/*.c))
BENCH_BINS := $(BUILD)/bench/heapstacks $(BUILD)/bench/cpusample $(BUILD)/bench/allocpaths

# Fuzzing: every tests/fuzz/fuzz_NAME.c is one target. FUZZ_BUILD holds the libFuzzer
# binaries (clang, coverage, ASan + UBSan); $(BUILD)/fuzz/replay_NAME is the same
# harness built with $(CC) and tests/fuzz/replay.c, which runs the seed corpus (and every
# reproducer in it) as a regression test, also under SANITIZER= and without clang.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 300
FUZZ_BUILD   := build-fuzz
FUZZ_TARGETS ?= $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS   = -std=c11 -O1 -g -Wall -Wextra -Wstrict-prototypes -D_GNU_SOURCE -DGC_THREADS \
                -fno-omit-frame-pointer -MMD -MP -I. -I$(FUZZ_BUILD) $(PKG_CFLAGS) $(FUZZ_SAN)
FUZZ_LIB_OBJS := $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(LIB_SRCS)) $(FUZZ_BUILD)/profile/profile.pb-c.o
FUZZ_BINS    := $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_TARGETS))
REPLAY_BINS  := $(patsubst tests/fuzz/fuzz_%.c,$(BUILD)/fuzz/replay_%,$(wildcard tests/fuzz/fuzz_*.c))
HAVE_FUZZ_CC  = $(shell command -v $(FUZZ_CC) 2>/dev/null)

# gcprof: libgcprof.so (preloaded into a program that uses libgc.so.1) and the command
# that runs a program with it. The library's objects are built again as position-
# independent code in $(BUILD)/pic/, with only bdwgc's entry points exported (hidden
# visibility, unused sections dropped) and initial-exec thread-locals (it is loaded at
# start, so the per-call countdown costs no __tls_get_addr). It links no libgc: it calls
# the program's.
GCPROF_LIB_SRCS := gc/clock.c gc/gcaccount.c gc/gcevents.c gc/gcthreads.c gc/gcview.c gc/gcinterpose.c gc/procfs.c \
                   $(wildcard profile/*.c) \
                   $(addprefix src/,conns.c server.c reqgate.c router.c lograte.c numparse.c procstat.c promfmt.c \
                     assets.c dashboard.c reqstats.c metrics.c debug_http.c debug_pprof.c debug_surface.c debug_switches.c \
                     debug_vars.c debug_window.c gcprof_http.c gcprof_lib.c gcprof_settings.c gcprof_vars.c)
GCPROF_LIB_OBJS := $(patsubst %.c,$(BUILD)/pic/%.o,$(GCPROF_LIB_SRCS)) $(BUILD)/pic/profile/profile.pb-c.o
GCPROF_LIB  := libgcprof$(if $(SANITIZER),-$(SANITIZER)).so
GCPROF_BIN  := gcprof$(if $(SANITIZER),-$(SANITIZER))
PIC_FLAGS    = -fPIC -fvisibility=hidden -ftls-model=initial-exec -ffunction-sections -fdata-sections
GCPROF_LIBS  = $(shell pkg-config --libs libprotobuf-c zlib libdw) -lpthread -ldl -lm
# libgcprof loads libmicrohttpd by its SONAME only for -http (src/gcprof_http.c); its
# copy of the HTTP core calls it through pointers (src/gcprof_mhd.h).
MHD_SONAME   = $(shell objdump -p $$(pkg-config --variable=libdir libmicrohttpd)/libmicrohttpd.so | \
                 sed -n 's/^ *SONAME *//p')

# The static variant, for programs with bdwgc linked in: the same objects, compiled
# with GCINTERPOSE_WRAP (gc/gcinterpose.c then defines __wrap_GC_malloc...), combined
# into one object whose hidden symbols are made local, so that it links into any
# program (memdemo's own objects included) without a clash; link it with
# @gcprof-wrap.opts, the compiler options (-Wl,--wrap=...) for every entry point, and
# the export of the request gate's recv (src/reqgate.c), which the libmicrohttpd that
# -http loads must bind to.
GCPROF_WRAP_OBJS := $(patsubst %.c,$(BUILD)/wrap/%.o,$(GCPROF_LIB_SRCS)) $(BUILD)/wrap/profile/profile.pb-c.o
GCPROF_WRAP := gcprof-wrap$(if $(SANITIZER),-$(SANITIZER)).o
GCPROF_WRAP_OPTS := gcprof-wrap.opts
# memdemo linked with the static variant: tests/integration/gcprof.sh profiles memdemo
# with it and checks it against memdemo's own profiler.
GCWRAP_TEST_BIN := $(BUILD)/tools/memdemo-gcwrap

.PHONY: all run test bench images install clean deps unit-tests fuzz fuzz-bins
all: $(BIN) $(GCPROF_BIN)

# `make gcprof` builds the command, which needs the library beside it, and the static
# variant. (Without SANITIZER the command's file is itself named gcprof.)
ifneq ($(GCPROF_BIN),gcprof)
.PHONY: gcprof
gcprof: $(GCPROF_BIN)
endif

$(GCPROF_WRAP): $(GCPROF_WRAP_OBJS)
	$(LD) -r -o $@.tmp $^
	objcopy --localize-hidden $@.tmp $@
	rm -f $@.tmp

$(GCPROF_WRAP_OPTS): gc/gcinterpose.c Makefile
	$(CC) -E -P -DGCINTERPOSE_PRINT_WRAP_OPTIONS $(filter-out -MMD -MP,$(CFLAGS)) $< | grep -e '--wrap=' | tr ' ' '\n' | \
	    sed -n 's/^--wrap=/-Wl,--wrap=/p' >$@
	echo -Wl,--export-dynamic-symbol=recv >>$@

$(GCWRAP_TEST_BIN): $(LIB_OBJS) $(MAIN_OBJ) $(GCPROF_WRAP) $(GCPROF_WRAP_OPTS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(LIB_OBJS) $(MAIN_OBJ) $(GCPROF_WRAP) @$(GCPROF_WRAP_OPTS) $(PKG_LIBS)

$(GCPROF_WRAP_OBJS): | $(PROTO_SRC)

$(BUILD)/wrap/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fvisibility=hidden -DGCINTERPOSE_WRAP -c -o $@ $<

$(BUILD)/wrap/profile/profile.pb-c.o: $(PROTO_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fvisibility=hidden -c -o $@ $<

$(GCPROF_LIB): $(GCPROF_LIB_OBJS)
	$(CC) -shared -Wl,--gc-sections -Wl,-z,lazy $(SAN_FLAGS) -o $@ $^ $(GCPROF_LIBS)

$(GCPROF_BIN): $(BUILD)/src/gcprof.o $(BUILD)/src/gcprof_settings.o $(BUILD)/src/numparse.o \
               | $(GCPROF_LIB) $(GCPROF_WRAP) $(GCPROF_WRAP_OPTS)
	$(CC) $(SAN_FLAGS) -o $@ $(filter %.o,$^)

$(GCPROF_LIB_OBJS): | $(PROTO_SRC)

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PIC_FLAGS) -c -o $@ $<

$(BUILD)/pic/src/gcprof_http.o $(BUILD)/wrap/src/gcprof_http.o: CFLAGS += -DGCPROF_MHD_SONAME='"$(MHD_SONAME)"'
$(BUILD)/pic/src/server.o $(BUILD)/wrap/src/server.o: CFLAGS += -DGCPROF_MHD_INDIRECT -include src/gcprof_mhd.h


$(BUILD)/pic/profile/profile.pb-c.o: $(PROTO_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PIC_FLAGS) -c -o $@ $<

# DEPS_MODE: which of .ci/deps' lists a target needs (`make deps DEPS_MODE=test`).
DEPS_MODE ?= run
# make test builds with one job per core (the build is a third of a fresh make test).
NPROC := $(shell nproc 2>/dev/null || echo 2)
deps:
	@.ci/deps $(DEPS_MODE)

$(BIN): $(LIB_OBJS) $(MAIN_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# Objects that include the generated protobuf header must wait for it.
$(LIB_OBJS) $(MAIN_OBJ): | $(PROTO_SRC)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

%/profile/profile.pb-c.c: profile/profile.proto
	@mkdir -p $*/profile
	protoc-c --proto_path=profile --c_out=$*/profile profile/profile.proto

# The dashboard's files are embedded with the assembler's .incbin, which -MMD cannot see.
$(BUILD)/src/assets.o $(BUILD)/pic/src/assets.o $(BUILD)/wrap/src/assets.o: $(wildcard src/dashboard/*.html src/dashboard/*.js src/dashboard/vendor/uplot/*)

$(BUILD)/profile/profile.pb-c.o: $(BUILD)/profile/profile.pb-c.c
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS) tests/unit/unit.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(PKG_LIBS)

# Test helpers with their own main() (tests/tools/), linked like a unit test.
$(BUILD)/tools/%: tests/tools/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(PKG_LIBS)

# The /debug surface served alone (tests/tools/debug_alone.c) is linked from the
# objects a host program embedding it would link and no others: no memdemo handlers,
# routes or app wiring, no GC pacer or policy. A link error here means a layer of the
# surface reached for memdemo's own (src/ order: http core <- debug <- app <- main).
DEBUG_ALONE_SRCS := $(filter-out gc/gcpacer.c gc/gcpolicy.c gc/gcinterpose.c,$(wildcard gc/*.c)) $(wildcard profile/*.c) \
                    $(addprefix src/,conns.c server.c reqgate.c router.c lograte.c numparse.c procstat.c promfmt.c assets.c reqstats.c \
                      dashboard.c metrics.c debug_http.c debug_pprof.c debug_surface.c debug_switches.c debug_vars.c \
                      debug_window.c)
DEBUG_ALONE_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(DEBUG_ALONE_SRCS)) $(PROTO_SRC:.c=.o)
$(BUILD)/tools/debug_alone: tests/tools/debug_alone.c $(DEBUG_ALONE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(DEBUG_ALONE_OBJS) $(PKG_LIBS)

$(BUILD)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz.h $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/replay.c $(LIB_OBJS) $(PKG_LIBS)

unit-tests: $(UNIT_BINS) $(TOOL_BINS) $(REPLAY_BINS) $(GCWRAP_TEST_BIN)

# The library again, instrumented for libFuzzer's coverage and the sanitizers.
$(FUZZ_LIB_OBJS): | $(FUZZ_BUILD)/profile/profile.pb-c.c

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/profile/profile.pb-c.o: $(FUZZ_BUILD)/profile/profile.pb-c.c
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_LIB_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -rdynamic -o $@ $< $(FUZZ_LIB_OBJS) $(PKG_LIBS)

fuzz-bins: $(FUZZ_BINS)

fuzz: DEPS_MODE = fuzz
fuzz: deps
	@$(MAKE) --no-print-directory fuzz-bins
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run $(FUZZ_TARGETS)

# Benchmark programs: their own main(), linked with the library objects like a unit test.
$(BUILD)/bench/%: bench/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(PKG_LIBS)

run: deps
	@$(MAKE) --no-print-directory $(BIN)
	./$(BIN) -repetitions 1000

# The fuzzers' bounded runs (tests/integration/fuzz_bounded.sh) belong to the plain
# suite with MEMDEMO_SLOW=1 (.ci/run), so only then are the libFuzzer binaries built; every
# suite replays their corpus with its own build (fuzz_corpus.sh).
test: DEPS_MODE = test
test: deps
	@$(MAKE) --no-print-directory -j$(NPROC) $(BIN) unit-tests $(BENCH_BINS) $(if $(SANITIZER),,gcprof) $(if $(SANITIZER),,$(if $(filter 1,$(MEMDEMO_SLOW)),$(if $(HAVE_FUZZ_CC),fuzz-bins)))
	@MEMDEMO=$(CURDIR)/$(BIN) MEMDEMO_BUILD=$(BUILD) MEMDEMO_SANITIZER=$(SANITIZER) tests/run

bench: DEPS_MODE = bench
bench: deps
	@$(MAKE) --no-print-directory SANITIZER= memdemo build/bench/heapstacks build/bench/cpusample
	@bench/run

images: DEPS_MODE = images
images: deps
	@$(MAKE) --no-print-directory SANITIZER= memdemo
	@bench/make-images

install: $(BIN) $(GCPROF_LIB) $(GCPROF_BIN) $(GCPROF_WRAP) $(GCPROF_WRAP_OPTS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/gcprof
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/memdemo
	install -m 755 $(GCPROF_BIN) $(DESTDIR)$(PREFIX)/bin/gcprof
	install -m 644 $(GCPROF_LIB) $(DESTDIR)$(PREFIX)/lib/gcprof/libgcprof.so
	install -m 644 $(GCPROF_WRAP) $(DESTDIR)$(PREFIX)/lib/gcprof/gcprof-wrap.o
	install -m 644 $(GCPROF_WRAP_OPTS) $(DESTDIR)$(PREFIX)/lib/gcprof/gcprof-wrap.opts

clean:
	rm -rf build build-address build-undefined $(FUZZ_BUILD) memdemo memdemo-address \
	       memdemo-undefined bench/goref/goref libgcprof*.so gcprof gcprof-address gcprof-undefined \
	       gcprof-wrap*.o gcprof-wrap.opts

-include $(shell find $(BUILD) $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
