# PGXS build of the zodan extension: C++17 sources in src/, linked with libpq.
EXTENSION   = zodan
MODULE_big  = zodan
DATA        = sql/zodan--0.1.0.sql sql/zodan--0.2.0.sql sql/zodan--0.3.0.sql \
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

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Rebuild objects when a header they include changes.
-include $(OBJS:.o=.d)
