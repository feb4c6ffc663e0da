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

PKGS := libmicrohttpd libcurl jansson libpq libjwt libargon2 yaml-0.1 libedit libseccomp gnutls nettle \
	uuid smartcols
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
Q_GEN = @echo "  GEN $@";
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

# The OpenAPI documents (api/openapi-server.json, api/openapi-worker.json)
# go into the programs as C arrays (scripts/embed), served at /openapi.json.
$(O)/gen/openapi-%.c: api/openapi-%.json scripts/embed
	@mkdir -p $(dir $@)
	$(Q_GEN)scripts/embed cy_openapi_$* $< >$@.tmp && mv $@.tmp $@

$(O)/obj/gen/%.o: $(O)/gen/%.c $(O)/.cflags
	@mkdir -p $(dir $@)
	$(Q_CC)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/cynode-server: $(SERVER_OBJS) $(O)/obj/gen/openapi-server.o $(O)/libcynode.a
	$(Q_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(O)/cynode-node: $(NODE_OBJS) $(O)/obj/gen/openapi-worker.o $(O)/libcynode.a
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

# Placement decisions with the server's own claim (tests/bench/placement.c).
$(O)/obj/tests/bench/placement.o: BASE_CFLAGS += -Iserver
$(O)/tests/bench/placement: $(O)/obj/tests/bench/placement.o $(O)/libserver.a $(O)/libcynode.a
	@mkdir -p $(dir $@)
	$(Q_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# The resident memory of the node's libraries alone (tests/bench/rss-floor.c).
$(O)/tests/bench/rss-floor: $(O)/obj/tests/bench/rss-floor.o $(O)/libcynode.a
	@mkdir -p $(dir $@)
	$(Q_LD)$(CC) $(LDFLAGS) -Wl,--as-needed -o $@ $^ $(LIBS)

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
	@$(MAKE) --no-print-directory all $(O)/tests/bench/loadgen $(O)/tests/bench/placement \
	    $(O)/tests/bench/rss-floor
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

# `make install` (PREFIX, DESTDIR and the directories below honoured): the
# three programs, the agent runner cynode-sba (LIBEXECDIR/cynode, where the
# node looks), cynode-tls, the migrations, man pages, completions, the
# systemd units (@SBINDIR@ and @SYSCONFDIR@ filled in), sysusers.d and
# tmpfiles.d entries, and the example server.yaml and node.yaml in
# $(SYSCONFDIR)/cynode (never over an existing file).  SYSCONFDIR is /etc
# for any PREFIX: the programs read /etc/cynode/*.yaml by default.  With
# PREFIX=/usr the systemd and completion directories are the system's
# (pkg-config systemd and bash-completion; zsh's Debian vendor-completions),
# else they are under PREFIX.  `make uninstall` removes what install put
# there (an example config only while it is unchanged).
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/libexec
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
SYSCONFDIR ?= /etc
sysdir = $(if $(filter /usr,$(PREFIX)),$(or $(shell pkg-config --variable=$(1) systemd 2>/dev/null),$(2)),$(2))
UNITDIR ?= $(call sysdir,systemdsystemunitdir,$(PREFIX)/lib/systemd/system)
SYSUSERSDIR ?= $(call sysdir,sysusersdir,$(PREFIX)/lib/sysusers.d)
TMPFILESDIR ?= $(call sysdir,tmpfilesdir,$(PREFIX)/lib/tmpfiles.d)
BASHCOMPDIR ?= $(or $(shell pkg-config --define-variable=prefix=$(PREFIX) \
	--variable=completionsdir bash-completion 2>/dev/null),$(DATADIR)/bash-completion/completions)
ZSHCOMPDIR ?= $(if $(filter /usr,$(PREFIX)),$(DATADIR)/zsh/vendor-completions,$(DATADIR)/zsh/site-functions)
FISHCOMPDIR ?= $(DATADIR)/fish/vendor_completions.d
UNITS := cynode-server.service cynode-node.service

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(DATADIR)/cynode/migrations \
		$(DESTDIR)$(LIBEXECDIR)/cynode \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR) \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
		$(DESTDIR)$(SYSCONFDIR)/cynode
	install -m 0755 $(O)/cynork scripts/cynode-tls $(DESTDIR)$(BINDIR)/
	install -m 0755 $(O)/cynode-server $(O)/cynode-node $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(O)/cynode-sba $(DESTDIR)$(LIBEXECDIR)/cynode/
	install -m 0644 migrations/*.sql $(DESTDIR)$(DATADIR)/cynode/migrations/
	@for f in man/*.[158]; do \
		s=$${f##*.}; \
		echo "install -m 0644 $$f $(DESTDIR)$(MANDIR)/man$$s/"; \
		install -d $(DESTDIR)$(MANDIR)/man$$s && \
		install -m 0644 $$f $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; \
	done
	install -m 0644 completions/cynork.bash $(DESTDIR)$(BASHCOMPDIR)/cynork
	install -m 0644 completions/_cynork $(DESTDIR)$(ZSHCOMPDIR)/_cynork
	install -m 0644 completions/cynork.fish $(DESTDIR)$(FISHCOMPDIR)/cynork.fish
	@for u in $(UNITS); do \
		echo "install -m 0644 systemd/$$u $(DESTDIR)$(UNITDIR)/$$u"; \
		sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
			systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u.tmp && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u.tmp && \
		mv $(DESTDIR)$(UNITDIR)/$$u.tmp $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -m 0644 systemd/cynode.sysusers $(DESTDIR)$(SYSUSERSDIR)/cynode.conf
	install -m 0644 systemd/cynode.tmpfiles $(DESTDIR)$(TMPFILESDIR)/cynode.conf
	@for c in server node; do \
		t=$(DESTDIR)$(SYSCONFDIR)/cynode/$$c.yaml; \
		if [ -e "$$t" ]; then echo "install: $$t exists, left as it is"; \
		else echo "install -m 0644 etc/$$c.yaml $$t"; install -m 0644 etc/$$c.yaml "$$t" || exit 1; fi; \
	done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/cynork $(DESTDIR)$(BINDIR)/cynode-tls \
		$(DESTDIR)$(SBINDIR)/cynode-server $(DESTDIR)$(SBINDIR)/cynode-node
	rm -rf $(DESTDIR)$(DATADIR)/cynode $(DESTDIR)$(LIBEXECDIR)/cynode
	@for f in man/*.[158]; do \
		rm -f $(DESTDIR)$(MANDIR)/man$${f##*.}/$${f#man/}; \
	done
	rm -f $(DESTDIR)$(BASHCOMPDIR)/cynork $(DESTDIR)$(ZSHCOMPDIR)/_cynork \
		$(DESTDIR)$(FISHCOMPDIR)/cynork.fish
	rm -f $(UNITS:%=$(DESTDIR)$(UNITDIR)/%) $(DESTDIR)$(SYSUSERSDIR)/cynode.conf \
		$(DESTDIR)$(TMPFILESDIR)/cynode.conf
	@for c in server node; do \
		t=$(DESTDIR)$(SYSCONFDIR)/cynode/$$c.yaml; \
		if cmp -s etc/$$c.yaml "$$t"; then rm -f "$$t"; \
		elif [ -e "$$t" ]; then echo "uninstall: $$t was changed, left as it is"; fi; \
	done
	-rmdir $(DESTDIR)$(SYSCONFDIR)/cynode 2>/dev/null

# `make deb`: the cynode-server, cynode-node and cynork packages
# (debian/, dpkg-buildpackage -b) built from a copy of the source tree in
# $(O)/deb/src, then lintian (errors fail, warnings are printed).  The
# .deb files end up in $(O)/deb.  `make test-deb` builds them and runs
# tests/deb/*.bats: the stack started from the installed files.
DEB_VERSION = $(shell dpkg-parsechangelog -S Version 2>/dev/null)
deb:
	@command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null || \
		{ echo "make deb needs dpkg-dev and debhelper: apt-get install dpkg-dev debhelper fakeroot lintian" >&2; exit 2; }
	@rm -rf $(O)/deb && mkdir -p $(O)/deb/src/cynode
	@git ls-files -co --exclude-standard -z | grep -zv '^build/' | \
		xargs -0 cp -a --parents -t $(O)/deb/src/cynode
	cd $(O)/deb/src/cynode && dpkg-buildpackage -b -us -uc -j$$(nproc) >../build.log 2>&1 || \
		{ tail -n 40 ../build.log >&2; exit 1; }
	@mv $(O)/deb/src/*.deb $(O)/deb/src/*.changes $(O)/deb/src/*.buildinfo $(O)/deb/
	@ls $(O)/deb/*.deb
	@if command -v lintian >/dev/null; then \
		lintian --fail-on error $(O)/deb/*.changes; \
	else echo "lintian is not installed: not checked" >&2; fi

test-deb:
	@scripts/deps --deb
	@$(MAKE) --no-print-directory deb
	@CY_BUILD=$(abspath $(O)) CY_DEB_DIR=$(abspath $(O))/deb tests/run-all tests/deb

# Regenerate the cynork man pages and completion scripts from the command
# table (tests/cynork/drift.bats fails when the committed ones differ).
man: $(O)/cynork
	@for p in $$($(O)/cynork __man --list); do $(O)/cynork __man $$p > man/$$p || exit 1; done

# Rewrite the request body schemas of api/openapi-server.json from the body
# tables (tests/server/openapi.bats fails while they differ).
openapi-sync: $(O)/cynode-server
	@$(O)/cynode-server --route-bodies >$(O)/route-bodies.json
	@tests/openapi-check sync api/openapi-server.json $(O)/route-bodies.json

completions: $(O)/cynork
	@mkdir -p completions
	@$(O)/cynork completion bash > completions/cynork.bash
	@$(O)/cynork completion zsh > completions/_cynork
	@$(O)/cynork completion fish > completions/cynork.fish

clean:
	rm -rf $(O)

# Objects reached through pattern chains are kept (no rebuild next time).
.SECONDARY:

.PHONY: all units deps test check lint format demo demo-stop bench fuzz hdr-check install uninstall deb test-deb clean man completions openapi-sync FORCE

-include $(shell find $(O) -name '*.d' -type f -not -path '*/deb/*' 2>/dev/null)
