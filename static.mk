# static.mk - the fully static rrtcp, run by `make static` (see Makefile).
#
# musl-gcc (Debian's musl-tools) compiles rrtcp, cJSON and libyaml; the two
# libraries come from their Debian source packages, which
# tools/static-deps.sh has unpacked (with Debian's patches) under
# build-static/src.  Their own build systems are not used: cJSON is one
# file and libyaml eight, and building them with the same compiler and
# flags as rrtcp keeps glibc headers and objects out of the link.
#
#   build-static/rrtcp         static, stripped; runs with no libc installed
#   build-static/echo_worker   the bench C worker, static too (tests)

SDIR	 = build-static
SRCDIR	 = $(SDIR)/src
MUSLCC	?= musl-gcc
CFLAGS	?= -O2

CJSON	 = $(firstword $(wildcard $(SRCDIR)/cjson-*/))
YAML	 = $(firstword $(wildcard $(SRCDIR)/libyaml-*/))
ifeq ($(CJSON)$(YAML),)
$(error no cJSON/libyaml sources in $(SRCDIR); run `make static`, which fetches them)
endif

# libyaml's version, from its CMakeLists.txt (what its own build would use).
yaml_ver = $(shell sed -n 's/^set (YAML_VERSION_$(1) \([0-9]*\))/\1/p' \
	   $(YAML)CMakeLists.txt)
YMAJ	:= $(call yaml_ver,MAJOR)
YMIN	:= $(call yaml_ver,MINOR)
YPAT	:= $(call yaml_ver,PATCH)
# The upstream part of the musl-dev package version, for `rrtcp -v`.
MUSLVER	:= $(shell dpkg-query -W -f='$${Version}' musl-dev 2>/dev/null | \
	   sed 's/-[^-]*$$//')

WARN	 = -Wall -Wextra -Wmissing-prototypes -Wstrict-prototypes -Wshadow \
	   -Wcast-qual -Wpointer-arith -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN	+= -Werror
endif
# Sections per function and --gc-sections drop what nothing calls.
SECT	 = -ffunction-sections -fdata-sections
LIBFLAGS = -std=gnu11 $(CFLAGS) $(SECT)
RRFLAGS	 = -std=gnu11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SECT) -pthread -I. \
	   -I$(CJSON) -I$(YAML)include \
	   $(if $(MUSLVER),-DRRTCP_MUSL_VERSION='"$(MUSLVER)"')
YAMLDEFS = -DYAML_VERSION_MAJOR=$(YMAJ) -DYAML_VERSION_MINOR=$(YMIN) \
	   -DYAML_VERSION_PATCH=$(YPAT) \
	   -DYAML_VERSION_STRING='"$(YMAJ).$(YMIN).$(YPAT)"'
LDSTATIC = -static -s -Wl,--gc-sections -pthread

SRCS	 = $(filter-out rrtcp.c,$(wildcard *.c))
OBJS	 = $(patsubst %.c,$(SDIR)/obj/%.o,rrtcp.c $(SRCS))
YOBJS	 = $(patsubst $(YAML)src/%.c,$(SDIR)/lib/yaml_%.o,$(wildcard $(YAML)src/*.c))
COBJS	 = $(SDIR)/lib/cJSON.o

.PHONY: all
all: $(SDIR)/rrtcp $(SDIR)/echo_worker
	@echo "static: $(SDIR)/rrtcp $$(wc -c <$(SDIR)/rrtcp) bytes"

$(SDIR)/obj $(SDIR)/lib:
	@mkdir -p $@

$(SDIR)/obj/%.o: %.c $(wildcard *.h) | $(SDIR)/obj
	$(MUSLCC) $(RRFLAGS) -c -o $@ $<

$(SDIR)/lib/yaml_%.o: $(YAML)src/%.c | $(SDIR)/lib
	$(MUSLCC) $(LIBFLAGS) $(YAMLDEFS) -I$(YAML)include -c -o $@ $<

$(SDIR)/lib/cJSON.o: $(CJSON)cJSON.c | $(SDIR)/lib
	$(MUSLCC) $(LIBFLAGS) -c -o $@ $<

$(SDIR)/rrtcp: $(OBJS) $(YOBJS) $(COBJS)
	$(MUSLCC) $(LDSTATIC) -o $@ $^

$(SDIR)/echo_worker: bench/echo_worker.c $(SDIR)/obj/frame.o
	$(MUSLCC) $(RRFLAGS) $(LDSTATIC) -o $@ $^
