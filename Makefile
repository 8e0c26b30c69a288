# mxgate - GNU make build.
#
#   make            build build/mxgate (release: -O2 -g)
#   make run        install what is missing, build, start the gateway (+ a demo sink)
#   make test       install what is missing, build (release + ASan/UBSan), run every test
#   make bench      relay benchmarks side by side with Postfix (../shared/bench)
#   make fuzz       run each libFuzzer target for FUZZ_SECONDS (default 60)
#   make asan       build build/asan/mxgate with AddressSanitizer + UBSan
#   make deps       only install what is missing (Debian 12, as root)
#   make check-layout   verify module include directions (tools/check-layout.sh)
#   make install    binary, mailq link, man pages, example config, systemd unit
#                   (PREFIX=/usr/local, DESTDIR, sbindir, mandir, sysconfdir=/etc, unitdir)
#   make uninstall  remove what install put there (not the configuration in sysconfdir)

SHELL := /bin/bash
CC ?= cc
ifeq ($(origin CC),default)
CC := cc
endif
PKGS := libevent libevent_openssl libevent_pthreads libcares openssl gmime-3.0 libpcre2-8 libpcre2-32 libclamav jansson libseccomp
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Wformat=2 -Wshadow -Werror
CSTD := -std=c17 -D_GNU_SOURCE
OPT ?= -O2 -g
B ?= build
SAN :=
ifeq ($(ASAN),1)
B := build/asan
OPT := -O1 -g -fno-omit-frame-pointer
SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
endif

CFLAGS_ALL = $(CSTD) $(OPT) $(SAN) $(WARN) -Isrc -pthread $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(SAN) -pthread $(LDFLAGS)
LIBS = $(PKG_LIBS) -lm

MODULES := base ev net dns mail conf smtp queue scan route deliver gw admin ctl
# a module may have subfolders (scan/rules/, scan/av/, ...): every .c below src/MODULE/
LIB_SRC := $(foreach m,$(MODULES),$(sort $(shell find src/$(m) -name '*.c' 2>/dev/null)))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/obj/%.o)
MAIN_OBJ := $(B)/obj/src/main.o
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_REPLAY := $(FUZZ_SRC:fuzz/%.c=$(B)/fuzz/%-replay)
SCANPROBE := $(B)/tests/tools/scanprobe

.PHONY: all run test bench fuzz asan deps clean check-layout unit-bins fuzz-replay-bins install uninstall

all: $(B)/mxgate

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

$(B)/libmxgate.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/mxgate: $(MAIN_OBJ) $(B)/libmxgate.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

$(B)/tests/%: tests/unit/%.c tests/unit/unit.h $(B)/libmxgate.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(B)/libmxgate.a $(LDFLAGS_ALL) $(LIBS) -lcmocka

# corpus replay: the fuzz target linked with a plain main() that runs each file
$(B)/fuzz/%-replay: fuzz/%.c fuzz/replay_main.c fuzz/fuzz.h $(B)/libmxgate.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< fuzz/replay_main.c $(B)/libmxgate.a $(LDFLAGS_ALL) $(LIBS)

# scanprobe: the scanner clients from the command line (tests/system/test_scanners_ext.py)
$(SCANPROBE): tests/tools/scanprobe.c $(B)/libmxgate.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(B)/libmxgate.a $(LDFLAGS_ALL) $(LIBS)

# the default rule set, embedded (the generated file is committed so that
# fuzz/run.sh and plain compilers see it too)
src/scan/rules/scan_rules_default.c: rules/mxgate-default.cf mk/embed-text.sh
	mk/embed-text.sh scan_rules_default_cf $< > $@.tmp && mv $@.tmp $@

# the status page's assets (web/), embedded the same way (admin_status.c serves them)
src/admin/admin_status_assets.c: web/status.html web/status.js web/status.css mk/embed-text.sh
	{ mk/embed-text.sh admin_status_html web/status.html && mk/embed-text.sh admin_status_js web/status.js && \
	  mk/embed-text.sh admin_status_css web/status.css; } > $@.tmp && mv $@.tmp $@

unit-bins: $(UNIT_BIN) $(SCANPROBE)
fuzz-replay-bins: $(FUZZ_REPLAY)

asan:
	$(MAKE) ASAN=1 all unit-bins fuzz-replay-bins

deps:
	@mk/deps.sh

run: deps
	$(MAKE) all
	mk/run.sh

test: deps
	$(MAKE) all unit-bins fuzz-replay-bins
	$(MAKE) ASAN=1 all unit-bins fuzz-replay-bins
	/usr/bin/python3 tests/run.py

bench: deps
	$(MAKE) all
	bench/bench.sh

FUZZ_SECONDS ?= 60
fuzz: deps
	fuzz/run.sh $(FUZZ_SECONDS)

check-layout:
	tools/check-layout.sh

# ---------------------------------------------------------------- install
PREFIX ?= /usr/local
DESTDIR ?=
bindir ?= $(PREFIX)/bin
sbindir ?= $(PREFIX)/sbin
mandir ?= $(PREFIX)/share/man
sysconfdir ?= /etc
unitdir ?= /lib/systemd/system
EXAMPLES := main.cf aliases local-host-names mailertable access relay-domains

# mxgate.conf(5) is made from the binary's own key table: it cannot drift
$(B)/man/mxgate.conf.5: $(B)/mxgate man/mxgate.conf.5.in tools/gen-man-conf.sh
	@mkdir -p $(dir $@)
	tools/gen-man-conf.sh $(B)/mxgate > $@.tmp && mv $@.tmp $@

$(B)/dist/%.service: dist/%.service.in
	@mkdir -p $(dir $@)
	sed -e 's|@SBINDIR@|$(sbindir)|g' -e 's|@SYSCONFDIR@|$(sysconfdir)|g' $< > $@

# mailq: mxgate-mailq always; "mailq" in bindir only where no other mailq is (Postfix's and
# sendmail's live in /usr/bin: never replaced)
install: $(B)/mxgate $(B)/man/mxgate.conf.5 $(B)/dist/mxgate.service $(B)/dist/mxgate-sa-update.service
	install -d $(DESTDIR)$(sbindir) $(DESTDIR)$(bindir) $(DESTDIR)$(mandir)/man5 $(DESTDIR)$(mandir)/man8 \
		$(DESTDIR)$(unitdir)
	install -m 0755 $(B)/mxgate $(DESTDIR)$(sbindir)/mxgate
	ln -sf mxgate $(DESTDIR)$(sbindir)/mxgate-mailq
	@if { [ ! -e $(DESTDIR)$(bindir)/mailq ] && [ ! -L $(DESTDIR)$(bindir)/mailq ]; } || \
	    [ "$$(readlink $(DESTDIR)$(bindir)/mailq)" = "$(sbindir)/mxgate" ]; then \
		ln -sfn $(sbindir)/mxgate $(DESTDIR)$(bindir)/mailq && echo "installed $(bindir)/mailq -> $(sbindir)/mxgate"; \
	else echo "kept $(bindir)/mailq (another mail system's); use mxgate-mailq"; fi
	install -m 0644 man/mxgate.8 $(DESTDIR)$(mandir)/man8/mxgate.8
	install -m 0644 $(B)/man/mxgate.conf.5 $(DESTDIR)$(mandir)/man5/mxgate.conf.5
	install -m 0644 $(B)/dist/mxgate.service $(DESTDIR)$(unitdir)/mxgate.service
	install -m 0644 $(B)/dist/mxgate-sa-update.service $(DESTDIR)$(unitdir)/mxgate-sa-update.service
	install -m 0644 dist/mxgate-sa-update.timer $(DESTDIR)$(unitdir)/mxgate-sa-update.timer
	install -d -m 0755 $(DESTDIR)$(sysconfdir)/mxgate
	@for f in $(EXAMPLES); do \
		if [ -e $(DESTDIR)$(sysconfdir)/mxgate/$$f ]; then echo "kept $(sysconfdir)/mxgate/$$f"; \
		else install -m 0644 examples/$$f $(DESTDIR)$(sysconfdir)/mxgate/$$f; fi; \
	done
	@echo "next: useradd --system --no-create-home --shell /usr/sbin/nologin mxgate;" \
		"useradd --system --user-group --no-create-home --shell /usr/sbin/nologin mxgate-scan;" \
		"edit $(sysconfdir)/mxgate/main.cf; mxgate check; systemctl enable --now mxgate"

uninstall:
	rm -f $(DESTDIR)$(sbindir)/mxgate $(DESTDIR)$(sbindir)/mxgate-mailq \
		$(DESTDIR)$(mandir)/man8/mxgate.8 $(DESTDIR)$(mandir)/man5/mxgate.conf.5 \
		$(DESTDIR)$(unitdir)/mxgate.service $(DESTDIR)$(unitdir)/mxgate-sa-update.service \
		$(DESTDIR)$(unitdir)/mxgate-sa-update.timer
	@if [ "$$(readlink $(DESTDIR)$(bindir)/mailq)" = "$(sbindir)/mxgate" ]; then rm -f $(DESTDIR)$(bindir)/mailq; fi
	@echo "kept $(sysconfdir)/mxgate/ (your configuration); remove it by hand if you want"

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)
