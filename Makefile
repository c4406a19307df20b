# gliveD: plain `make` builds everything into build/.
#   make check       every test; ends with "N passed, N failed"
#   make check-asan  the same suite built with ASan+UBSan (into build-asan/)
#   make demo        emulator + daemon + the seven seed scenarios through glivectl
#   make install     [DESTDIR=...] [PREFIX=/usr/local]; make uninstall removes what it put
#   make bench       CPU per message against the official SDK, latency, memory per session
#                    (bench/run.py; BENCH_ARGS="--readme README.md" rewrites README's Performance)
#   make fuzz        libFuzzer targets (fuzz/) with ASan+UBSan, built by clang into build-fuzz/
#   make check-fuzz  a 60-second run of each fuzz target; fails on any crash (not in `check`)

BUILD   ?= build
CC      ?= cc
PYTHON  ?= /usr/bin/python3
PKGS    := libuv jansson openssl soxr
# Debian's libwslay-dev ships no .pc file: fall back to -lwslay.
WSLAY_LIBS := $(shell pkg-config --libs wslay 2>/dev/null || echo -lwslay)
# libedit (libedit-dev): line editing and history for `glivectl chat`, linked into glivectl
# only (the daemon, the library and the tests have no terminal to edit on).
EDIT_LIBS  := $(shell pkg-config --libs libedit 2>/dev/null || echo -ledit)
# ALSA (libasound2-dev): the microphone and speaker of `glivectl talk --mic --play`, `ask --play`,
# `chat --play`; linked into glivectl only, like libedit.
ALSA_LIBS  := $(shell pkg-config --libs alsa 2>/dev/null || echo -lasound)

OPT     ?= -O2 -g
SAN     ?=
CFLAGS  += -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -MMD -MP -I. $(OPT) $(SAN) \
           $(shell pkg-config --cflags $(PKGS))
LDFLAGS += $(SAN)
LDLIBS  += $(shell pkg-config --libs $(PKGS)) $(WSLAY_LIBS) -lhttp_parser -lm

# Layers (docs/ARCHITECTURE.md): each directory is one static library and may use only the
# layers listed after it; `make check-layers` enforces this on includes, and every program and
# unit test links only the libraries of the layers it uses, lowest last, without --start-group,
# so a layer calling into one it should not fails to link. A layer may be two levels deep
# (client/lib): a file belongs to the longest layer name that prefixes its path. USES_x lists
# every layer x uses, indirect ones included.
LAYERS          := daemon client/glivectl client/lib emulator transport proto common
USES_common     :=
USES_transport  := common
USES_proto      := common
USES_daemon     := transport proto common
USES_client/lib := proto common
USES_client/glivectl := client/lib proto common
USES_emulator   := transport common

# A program's main() is not in its library.
MAINS      := daemon/main.c client/glivectl/main.c emulator/main.c
layer_src   = $(filter-out $(MAINS),$(wildcard $(1)/*.c $(1)/*/*.c))
lib         = $(BUILD)/lib/libglive-$(subst /,-,$(1)).a
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
BENCH_SRC  := $(wildcard bench/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
# The libraries a source file needs: the layers it includes, with what they use, in link order.
# An include's layer is the longest layer name prefixing its path: its directories are tried
# longest first ("client/lib/glive.h": client/lib, then client).
parent      = $(patsubst %/,%,$(dir $(1)))
ancestors   = $(if $(filter-out .,$(call parent,$(1))),$(call parent,$(1)) $(call ancestors,$(call parent,$(1))))
layer_of    = $(firstword $(filter $(LAYERS),$(call ancestors,$(1))))
layers_of   = $(sort $(foreach i,$(shell sed -n 's|^#include "\([^"]*/[^"]*\)".*|\1|p' $(1)),$(call layer_of,$(i))))
libs_for    = $(foreach l,$(LAYERS),$(if $(filter $(l),$(foreach x,$(call layers_of,$(1)),$(x) $(USES_$(x)))),$(call lib,$(l))))

BINS := $(BUILD)/glive-emulator $(BUILD)/gliveD $(BUILD)/glivectl
# libglive.a, the client library an application links: client/lib and every layer it uses,
# one archive (installed with glive.pc).
LIBGLIVE := $(BUILD)/lib/libglive.a
LIBGLIVE_OBJS := $(call obj,$(foreach l,client/lib $(USES_client/lib),$(call layer_src,$(l))))
# Man pages: man/NAME.SECTION.scd, built by scdoc. `make` builds them when scdoc is installed
# (a build without it still works); `make install` needs them, so it needs scdoc
# (scripts/install-deps.sh installs it).
SCDOC := $(shell command -v scdoc 2>/dev/null)
MANS := $(patsubst man/%.scd,$(BUILD)/man/%,$(wildcard man/*.scd))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
# A paced ALSA PCM for tests/integration/test_audio_dev.py, where there is no sound card: an ALSA
# plugin, so a shared object (ALSA's dlsym version check needs -DPIC).
ALSA_TEST_PCM := $(BUILD)/tests/alsa/libasound_module_pcm_glivetest_clock.so
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

# Where `make install` puts things (README "Installing"); DESTDIR is prepended to every path.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/glive
SYSTEMDDIR ?= $(PREFIX)/lib/systemd
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
VERSION    := $(shell sed -n 's/^\#define GL_VERSION "\(.*\)"/\1/p' proto/version.h)

.PHONY: all check check-asan check-layers check-docs demo bench deps test-deps install uninstall clean \
        fuzz fuzz-deps fuzz-bins check-fuzz
all: $(BINS) $(UNIT_BINS) $(BENCH_BINS) $(LIBGLIVE) $(ALSA_TEST_PCM) $(if $(SCDOC),$(MANS))

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The built-in model script is embedded with .incbin, which -MMD does not see.
$(BUILD)/obj/emulator/default_script.o: emulator/default-script.json
# The same for the recordings the emulator recognises (emulator/voices_data.c).
$(BUILD)/obj/emulator/voices_data.o: $(wildcard tests/data/voice-*.wav)

define layer_lib
$(call lib,$(1)): $(call obj,$(call layer_src,$(1)))
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	$$(AR) rcs $$@ $$^
endef
$(foreach l,$(LAYERS),$(eval $(call layer_lib,$(l))))

# `ar r` would replace a member by a later one of the same name: check that none was lost.
$(LIBGLIVE): $(LIBGLIVE_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@
	$(AR) rcs $@ $^
	@test "$$($(AR) t $@ | wc -l)" -eq $(words $^) || { echo "$@: two objects share a name" >&2; rm -f $@; exit 1; }

$(BUILD)/man/%: man/%.scd
	@mkdir -p $(dir $@)
	@command -v scdoc >/dev/null || { echo "$@: needs scdoc: apt-get install scdoc (scripts/install-deps.sh)" >&2; exit 1; }
	scdoc < $< > $@.tmp && mv $@.tmp $@

$(BUILD)/glive-emulator: $(call obj,emulator/main.c) $(foreach l,emulator $(USES_emulator),$(call lib,$(l)))
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/gliveD: $(call obj,daemon/main.c) $(foreach l,daemon $(USES_daemon),$(call lib,$(l)))
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/glivectl: $(call obj,client/glivectl/main.c) $(foreach l,client/glivectl $(USES_client/glivectl),$(call lib,$(l)))
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(EDIT_LIBS) $(ALSA_LIBS)

# Test doubles (tests/unit/fake_*.c) are linked before the libraries, so they replace the real
# implementation of an interface (fake_ipc.c stands for daemon/ipc.c). TEST_EXTRA_test_x lists them.
TEST_EXTRA_test_session  := tests/unit/fake_ipc.c
TEST_EXTRA_test_dispatch := tests/unit/fake_ipc.c
TEST_EXTRA_test_registry := tests/unit/fake_ipc.c
define unit_test
$(BUILD)/tests/$(1): $(call obj,tests/unit/$(1).c $(TEST_EXTRA_$(1))) $(call libs_for,tests/unit/$(1).c)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach t,$(patsubst tests/unit/%.c,%,$(UNIT_SRC)),$(eval $(call unit_test,$(t))))
$(ALSA_TEST_PCM): tests/alsa/pcm_glivetest_clock.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DPIC -fPIC -shared $(LDFLAGS) -o $@ $< $(ALSA_LIBS)
define bench_prog
$(BUILD)/bench/$(1): $(call obj,bench/$(1).c) $(call libs_for,bench/$(1).c)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach b,$(patsubst bench/%.c,%,$(BENCH_SRC)),$(eval $(call bench_prog,$(b))))

# Fuzz targets (fuzz/README.md): one program per fuzz/fuzz_*.c, linked like a unit test (the
# libraries its #includes name) plus libFuzzer's main. Only `make fuzz` builds them, with clang,
# every object instrumented for coverage and ASan+UBSan (UB aborts, so libFuzzer sees it as a
# crash); plain `make` and gcc never see them.
FUZZ_SRC  := $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
FUZZ_SAN  := -fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined \
             -fno-omit-frame-pointer
define fuzz_prog
$(BUILD)/fuzz/$(1): $(call obj,fuzz/$(1).c) $(call libs_for,fuzz/$(1).c)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -fsanitize=fuzzer -o $$@ $$^ $$(LDLIBS)
endef
$(foreach f,$(patsubst fuzz/%.c,%,$(FUZZ_SRC)),$(eval $(call fuzz_prog,$(f))))

fuzz-deps:
	@scripts/install-deps.sh --fuzz
fuzz: fuzz-deps
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang OPT="-O1 -g" SAN="$(FUZZ_SAN)" fuzz-bins
fuzz-bins: $(FUZZ_BINS)
# FUZZ_SECONDS per target, two at a time (the machines have two cores); new inputs go to
# build-fuzz/corpus/, never into the committed fuzz/corpus/.
FUZZ_SECONDS ?= 60
check-fuzz: fuzz
	@scripts/check-fuzz.sh build-fuzz $(FUZZ_SECONDS)

check-docs:
	@$(PYTHON) scripts/check-docs.py --self-test docs/ARCHITECTURE.md README.md proto/PROTOCOL.md fuzz/README.md

comma := ,
empty :=
space := $(empty) $(empty)
check-layers:
	@$(PYTHON) scripts/check-layers.py --self-test $(foreach l,$(LAYERS),$(l)=$(subst $(space),$(comma),$(strip $(USES_$(l)))))

deps:
	@scripts/install-deps.sh
test-deps:
	@scripts/install-deps.sh --test

check: test-deps check-layers check-docs
	@$(MAKE) --no-print-directory all
	@$(PYTHON) tests/run.py --build $(BUILD)

check-asan: test-deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g" \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" all
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  $(PYTHON) tests/run.py --build build-asan --sanitized

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh $(BUILD)

BENCH_ARGS ?=
bench: test-deps
	@$(MAKE) --no-print-directory all
	@$(PYTHON) bench/run.py --build $(BUILD) $(BENCH_ARGS)


# install copies what is built and builds only what is missing or out of date (never the tests).
# Templates (systemd units, glive.pc) get their @NAME@ placeholders replaced here, since PREFIX
# is only known now. uninstall removes exactly the files install puts (INSTALLED), then the
# directories that are gliveD's own if empty. tests/integration/test_install.py checks both.
# The headers: glive.h and those it needs or names (gl_xalloc_init), under INCLUDEDIR/glive/ as
# glive.h's own includes find them ("common/err.h" next to it); glive.pc adds -I.../glive.
INST_HEADERS := client/lib/glive.h common/err.h common/xalloc.h
inst_header   = $(INCLUDEDIR)/glive/$(patsubst client/lib/%,%,$(1))
INST_DOCS    := README.md proto/PROTOCOL.md docs/gliveD.json.example
inst_man      = $(MANDIR)/man$(subst .,,$(suffix $(1)))/$(notdir $(1))
INSTALLED := $(addprefix $(BINDIR)/,$(notdir $(BINS))) \
             $(SYSTEMDDIR)/system/gliveD.service $(SYSTEMDDIR)/user/gliveD.service \
             $(SYSTEMDDIR)/system/gliveD.socket $(SYSTEMDDIR)/user/gliveD.socket \
             $(SYSUSERSDIR)/glive.conf \
             $(BASHCOMPDIR)/glivectl $(ZSHCOMPDIR)/_glivectl \
             $(foreach m,$(MANS),$(call inst_man,$(m))) \
             $(addprefix $(DOCDIR)/,$(notdir $(INST_DOCS))) \
             $(foreach h,$(INST_HEADERS),$(call inst_header,$(h))) \
             $(LIBDIR)/libglive.a $(LIBDIR)/pkgconfig/glive.pc
SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
            -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' -e 's|@VERSION@|$(VERSION)|g'
# $(call install_subst,TEMPLATE,DEST): DEST (mode 0644) from TEMPLATE; fails if a placeholder is left.
install_subst = $(SUBST) $(1) > $(DESTDIR)$(2) && chmod 0644 $(DESTDIR)$(2) && \
                ! grep -n '@[A-Z]*@' $(DESTDIR)$(2)

install: $(BINS) $(LIBGLIVE) $(MANS)
	install -d $(addprefix $(DESTDIR),$(sort $(patsubst %/,%,$(dir $(INSTALLED)))))
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/
	$(call install_subst,systemd/gliveD.service,$(SYSTEMDDIR)/system/gliveD.service)
	$(call install_subst,systemd/gliveD-user.service,$(SYSTEMDDIR)/user/gliveD.service)
	$(call install_subst,systemd/gliveD.socket,$(SYSTEMDDIR)/system/gliveD.socket)
	$(call install_subst,systemd/gliveD-user.socket,$(SYSTEMDDIR)/user/gliveD.socket)
	install -m 0644 systemd/glive.sysusers $(DESTDIR)$(SYSUSERSDIR)/glive.conf
	install -m 0644 client/glivectl/completion/glivectl.bash $(DESTDIR)$(BASHCOMPDIR)/glivectl
	install -m 0644 client/glivectl/completion/_glivectl $(DESTDIR)$(ZSHCOMPDIR)/_glivectl
	$(foreach m,$(MANS),install -m 0644 $(m) $(DESTDIR)$(call inst_man,$(m)) &&) true
	install -m 0644 $(INST_DOCS) $(DESTDIR)$(DOCDIR)/
	$(foreach h,$(INST_HEADERS),install -m 0644 $(h) $(DESTDIR)$(call inst_header,$(h)) &&) true
	install -m 0644 $(LIBGLIVE) $(DESTDIR)$(LIBDIR)/
	$(call install_subst,client/lib/glive.pc.in,$(LIBDIR)/pkgconfig/glive.pc)

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	for d in $(DOCDIR) $(INCLUDEDIR)/glive/common $(INCLUDEDIR)/glive; do \
	  [ ! -d "$(DESTDIR)$$d" ] || rmdir --ignore-fail-on-non-empty "$(DESTDIR)$$d"; done

clean:
	rm -rf build build-asan build-fuzz build-fuzz-cov

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
