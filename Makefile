# wirewatch — one non-recursive Makefile. Each folder adds its sources in module.mk.
#
#   make            release build: build/wirewatch
#   make run        install deps, build, capture on this host, records to stdout
#   make test       install deps, build, run every suite (unit, asan unit, integration, fuzz smoke)
#   make bench      print throughput figures (never asserted)
#   make deps       apt-get the Debian packages the project needs (only the missing ones)
#   make VARIANT=debug|asan|fuzz ...   other build variants in build/<variant>/
#   make format-check / make format    clang-format over every C file
#   V=1 shows every command.

.DELETE_ON_ERROR:
.SUFFIXES:
MAKEFLAGS += --no-builtin-rules

.DEFAULT_GOAL := all
WIREWATCH_VERSION := 0.1.0
VARIANT ?= release
BUILD := build/$(VARIANT)

ifeq ($(V),1)
Q :=
else
Q := @
endif

CC := gcc
ifeq ($(VARIANT),fuzz)
CC := clang
endif

CPPFLAGS := -I. -Iruntime -Iparsers -I$(BUILD) -D_GNU_SOURCE -DWIREWATCH_VERSION='"$(WIREWATCH_VERSION)"'
CFLAGS := -std=c11 -Wall -Wextra -Werror -pthread -MMD -MP -fno-strict-aliasing
LDFLAGS := -pthread
LDLIBS := -lbpf -lelf -lz -lbrotlidec -lbrotlienc -lzstd -luring -lck -lyaml -lmicrohttpd -lpcap -lxxhash -lm
MALLOC_LIB := -ljemalloc

ifeq ($(VARIANT),release)
CFLAGS += -O2 -g
else ifeq ($(VARIANT),debug)
CFLAGS += -O0 -g3
else ifeq ($(VARIANT),asan)
CFLAGS += -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
MALLOC_LIB :=
else ifeq ($(VARIANT),fuzz)
CFLAGS += -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
MALLOC_LIB :=
else
$(error unknown VARIANT '$(VARIANT)': release, debug, asan or fuzz)
endif

# Filled by the module.mk files.
LIB_SRCS :=       # everything linked into the daemon except main
MAIN_SRCS :=      # the daemon's main
UNIT_TESTS :=     # tests/unit/test_*.c, one cmocka binary each
FUZZ_TARGETS :=   # tests/fuzz/fuzz_*.c, one libFuzzer binary each
BENCH_SRCS :=     # bench/*.c, one binary each
TOOL_SRCS :=      # tests/tools/*.c programs the tests run, one binary each
GENERATED :=      # headers generated before any C file is compiled

include runtime/module.mk parsers/module.mk bpf/module.mk pii/module.mk
include tests/module.mk bench/module.mk

# EXCLUDE=path.c leaves a source out (a file someone is still writing)
EXCLUDE ?=
LIB_SRCS := $(filter-out $(EXCLUDE),$(LIB_SRCS))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
MAIN_OBJS := $(MAIN_SRCS:%.c=$(BUILD)/%.o)
LIB := $(BUILD)/libwirewatch.a
BIN := $(BUILD)/wirewatch
UNIT_BINS := $(UNIT_TESTS:%.c=$(BUILD)/%)
FUZZ_BINS := $(FUZZ_TARGETS:%.c=$(BUILD)/%)
BENCH_BINS := $(BENCH_SRCS:%.c=$(BUILD)/%)
TOOL_BINS := $(TOOL_SRCS:%.c=$(BUILD)/%)
# unit tests, benchmarks and fuzz targets may drive the engine through tests/lib/engine_harness.c,
# compare the PII engine's numeric windows with its whole-text scan (numeric_matches.c),
# and load the engine from rule text (pii_rules_text.c)
HARNESS := $(BUILD)/tests/lib/engine_harness.o $(BUILD)/tests/lib/numeric_matches.o \
	   $(BUILD)/tests/lib/pii_rules_text.o

.PHONY: all deps run test unit bench fuzz format format-check clean
all: $(BIN) $(if $(filter release,$(VARIANT)),build/wirewatch)

build/wirewatch: $(BIN)
	$(Q)ln -sf release/wirewatch $@

$(BUILD)/%.o: %.c | $(GENERATED)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN): $(MAIN_OBJS) $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(MAIN_OBJS) $(LIB) $(LDLIBS) $(MALLOC_LIB)

$(UNIT_BINS): $(BUILD)/%: $(BUILD)/%.o $(LIB) $(HARNESS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(HARNESS) $(LIB) $(LDLIBS) -lcmocka


$(TOOL_BINS): $(BUILD)/%: $(BUILD)/%.o $(LIB)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) $(MALLOC_LIB)

$(BENCH_BINS): $(BUILD)/%: $(BUILD)/%.o $(LIB) $(HARNESS)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(HARNESS) $(LIB) $(LDLIBS) $(MALLOC_LIB)

$(FUZZ_BINS): $(BUILD)/%: $(BUILD)/%.o $(LIB) $(HARNESS)
	$(Q)$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< $(HARNESS) $(LIB) $(LDLIBS)

unit: $(UNIT_BINS) $(TOOL_BINS) $(BUILD)/tests/tools/pg_client $(BUILD)/tests/tools/mysql_client

# the libpq client is the one program that links the PostgreSQL client library
$(BUILD)/tests/tools/pg_client: tests/tools/pg_client.c
	@mkdir -p $(@D)
	$(Q)$(CC) -O1 -g -Wall -Wextra -Werror -I/usr/include/postgresql $< -lpq -o $@

# the MariaDB C connector client (server-side prepared statements) links libmariadb
$(BUILD)/tests/tools/mysql_client: tests/tools/mysql_client.c
	@mkdir -p $(@D)
	$(Q)$(CC) -O1 -g -Wall -Wextra -Werror -I/usr/include/mariadb -I/usr/include/mariadb/mysql $< -lmariadb -o $@
fuzz: $(FUZZ_BINS)

deps:
	$(Q)./tools/deps.sh

run: deps
	$(Q)$(MAKE) --no-print-directory all
	./build/wirewatch $(ARGS)

test: deps
	$(Q)$(MAKE) --no-print-directory VARIANT=release all unit $(BENCH_BINS:$(BUILD)/%=build/release/%)
	$(Q)$(MAKE) --no-print-directory VARIANT=asan all unit
	$(Q)$(MAKE) --no-print-directory VARIANT=fuzz fuzz
	$(Q)./tests/run.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory VARIANT=release all $(BENCH_BINS)
	$(Q)./bench/run.sh

C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null | grep -v '^build/')
format:
	$(Q)clang-format -i $(C_FILES)
format-check:
	$(Q)clang-format --dry-run --Werror $(C_FILES) && echo "format-check: ok"

clean:
	rm -rf build

-include $(patsubst %.o,%.d,$(LIB_OBJS) $(MAIN_OBJS)) $(patsubst %,%.d,$(UNIT_BINS) $(FUZZ_BINS) $(BENCH_BINS) $(TOOL_BINS)) $(HARNESS:.o=.d)
