# PGXS build of the zodan extension: C++17 sources in src/, linked with libpq.
EXTENSION   = zodan
MODULE_big  = zodan
DATA        = sql/zodan--0.1.0.sql sql/zodan--0.2.0.sql \
              sql/zodan--0.1.0--0.2.0.sql sql/zodan--0.2.0--0.3.0.sql \
              sql/zodan--0.3.0--0.4.0.sql
PGFILEDESC  = "zodan - zero-downtime node add/remove for Spock"

SRCS        = $(sort $(wildcard src/*.cpp src/core/*.cpp src/core/*/*.cpp src/pg/*.cpp))
OBJS        = $(SRCS:.cpp=.o)

PG_CPPFLAGS = -I$(libpq_srcdir) -Isrc
# The library's version, zodan.control's: a source dumps the structure for
# a new node only with the same (src/pg/dump_structure.cpp). Set before
# PGXS reads PG_CPPFLAGS.
ZODAN_VERSION := $(shell sed -nE "s/^default_version *= *'([^']*)'.*/\1/p" zodan.control)
PG_CPPFLAGS += -DZODAN_LIBRARY_VERSION='"$(ZODAN_VERSION)"'
PG_CXXFLAGS = -MMD -MP -std=c++17 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-register
SHLIB_LINK_INTERNAL = $(libpq)
SHLIB_LINK  = -lstdc++ -lpthread

# The pg_regress suites (sql/, expected/) need a Spock cluster: regress/t/050_regress.pl and 051 run them.

# Debian's server is built with JIT; we ship no LLVM bitcode for C++ sources.
override with_llvm = no

# The test hooks (zodan.fail_at_step, zodan.pause_at_step) exist only in a
# build made with ZODAN_TEST_HOOKS=1, as the test harness makes it
# (regress/lib/Zodan/Env.pm, regress/test-all.sh); a plain `make` ships a
# library without them.
ZODAN_TEST_HOOKS ?= 0
ifeq ($(ZODAN_TEST_HOOKS),1)
PG_CPPFLAGS += -DZODAN_TEST_HOOKS
endif

# The stamp of the probe that src/core is built without server headers
# (below), and the one that records whether the objects have the hooks.
HOOKS_STAMP = src/pg/.test-hooks
EXTRA_CLEAN = src/core/.no-server-headers $(HOOKS_STAMP)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Rebuild objects when a header they include changes.
-include $(OBJS:.o=.d)

# ... and when ZODAN_TEST_HOOKS differs from the build that made them: the
# stamp is rewritten only when its value changes, so a test build after a
# plain one (or the reverse) recompiles instead of keeping the other's.
$(HOOKS_STAMP): FORCE
	@echo '$(ZODAN_TEST_HOOKS)' | cmp -s - $@ || echo '$(ZODAN_TEST_HOOKS)' >$@
$(OBJS): $(HOOKS_STAMP)
FORCE:
.PHONY: FORCE

# The release: `make dist` writes zodan-<version>.tar.gz, the committed HEAD
# (git archive, so nothing uncommitted or ignored goes in), its version the
# one zodan.control installs (ZODAN_VERSION, above).
DISTNAME = zodan-$(ZODAN_VERSION)

dist:
	@test -n "$(ZODAN_VERSION)" || { echo "Makefile: no default_version in zodan.control" >&2; exit 1; }
	git archive --format=tar.gz --prefix=$(DISTNAME)/ -o $(DISTNAME).tar.gz HEAD
.PHONY: dist

# src/core (the step logic) stays free of PostgreSQL's server headers: the
# unit tests build it without them (CMakeLists.txt), and so does this build.
# Its objects are compiled without the server's include directories, so a
# src/core file that includes postgres.h or any other server header fails
# to compile here too, naming the file and the header. The filter must
# match the flags PGXS passes; a probe proves it does before the first
# src/core object is built (a filter that matched nothing would let the
# check pass without checking), by compiling `#include "postgres.h"` with
# those flags and failing the build if that works.
CORE_OBJS     = $(filter src/core/%,$(OBJS))
CORE_CPPFLAGS := $(filter-out -I$(includedir_server) -I$(includedir_internal),$(CPPFLAGS))
CORE_PROBE    = src/core/.no-server-headers
$(CORE_OBJS): override CPPFLAGS := $(CORE_CPPFLAGS)
$(CORE_OBJS): | $(CORE_PROBE)
$(CORE_PROBE): Makefile
	@if echo '#include "postgres.h"' | $(CXX) $(CORE_CPPFLAGS) -x c++ -fsyntax-only - >/dev/null 2>&1; then \
	  echo "Makefile: src/core would be compiled with PostgreSQL's server headers in reach; fix CORE_CPPFLAGS" >&2; \
	  exit 1; \
	fi
	@touch $@
