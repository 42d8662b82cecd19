# Build, test and run the likes pipeline: edge, central and sim.
#
#   make          build/edge build/central build/sim
#   make run      deps if missing, build, start the local stack (Ctrl-C stops it)
#                 on the embedded Kafka; KAFKA=real: on Apache Kafka (JVMs)
#   make test     deps if missing, then format-check, include-check,
#                 layout-check, cpd-check, thread-safety-check, build,
#                 structure-check, unit, itest, realkafka-test,
#                 install/rules/client/browser tests, short drills and a
#                 nemesis seed (the sanitizer and fuzz builds beside them),
#                 san-test, fuzz-short, in that order (TEST_JOBS=2 test
#                 binaries at once, DRILL_JOBS=2 drills); seconds per stage
#                 at the end
#   make unit | itest | san-test   one suite; make -j2 unit runs two binaries
#                 at once, each's output in build/tests/NAME.log
#   make format   clang-format the tree; make format-check lists what differs
#   make include-check   the include graph of edge/ and central/ has no cycle
#   make structure-check  no circle of files inside a folder, by calls (nm on
#                 the objects; builds them first) or by includes
#   make layout-check  README.md's layout table, the folder READMEs and
#                 ARCHITECTURE.md's module table match the tree
#   make cpd-check  no more than CPD_MAX_PAIRS pairs of places share a run of
#                 CPD_MIN_TOKENS C tokens (PMD's CPD, from make deps)
#   make thread-safety-check  clang -Wthread-safety over every file that holds a mutex
#   make nemesis SEED=N [SHORT=1] [KAFKA=real]  one seed's fault schedule run as a drill;
#                 make nemesis-seeds SEEDS="..." | FROM=A TO=B  a line per seed
#   make bench    side-by-side benchmarks -> build/bench/latest.json
#   make bench-mem  edge and central RSS at 10M items -> build/bench/mem.kv
#   make soak     30 minutes of steady load; each edge's p99 per minute and
#                 every daemon's memory and fds must stay flat -> build/soak/
#                 (SOAK_MIN=N minutes instead)
#   make bench-replica  checkpoint size, bootstrap time, replica bytes and
#                   RSS per million counts -> build/bench/replica.kv
#   make bench-seed  a standby's copy of its peer's store: bytes, read
#                   and load time -> build/bench/seed.kv
#   make bench-seed-real  the same on real Kafka -> build/bench/seed-real.kv
#   make bench-wakemem  a thread's wake-up lateness on this machine against
#                   the memory other processes touch -> build/bench/wakemem.txt
#   make bench-feedtx  the change feed's publishing without and with Kafka's
#                   transactions, on real Kafka -> build/bench/feedtx.txt
#   make bench-peers  the replicated like against a bare Kafka producer and
#                   Redis + replica + WAIT, central's apply against Kafka
#                   Streams, on real Kafka -> build/bench/peers.json
#   make SANITIZE=address,undefined   builds into build-san/
#   make fuzz     libFuzzer targets (tests/fuzz/), FUZZ_SECONDS each
#   make install  binaries, units, configs, docs, Prometheus rules (PREFIX, DESTDIR, ...)
#   make deb      the Debian package -> build/deb/likes_VERSION_ARCH.deb

CC      ?= cc
PKGS    := libevent libevent_openssl libevent_pthreads libnghttp2 rdkafka msgpack libssl libcrypto inih libxxhash jansson
SANITIZE ?=

ifeq ($(SANITIZE),)
BUILD   := build
SANFLAGS :=
else
BUILD   := build-san
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

# --- mutants ------------------------------------------------------------------
# `make MUTANT=NAME ...` builds into build-mutant-NAME/ with one bug put
# back on purpose (-DLIKES_MUTANT_NAME; issue 68): NO_FENCE (a takeover
# after an active's does not fence it), EARLY_ACK (a write whose copy
# the region's Kafka did not take is answered as taken), CLIENT_CLOCK
# (a client's hlc is ignored). `make mutant-check` builds each and runs
# the drill and unit test that must catch it. No shipped build has one.
MUTANT ?=
MUTANTS := NO_FENCE EARLY_ACK CLIENT_CLOCK
ifneq ($(MUTANT),)
ifeq ($(filter $(MUTANT),$(MUTANTS)),)
$(error MUTANT must be one of $(MUTANTS))
endif
BUILD    := build-mutant-$(MUTANT)
SANFLAGS := -DLIKES_MUTANT_$(MUTANT)
endif

# --- fuzz build ---------------------------------------------------------------
# `make FUZZ=1 ...` builds with clang into build-fuzz/ through the same
# pattern rules: objects get the fuzzer's coverage hooks and ASan+UBSan,
# and each tests/fuzz/fuzz_NAME.c links into build-fuzz/fuzz/fuzz_NAME.
# `make fuzz` and `make fuzz-short` do that themselves.
FUZZ ?=
ifneq ($(FUZZ),)
BUILD    := build-fuzz
CC       := clang
SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=all
endif
FUZZ_SECONDS       ?= 300
FUZZ_SHORT_SECONDS ?= 15
FUZZ_NAMES  := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGET ?= $(FUZZ_NAMES)

# Dependencies are looked up only when a build runs, so that `make deps`
# works on a machine where pkg-config and the libraries are still missing.
ifeq ($(filter deps,$(MAKECMDGOALS)),)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CRIT_LIBS  := $(shell pkg-config --libs criterion 2>/dev/null)
JWT_CFLAGS := $(shell pkg-config --cflags libjwt 2>/dev/null)
JWT_LIBS   := $(shell pkg-config --libs libjwt 2>/dev/null)
endif

# The flags the build needs are LIKES_*, always applied. CPPFLAGS,
# CFLAGS, LDFLAGS and LDLIBS are the user's (and dpkg-buildflags'): they
# come after LIKES_*, so they add to them or override them (an -O level,
# warnings, -Wno-error, a sanitizer) but cannot drop -Iinclude, -std=c11,
# -MMD or the libraries. `make CFLAGS=-O0` is an -O0 build of the same
# tree.
CFLAGS  ?= -O2 -g
# Shared headers sit in include/ and are named bare ("log.h"); a component's
# own headers are named from the root of the tree ("edge/ledger/ledger.h")
# by its sources, its tests and its fuzzers alike: -iquote . serves only
# #include "...".
LIKES_CPPFLAGS := -D_GNU_SOURCE -iquote . -Iinclude $(PKG_CFLAGS)
LIKES_CFLAGS   := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
                  -Wmissing-prototypes -MMD -MP $(SANFLAGS)
LIKES_LDFLAGS  := $(SANFLAGS)
LIKES_LIBS     := $(PKG_LIBS) -lleveldb -lhttp_parser -lpthread -lm
COMPILE = $(CC) $(LIKES_CPPFLAGS) $(CPPFLAGS) $(LIKES_CFLAGS) $(CFLAGS)
LINK    = $(CC) $(LIKES_LDFLAGS) $(LDFLAGS)

# The build's identity (include/buildinfo.h): the VERSION file, the
# commit and the build date (SOURCE_DATE_EPOCH when set, as Debian's
# package builds do). A package build from an exported tree has no .git
# and gets the commit handed down as LIKES_COMMIT.
LIKES_VERSION := $(shell cat VERSION)
LIKES_COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LIKES_DATE    ?= $(shell date -u -d "@$${SOURCE_DATE_EPOCH:-$$(date +%s)}" +%Y-%m-%d)
BUILDINFO     := $(LIKES_VERSION) $(LIKES_COMMIT) $(LIKES_DATE)

COMMON_SRC  := $(wildcard common/*.c)
# A component's sources sit at its top (the daemon, its config and run
# loop) and in one folder per concept (edge/ledger/, central/ops/, ...).
EDGE_SRC    := $(filter-out edge/main.c,$(wildcard edge/*.c edge/*/*.c))
CENTRAL_SRC := $(filter-out central/main.c,$(wildcard central/*.c central/*/*.c))
# sim/bench/alloccount.c is an LD_PRELOAD library of the benchmark (it
# defines malloc), never linked into a program; sim/bench/wakemem.c is a
# program of its own that uses no project code (make bench-wakemem), as
# is sim/bench/feedtx.c (librdkafka only; make bench-feedtx), and so are
# the peers of make bench-peers, sim/bench/peer_produce.c (nghttp2,
# libevent, librdkafka) and sim/bench/redis_wait.c (hiredis, libevent).
# sim/drill/waitfix.c is an LD_PRELOAD library too, of the daemons in a
# drill that steps their clocks (sim/drill/faketime.h).
SIM_SRC     := $(filter-out sim/main.c sim/bench/alloccount.c sim/bench/wakemem.c sim/bench/feedtx.c \
                 sim/bench/peer_produce.c sim/bench/redis_wait.c sim/drill/waitfix.c, \
                 $(wildcard sim/*.c sim/*/*.c))
# The tests mirror the tree (docs/ARCHITECTURE.md, "Build and tests"):
# tests/unit/COMPONENT/test_NAME.c for the unit tests of common, edge,
# central and sim (and of the test helpers themselves, unit/support),
# tests/itest/itest_NAME.c for the integration tests. A binary is named
# for its source file alone, build/tests/test_NAME, so that run-NAME and
# the logs do not depend on the folder: file names must stay unique.
TEST_SRC    := $(wildcard tests/unit/*/test_*.c)
ITEST_SRC   := $(wildcard tests/itest/itest_*.c)
# The suite on real Kafka (one three-node cluster of its own, JVMs that
# want the cores) runs alone, after the others: make realkafka-test.
REALK_TEST  := itest_realkafka
SUPPORT_SRC := $(wildcard tests/support/*.c)
test_name    = $(basename $(notdir $(1)))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

COMMON_OBJ  := $(call obj,$(COMMON_SRC))
EDGE_OBJ    := $(call obj,$(EDGE_SRC))
CENTRAL_OBJ := $(call obj,$(CENTRAL_SRC))
SIM_OBJ     := $(call obj,$(SIM_SRC))
SUPPORT_OBJ := $(call obj,$(SUPPORT_SRC))
TESTS       := $(patsubst %,$(BUILD)/tests/%,$(call test_name,$(TEST_SRC)))
ITESTS      := $(patsubst %,$(BUILD)/tests/%,$(call test_name,$(ITEST_SRC)))
TEST_NAMES  := $(call test_name,$(TEST_SRC) $(ITEST_SRC))
TEST_DUPS   := $(sort $(foreach n,$(TEST_NAMES),$(if $(word 2,$(filter $(n),$(TEST_NAMES))),$(n))))
ifneq ($(TEST_DUPS),)
$(error two test sources under tests/ are named $(TEST_DUPS))
endif
BINS        := $(BUILD)/edge $(BUILD)/central $(BUILD)/sim $(BUILD)/sim-waitfix.so

.PHONY: all deps kafka-jars cpd-jars cpd-check realkafka-test real-drills deployed-drills mutant-check nemesis nemesis-seeds short-nemesis prebuild san-bins fuzz-bins run test test-bins unit itest include-check thread-safety-check structure-check layout-check client-test browser-test san-test drill drills short-drills soak bench format format-check clean check-deps \
        bench-deps check-bench-deps bench-mem bench-replica bench-seed bench-seed-real bench-wakemem bench-feedtx kstreams-jars bench-peers fuzz fuzz-short install deb deb-deps \
        check-deb-deps install-test rules-test FORCE
# Keep test objects: they are intermediate files of the pattern rules.
.SECONDARY:
.DEFAULT_GOAL := all

all: $(BINS)

$(BUILD)/obj/%.o: %.c $(BUILD)/flags.stamp
	@mkdir -p $(dir $@)
	$(COMPILE) -c $< -o $@

# Every object is rebuilt when the compile or link command changes (make
# CFLAGS=-O0 after a plain make, a new pkg-config answer): the stamp is
# rewritten only then. Links are redone through the objects.
FLAGS_NOW = $(COMPILE) | $(LINK) $(LIKES_LIBS) $(LDLIBS)
$(BUILD)/flags.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(FLAGS_NOW)' | cmp -s - $@ || echo '$(FLAGS_NOW)' > $@

# buildinfo.o is rebuilt when the version, commit or date changes: the
# stamp is rewritten only then.
$(BUILD)/buildinfo.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(BUILDINFO)' | cmp -s - $@ || echo '$(BUILDINFO)' > $@
$(call obj,common/buildinfo.c): $(BUILD)/buildinfo.stamp
$(call obj,common/buildinfo.c): private LIKES_CPPFLAGS += -DLIKES_VERSION='"$(LIKES_VERSION)"' \
	-DLIKES_COMMIT='"$(LIKES_COMMIT)"' -DLIKES_DATE='"$(LIKES_DATE)"'

# One static archive per component, main() left out. The linker takes
# from an archive only the members that resolve a symbol still undefined,
# so a binary carries just the objects it reaches. The order of the
# archives on a link line is their dependency order: sim uses central,
# edge and central use common, common uses none of them.
$(BUILD)/libcommon.a: $(COMMON_OBJ)
$(BUILD)/libedge.a: $(EDGE_OBJ)
$(BUILD)/libcentral.a: $(CENTRAL_OBJ)
$(BUILD)/libsim.a: $(SIM_OBJ)
$(BUILD)/libtestsupport.a: $(SUPPORT_OBJ)
$(BUILD)/lib%.a:
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/edge: $(call obj,edge/main.c) $(BUILD)/libedge.a $(BUILD)/libcommon.a
	$(LINK) -o $@ $^ $(LIKES_LIBS) $(LDLIBS)

$(BUILD)/central: $(call obj,central/main.c) $(BUILD)/libcentral.a $(BUILD)/libcommon.a
	$(LINK) -o $@ $^ $(LIKES_LIBS) $(LDLIBS)

$(BUILD)/sim: $(call obj,sim/main.c) $(BUILD)/libsim.a $(BUILD)/libcentral.a $(BUILD)/libcommon.a
	$(LINK) -o $@ $^ $(LIKES_LIBS) $(LDLIBS)

$(BUILD)/sim-waitfix.so: sim/drill/waitfix.c $(BUILD)/flags.stamp
	$(COMPILE) -fPIC -shared -o $@ $<
# test_faketime runs a child with it preloaded.
$(BUILD)/tests/test_faketime: $(BUILD)/sim-waitfix.so

# Every test links the test support library (tests/support/*.c, the
# helpers compiled once) and all four component archives, and gets only
# the objects it reaches: test_bloom.c takes common/bloom.o and what
# that calls, not the edge (docs/ARCHITECTURE.md, "Build and tests").
# libtestsupport.a comes first: its members call into the components.
LIBS_ALL := $(BUILD)/libsim.a $(BUILD)/libcentral.a $(BUILD)/libedge.a $(BUILD)/libcommon.a
LIBS_TEST := $(BUILD)/libtestsupport.a $(LIBS_ALL)

# A test binary is linked from its own object, wherever the source
# sits, and the archives, in their order.
$(foreach s,$(TEST_SRC) $(ITEST_SRC),$(eval $(BUILD)/tests/$(call test_name,$(s)): $(call obj,$(s))))
$(TESTS) $(ITESTS): $(LIBS_TEST)
	@mkdir -p $(dir $@)
	$(LINK) -o $@ $(filter %.o,$^) $(LIBS_TEST) $(LIKES_LIBS) $(TEST_LIBS) $(CRIT_LIBS) $(LDLIBS)

# libjwt signs the tokens some tests send; the edge verifies tokens with
# its own code (edge/auth/bearer.c, OpenSSL), so only the tests that include
# <jwt.h> link it, and the daemons do not.
JWT_SRC := $(shell grep -l '^\#include <jwt.h>' $(TEST_SRC) $(ITEST_SRC))
$(patsubst %,$(BUILD)/tests/%,$(call test_name,$(JWT_SRC))): private TEST_LIBS += $(JWT_LIBS)
$(call obj,$(JWT_SRC)): private LIKES_CPPFLAGS += $(JWT_CFLAGS)

# The fuzzers link the real edge option table (edge/config/options.c, from
# libedge.a), and fuzz_http the api set-up and ledger sink of the test
# support library (api_util.c, ledger_sink.c: neither uses Criterion).
build-fuzz/fuzz/fuzz_%: build-fuzz/obj/tests/fuzz/fuzz_%.o $(LIBS_TEST)
	@mkdir -p $(dir $@)
	$(LINK) -fsanitize=fuzzer -o $@ $^ $(LIKES_LIBS) $(LDLIBS)

# Writes the generated seeds of tests/fuzz/corpus/ (committed).
build-fuzz/mkseeds: build-fuzz/obj/tests/fuzz/mkseeds.o $(BUILD)/libcommon.a
	$(LINK) -fsanitize=fuzzer-no-link -o $@ $^ $(LIKES_LIBS) $(LDLIBS)

# --- dependencies -----------------------------------------------------------

DEB_PKGS := build-essential pkg-config clang clang-format-14 libevent-dev libnghttp2-dev \
            librdkafka-dev libmsgpack-dev libleveldb-dev libcriterion-dev \
            libssl-dev libinih-dev libxxhash-dev libjansson-dev \
            libhttp-parser-dev libjwt-dev nghttp2-client nghttp2-server redis-server curl \
            openssl procps iproute2 libclang-rt-14-dev nodejs chromium groff-base \
            maven openjdk-17-jre-headless kcat libfaketime

# prometheus is installed for promtool, which checks the daemons' metrics
# and the shipped alert rules in make test. Its own server must not start
# (it would take port 9090, central's ops port in the local stack): the
# install runs under a policy-rc.d that refuses service starts, unless
# the machine already has one.
deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y $(DEB_PKGS)
	@if [ -e /usr/sbin/policy-rc.d ]; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y prometheus; \
	else \
	  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y prometheus; rc=$$?; \
	  rm -f /usr/sbin/policy-rc.d; exit $$rc; \
	fi
	@$(MAKE) --no-print-directory kafka-jars cpd-jars

# Java programs the tree runs, each fetched from Maven Central through
# Maven with all it needs, a pom.xml pinning the version, into a folder
# of jars under build/. Nothing else is downloaded and nothing is
# committed; a second fetch (after make clean) comes from Maven's local
# repository, offline. The .complete mark is written last, once the
# jar named in JAR_MARK is there, so a fetch cut short is done again.
#
# Apache Kafka's broker, for everything that runs real Kafka (`sim kafka`,
# sim/kafka/kafka.h), into build/kafka/libs.
KAFKA_POM  := sim/kafka/pom.xml
KAFKA_JARS := build/kafka/libs
kafka-jars: $(KAFKA_JARS)/.complete
$(KAFKA_JARS)/.complete: $(KAFKA_POM)
$(KAFKA_JARS)/.complete: private JAR_MARK := kafka_2.13-*.jar

# PMD's copy-paste detector with its C/C++ lexer, for cpd-check, into
# build/cpd/libs.
CPD_POM  := tests/cpd/pom.xml
CPD_JARS := build/cpd/libs
cpd-jars: $(CPD_JARS)/.complete
$(CPD_JARS)/.complete: $(CPD_POM)
$(CPD_JARS)/.complete: private JAR_MARK := pmd-cpp-*.jar

# $< is the pom, $(@D) the folder of jars.
$(KAFKA_JARS)/.complete $(CPD_JARS)/.complete:
	@rm -rf $(@D)
	mvn -B -q -Dstyle.color=never -f $< dependency:copy-dependencies \
	  -DoutputDirectory=$(abspath $(@D)) -DincludeScope=runtime
	@ls $(@D)/$(JAR_MARK) >/dev/null
	@touch $@

# The Kafka Streams peer of central's apply (make bench-peers, issue 69):
# sim/bench/kstreams/ compiled, its jar and every runtime jar it needs in
# build/kstreams/libs. From Maven's local repository when it holds them
# all (offline), else from Maven Central. Only the benchmark needs it:
# not part of deps or test.
KSTREAMS_POM  := sim/bench/kstreams/pom.xml
KSTREAMS_JARS := build/kstreams/libs
kstreams-jars: $(KSTREAMS_JARS)/.complete
$(KSTREAMS_JARS)/.complete: $(KSTREAMS_POM) sim/bench/kstreams/log4j2.properties \
                            $(wildcard sim/bench/kstreams/src/*.java)
	@rm -rf $(@D)
	@set -- -B -q -Dstyle.color=never -f $(KSTREAMS_POM) package \
	  dependency:copy-dependencies -DoutputDirectory=$(abspath $(@D)) -DincludeScope=runtime; \
	mvn -o "$$@" >/dev/null 2>&1 || mvn "$$@"
	cp build/kstreams/target/likes-kstreams-1.jar $(@D)/
	@touch $@

# Installs the packages only when one is missing, so run/test stay fast.
check-deps:
	@missing=$$(dpkg-query -W -f='$${Package} $${Status}\n' $(DEB_PKGS) prometheus 2>/dev/null \
	    | awk '$$NF!="installed"{print $$1}'; \
	  for p in $(DEB_PKGS) prometheus; do dpkg-query -W $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing missing packages: $$missing"; \
	  $(MAKE) --no-print-directory deps; \
	fi
	@$(MAKE) --no-print-directory kafka-jars cpd-jars

# Packages only `make bench` needs: PostgreSQL, for the naive hot-row
# baseline (the bench runs its own throwaway cluster; it never uses the
# Debian one), and hiredis, for make bench-peers' Redis client
# (sim/bench/redis_wait.c).
BENCH_PKGS := postgresql postgresql-contrib linux-perf libhiredis-dev

# Installing postgresql makes a Debian cluster (15/main) and its service
# scripts may start it (they do not in a container without systemd or an
# init system). Nothing needs that server, so any cluster that is online
# after the install and was not before it (the one this install started)
# is stopped again; clusters that were already running are left alone.
bench-deps:
	@before=$$(pg_lsclusters -h 2>/dev/null | awk '$$4 == "online" { print $$1 "/" $$2 }'); \
	apt-get update && \
	DEBIAN_FRONTEND=noninteractive apt-get install -y $(BENCH_PKGS) || exit 1; \
	for c in $$(pg_lsclusters -h 2>/dev/null | awk '$$4 == "online" { print $$1 "/" $$2 }'); do \
	  case " $$before " in *" $$c "*) continue ;; esac; \
	  echo "stopping the PostgreSQL cluster $$c that the package install started"; \
	  pg_ctlcluster $${c%/*} $${c#*/} stop || exit 1; \
	done

check-bench-deps:
	@missing=$$(dpkg-query -W -f='$${Package} $${Status}\n' $(BENCH_PKGS) 2>/dev/null \
	    | awk '$$NF!="installed"{print $$1}'; \
	  for p in $(BENCH_PKGS); do dpkg-query -W $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing missing benchmark packages: $$missing"; \
	  $(MAKE) --no-print-directory bench-deps; \
	fi

# --- run and test -----------------------------------------------------------

# make run KAFKA=real: the same stack on Apache Kafka (sim kafka, two
# JVMs, 20-30 s to start; sim/stack.sh). Its jars are built in the same
# sub-make as the binaries, after check-deps, which installs Maven on a
# fresh machine: as a prerequisite beside check-deps, make -j would
# start mvn before Maven is there. Without KAFKA: embedded.
run: check-deps
	@$(MAKE) --no-print-directory all $(if $(filter real,$(KAFKA)),kafka-jars)
	@KAFKA='$(KAFKA)' ./sim/stack.sh

# The suites run one after another, in this order. The builds (build/,
# build-san/, build-fuzz/) and the suites made of test binaries (unit,
# itest, san-test) run TEST_JOBS jobs at once (make -jN test: N); each
# binary's output is printed whole when it ends.
TEST_JOBS ?= 2
TEST_J = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(TEST_JOBS))

# One stage of make test, timed (tests/stage.sh): three recipe lines, the
# stage's own a plain $(MAKE) line, so that make passes its jobs down
# (make -jN test) and stops it itself on a signal.
define stage
@./tests/stage.sh begin $(1)
@$(MAKE) --no-print-directory $(2)
@./tests/stage.sh end $(1)
endef
# The make running make test, which tests/prebuild.sh's watchdog outlives
# by no more than two seconds.
MAKE_PID = $(shell echo $$PPID)

test: check-deps
	@rm -f build/test-stages.txt
	$(call stage,format-check,format-check)
	$(call stage,include-check,include-check)
	$(call stage,layout-check,layout-check)
	$(call stage,cpd-check,cpd-check)
	$(call stage,thread-safety-check,thread-safety-check)
	$(call stage,all,$(TEST_J) all)
	$(call stage,structure-check,structure-check)
	$(call stage,unit,$(TEST_J) unit)
	$(call stage,itest,$(TEST_J) itest)
	$(call stage,realkafka-test,realkafka-test)
	$(call stage,install-test,install-test)
	$(call stage,rules-test,rules-test)
	$(call stage,client-test,client-test)
	$(call stage,browser-test,browser-test)
	@./tests/prebuild.sh start $(MAKE_PID)
	$(call stage,short-drills,short-drills)
	@./tests/prebuild.sh wait
	$(call stage,san-test,$(TEST_J) san-test)
	$(call stage,fuzz-short,$(TEST_J) fuzz-short)
	@echo "make test: all suites passed; seconds per stage:"
	@cat build/test-stages.txt

# The folder-level include graph of edge/ and central/: no cycle between
# folders, no private header (_int.h) outside its folder
# (tests/include_graph.sh prints the graph; ROOT=DIR checks another tree).
include-check:
	./tests/include_graph.sh $(ROOT)

# Inside a folder, files stand in layers: no two files reach each other,
# however far round, by calls (the symbols one object takes from another,
# read by nm from the build's objects) or by includes. Every folder of the
# four components is checked, and include/ (common's headers); a folder in
# STRUCTURE_KNOWN_CIRCLES has circles being opened: printed as known, not
# failed (none left: issue 67 opened the last, sim/drill's three).
# tests/structure_graph_test.sh first shows on a tiny tree that the check
# fails on a circle.
STRUCTURE_DIRS := $(sort $(shell find common edge central sim include -type d))
STRUCTURE_KNOWN_CIRCLES :=
structure-check: all
	@./tests/structure_graph_test.sh
	./tests/structure_graph.sh -o $(BUILD)/obj -k "$(STRUCTURE_KNOWN_CIRCLES)" $(STRUCTURE_DIRS)

# The maps match the tree: every folder named in README.md's layout table,
# every file a folder README names there, ARCHITECTURE.md's module table
# with a row per folder of C sources and no row of a file that is gone
# (tests/layout_check.sh; tests/layout_check_test.sh first shows on a
# copy of the tree that it fails on an unnamed folder or a missing file).
layout-check:
	@./tests/layout_check_test.sh
	./tests/layout_check.sh

# The copy-paste check (tests/cpd/check.sh): every C file git tracks
# (edge/, central/, common/, sim/, include/ and tests/, whose copies rot
# as the code's do; no C file of the tree is generated, and build output
# is not tracked), read by PMD's CPD as C tokens. A run of CPD_MIN_TOKENS
# tokens, about eight lines of C, in n places is n(n-1)/2 pairs; more
# than CPD_MAX_PAIRS pairs fail. The tree holds none (issue 67 asked
# for at most 5): a new copy is merged, not allowed for.
CPD_MIN_TOKENS ?= 70
CPD_MAX_PAIRS  ?= 0
cpd-check: cpd-jars
	@./tests/cpd/check.sh $(CPD_JARS) $(CPD_MIN_TOKENS) $(CPD_MAX_PAIRS)

# clang's thread safety analysis (include/tsa.h), as errors, over every
# file that declares or takes a mutex (each is a tsa_mutex, taken through
# annotated lock functions): a function that takes a lock lets it go in
# the same body, and a function that needs one held (its declaration
# says so) is called with it held. The ledger and the changelog are
# whole folders; elsewhere every file that takes, declares or needs an
# annotated lock (its own, or load_int.h's in sim/drill/load*.c: they
# name TSA_ or tsa_). sim/drill/waitfix.c is
# left out: an LD_PRELOAD shim that holds no lock of its own, it hands
# its caller's to pthread_cond_timedwait. A plain pthread_mutex_t
# anywhere else fails the check, so a new lock cannot escape it. gcc
# ignores the annotations; this check needs clang, whatever CC builds.
TSA_SRC := $(sort $(wildcard edge/ledger/*.c edge/changelog/*.c) \
           $(shell grep -rlE --include='*.c' 'tsa_(lock|unlock|mutex)|TSA_[A-Z]+' \
             edge central common sim))
thread-safety-check:
	@bad=$$(grep -lw 'pthread_mutex_t' $$(git ls-files 'edge/*.[ch]' 'central/*.[ch]' \
	    'common/*.[ch]' 'sim/*.[ch]' 'include/*.h') | grep -v -x -e include/tsa.h \
	    -e sim/drill/waitfix.c); \
	  if [ -n "$$bad" ]; then echo "FAIL: a plain pthread_mutex_t, not a tsa_mutex the analysis follows: $$bad"; exit 1; fi
	@clang -fsyntax-only $(LIKES_CPPFLAGS) -std=c11 -Wthread-safety -Werror $(TSA_SRC)
	@echo "ok: clang -Wthread-safety on every mutex: $(words $(TSA_SRC)) files of edge, central, common and sim"

# Each test binary has a target of its own, run-NAME (run-test_bloom,
# run-itest_api), so that make -j2 unit runs two binaries at once. They
# always run: a result depends on more than the binary (the daemons,
# configs, test vectors, the machine). tests/run_test.sh writes the
# output to build/tests/NAME.log and prints it whole when the binary
# ends; a failing binary fails its target and the suite.
UNIT_RUNS  := $(patsubst %,run-%,$(call test_name,$(TEST_SRC)))
ITEST_RUNS := $(filter-out run-$(REALK_TEST),$(patsubst %,run-%,$(call test_name,$(ITEST_SRC))))
.PHONY: $(UNIT_RUNS) $(ITEST_RUNS)

# Every test binary, built and not run.
test-bins: $(TESTS) $(ITESTS)

unit: $(UNIT_RUNS)

# In the ASan+UBSan build (SANITIZE set) the same targets check the
# output for sanitizer reports as well.
$(UNIT_RUNS): run-%: $(BUILD)/tests/%
	@$(if $(SANITIZE),ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1) ./tests/run_test.sh $(if $(SANITIZE),--san) $< --jobs 2

# Integration tests run one test at a time within a binary (each starts
# real daemons), and may run two binaries at once: their stores live in
# fresh temp dirs, their daemons on loopback ports picked free
# (tests/support/proc.h), and each binary picks from a range of ports of
# its own, ITEST_PORTS: the 12,000 ports of 20000-31999 cut into one
# slice per binary, so that two binaries cannot pick the same port before
# either daemon binds it.
itest: $(ITEST_RUNS)

itest_slots :=
$(foreach r,$(ITEST_RUNS),$(eval $(r): ITEST_SLOT := $(words $(itest_slots)))$(eval itest_slots += x))
ITEST_SPAN := $(shell echo $$((12000 / $(words $(ITEST_RUNS)))))

$(ITEST_RUNS): run-%: $(BUILD)/tests/% $(BINS)
	@ITEST_PORTS=$$((20000 + $(ITEST_SLOT) * $(ITEST_SPAN)))-$$((20000 + ($(ITEST_SLOT) + 1) * $(ITEST_SPAN) - 1)) \
	  ./tests/run_test.sh $< --jobs 1

# What the product claims of Kafka, against real Apache Kafka (sim kafka:
# three KRaft nodes started once for the binary, from the jars of make
# deps): tests/itest/itest_realkafka.c. Alone, with all the ports it
# likes.
realkafka-test: $(BUILD)/tests/$(REALK_TEST) $(BINS) kafka-jars
	@ITEST_PORTS=20000-31999 ./tests/run_test.sh $< --jobs 1

# The shipped Prometheus rules: promtool check rules, promtool test rules
# (tests/prometheus/), every alert tested firing and quiet and tied to a
# runbook of docs/ops.md (tests/rules_test.sh).
rules-test:
	./tests/rules_test.sh

# The JavaScript client's unit tests (Node's test runner, no packages).
client-test:
	node --test client/test/*.test.mjs

# The demo page in headless Chromium against the real binaries
# (tests/browser/); the screenshot lands in build/browser/demo.png.
browser-test: $(BINS)
	node --test tests/browser/*.test.mjs

# Each bug put back (MUTANTS, above) built and caught: tests/mutant_check.sh.
mutant-check: $(BINS) kafka-jars
	@for m in NO_FENCE EARLY_ACK; do \
	  $(MAKE) --no-print-directory MUTANT=$$m build-mutant-$$m/edge build-mutant-$$m/central \
	    build-mutant-$$m/sim build-mutant-$$m/sim-waitfix.so || exit 1; done
	@$(MAKE) --no-print-directory MUTANT=CLIENT_CLOCK build-mutant-CLIENT_CLOCK/tests/test_ledger_ops
	./tests/mutant_check.sh

# The unit tests under ASan+UBSan, built into build-san/ (san-bins
# builds them without running them).
ifeq ($(SANITIZE),)
san-test:
	@$(MAKE) --no-print-directory SANITIZE=address,undefined san-test
san-bins:
	@$(MAKE) --no-print-directory SANITIZE=address,undefined san-bins
else
san-test: $(UNIT_RUNS)
san-bins: $(TESTS)
endif

# make test builds the sanitizer's and the fuzzers' binaries while its
# short drills run, which leave the two cores about half idle: at the
# lowest priority, so that the drills' daemons go first, and stopped
# once make test's make is gone (tests/prebuild.sh). The san-test and
# fuzz-short stages then only run. Output in build/prebuild.log,
# printed if the build fails.
prebuild: san-bins fuzz-bins

# Drills (sim/drills/*.drill) against the real binaries; reports land in
# build/drills/NAME[-short]/ (summary.txt, report.json, viral.svg).
DRILLS := $(basename $(notdir $(wildcard sim/drills/*.drill)))

drill: $(BINS)
	@test -n "$(DRILL)" || { echo "usage: make drill DRILL=name [SHORT=1]; drills: $(DRILLS)"; exit 2; }
	./$(BUILD)/sim drill $(if $(SHORT),--short) sim/drills/$(DRILL).drill

drills: $(BINS)
	@set -e; for d in $(DRILLS); do echo "== drill $$d"; ./$(BUILD)/sim drill sim/drills/$$d.drill; done

# The nemesis (docs/drills.md, "The nemesis"): seed SEED's fault schedule
# drawn and run as a drill, SHORT=1 for the short run, MINUTES=M for
# another length, MIX=SPEC its --mix (KIND=W,... or all), SHRINK=1 to
# shrink it if it fails, KAFKA=real on real
# Apache Kafka (the jars of make deps) instead of the embedded cluster
# (reports then in build/drills/nemesis-SEED-real[-short]/). nemesis-seeds runs
# SEEDS="S1 S2 ..." (or FROM=A TO=B) one after the other, one line per
# seed, and fails if any did; each report in build/drills/nemesis-SEED
# [-short]/. make test runs one seed of its own (short-nemesis, below).
NEMESIS_FLAGS = $(if $(SHORT),--short) $(if $(MINUTES),--minutes $(MINUTES)) \
  $(if $(filter real,$(KAFKA)),--kafka real) $(if $(MIX),--mix $(MIX))
NEMESIS_DEPS = $(BINS) $(if $(filter real,$(KAFKA)),kafka-jars)
NEMESIS_SEEDS = $(or $(SEEDS),$(if $(FROM),$(shell seq $(FROM) $(or $(TO),$(FROM)))))
nemesis: $(NEMESIS_DEPS)
	@test -n "$(SEED)" || { echo "usage: make nemesis SEED=N [SHORT=1] [MINUTES=M] [SHRINK=1] [KAFKA=real]"; exit 2; }
	./$(BUILD)/sim nemesis $(NEMESIS_FLAGS) $(if $(SHRINK),--shrink-failing) $(SEED)

nemesis-seeds: $(NEMESIS_DEPS)
	@test -n "$(NEMESIS_SEEDS)" || { echo "usage: make nemesis-seeds SEEDS=\"S1 S2\" | FROM=A TO=B [SHORT=1] [MINUTES=M] [KAFKA=real]"; exit 2; }
	@mkdir -p $(BUILD)/drills
	@fail=0; for s in $(NEMESIS_SEEDS); do \
	  out=$(BUILD)/drills/nemesis-$$s$(if $(filter real,$(KAFKA)),-real)$(if $(SHORT),-short); \
	  ./$(BUILD)/sim nemesis $(NEMESIS_FLAGS) --dir $$out $$s > $$out.out 2>&1 || fail=1; \
	  f=$$(awk '/^  all /{print $$2}' $$out/coverage.txt 2>/dev/null); \
	  awk -v s=$$s -v f="$$f" '/^  (ops_acked|refused|indeterminate|indeterminate_counted|indeterminate_disagreeing|ryw_checked|ryw_missed|phantom_hearts|phantom_counts|edge_answers_checked|edge_answers_wrong|kafka_changelog_leader_changes) /{v[$$1]=$$2} \
	    /^result/{r=$$2} END{printf "seed %s: faults %s, acked %s, refused %s, indeterminate %s (counted %s, disagreeing %s), read-your-writes %s checked %s missed, edge answers %s checked %s wrong, phantoms %d, changelog leader moves %s: %s\n", \
	    s, f, v["ops_acked"], v["refused"], v["indeterminate"], v["indeterminate_counted"], v["indeterminate_disagreeing"], \
	    v["ryw_checked"], v["ryw_missed"], v["edge_answers_checked"], v["edge_answers_wrong"], v["phantom_hearts"] + v["phantom_counts"], \
	    ("kafka_changelog_leader_changes" in v) ? v["kafka_changelog_leader_changes"] : "-", r ? r : "NO RESULT (see " FILENAME ")"}' $$out/summary.txt; \
	done; exit $$fail

# The drills that hold the product's claims about Kafka, full runs on
# real Apache Kafka (sim drill --kafka real: every cluster of the run a
# sim kafka one); reports in build/drills/NAME-real/ (docs/drills.md,
# "On real Kafka"). The drills that say kafka real in their file run so
# in make drills too.
REAL_DRILLS := standby_wipe standby_wipe_cut standby_zombie split_brain regional_kafka_down \
               regional_broker_lost regional_broker_wipe regional_brokers_lost \
               regional_brokers_lost_fifo central_broker_lost central_kafka_restart regional_leader_cut
real-drills: $(BINS) kafka-jars
	@set -e; for d in $(REAL_DRILLS); do echo "== drill $$d (real Kafka)"; \
	  ./$(BUILD)/sim drill --kafka real sim/drills/$$d.drill; done

# The drills of sim/drills/deployed/: geo and geo_hearts in the region
# shape operators run (changelog, standby, each region's own real
# cluster), full runs; reports in build/drills/NAME-real/. Their latency
# expectations need more than two cores (docs/drills.md).
DEPLOYED_DRILLS := $(basename $(notdir $(wildcard sim/drills/deployed/*.drill)))
deployed-drills: $(BINS) kafka-jars
	@fail=0; for d in $(DEPLOYED_DRILLS); do echo "== drill $$d (deployed shape, real Kafka)"; \
	  ./$(BUILD)/sim drill --kafka real sim/drills/deployed/$$d.drill || fail=1; done; exit $$fail

# central_kafka_restart's short run alone takes two and a half minutes
# here (nine clean stops of real nodes): make drills and make real-drills
# run it, not make test. regional_leader_cut (network namespaces per
# node) is left to them too, and regional_brokers_lost_fifo (the other
# drill's faults in another order): make test's time budget is spent.
SHORT_DRILLS := $(filter-out central_kafka_restart regional_leader_cut regional_brokers_lost_fifo,$(DRILLS))
# The short drills on the embedded Kafka run DRILL_JOBS at a time, with
# one short nemesis seed (issue 68) among them; those on real Kafka
# (their file says kafka real: up to twelve JVMs on two cores) one at a
# time after them. Each drill's verdict is printed when it ends
# (tests/drill_run.sh); reports in build/drills/NAME-short/.
DRILL_JOBS ?= 2
SHORT_REAL := $(filter $(basename $(notdir $(shell grep -lE '^[[:space:]]*kafka[[:space:]]+real' sim/drills/*.drill))),$(SHORT_DRILLS))
SHORT_MOCK := $(filter-out $(SHORT_REAL),$(SHORT_DRILLS))
short-drills: $(BINS) kafka-jars
	@$(MAKE) --no-print-directory -j$(DRILL_JOBS) short-nemesis $(SHORT_MOCK:%=short-drill-%)
	$(if $(SHORT_REAL),@$(MAKE) --no-print-directory -j1 $(SHORT_REAL:%=short-drill-%))

short-drill-%: $(BINS) kafka-jars
	@./tests/drill_run.sh $(BUILD) $* $(BUILD)/drills/$*-short \
	  drill --short --out $(BUILD)/drills/$*-short sim/drills/$*.drill

# make test's nemesis seed: VERSION's checksum (cksum), so that each
# release is tried with a schedule of its own, and with the same one on
# every run of it; its short run (1.5 minutes of load) on the embedded
# Kafka. Report in build/drills/nemesis-test/.
NEMESIS_TEST_SEED := $(shell cksum < VERSION | cut -d' ' -f1)
short-nemesis: $(BINS)
	@./tests/drill_run.sh $(BUILD) "nemesis $(NEMESIS_TEST_SEED)" $(BUILD)/drills/nemesis-test \
	  nemesis --short --dir $(BUILD)/drills/nemesis-test $(NEMESIS_TEST_SEED)

# The soak (sim/soak.drill): SOAK_MIN minutes of steady mixed load on the
# real stack at a real working set; each edge's p99 per minute held to 2 ms
# (its own to 1 ms) and flat, each daemon's RSS, the memory its caches do
# not account for and its open descriptors read every 30 s and held flat
# after the warm-up and under the bound from its config. Report in
# build/soak/ (summary.txt, report.json, procs.csv, held.csv, procs.svg,
# latency.svg), see docs/drills.md "Soak".
SOAK_MIN ?= 30
soak: $(BINS)
	./$(BUILD)/sim drill --duration $$(( $(SOAK_MIN) * 60 )) --out $(BUILD)/soak sim/soak.drill

# Side-by-side benchmarks (edge vs nghttpd, Redis and a PostgreSQL hot
# row, convergence between two edges, central vs LevelDB); the ratios land
# in build/bench/latest.json, see docs/performance.md. BENCH_PEERS=0
# leaves the peers out, and with them the Kafka Streams jars.
bench: check-bench-deps kafka-jars $(if $(filter 0,$(BENCH_PEERS)),,kstreams-jars)
	@$(MAKE) --no-print-directory all $(BUILD)/alloccount.so $(BUILD)/peer_produce \
	    $(BUILD)/redis_wait
	./sim/bench/bench.sh

# The allocation counter `BENCH_ALLOCS=1 sim/bench/bench.sh reads` loads
# into the edge (sim/bench/alloccount.c).
$(BUILD)/alloccount.so: sim/bench/alloccount.c $(BUILD)/flags.stamp
	@mkdir -p $(dir $@)
	$(COMPILE) -shared -fPIC -o $@ $<

# The replica bench: 1M items through one edge, then a second edge loads
# them all from central's checkpoint (about 5 minutes; BENCH_REPLICA_ITEMS
# changes the size). Figures in docs/capacity.md.
bench-replica: check-deps
	@$(MAKE) --no-print-directory all
	@mkdir -p build/bench
	@./sim/bench/bench_replica.sh build/bench/replica.kv

# A standby's copy of its peer's store (changelog.seed_from): 300,000
# likes through one instance, then a second one on an empty store copies
# it (about a minute; BENCH_SEED_ITEMS changes the size). Figures in
# docs/capacity.md.
bench-seed: check-deps
	@$(MAKE) --no-print-directory all
	@mkdir -p build/bench
	@./sim/bench/bench_seed.sh build/bench/seed.kv

# The same on a real three-node regional cluster whose retention drops
# the log's start (BENCH_SEED_KAFKA=real): build/bench/seed-real.kv.
bench-seed-real: check-deps kafka-jars
	@$(MAKE) --no-print-directory all
	@mkdir -p build/bench
	@BENCH_SEED_KAFKA=real ./sim/bench/bench_seed.sh build/bench/seed-real.kv

# The machine's wake-up floor against the memory other processes touch
# (sim/bench/wakemem.c, no project code): four runs of three minutes,
# about 12 minutes. Figures in docs/performance.md (issue 39).
bench-wakemem: $(BUILD)/wakemem
	@mkdir -p build/bench
	@./sim/bench/bench_wakemem.sh $(BUILD)/wakemem build/bench/wakemem.txt

$(BUILD)/wakemem: sim/bench/wakemem.c $(BUILD)/flags.stamp
	@mkdir -p $(dir $@)
	$(COMPILE) -o $@ $< -lpthread

# The change feed's publishing without and with Kafka's transactions, on
# three real nodes (sim/bench/feedtx.c, sim/bench/bench_feedtx.sh): about
# 5 minutes. Figures in docs/events.md ("Exactly once").
bench-feedtx: $(BUILD)/feedtx $(BUILD)/sim kafka-jars
	@./sim/bench/bench_feedtx.sh $(BUILD) build/bench/feedtx.txt

$(BUILD)/feedtx: sim/bench/feedtx.c $(BUILD)/flags.stamp
	@mkdir -p $(dir $@)
	$(COMPILE) -o $@ $< -lrdkafka -lpthread

# The durable like against the peers a team would build instead (issue
# 69), on one real three-node cluster: the edge with its changelog, a
# bare producer behind HTTP/2 (sim/bench/peer_produce.c) and Redis with
# a replica and WAIT (sim/bench/redis_wait.c, the client): rates, CPU
# per like over each peer's processes, p99 at half of each one's peak;
# then central's apply against a Kafka Streams application on the same
# input (sim/bench/kstreams/, kstreams-jars): ops per CPU second
# -> build/bench/peers.json. A few minutes; docs/performance.md.
bench-peers: check-bench-deps kafka-jars kstreams-jars
	@$(MAKE) --no-print-directory all $(BUILD)/peer_produce $(BUILD)/redis_wait
	./sim/bench/bench.sh peers

$(BUILD)/peer_produce: sim/bench/peer_produce.c $(BUILD)/flags.stamp
	@mkdir -p $(dir $@)
	$(COMPILE) -o $@ $< -lnghttp2 -levent -lrdkafka

$(BUILD)/redis_wait: sim/bench/redis_wait.c $(BUILD)/flags.stamp
	@mkdir -p $(dir $@)
	$(COMPILE) -o $@ $< -lhiredis -levent

# The memory bench: 10M items and 1M users through one edge, about 25
# minutes. It needs none of BENCH_PKGS (no PostgreSQL), only the packages
# of the build. make bench reports the figures of build/bench/mem.kv.
bench-mem: check-deps
	@$(MAKE) --no-print-directory all
	@mkdir -p build/bench
	./sim/bench/bench_mem.sh build/bench/mem.kv

# Each target runs from a scratch copy of its seeds (libFuzzer adds new
# inputs to the first corpus directory), so the tree stays clean; crash
# inputs land in build-fuzz/artifacts/NAME/. Fails if any target crashed.
fuzz:
	@$(MAKE) --no-print-directory FUZZ=1 $(patsubst %,build-fuzz/fuzz/fuzz_%,$(FUZZ_TARGET))
	@./tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGET)

fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SHORT_SECONDS)

fuzz-bins:
	@$(MAKE) --no-print-directory FUZZ=1 $(patsubst %,build-fuzz/fuzz/fuzz_%,$(FUZZ_TARGET))

# --- install and package ------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=] installs the daemons as
# likes-edge and likes-central, the systemd units (their paths filled
# in), the shipped configs into SYSCONFDIR/likes (mode 0640: they hold
# tokens; an existing file is kept, the new one lands beside it as
# .dist), the man pages (man/, version filled in) and the docs. The likes user and group are the package's job
# (debian/likes.postinst) or the operator's (docs/ops.md, "systemd").
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DOCDIR     ?= $(PREFIX)/share/doc/likes
MANDIR     ?= $(PREFIX)/share/man
SHIPPED_CONFIGS := configs/deploy/central.ini $(wildcard configs/deploy/edge-*.ini)

install: $(BUILD)/edge $(BUILD)/central
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)/examples \
	  $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR)/examples/prometheus
	install -d -m 0750 $(DESTDIR)$(SYSCONFDIR)/likes
	install -m 0755 $(BUILD)/edge $(DESTDIR)$(BINDIR)/likes-edge
	install -m 0755 $(BUILD)/central $(DESTDIR)$(BINDIR)/likes-central
	@set -e; for u in configs/systemd/*.service.in; do \
	  out=$(DESTDIR)$(UNITDIR)/$$(basename $$u .in); \
	  sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $$u > $$out.tmp; \
	  chmod 0644 $$out.tmp; mv $$out.tmp $$out; echo "installed $$out"; \
	done
	@set -e; for c in $(SHIPPED_CONFIGS); do \
	  out=$(DESTDIR)$(SYSCONFDIR)/likes/$$(basename $$c); \
	  if [ -e $$out ] && ! cmp -s $$c $$out; then out=$$out.dist; fi; \
	  install -m 0640 $$c $$out; echo "installed $$out"; \
	done
	@set -e; for m in man/*.8; do \
	  out=$(DESTDIR)$(MANDIR)/man8/$$(basename $$m); \
	  sed -e "s|@VERSION@|$$(cat VERSION)|g" $$m > $$out.tmp; \
	  chmod 0644 $$out.tmp; mv $$out.tmp $$out; echo "installed $$out"; \
	done
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	install -m 0644 configs/deploy/README.md configs/deploy/*.ini $(DESTDIR)$(DOCDIR)/examples/
	install -m 0755 configs/deploy/move-partitions.sh configs/deploy/create-topics.sh \
	  $(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 configs/deploy/topics.conf configs/deploy/kafka-broker.properties \
	  $(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 configs/prometheus/*.yml $(DESTDIR)$(DOCDIR)/examples/prometheus/

# The package is built with Debian's own tools from an export of the
# tree (git ls-files) in build/deb/, so the checkout stays clean;
# lintian checks it. deb-deps installs what that needs.
DEB_TOOLS := debhelper dpkg-dev fakeroot lintian

deb-deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y $(DEB_TOOLS)

check-deb-deps:
	@for p in $(DEB_TOOLS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || \
	  { echo "installing package-build tools"; $(MAKE) --no-print-directory deb-deps; break; }; done

deb: check-deps check-deb-deps
	@rm -rf build/deb && mkdir -p build/deb/likes-$(LIKES_VERSION)
	@git ls-files -z | xargs -0 cp --parents -t build/deb/likes-$(LIKES_VERSION)
	cd build/deb/likes-$(LIKES_VERSION) && \
	  LIKES_COMMIT=$(LIKES_COMMIT) dpkg-buildpackage -b -us -uc -j2
	lintian --fail-on error build/deb/likes_*.changes
	@ls -l build/deb/*.deb

# The install tree as a package or an operator would get it: units that
# systemd-analyze accepts and rates, configs that agree with the units.
install-test: $(BUILD)/edge $(BUILD)/central
	./tests/install_test.sh

# The tree's C style is .clang-format, as Debian 12's clang-format 14
# applies it (another version formats some constructs differently, so
# the version is pinned; CLANG_FORMAT=... to use another). format
# rewrites every C file git tracks; format-check (part of make test)
# changes nothing and fails listing the files that differ.
CLANG_FORMAT ?= clang-format-14
FORMAT_FILES = git ls-files '*.c' '*.h'

format:
	$(CLANG_FORMAT) -i $$($(FORMAT_FILES))

format-check:
	@files=$$($(FORMAT_FILES)) && [ -n "$$files" ] || \
	  { echo "format-check: git ls-files found no C files"; exit 1; }; \
	out=$$($(CLANG_FORMAT) --dry-run -Werror $$files 2>&1); rc=$$?; \
	bad=$$(echo "$$out" | sed -n 's/^\(.*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' | sort -u); \
	if [ -n "$$bad" ]; then \
	  echo "format-check: $$(echo "$$bad" | wc -l) files differ from .clang-format (make format rewrites them):"; \
	  echo "$$bad" | sed 's/^/  /'; exit 1; \
	elif [ $$rc -ne 0 ]; then echo "$$out"; exit $$rc; fi; \
	echo "format-check: $$(echo "$$files" | wc -l) files as .clang-format says"

clean:
	rm -rf build build-san build-fuzz build-mutant-*

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
