# slotd build.  `make` builds release binaries into build/release/bin,
# `make check` installs dependencies, builds everything with ASan+UBSan and
# crash points into build/check and runs every test, `make bench` writes
# build/bench/report.md, `make demo` runs the end-to-end demo, `make fuzz`
# builds the libFuzzer harnesses with clang into build/fuzz and runs each for
# FUZZ_SECONDS (tests/fuzz/README.md), `make torture` runs the power-cut and
# kill-storm tests with large counts (release binaries; POWERCUT_ROUNDS,
# KILLSTORM_ROUNDS) and writes build/torture/report.md.
#
# Sources are picked up by directory, so a new module is just a new file:
#   slots/*.c                 libslots.a   (libc + inih; linked by everything)
#   updater/<module>/*.c      libupdater.a (bundle, fetch, install, amqp ...)
#   supervisor/slotd/*.c      slotd        (libslots only: PID 1 stays tiny)
#   supervisor/httpcheck/*.c  slotd-httpcheck (health = http; libc only), built
#                             and installed as lib/slotd/slotd-httpcheck
#   supervisor/slotctl/*.c    slotctl
#   updater/programs/slotupd/*.c       slotupd
#   updater/programs/slotpack/*.c      slotpack
#   fleet/<room>/**/*.c       libfleet.a   (control plane; rooms in fleet/README.md:
#                             api, rollout, broker, metrics, store with its
#                             sqlite/ and postgresql/ backends below and their
#                             interface db/ under those, sync, config)
#   fleet/slotfleet/*.c       slotfleet
#   tests/unit/test_*.c       one cmocka binary each (+ tests/unit/support_*.c, an archive)
#   tests/agents/*.c          one test agent binary each
#   tests/integration/*.sh    run by tests/run.sh
#   tests/fuzz/fuzz_*.c       one libFuzzer harness each (`make fuzz`)
#
# Headers: include/ holds only what more than one program's own code includes
# (the slot engine's and the shared wire formats'; tests/integration/layout.sh
# checks it); a header used inside one program or one library stays beside
# its code.  libupdater's are named by their path below updater/
# ("extract/extract_pool.h"), from its modules, slotupd, slotpack and tests,
# which alone get -Iupdater.

PREFIX  ?= /usr/local
DESTDIR ?=
MODE    ?= release
BUILD   ?= build/$(MODE)
CC      ?= cc
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_MIN_CPU ?= 0
PKG_CONFIG ?= pkg-config

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wformat-security -Wvla \
           -Wstrict-prototypes -Wmissing-prototypes -Wno-missing-field-initializers
BASE    := -std=gnu11 -Iinclude -D_GNU_SOURCE -fPIE -pipe $(WARN)
# slotd is linked statically in release builds: PID 1 needs no dynamic loader,
# and its peak RSS halves (932 kB against 1984 kB, tests/bench/slotd.sh).
# The sanitizer build cannot link statically.
SLOTD_STATIC := -static-pie
ifeq ($(MODE),fuzz)
# libFuzzer harnesses (tests/fuzz/README.md): everything is compiled with
# clang and coverage instrumentation; only the harnesses link libFuzzer's main.
# clang's -Wformat=2 also flags vprintf-style helpers that gcc accepts.
CC      := $(FUZZ_CC)
SLOTD_STATIC :=
OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
           -fno-sanitize-recover=all -DSLOTS_TEST_BUILD -Wno-format-nonliteral
LDOPT   := -fsanitize=address,undefined
else ifeq ($(MODE),check)
SLOTD_STATIC :=
OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
           -fno-sanitize-recover=all -DSLOTS_CRASH_POINTS -DSLOTS_TEST_BUILD
LDOPT   := -fsanitize=address,undefined
else
OPT     := -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection
LDOPT   :=
endif
LDHARDEN := -pie -Wl,-z,relro,-z,now -Wl,--as-needed

SLOTS_PKGS   := inih
UPDATER_PKGS := libarchive zlib liblzma libzstd libcrypto libcurl librabbitmq jansson inih
FLEET_PKGS   := sqlite3 libpq libmicrohttpd
PKG_CFLAGS   = $(shell $(PKG_CONFIG) --cflags $(UPDATER_PKGS) $(FLEET_PKGS) cmocka 2>/dev/null)
SLOTS_LIBS   = $(shell $(PKG_CONFIG) --libs $(SLOTS_PKGS))
UPDATER_LIBS = $(shell $(PKG_CONFIG) --libs $(UPDATER_PKGS))
FLEET_LIBS   = $(shell $(PKG_CONFIG) --libs $(FLEET_PKGS))
CMOCKA_LIBS  = $(shell $(PKG_CONFIG) --libs cmocka)

CFLAGS_ALL  = $(BASE) $(OPT) $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(LDOPT) $(LDHARDEN) $(LDFLAGS)

SLOTS_SRC    := $(wildcard slots/*.c)
UPDATER_SRC  := $(wildcard updater/*/*.c)	# programs live one level deeper, in updater/programs/
SLOTD_SRC    := $(wildcard supervisor/slotd/*.c)
HTTPCHECK_SRC := $(wildcard supervisor/httpcheck/*.c)
SLOTCTL_SRC  := $(wildcard supervisor/slotctl/*.c)
SLOTUPD_SRC  := $(wildcard updater/programs/slotupd/*.c)
SLOTPACK_SRC := $(wildcard updater/programs/slotpack/*.c)
FLEET_SRC    := $(sort $(filter-out fleet/slotfleet/%,$(shell find fleet -name '*.c' 2>/dev/null)))
SLOTFLEET_SRC := $(wildcard fleet/slotfleet/*.c)
UNIT_SRC     := $(wildcard tests/unit/test_*.c)
SUPPORT_SRC  := $(wildcard tests/unit/support_*.c)
AGENT_SRC    := $(wildcard tests/agents/*.c)
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_SUPPORT := $(wildcard tests/fuzz/support_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBSLOTS   := $(BUILD)/lib/libslots.a
LIBUPDATER := $(BUILD)/lib/libupdater.a
LIBFLEET   := $(BUILD)/lib/libfleet.a
PROGRAMS   := $(if $(SLOTD_SRC),$(BUILD)/bin/slotd) \
              $(if $(SLOTCTL_SRC),$(BUILD)/bin/slotctl) \
              $(if $(SLOTUPD_SRC),$(BUILD)/bin/slotupd) \
              $(if $(SLOTPACK_SRC),$(BUILD)/bin/slotpack) \
              $(if $(SLOTFLEET_SRC),$(BUILD)/bin/slotfleet) \
              $(if $(HTTPCHECK_SRC),$(BUILD)/lib/slotd/slotd-httpcheck)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
AGENT_BINS := $(patsubst tests/agents/%.c,$(BUILD)/agents/%,$(AGENT_SRC))
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))

.PHONY: all programs agents tests check check-build check-run bench demo torture install clean deps \
        fuzz fuzz-build fuzz-harnesses
.DEFAULT_GOAL := all
# Keep objects of pattern-built tests, so a rebuild only compiles what changed.
.SECONDARY:

all: programs
programs: $(PROGRAMS)
agents: $(AGENT_BINS)
tests: programs $(UNIT_BINS) $(AGENT_BINS)

# libupdater's private headers (see the layout above): its own objects, the
# two updater programs' and the tests' see them; slotctl, slotd and fleet do not.
$(call obj,$(UPDATER_SRC) $(SLOTUPD_SRC) $(SLOTPACK_SRC)): CFLAGS_ALL += -Iupdater
$(BUILD)/obj/tests/%.o: CFLAGS_ALL += -Iupdater

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIBSLOTS): $(call obj,$(SLOTS_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBUPDATER): $(call obj,$(UPDATER_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The web UI's files (fleet/ui/) as C arrays, part of the API's room
# (fleet_ui_assets.h): served from the binary, no file read at run time.
UI_FILES := $(sort $(wildcard fleet/ui/*.html fleet/ui/*.css fleet/ui/*.js fleet/ui/*.svg))
UI_GEN   := $(BUILD)/gen/fleet/api/ui_assets.c
UI_OBJ   := $(BUILD)/obj/fleet/api/ui_assets.o
$(UI_GEN): fleet/ui/embed.sh $(UI_FILES)
	@mkdir -p $(dir $@)
	sh fleet/ui/embed.sh $(UI_FILES) > $@.tmp && mv $@.tmp $@
$(UI_OBJ): $(UI_GEN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIBFLEET): $(call obj,$(FLEET_SRC)) $(if $(FLEET_SRC),$(UI_OBJ))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/slotd: $(call obj,$(SLOTD_SRC)) $(LIBSLOTS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) $(SLOTD_STATIC) -o $@ $^ $(SLOTS_LIBS)

# slotd runs it as <slotd's directory>/../lib/slotd/slotd-httpcheck by
# default: the same relative place in the build tree and once installed.
# It takes only libslots' URL, number and text objects: libc only.
$(BUILD)/lib/slotd/slotd-httpcheck: $(call obj,$(HTTPCHECK_SRC)) $(LIBSLOTS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) $(SLOTD_STATIC) -o $@ $^

$(BUILD)/bin/slotctl: $(call obj,$(SLOTCTL_SRC)) $(LIBUPDATER) $(LIBSLOTS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(UPDATER_LIBS)

$(BUILD)/bin/slotupd: $(call obj,$(SLOTUPD_SRC)) $(LIBUPDATER) $(LIBSLOTS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(UPDATER_LIBS)

$(BUILD)/bin/slotpack: $(call obj,$(SLOTPACK_SRC)) $(LIBUPDATER) $(LIBSLOTS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(UPDATER_LIBS)

$(BUILD)/bin/slotfleet: $(call obj,$(SLOTFLEET_SRC)) $(LIBFLEET) $(LIBUPDATER) $(LIBSLOTS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(FLEET_LIBS) $(UPDATER_LIBS)

# slotd's state machine is pure (no system calls): its unit test links it
# directly, so the table the test walks is the one slotd runs.
$(BUILD)/tests/test_machine: $(call obj,supervisor/slotd/machine.c)
$(BUILD)/obj/tests/unit/test_machine.o: CFLAGS_ALL += -Isupervisor/slotd
# fleet's headers are private to it, beside their code; libfleet, slotfleet
# and the fleet tests name them from fleet/ ("store/fleet_store.h").
$(BUILD)/obj/fleet/%.o: CFLAGS_ALL += -Ifleet
$(BUILD)/obj/tests/unit/test_fleet_%.o: CFLAGS_ALL += -Ifleet
$(BUILD)/obj/tests/unit/support_fleet_%.o: CFLAGS_ALL += -Ifleet
$(BUILD)/obj/tests/fuzz/fuzz_fleet_%.o: CFLAGS_ALL += -Ifleet

# Unit tests link every library; --as-needed drops what a test does not use.
# Their support code is an archive too, so a test takes only the support it
# calls (the fleet store fixtures would pull libfleet and libpq into all).
LIBSUPPORT := $(BUILD)/lib/libtestsupport.a
$(LIBSUPPORT): $(call obj,$(SUPPORT_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

TEST_LIBS := $(if $(FLEET_SRC),$(LIBFLEET)) $(LIBUPDATER) $(LIBSLOTS)
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBSUPPORT) $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(if $(FLEET_SRC),$(FLEET_LIBS)) $(UPDATER_LIBS) $(CMOCKA_LIBS)

# Test agents stand in for a real agent: libc only, no sanitizers needed but harmless.
$(BUILD)/agents/%: tests/agents/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(OPT) $(LDFLAGS_ALL) -o $@ $<

# Harnesses link the libraries and, from an archive so only the harness
# that calls it pulls it in, slotd's control module (its request parser; that
# harness stubs the rest of the supervisor), and libfleet (slotfleet's API and
# report parser; the fleet_request harness fakes the publisher).  They find
# their keys and seeds through FUZZ_DIR.
FUZZ_SLOTD := $(BUILD)/lib/libslotd_control.a
$(FUZZ_SLOTD): $(call obj,supervisor/slotd/control.c)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/obj/tests/fuzz/%.o: CFLAGS_ALL += -Isupervisor/slotd -DFUZZ_DIR='"$(CURDIR)/tests/fuzz"'
$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(call obj,$(FUZZ_SUPPORT)) $(FUZZ_SLOTD) \
		 $(if $(FLEET_SRC),$(LIBFLEET)) $(LIBUPDATER) $(LIBSLOTS)
	@mkdir -p $(dir $@)
	$(CC) -fsanitize=fuzzer $(LDFLAGS_ALL) -o $@ $^ $(if $(FLEET_SRC),$(FLEET_LIBS)) \
		$(UPDATER_LIBS) -lpthread
fuzz-harnesses: $(FUZZ_BINS)

deps:
	packaging/deps.sh

# `make check`: the README's test command.  Installs what it needs first, in
# a separate make so pkg-config sees the freshly installed libraries.
check: deps
	$(MAKE) --no-print-directory MODE=check check-run

check-run: tests
	tests/run.sh $(BUILD) $(TESTS)

# `make fuzz-build`: the harnesses into build/fuzz/fuzz/ (objects in
# build/fuzz/obj, apart from the release and check builds).  `make fuzz` then
# runs each for FUZZ_SECONDS, again until FUZZ_MIN_CPU CPU seconds if that is
# set (crashes in build/fuzz/crashes/NAME/).
fuzz-build:
	$(MAKE) --no-print-directory MODE=fuzz fuzz-harnesses

fuzz: fuzz-build
	FUZZ_MIN_CPU=$(FUZZ_MIN_CPU) tests/fuzz/run.sh build/fuzz $(FUZZ_SECONDS)

bench: deps
	$(MAKE) --no-print-directory MODE=release programs
	$(MAKE) --no-print-directory MODE=check tests
	tests/bench/run.sh build/release build/bench

demo: deps
	$(MAKE) --no-print-directory MODE=release programs agents
	packaging/demo.sh build/release

# Long: about 6 s a power cut and 2-5 s a kill round on a loaded 2-core machine
# (200 and 1000 rounds: about an hour).
POWERCUT_ROUNDS  ?= 200
KILLSTORM_ROUNDS ?= 1000
torture: deps
	$(MAKE) --no-print-directory MODE=release programs agents
	POWERCUT_ROUNDS=$(POWERCUT_ROUNDS) KILLSTORM_ROUNDS=$(KILLSTORM_ROUNDS) \
		tests/torture/run.sh build/release build/torture

# `make install`: programs, man pages, systemd units, bash completion and the
# example configurations under $(DESTDIR)$(PREFIX).  The units name
# /usr/sbin in ExecStart; they are rewritten to $(PREFIX)/sbin here.  Nothing
# is written to /etc: the examples go to EXAMPLEDIR (debian/ installs them as
# conffiles).  slotfleet's pieces are installed only when it is built.
UNITDIR    ?= $(PREFIX)/lib/systemd/system
MANDIR     ?= $(PREFIX)/share/man
COMPLDIR   ?= $(PREFIX)/share/bash-completion/completions
EXAMPLEDIR ?= $(PREFIX)/share/doc/slotd/examples
SLOTFLEET_BUILT = $(if $(SLOTFLEET_SRC),y)
MAN_PAGES  := man/slotd.8 man/slotupd.8 man/slotctl.8 man/slotpack.1 man/slotd.ini.5 \
              $(if $(SLOTFLEET_BUILT),man/slotfleet.8 man/slotfleet.ini.5)
UNITS      := slotd.service slotupd-serve.service $(if $(SLOTFLEET_BUILT),slotfleet.service)
COMPLETED  := slotd slotctl slotupd slotpack $(if $(SLOTFLEET_BUILT),slotfleet)

install: programs
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/bin/slotd $(DESTDIR)$(PREFIX)/sbin/slotd
	install -d $(DESTDIR)$(PREFIX)/lib/slotd
	install -m 0755 $(BUILD)/lib/slotd/slotd-httpcheck $(DESTDIR)$(PREFIX)/lib/slotd/
	install -m 0755 $(BUILD)/bin/slotupd $(DESTDIR)$(PREFIX)/sbin/slotupd
	install -m 0755 $(BUILD)/bin/slotctl $(DESTDIR)$(PREFIX)/bin/slotctl
	install -m 0755 $(BUILD)/bin/slotpack $(DESTDIR)$(PREFIX)/bin/slotpack
	$(if $(SLOTFLEET_BUILT),install -m 0755 $(BUILD)/bin/slotfleet $(DESTDIR)$(PREFIX)/sbin/slotfleet)
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	for page in $(MAN_PAGES); do \
		install -m 0644 $$page $(DESTDIR)$(MANDIR)/man$${page##*.}/ || exit 1; done
	install -d $(DESTDIR)$(UNITDIR)
	for unit in $(UNITS); do \
		sed 's|/usr/sbin/|$(PREFIX)/sbin/|' packaging/systemd/$$unit \
			> $(DESTDIR)$(UNITDIR)/$$unit && chmod 0644 $(DESTDIR)$(UNITDIR)/$$unit || exit 1; done
	install -d $(DESTDIR)$(COMPLDIR)
	install -m 0644 packaging/completion/slotd $(DESTDIR)$(COMPLDIR)/slotd
	for prog in $(filter-out slotd,$(COMPLETED)); do \
		ln -sf slotd $(DESTDIR)$(COMPLDIR)/$$prog || exit 1; done
	install -d $(DESTDIR)$(EXAMPLEDIR)
	install -m 0644 packaging/config/slotd.ini $(DESTDIR)$(EXAMPLEDIR)/slotd.ini
	$(if $(SLOTFLEET_BUILT),install -m 0644 packaging/config/slotfleet.ini $(DESTDIR)$(EXAMPLEDIR)/slotfleet.ini)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
