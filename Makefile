# PGXS build of the zodan extension: C++17 sources in src/, linked with libpq.
EXTENSION   = zodan
MODULE_big  = zodan
DATA        = sql/zodan--0.1.0.sql sql/zodan--0.2.0.sql \
              sql/zodan--0.1.0--0.2.0.sql sql/zodan--0.2.0--0.3.0.sql
PGFILEDESC  = "zodan - zero-downtime node add/remove for Spock"

SRCS        = $(sort $(wildcard src/*.cpp src/core/*.cpp src/core/*/*.cpp src/pg/*.cpp))
OBJS        = $(SRCS:.cpp=.o)

PG_CPPFLAGS = -I$(libpq_srcdir) -Isrc
PG_CXXFLAGS = -MMD -MP -std=c++17 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-register
SHLIB_LINK_INTERNAL = $(libpq)
SHLIB_LINK  = -lstdc++ -lpthread

# The pg_regress suites (sql/, expected/) need a Spock cluster: regress/t/050_regress.pl and 051 run them.

# Debian's server is built with JIT; we ship no LLVM bitcode for C++ sources.
override with_llvm = no

# The stamp of the probe that src/core is built without server headers (below).
EXTRA_CLEAN = src/core/.no-server-headers

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Rebuild objects when a header they include changes.
-include $(OBJS:.o=.d)

# The release: `make dist` writes zodan-<version>.tar.gz, the committed HEAD
# (git archive, so nothing uncommitted or ignored goes in), its version the
# one zodan.control installs.
ZODAN_VERSION := $(shell sed -nE "s/^default_version *= *'([^']*)'.*/\1/p" zodan.control)
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
CORE_PROBE    = $(EXTRA_CLEAN)
$(CORE_OBJS): override CPPFLAGS := $(CORE_CPPFLAGS)
$(CORE_OBJS): | $(CORE_PROBE)
$(CORE_PROBE): Makefile
	@if echo '#include "postgres.h"' | $(CXX) $(CORE_CPPFLAGS) -x c++ -fsyntax-only - >/dev/null 2>&1; then \
	  echo "Makefile: src/core would be compiled with PostgreSQL's server headers in reach; fix CORE_CPPFLAGS" >&2; \
	  exit 1; \
	fi
	@touch $@
