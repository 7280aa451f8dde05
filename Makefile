# rrtcp - one hand-written GNU Makefile.  Users may override CC, CFLAGS,
# CPPFLAGS, LDFLAGS, SANITIZE, PREFIX and DESTDIR.  WERROR=1 adds -Werror.
#
#   make              build ./rrtcp
#   make run          install missing Debian packages, build, serve conf/
#   make test         the whole suite: unit, fuzz-corpus replay, PHP vectors,
#                     end-to-end (real binary, real php workers), man lint
#   make SANITIZE=address,undefined test
#   make SANITIZE=thread test-thread
#   make static       build-static/rrtcp: static, stripped, musl (static.mk)

CC	?= cc
PYTHON	?= /usr/bin/python3
PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
MANDIR	?= $(PREFIX)/share/man
CFLAGS	?= -O2 -g

PKGS	 = libcjson yaml-0.1
WARN	 = -Wall -Wextra -Wmissing-prototypes -Wstrict-prototypes -Wshadow \
	   -Wcast-qual -Wpointer-arith -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN	+= -Werror
endif

# Each sanitizer variant builds into its own directory so objects never mix.
ifneq ($(SANITIZE),)
SANFLAGS = -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
BUILD	?= build-$(subst $(comma),-,$(SANITIZE))
else
BUILD	?= build
endif
comma	:= ,

ALL_CFLAGS  = -std=gnu11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) \
	      $(shell pkg-config --cflags $(PKGS)) -pthread -I.
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS) -pthread
LIBS	    = $(shell pkg-config --libs $(PKGS))

# Every module but main(); unit tests link these.
SRCS	= $(filter-out rrtcp.c,$(wildcard *.c))
OBJS	= $(SRCS:%.c=$(BUILD)/%.o)
BIN	= $(BUILD)/rrtcp

UNIT	= $(patsubst tests/%.c,$(BUILD)/%,$(wildcard tests/test_*.c))
FUZZ	= $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
REPLAY	= $(FUZZ:%=$(BUILD)/replay_%)

.PHONY: all run deps test unit fuzz-replay php-test e2e bench-test manlint check bench-ab \
	test-thread fuzz fuzz-ci bench install uninstall clean static

all: $(BIN)
ifeq ($(BUILD),build)
	@ln -sf build/rrtcp rrtcp
endif

$(BUILD):
	@mkdir -p $(BUILD)

$(BUILD)/%.o: %.c $(wildcard *.h) | $(BUILD)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BIN): $(BUILD)/rrtcp.o $(OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# --- running -----------------------------------------------------------

# Build and runtime packages on Debian; installed through apt when missing.
DEB_PKGS = gcc make pkg-config libcjson-dev libyaml-dev libcriterion-dev \
	   php-cli python3 python3-pytest python3-prometheus-client mandoc

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi; \
	    $$sudo apt-get update && $$sudo apt-get install -y $$missing; \
	fi

run: deps
	$(MAKE) all
	cd conf && ../$(BIN) serve -c rrtcp.yaml

# --- tests ---------------------------------------------------------------

test: deps
	$(MAKE) unit fuzz-replay php-test e2e bench-test manlint

# The bench kit's own tests (load generator counting, C worker vectors).
bench-test:
	$(MAKE) -C bench test

check: test

$(BUILD)/support.o: tests/support.c tests/support.h | $(BUILD)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/test_%: tests/test_%.c $(BUILD)/support.o $(OBJS)
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags criterion) -o $@ $^ \
	    $(ALL_LDFLAGS) $(LIBS) $(shell pkg-config --libs criterion)

# Unit tests of one module on its own: they link only the modules they need
# and test doubles in place of the rest (the rule above links every module,
# which would clash with the doubles).  Explicit rules win over the pattern.
TEST_CC = $(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags criterion) -Itests
TEST_LD = $(ALL_LDFLAGS) $(shell pkg-config --libs criterion)
SCHED_UNIT_OBJS = $(addprefix $(BUILD)/,scheduler.o ev.o support.o)
CONN_UNIT_OBJS	= $(addprefix $(BUILD)/,conn.o scheduler.o buf.o json.o net.o ipcount.o mem.o \
		  log.o ev.o support.o)

$(BUILD)/test_scheduler: tests/test_scheduler.c tests/double_pool.c \
    tests/double_pool.h $(SCHED_UNIT_OBJS)
	$(TEST_CC) -o $@ $(filter %.c %.o,$^) $(TEST_LD)

$(BUILD)/test_conn: tests/test_conn.c tests/double_pool.c tests/double_relay.c \
    tests/double_pool.h tests/double_relay.h $(CONN_UNIT_OBJS)
	$(TEST_CC) -o $@ $(filter %.c %.o,$^) $(TEST_LD)

unit: $(UNIT) $(BUILD)/fake_worker
	@set -e; for t in $(UNIT); do echo "== $$t"; $$t --jobs 2; done

# A goridge worker in C for the pool and relay tests (they find it next
# to their own binary).
$(BUILD)/fake_worker: tests/fake_worker.c $(BUILD)/frame.o $(BUILD)/json.o
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS)

$(BUILD)/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(OBJS)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS) $(LIBS)

fuzz-replay: $(REPLAY)
	@set -e; for f in $(FUZZ); do \
	    $(BUILD)/replay_$$f tests/fuzz/corpus_$$f; done

php-test:
	php tests/php/vectors.php

e2e: $(BIN)
	RRTCP_BIN=$(abspath $(BIN)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e

manlint:
	mandoc -Tlint -Wwarning man/*.[0-9]

# The threaded parts under ThreadSanitizer: the idle-worker ring with many
# threads, and the whole end-to-end suite against a TSan-built server (the
# reactors, the control thread and the ring together).  Criterion itself
# cannot start under TSan, so the unit tests run in the other builds.
test-thread:
	$(MAKE) SANITIZE=thread build-thread/stress_ring build-thread/rrtcp
	build-thread/stress_ring
	RRTCP_TEST_TIMEOUT_MULTIPLIER=$${RRTCP_TEST_TIMEOUT_MULTIPLIER:-3} \
	    TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
	    $(MAKE) SANITIZE=thread e2e

$(BUILD)/stress_ring: tests/stress_ring.c $(BUILD)/ring.o
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS)

# Coverage-guided fuzzing with clang's libFuzzer, FUZZTIME seconds each.
# The modules are compiled once into build-fuzz/ and linked into every
# target.  A crash, a sanitizer report (UBSan does not recover here), a leak
# or an input slower than 10 s stops the run with a non-zero status and
# leaves the input as build-fuzz/crash-<target>-*.
FUZZTIME ?= 60
FUZZ_CFLAGS = -std=gnu11 -D_GNU_SOURCE -g -O1 -I. \
	      $(shell pkg-config --cflags $(PKGS)) -pthread \
	      -fsanitize=fuzzer-no-link,address,undefined \
	      -fno-sanitize-recover=undefined
FUZZ_OBJS = $(SRCS:%.c=build-fuzz/%.o)
.SECONDARY: $(FUZZ_OBJS)	# made through a pattern chain: keep them

build-fuzz/%.o: %.c $(wildcard *.h)
	@mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -c -o $@ $<

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)

fuzz: $(FUZZ:%=build-fuzz/fuzz_%)
	@set -e; for f in $(FUZZ); do \
	    echo "== fuzz_$$f for $(FUZZTIME)s"; \
	    mkdir -p build-fuzz/corpus_$$f; \
	    build-fuzz/fuzz_$$f -max_total_time=$(FUZZTIME) -timeout=10 \
	        -artifact_prefix=build-fuzz/crash-$$f- \
	        -dict=tests/fuzz/$$f.dict build-fuzz/corpus_$$f tests/fuzz/corpus_$$f; \
	done

# CI: every target for a short while (about a minute for all of them).
# A target-specific value reaches the fuzz prerequisite; FUZZTIME=N on the
# command line still wins.
fuzz-ci: FUZZTIME = 20
fuzz-ci: fuzz

# --- static build ----------------------------------------------------------

# One binary with no runtime dependency, for minimal containers: musl from
# Debian's musl-tools, cJSON and libyaml from their Debian source packages.
# As root on Debian the first run installs and fetches what is missing
# (tools/static-deps.sh); later runs only rebuild.
static:
	tools/static-deps.sh build-static/src
	$(MAKE) -f static.mk

# --- bench ---------------------------------------------------------------

bench: all
	$(MAKE) -C bench run RRTCP_BIN=$(abspath $(BIN))

# The headline case on OLD (another rrtcp binary) and this build, alternated
# in one sitting: make bench-ab OLD=/path/to/old/rrtcp
bench-ab: all
	$(MAKE) -C bench run RRTCP_BIN=$(abspath $(OLD)) \
	    RRTCP_BIN_B=$(abspath $(BIN))

# --- install -------------------------------------------------------------

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/rrtcp
	install -m 0644 man/rrtcp.1 $(DESTDIR)$(MANDIR)/man1/rrtcp.1
	install -m 0644 man/rrtcp.yaml.5 $(DESTDIR)$(MANDIR)/man5/rrtcp.yaml.5
	install -m 0644 man/rrtcp-protocol.7 \
	    $(DESTDIR)$(MANDIR)/man7/rrtcp-protocol.7

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/rrtcp $(DESTDIR)$(MANDIR)/man1/rrtcp.1 \
	    $(DESTDIR)$(MANDIR)/man5/rrtcp.yaml.5 \
	    $(DESTDIR)$(MANDIR)/man7/rrtcp-protocol.7

clean:
	rm -rf build build-* rrtcp
	$(MAKE) -C bench clean
