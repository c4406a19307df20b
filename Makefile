# gliveD: plain `make` builds everything into build/.
#   make check       every test; ends with "N passed, N failed"
#   make check-asan  the same suite built with ASan+UBSan (into build-asan/)
#   make demo        emulator + daemon + the seven seed scenarios through glivectl

BUILD   ?= build
CC      ?= cc
PYTHON  ?= /usr/bin/python3
PKGS    := libuv jansson openssl
# Debian's libwslay-dev ships no .pc file: fall back to -lwslay.
WSLAY_LIBS := $(shell pkg-config --libs wslay 2>/dev/null || echo -lwslay)

OPT     ?= -O2 -g
SAN     ?=
CFLAGS  += -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -MMD -MP -I. $(OPT) $(SAN) \
           $(shell pkg-config --cflags $(PKGS))
LDFLAGS += $(SAN)
LDLIBS  += $(shell pkg-config --libs $(PKGS)) $(WSLAY_LIBS) -lhttp_parser -lm

# Libraries: core (shared by all), then one per program without its main().
CORE_SRC   := $(wildcard common/*.c transport/*.c proto/*.c)
EMU_SRC    := $(filter-out emulator/main.c,$(wildcard emulator/*.c))
DAEMON_SRC := $(filter-out daemon/main.c,$(wildcard daemon/*.c))
CLIENT_SRC := $(filter-out client/glivectl.c,$(wildcard client/*.c))
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
BENCH_SRC  := $(wildcard bench/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBCORE   := $(BUILD)/libglivecore.a
LIBEMU    := $(BUILD)/libgliveemu.a
LIBDAEMON := $(BUILD)/libglived.a
LIBCLIENT := $(BUILD)/libglive.a
ALL_LIBS  := $(LIBDAEMON) $(LIBEMU) $(LIBCLIENT) $(LIBCORE)

BINS := $(BUILD)/glive-emulator
ifneq ($(wildcard daemon/main.c),)
BINS += $(BUILD)/gliveD
endif
ifneq ($(wildcard client/glivectl.c),)
BINS += $(BUILD)/glivectl
endif
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

PREFIX  ?= /usr/local

.PHONY: all check check-asan demo deps test-deps install clean
all: $(BINS) $(UNIT_BINS) $(BENCH_BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The built-in model script is embedded with .incbin, which -MMD does not see.
$(BUILD)/obj/emulator/default_script.o: emulator/default-script.json

# An empty archive is fine: it keeps the link lines uniform while parts are missing.
$(LIBCORE): $(call obj,$(CORE_SRC))
$(LIBEMU): $(call obj,$(EMU_SRC))
$(LIBDAEMON): $(call obj,$(DAEMON_SRC))
$(LIBCLIENT): $(call obj,$(CLIENT_SRC))
$(ALL_LIBS):
	@mkdir -p $(dir $@)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/glive-emulator: $(call obj,emulator/main.c) $(LIBEMU) $(LIBCORE)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/gliveD: $(call obj,daemon/main.c) $(LIBDAEMON) $(LIBCORE)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/glivectl: $(call obj,client/glivectl.c) $(LIBCLIENT) $(LIBCORE)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tests/%: $(call obj,tests/unit/%.c) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< -Wl,--start-group $(ALL_LIBS) -Wl,--end-group $(LDLIBS)

$(BUILD)/bench/%: $(call obj,bench/%.c) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< -Wl,--start-group $(ALL_LIBS) -Wl,--end-group $(LDLIBS)

deps:
	@scripts/install-deps.sh
test-deps:
	@scripts/install-deps.sh --test

check: test-deps
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

# Binaries to PREFIX/bin, units to PREFIX/lib/systemd/{system,user} (see systemd/*.service).
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/lib/systemd/user
	install -m 0755 $(BUILD)/gliveD $(BUILD)/glivectl $(BUILD)/glive-emulator $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 systemd/gliveD.service $(DESTDIR)$(PREFIX)/lib/systemd/system/gliveD.service
	install -m 0644 systemd/gliveD-user.service $(DESTDIR)$(PREFIX)/lib/systemd/user/gliveD.service

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
