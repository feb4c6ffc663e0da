# cynode: one entry point.  `make` builds the three programs into build/,
# `make test` runs the unit tests and the bats suites, `make demo` starts a
# private stack and runs a task on it.
#
#   make DEVELOPER=1      -Werror and a fixed strict warning set
#   make SANITIZE=1       AddressSanitizer + UndefinedBehaviorSanitizer
#   make V=1              show the compiler command lines

CC ?= cc
PREFIX ?= /usr/local
O := build

PKGS := libmicrohttpd libcurl jansson libpq libjwt libargon2 yaml-0.1 libedit libseccomp libcrypto \
	smartcols
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS ?= -O2 -g
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
	-Wno-missing-field-initializers -fno-strict-aliasing -Ilib -I$(O) $(PKG_CFLAGS) \
	-MMD -MP
ifeq ($(DEVELOPER),1)
BASE_CFLAGS += -Werror -Wformat=2 -Wshadow -Wpointer-arith -Wstrict-prototypes \
	-Wmissing-prototypes -Wold-style-definition -Wvla -Wdeclaration-after-statement \
	-Wno-error=deprecated-declarations
endif
ifeq ($(SANITIZE),1)
BASE_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
ALL_CFLAGS = $(BASE_CFLAGS) $(CFLAGS)
LIBS := $(PKG_LIBS) -lpthread -lm

ifneq ($(V),1)
Q_CC = @echo "   CC $@";
Q_LD = @echo " LINK $@";
endif

# Objects go under $(O)/obj/, binaries to $(O)/.
# Sources per program.  Each directory holds one program's files; lib/ is shared.
LIB_SRCS := $(sort $(wildcard lib/*.c))
SERVER_SRCS := $(sort $(wildcard server/*.c))
NODE_SRCS := $(sort $(wildcard node/*.c))
CYNORK_SRCS := $(sort $(wildcard cynork/*.c))
SBA_SRCS := $(sort $(wildcard sba/*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/*_test.c))

LIB_OBJS := $(LIB_SRCS:%.c=$(O)/obj/%.o)
SERVER_OBJS := $(SERVER_SRCS:%.c=$(O)/obj/%.o)
NODE_OBJS := $(NODE_SRCS:%.c=$(O)/obj/%.o)
CYNORK_OBJS := $(CYNORK_SRCS:%.c=$(O)/obj/%.o)
SBA_OBJS := $(SBA_SRCS:%.c=$(O)/obj/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/unit/%)

# Fuzz targets (tests/fuzz/NAME_fuzz.c): replayed over their seed corpus as
# unit tests (fuzz-NAME_test, with tests/fuzz/replay.c), fuzzed for real by
# `make fuzz` (clang + libFuzzer).  They link the server's objects from an
# archive without main.o; cynork-NAME targets link cynork's the same way.
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/*_fuzz.c))
FUZZ_NAMES := $(FUZZ_SRCS:tests/fuzz/%_fuzz.c=%)
FUZZ_REPLAY := $(FUZZ_NAMES:%=$(O)/tests/unit/fuzz-%_test)
SERVER_LIB_OBJS := $(filter-out $(O)/obj/server/main.o,$(SERVER_OBJS))
NODE_LIB_OBJS := $(filter-out $(O)/obj/node/main.o,$(NODE_OBJS))
CYNORK_LIB_OBJS := $(filter-out $(O)/obj/cynork/main.o,$(CYNORK_OBJS))

PROGRAMS := $(O)/cynork $(O)/cynode-server $(O)/cynode-node $(O)/cynode-sba

all: $(PROGRAMS)

# Rebuild everything when the compiler flags change (git's GIT-CFLAGS).
$(O)/.cflags: FORCE
	@mkdir -p $(O)
	@echo '$(CC) $(ALL_CFLAGS) $(LDFLAGS)' | cmp -s - $@ || echo '$(CC) $(ALL_CFLAGS) $(LDFLAGS)' > $@

$(O)/obj/%.o: %.c $(O)/.cflags
	@mkdir -p $(dir $@)
	$(Q_CC)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/libcynode.a: $(LIB_OBJS)
	@rm -f $@
	$(Q_LD)ar rcs $@ $^

$(O)/libserver.a: $(SERVER_LIB_OBJS)
	@rm -f $@
	$(Q_LD)ar rcs $@ $^

$(O)/libnode.a: $(NODE_LIB_OBJS)
	@rm -f $@
	$(Q_LD)ar rcs $@ $^

$(O)/libcynork.a: $(CYNORK_LIB_OBJS)
	@rm -f $@
	$(Q_LD)ar rcs $@ $^

$(O)/cynode-server: $(SERVER_OBJS) $(O)/libcynode.a
	$(Q_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(O)/cynode-node: $(NODE_OBJS) $(O)/libcynode.a
	$(Q_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# The agent runner starts once per agent job, inside its sandbox.
$(O)/cynode-sba: $(SBA_OBJS) $(O)/libcynode.a
	$(Q_LD)$(CC) $(LDFLAGS) -Wl,--as-needed -o $@ $^ $(LIBS)

# cynork starts once per command: link only the libraries it uses.
$(O)/cynork: $(CYNORK_OBJS) $(O)/libcynode.a
	$(Q_LD)$(CC) $(LDFLAGS) -Wl,--as-needed -o $@ $^ $(LIBS)

$(O)/tests/unit/%: $(O)/obj/tests/unit/%.o $(O)/libcynode.a
	@mkdir -p $(dir $@)
	$(Q_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(O)/obj/tests/fuzz/%.o: BASE_CFLAGS += -Iserver

# Unit tests of server modules (tests/unit/srv-NAME_test.c) link the
# server's objects too.
$(O)/obj/tests/unit/srv-%.o: BASE_CFLAGS += -Iserver

$(O)/tests/unit/srv-%_test: $(O)/obj/tests/unit/srv-%_test.o $(O)/libserver.a $(O)/libcynode.a
	@mkdir -p $(dir $@)
	$(Q_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# Unit tests of node modules (tests/unit/node-NAME_test.c) link the node's
# objects the same way.
$(O)/obj/tests/unit/node-%.o: BASE_CFLAGS += -Inode

$(O)/tests/unit/node-%_test: $(O)/obj/tests/unit/node-%_test.o $(O)/libnode.a $(O)/libcynode.a
	@mkdir -p $(dir $@)
	$(Q_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# Unit tests of cynork modules (tests/unit/cynork-NAME_test.c) link cynork's
# objects the same way.
$(O)/obj/tests/unit/cynork-%.o: BASE_CFLAGS += -Icynork

$(O)/tests/unit/cynork-%_test: $(O)/obj/tests/unit/cynork-%_test.o $(O)/libcynork.a $(O)/libcynode.a
	@mkdir -p $(dir $@)
	$(Q_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# Fuzz targets of cynork modules (tests/fuzz/cynork-NAME_fuzz.c) link cynork's
# objects instead of the server's.
$(O)/obj/tests/fuzz/cynork-%.o: BASE_CFLAGS += -Icynork

$(O)/tests/unit/fuzz-cynork-%_test: $(O)/obj/tests/fuzz/cynork-%_fuzz.o $(O)/obj/tests/fuzz/replay.o \
		$(O)/libcynork.a $(O)/libcynode.a
	@mkdir -p $(dir $@)
	$(Q_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# ... and those of node modules (tests/fuzz/node-NAME_fuzz.c) the node's.
$(O)/obj/tests/fuzz/node-%.o: BASE_CFLAGS += -Inode

$(O)/tests/unit/fuzz-node-%_test: $(O)/obj/tests/fuzz/node-%_fuzz.o $(O)/obj/tests/fuzz/replay.o \
		$(O)/libnode.a $(O)/libcynode.a
	@mkdir -p $(dir $@)
	$(Q_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(O)/tests/unit/fuzz-%_test: $(O)/obj/tests/fuzz/%_fuzz.o $(O)/obj/tests/fuzz/replay.o \
		$(O)/libserver.a $(O)/libcynode.a
	@mkdir -p $(dir $@)
	$(Q_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

units: $(UNIT_BINS) $(FUZZ_REPLAY)

# libFuzzer: FUZZ_TIME seconds per target (tests/fuzz/run); needs clang.
FUZZ_TIME ?= 30
fuzz:
	@command -v clang >/dev/null || { echo "make fuzz needs clang: apt-get install clang" >&2; exit 2; }
	@$(MAKE) --no-print-directory O=build/fuzz CC=clang SANITIZE= \
		CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined" \
		$(FUZZ_NAMES:%=build/fuzz/fuzz/%)
	@tests/fuzz/run build/fuzz/fuzz $(FUZZ_TIME) $(FUZZ_NAMES)

$(O)/fuzz/cynork-%: $(O)/obj/tests/fuzz/cynork-%_fuzz.o $(O)/libcynork.a $(O)/libcynode.a
	@mkdir -p $(dir $@)
	$(Q_LD)$(CC) $(CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

$(O)/fuzz/node-%: $(O)/obj/tests/fuzz/node-%_fuzz.o $(O)/libnode.a $(O)/libcynode.a
	@mkdir -p $(dir $@)
	$(Q_LD)$(CC) $(CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

$(O)/fuzz/%: $(O)/obj/tests/fuzz/%_fuzz.o $(O)/libserver.a $(O)/libcynode.a
	@mkdir -p $(dir $@)
	$(Q_LD)$(CC) $(CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

# The benchmarks' load generator (tests/bench/loadgen.c).
$(O)/tests/bench/loadgen: $(O)/obj/tests/bench/loadgen.o $(O)/libcynode.a
	@mkdir -p $(dir $@)
	$(Q_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

deps:
	@scripts/deps

# The lint first (a second), then the unit tests (TAP through prove) and the
# bats suites, against a private PostgreSQL and the real binaries.  Ends
# with one line "N passed, N failed".
test:
	@scripts/lint
	@scripts/deps
	@$(MAKE) --no-print-directory all units
	@CY_BUILD=$(abspath $(O)) tests/run-all

check: test

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo start

demo-stop:
	@scripts/demo stop

bench: deps
	@$(MAKE) --no-print-directory all $(O)/tests/bench/loadgen
	@tests/bench/run

# What the compiler cannot check (scripts/lint): every snprintf through the
# checked forms of lib/buf.h, banned.h last in every .c file, an opening
# comment in every C file, no history in comments.
lint:
	@scripts/lint

# clang-format 14 over the C sources (.clang-format); the regions it would
# damage are marked /* clang-format off */.
C_SOURCES = lib/*.[ch] server/*.[ch] node/*.[ch] cynork/*.[ch] sba/*.[ch] tests/unit/*.[ch] \
	tests/fuzz/*.c tests/bench/*.c
format:
	@command -v clang-format >/dev/null || { echo "make format needs clang-format: apt-get install clang-format" >&2; exit 2; }
	@clang-format -i $(C_SOURCES)

hdr-check:
	@for h in lib/*.h server/*.h node/*.h cynork/*.h sba/*.h; do \
		[ -f "$$h" ] || continue; \
		echo "#include \"$$h\"" | $(CC) $(ALL_CFLAGS) -I. -x c -fsyntax-only - || exit 1; \
	done

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(O)/cynork $(DESTDIR)$(PREFIX)/bin/cynork
	install -m 0755 scripts/cynode-tls $(DESTDIR)$(PREFIX)/bin/cynode-tls
	install -m 0755 $(O)/cynode-server $(O)/cynode-node $(DESTDIR)$(PREFIX)/sbin/
	install -d $(DESTDIR)$(PREFIX)/share/cynode/migrations
	install -m 0644 migrations/*.sql $(DESTDIR)$(PREFIX)/share/cynode/migrations/
	@for f in man/*.[158]; do \
		[ -f "$$f" ] || continue; s=$${f##*.}; \
		install -d $(DESTDIR)$(PREFIX)/share/man/man$$s; \
		install -m 0644 $$f $(DESTDIR)$(PREFIX)/share/man/man$$s/; \
	done
	@if [ -f completions/cynork.bash ]; then \
		install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions; \
		install -m 0644 completions/cynork.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/cynork; \
	fi
	@if [ -f completions/_cynork ]; then \
		install -d $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions; \
		install -m 0644 completions/_cynork $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_cynork; \
	fi
	@if [ -f completions/cynork.fish ]; then \
		install -d $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d; \
		install -m 0644 completions/cynork.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/cynork.fish; \
	fi

# Regenerate the cynork man pages and completion scripts from the command
# table (tests/cynork/drift.bats fails when the committed ones differ).
man: $(O)/cynork
	@for p in $$($(O)/cynork __man --list); do $(O)/cynork __man $$p > man/$$p || exit 1; done

completions: $(O)/cynork
	@mkdir -p completions
	@$(O)/cynork completion bash > completions/cynork.bash
	@$(O)/cynork completion zsh > completions/_cynork
	@$(O)/cynork completion fish > completions/cynork.fish

clean:
	rm -rf $(O)

# Objects reached through pattern chains are kept (no rebuild next time).
.SECONDARY:

.PHONY: all units deps test check lint format demo demo-stop bench fuzz hdr-check install clean man completions FORCE

-include $(shell find $(O) -name '*.d' 2>/dev/null)
