# memwatch: build, test and demo. `make V=1` shows full commands.
OUTPUT := .output
CLANG ?= clang
BPFTOOL ?= bpftool
PROTOC_C ?= protoc-c
PYTHON ?= python3
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VMLINUX_DIR := vmlinux/$(ARCH)
# one clear line instead of a missing-header error deep in the BPF build
ifeq ($(wildcard $(VMLINUX_DIR)/vmlinux.h)$(filter vmlinux clean deps format uninstall,$(MAKECMDGOALS)),)
$(error no $(VMLINUX_DIR)/vmlinux.h for this architecture ($(ARCH)): make vmlinux, on a kernel with BTF, generates it)
endif
PREFIX ?= /usr/local
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
DESTDIR ?=

# -D flags for both compilers: DEFINES=-DMW_TEST_COUNTER builds the registry's test counter
DEFINES ?=
# the binary: a build with other DEFINES goes to its own OUTPUT and BIN
BIN ?= memwatch

CFLAGS ?= -g -O2
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -I$(OUTPUT) -Ibpf -Iuser $(DEFINES)
# CPPFLAGS and LDFLAGS from the environment (dpkg-buildflags: fortify, relro, now) reach
# memwatch's own compiles and link, not the BPF object's
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) \
	-Wall -Wstrict-prototypes -Werror -I$(VMLINUX_DIR) -Ibpf $(DEFINES)
LDLIBS := -lbpf -ldw -lelf -liberty -lprotobuf-c -lz -lncursesw -lm -lpthread
# Capstone and libmicrohttpd are opened when first used (user/sys/lazy_lib.h), by the
# soname of the library built against: read from its development link, when compiled
soname = $(shell readelf -d "$$($(CC) -print-file-name=lib$(1).so)" 2>/dev/null | \
	sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
LAZY_LIB_CFLAGS = -DCAPSTONE_SONAME='"$(call soname,capstone)"' \
	-DMHD_SONAME='"$(call soname,microhttpd)"'
# workloads must really call the allocator: no builtin malloc/free elision
WORKLOAD_CFLAGS := -O2 -g -Wall -Wextra -Werror -fno-builtin -pthread

# --pprof: pprof's profile.proto as Debian's golang-github-google-pprof-dev installs it, compiled
# to C by protoc-c into the build directory
PPROF_PROTO ?= /usr/share/gocode/src/github.com/google/pprof/proto/profile.proto
PROTO_C := $(OUTPUT)/proto/profile.pb-c.c
PROTO_H := $(PROTO_C:.c=.h)

USER_SRCS := $(wildcard user/*/*.c)
USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(USER_SRCS))
LIB_OBJS := $(filter-out $(OUTPUT)/user/app/main.o,$(USER_OBJS)) $(PROTO_C:.c=.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))
WORKLOADS := $(patsubst tests/workloads/%.c,$(OUTPUT)/workloads/%,$(wildcard tests/workloads/*.c))
# a static, stripped channel: a target with no malloc symbol to probe
WORKLOADS += $(OUTPUT)/workloads/channel-static
# --stacks: the call-site workload with and without frame pointers; stripped, its symbols in a
# separate debug file (put where -dbgsym packages put theirs by test_stacks_debug) or as
# MiniDebugInfo; C++ call sites
WORKLOADS += $(OUTPUT)/workloads/sites-fp $(OUTPUT)/workloads/sites-split \
	$(OUTPUT)/workloads/sites-mini $(OUTPUT)/workloads/cxx_sites
# targets beyond glibc C (Rust, Go, static musl): a note instead where the compiler is missing
WORKLOADS += $(OUTPUT)/workloads/rust_channel $(OUTPUT)/workloads/go_heap \
	$(OUTPUT)/workloads/rust_sites $(OUTPUT)/workloads/rust_sites-v0 \
	$(OUTPUT)/workloads/channel-musl $(OUTPUT)/workloads/family-musl \
	$(OUTPUT)/workloads/execstorm-musl
RUSTC ?= rustc
GO ?= go
MUSL_GCC ?= musl-gcc
DEPS := $(USER_OBJS:.o=.d) $(UNIT_BINS:=.d) $(OUTPUT)/docgen.d $(OUTPUT)/json_fields.d

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
# keep intermediates (the sanitized objects): no "rm" after the test summary line
.SECONDARY:
.PHONY: all deps test unit-test bpf-test docs-test fuzz demo bench install uninstall clean vmlinux \
	format docs json-fields

all: $(BIN) $(WORKLOADS)

# installs build dependencies only when one is missing
deps:
	$(Q)scripts/deps.sh --check >/dev/null 2>&1 || scripts/deps.sh

# a package build has its build dependencies: the binary, install and clean leave deps.sh be
NO_DEPS_GOALS := $(BIN) install uninstall clean
ifneq ($(filter-out $(NO_DEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
CHECK_DEPS := deps
endif

$(OUTPUT) $(OUTPUT)/user $(OUTPUT)/tests $(OUTPUT)/workloads: | $(CHECK_DEPS)
	$(Q)mkdir -p $@

# one object: memwatch.bpf.c includes the concerns' headers (bpf/*.bpf.h)
$(OUTPUT)/memwatch.bpf.o: bpf/memwatch.bpf.c $(wildcard bpf/*.h) $(VMLINUX_DIR)/vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/memwatch.skel.h: $(OUTPUT)/memwatch.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< >$@

$(PROTO_C): $(PPROF_PROTO) | $(OUTPUT)
	$(call msg,PROTOC-C,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(PROTOC_C) --c_out=$(@D) --proto_path=$(dir $<) $<
$(PROTO_H): $(PROTO_C) ;

$(PROTO_C:.c=.o): $(PROTO_C) $(PROTO_H)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# the skeleton and the profile's header must exist before the first compile; -MMD tracks who
# includes them
$(OUTPUT)/user/%.o: user/%.c | $(OUTPUT)/user $(OUTPUT)/memwatch.skel.h $(PROTO_H)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# main and what it needs from the archive: the JSON fields' writer is for the docs only
$(BIN): $(OUTPUT)/user/app/main.o $(OUTPUT)/libmemwatch.a
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/workloads/%: tests/workloads/%.c | $(OUTPUT)/workloads
	$(call msg,WORKLOAD,$@)
	$(Q)$(CC) $(WORKLOAD_CFLAGS) $< -o $@

# sites (and syscall_sites) without frame pointers, sites-fp with them
$(OUTPUT)/workloads/sites $(OUTPUT)/workloads/syscall_sites: WORKLOAD_CFLAGS += -fomit-frame-pointer
$(OUTPUT)/workloads/%-fp: tests/workloads/%.c | $(OUTPUT)/workloads
	$(call msg,WORKLOAD,$@)
	$(Q)$(CC) $(WORKLOAD_CFLAGS) -fno-omit-frame-pointer $< -o $@

# --stacks' C++ sites: g++ -O2 as C++ programs are built, no frame pointers forced
$(OUTPUT)/workloads/cxx_sites: tests/workloads/cxx_sites.cc | $(OUTPUT)/workloads
	$(call msg,CXX,$@)
	$(Q)$(CXX) $(WORKLOAD_CFLAGS) $< -o $@

# as dh_strip splits a -dbgsym package off: the debug part alone, the rest with a debuglink
$(OUTPUT)/workloads/sites-split.debug: $(OUTPUT)/workloads/sites
	$(call msg,OBJCOPY,$@)
	$(Q)objcopy --only-keep-debug $< $@

$(OUTPUT)/workloads/sites-split: $(OUTPUT)/workloads/sites $(OUTPUT)/workloads/sites-split.debug
	$(call msg,OBJCOPY,$@)
	$(Q)objcopy --strip-all --add-gnu-debuglink=$@.debug $< $@

$(OUTPUT)/workloads/sites-mini: $(OUTPUT)/workloads/sites tests/workloads/minidebuginfo.sh
	$(call msg,MINIDBG,$@)
	$(Q)tests/workloads/minidebuginfo.sh $< $@

$(OUTPUT)/workloads/%-static: tests/workloads/%.c | $(OUTPUT)/workloads
	$(call msg,WORKLOAD,$@)
	$(Q)$(CC) $(WORKLOAD_CFLAGS) -static -s $< -o $@

# rustup installs into ~/.cargo/bin, which root's PATH may lack; rustc gets no MAKEFLAGS, whose
# jobserver descriptors make closes for a recipe that is no sub-make (rustc warned of each)
$(OUTPUT)/workloads/rust_channel: tests/workloads/rust_channel.rs | $(OUTPUT)/workloads
	$(call msg,RUSTC,$@)
	$(Q)rustc=$$(command -v $(RUSTC) || command -v $(HOME)/.cargo/bin/rustc) || \
		{ echo "  note: no rustc: $@ not built, its tests skip"; exit 0; }; \
	MAKEFLAGS= $$rustc --edition 2021 -O $< -o $@

# --stacks' Rust sites: a release build as cargo's (opt-level 3, no forced frame pointers),
# with legacy symbol names, and with v0 ones
$(OUTPUT)/workloads/rust_sites-v0: RUSTFLAGS_SITES := -C symbol-mangling-version=v0
$(OUTPUT)/workloads/rust_sites $(OUTPUT)/workloads/rust_sites-v0: tests/workloads/rust_sites.rs | \
		$(OUTPUT)/workloads
	$(call msg,RUSTC,$@)
	$(Q)rustc=$$(command -v $(RUSTC) || command -v $(HOME)/.cargo/bin/rustc) || \
		{ echo "  note: no rustc: $@ not built, its tests skip"; exit 0; }; \
	MAKEFLAGS= $$rustc --edition 2021 -C opt-level=3 -D warnings $(RUSTFLAGS_SITES) $< -o $@

# a pure Go binary (no cgo), its build cache inside the build directory
$(OUTPUT)/workloads/go_heap: tests/workloads/go_heap.go | $(OUTPUT)/workloads
	$(call msg,GO,$@)
	$(Q)command -v $(GO) >/dev/null || { echo "  note: no go: $@ not built, its tests skip"; exit 0; }; \
	GOCACHE=$(abspath $(OUTPUT))/go-cache GOPATH=$(abspath $(OUTPUT))/go GO111MODULE=off \
		GOFLAGS= CGO_ENABLED=0 $(GO) build -o $@ $<

# malloc defined in the executable itself: musl's, statically linked, symbols kept
$(OUTPUT)/workloads/%-musl: tests/workloads/%.c | $(OUTPUT)/workloads
	$(call msg,MUSL-CC,$@)
	$(Q)command -v $(MUSL_GCC) >/dev/null || \
		{ echo "  note: no musl-gcc: $@ not built, its tests skip"; exit 0; }; \
	$(MUSL_GCC) $(WORKLOAD_CFLAGS) -static $< -o $@

# the unit tests link memwatch's objects as an archive, so each takes only what it
# exercises, and the libraries that needs: the core asks no libbpf or curses
UNIT_LDLIBS := -lelf -lz -lm
$(OUTPUT)/tests/test_privileges $(OUTPUT)/tests/test_thread_table: UNIT_LDLIBS += -lbpf
$(OUTPUT)/san/tests/test_privileges $(OUTPUT)/san/tests/test_thread_table: UNIT_LDLIBS += -lbpf
$(OUTPUT)/tests/test_sites $(OUTPUT)/san/tests/test_sites: UNIT_LDLIBS += -ldw -liberty
$(OUTPUT)/tests/test_export $(OUTPUT)/san/tests/test_export: UNIT_LDLIBS += -lprotobuf-c

$(OUTPUT)/user/attach/capstone_lib.o $(OUTPUT)/user/output/mhd_lib.o \
$(OUTPUT)/san/user/attach/capstone_lib.o $(OUTPUT)/san/user/output/mhd_lib.o: \
	CFLAGS += $(LAZY_LIB_CFLAGS)

$(OUTPUT)/libmemwatch.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(OUTPUT)/tests/%: tests/unit/%.c $(OUTPUT)/libmemwatch.a | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/unit -MMD -MP -MF $@.d $< $(OUTPUT)/libmemwatch.a \
		$(UNIT_LDLIBS) -o $@

# docs/json-fields.md from the counter registry; test_json_fields fails when they differ
$(OUTPUT)/json_fields: scripts/json_fields.c $(OUTPUT)/libmemwatch.a
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -MF $@.d $(filter %.c %.a,$^) -o $@

json-fields: $(OUTPUT)/json_fields
	$(call msg,GEN,docs/json-fields.md)
	$(Q)$< >docs/json-fields.md

unit-test: $(UNIT_BINS)
	$(Q)tests/run.sh $(UNIT_BINS)

# the unit tests again under AddressSanitizer and UndefinedBehaviorSanitizer
SAN_CFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_OBJS := $(patsubst $(OUTPUT)/%,$(OUTPUT)/san/%,$(LIB_OBJS))
SAN_UNIT_BINS := $(patsubst $(OUTPUT)/tests/%,$(OUTPUT)/san/tests/%,$(UNIT_BINS))
DEPS += $(SAN_OBJS:.o=.d) $(SAN_UNIT_BINS:=.d)

$(OUTPUT)/san/user/%.o: user/%.c | $(OUTPUT)/memwatch.skel.h $(PROTO_H)
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_CFLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/san/proto/%.o: $(OUTPUT)/proto/%.c $(PROTO_H)
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_CFLAGS) -c $< -o $@

$(OUTPUT)/san/libmemwatch.a: $(SAN_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(OUTPUT)/san/tests/%: tests/unit/%.c $(OUTPUT)/san/libmemwatch.a
	$(call msg,TEST-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_CFLAGS) -Itests/unit -MMD -MP -MF $@.d $< \
		$(OUTPUT)/san/libmemwatch.a $(UNIT_LDLIBS) -o $@

# libFuzzer targets of the parsers, built with the sources they exercise
FUZZ_SECONDS ?= 5
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -Ibpf -Iuser -I$(OUTPUT)
FUZZ_SRCS := $(addprefix user/,sys/procmaps.c attach/target.c sys/fileio.c attach/allocator.c \
	sys/elf_file.c model/model.c model/counters.c sys/log.c sys/go_binary.c attach/mapped_file.c sys/caps.c \
	output/escape.c output/json.c sys/safe_open.c app/signals.c)
FUZZERS := $(patsubst tests/fuzz/%.c,$(OUTPUT)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

$(OUTPUT)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz_text.h $(FUZZ_SRCS) | $(OUTPUT)/memwatch.skel.h
	$(call msg,FUZZER,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $< $(FUZZ_SRCS) -lelf -lz -o $@

fuzz: $(FUZZERS)
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run.sh tests/fuzz/run.sh

# BPF-level tests: tests/bpf/*.bpf.c drive the kernel side's functions through
# BPF_PROG_TEST_RUN, each with its own skeleton; they need root, so `make test` runs them
BPF_TEST_DIR := $(OUTPUT)/tests/bpf
BPF_TESTS := $(patsubst tests/bpf/%.c,$(BPF_TEST_DIR)/%,$(wildcard tests/bpf/test_*.c))

$(BPF_TEST_DIR)/%.bpf.o: tests/bpf/%.bpf.c $(wildcard bpf/*.h) $(VMLINUX_DIR)/vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BPF_TEST_DIR)/%.skel.h: $(BPF_TEST_DIR)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< >$@

$(BPF_TEST_DIR)/test_%: tests/bpf/test_%.c $(BPF_TEST_DIR)/%.skel.h tests/unit/tap.h bpf/memwatch.h
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) -I$(BPF_TEST_DIR) -Itests/unit $< -lbpf -lelf -lz -o $@

bpf-test: $(BPF_TESTS)
	$(Q)tests/run.sh $(BPF_TESTS)

# the docs: links resolve, the man page renders and matches --help and exitcodes.h
DOCS_TESTS := $(wildcard tests/docs/test_*.py)

docs-test: memwatch
	$(Q)tests/run.sh $(DOCS_TESTS)

# every test: unit tests, the docs, then the BPF-level and integration tests against real BPF (root)
test: all $(UNIT_BINS) $(SAN_UNIT_BINS) $(FUZZERS) $(BPF_TESTS)
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run.sh $(UNIT_BINS) $(SAN_UNIT_BINS) tests/fuzz/run.sh \
		$(DOCS_TESTS) $(BPF_TESTS) tests/integration/test_*.py

# watch the bundled channel workload live: three threads keep their arenas
demo: all
	./memwatch -- $(OUTPUT)/workloads/channel threads -t boxed -n 1000000 -i 100 -q

# the cost to the target, side by side: scripts/bench.sh (BENCH_ARGS="-h" for its options)
BENCH_DIR := $(OUTPUT)/bench
DEPS += $(BENCH_DIR)/floor.d

$(BENCH_DIR)/floor.bpf.o: tests/bench/floor.bpf.c $(VMLINUX_DIR)/vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BENCH_DIR)/floor.skel.h: $(BENCH_DIR)/floor.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< >$@

$(BENCH_DIR)/floor: tests/bench/floor.c $(BENCH_DIR)/floor.skel.h $(OUTPUT)/memwatch.skel.h $(LIB_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) -I$(BENCH_DIR) -MMD -MP -MF $@.d $< $(LIB_OBJS) $(LDLIBS) -o $@

$(BENCH_DIR)/driver: tests/bench/driver.c | $(OUTPUT)
	$(call msg,BINARY,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(WORKLOAD_CFLAGS) $< -o $@

bench: all $(BENCH_DIR)/floor $(BENCH_DIR)/driver
	$(Q)scripts/deps.sh --check --bench >/dev/null 2>&1 || scripts/deps.sh --bench
	$(Q)scripts/bench.sh $(BENCH_ARGS)

# docs generated from memwatch's tables: docs/keys.md and memwatch(8)'s key list from
# user/output/keys.c; tests/unit/test_keys.c fails when they drift
$(OUTPUT)/docgen: scripts/docgen.c $(OUTPUT)/libmemwatch.a | $(OUTPUT)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -MF $@.d $< $(OUTPUT)/libmemwatch.a $(UNIT_LDLIBS) -o $@

docs: $(OUTPUT)/docgen
	$(Q)$(OUTPUT)/docgen keys >docs/keys.md.new && mv docs/keys.md.new docs/keys.md
	$(Q)$(OUTPUT)/docgen man <docs/memwatch.8 >docs/memwatch.8.new && mv docs/memwatch.8.new docs/memwatch.8

install: memwatch
	install -D -m 0755 memwatch $(DESTDIR)$(PREFIX)/sbin/memwatch
	install -D -m 0644 docs/memwatch.8 $(DESTDIR)$(MANDIR)/man8/memwatch.8
	install -D -m 0644 contrib/bash-completion/memwatch $(DESTDIR)$(BASHCOMPDIR)/memwatch

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/memwatch $(DESTDIR)$(MANDIR)/man8/memwatch.8 \
		$(DESTDIR)$(BASHCOMPDIR)/memwatch

vmlinux:
	scripts/gen-vmlinux.sh

# kernel style (.clang-format) on the C sources, in place
format:
	clang-format -i $(wildcard bpf/*.c bpf/*.h user/*/*.c user/*/*.h scripts/*.c)

clean:
	$(call msg,CLEAN,)
	$(Q)rm -rf $(OUTPUT) memwatch

-include $(DEPS)
