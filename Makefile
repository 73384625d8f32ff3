# npu_mem top-level Makefile.
#
#   make            npu_mem.ko against KDIR (default: the running kernel's headers) and
#                   the userspace pieces (libshim, tools, test programs)
#   make libshim    libascendcl.so/.a, ascendcl.pc and the acl/ headers into build/stage
#   make host-tests libshim's host tests (C and C++; run by tests/run-all host)
#   make demo       the cross-process sharing demo, in the test VM
#   make check      every test: compile checks, checkpatch, sparse, KUnit and integration
#                   tests in the VM; ends with "N passed, N failed"
#   make bench      npu_mem against memfd and dma-buf heaps, in the VM (perf kernel)
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean

KDIR ?= /lib/modules/$(shell uname -r)/build
BUILD ?= $(CURDIR)/build
STAGE := $(BUILD)/stage
PREFIX ?= /usr/local

CC ?= cc
CFLAGS ?= -O2 -g
USER_CFLAGS := $(CFLAGS) -Wall -Wextra -Werror -std=gnu11 -I$(CURDIR)
# Programs that run in the VM are static: the initramfs needs nothing else for them.
STATIC := -static

# The test programs are kselftest harness programs (KTAP output): the harness header comes
# from the unpacked kernel source, which scripts/kernel-source.sh prints (installing and
# unpacking linux-source-6.12 on first use).  Expanded once, and only by the rules that
# compile tests.
KSFT_INC ?= $(eval KSFT_INC := $$(shell $(CURDIR)/scripts/kernel-source.sh)/tools/testing/selftests)$(KSFT_INC)
KSFT_CFLAGS = -I$(KSFT_INC)

TEST_SRCS := $(filter-out tests/user/test_acl_%,$(wildcard tests/user/test_*.c))
TEST_BINS := $(patsubst tests/user/%.c,$(STAGE)/tests/%,$(TEST_SRCS))
TEST_HDRS := $(wildcard tests/user/*.h) uapi/npu_mem.h uapi/npu_mem_netlink.h
TOOL_BINS := $(STAGE)/bin/npu-mem-demo $(STAGE)/bin/npu-mem-vm-tests $(STAGE)/bin/npu-mem-bench \
	     $(STAGE)/bin/npu-mem
# npu-mem talks generic netlink through libnl-genl-3 (Debian: libnl-genl-3-dev).
NL_CFLAGS = $(shell pkg-config --cflags libnl-genl-3.0)
NL_LIBS = $(shell pkg-config --static --libs libnl-genl-3.0)

# libshim: the ACL runtime library (libascendcl.so / .a) and its headers.
SHIM_SRCS := $(wildcard libshim/*.c)
SHIM_INTERNAL := $(wildcard libshim/*.h)
SHIM_PUB := $(shell find libshim/include/acl -name '*.h')
SHIM_STAGED_HDRS := $(patsubst libshim/include/%,$(STAGE)/include/%,$(SHIM_PUB))
SHIM_CFLAGS := $(USER_CFLAGS) -Ilibshim -Ilibshim/include -fvisibility=hidden -pthread
SHIM_OBJDIR := $(BUILD)/libshim
SHIM_PIC_OBJS := $(patsubst libshim/%.c,$(SHIM_OBJDIR)/pic/%.o,$(SHIM_SRCS))
SHIM_OBJS := $(patsubst libshim/%.c,$(SHIM_OBJDIR)/static/%.o,$(SHIM_SRCS))
SHIM_LIBS := $(STAGE)/lib/libascendcl.so $(STAGE)/lib/libascendcl.a $(STAGE)/lib/pkgconfig/ascendcl.pc
# VM tests of the library: static, linked against libascendcl.a
ACL_TEST_SRCS := $(wildcard tests/user/test_acl_*.c)
ACL_TEST_BINS := $(patsubst tests/user/%.c,$(STAGE)/tests/%,$(ACL_TEST_SRCS))
# Host tests of the library (no device, no VM): built here, run by tests/run-all host
HOST_TEST_DIR := $(BUILD)/host-tests
HOST_TEST_BINS := $(patsubst libshim/tests/%.c,$(HOST_TEST_DIR)/%,$(wildcard libshim/tests/test_*.c)) \
	$(HOST_TEST_DIR)/test_acl_layout_cxx

.PHONY: all module userspace libshim host-tests check demo bench install clean

all: module userspace

# One object directory per kernel, so builds for several kernels can coexist.
MODDIR := $(BUILD)/modules/$(subst /,_,$(abspath $(KDIR)))

module:
	@if [ -f "$(KDIR)/Makefile" ]; then \
		scripts/build-module.sh "$(KDIR)" "$(MODDIR)" && \
		echo "built $(MODDIR)/driver/npu_mem.ko"; \
	else \
		echo "make: no kernel headers at $(KDIR): skipping npu_mem.ko" \
		     "(install linux-headers-$$(uname -r), pass KDIR=, or use tools/vm-run)" >&2; \
	fi

userspace: $(TEST_BINS) $(TOOL_BINS) $(STAGE)/include/npu_mem.h libshim $(ACL_TEST_BINS)

libshim: $(SHIM_LIBS) $(SHIM_STAGED_HDRS)

host-tests: $(HOST_TEST_BINS)

$(SHIM_OBJDIR)/pic/%.o: libshim/%.c $(SHIM_INTERNAL) $(SHIM_PUB) uapi/npu_mem.h
	@mkdir -p $(dir $@)
	$(CC) $(SHIM_CFLAGS) -fPIC -c -o $@ $<

$(SHIM_OBJDIR)/static/%.o: libshim/%.c $(SHIM_INTERNAL) $(SHIM_PUB) uapi/npu_mem.h
	@mkdir -p $(dir $@)
	$(CC) $(SHIM_CFLAGS) -c -o $@ $<

$(STAGE)/lib/libascendcl.so: $(SHIM_PIC_OBJS)
	@mkdir -p $(dir $@)
	$(CC) -shared -pthread -Wl,-soname,libascendcl.so -Wl,--no-undefined -o $@ $^

$(STAGE)/lib/libascendcl.a: $(SHIM_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(STAGE)/lib/pkgconfig/ascendcl.pc: libshim/ascendcl.pc.in
	@mkdir -p $(dir $@)
	sed 's|@PREFIX@|$(PREFIX)|' $< >$@

$(STAGE)/include/acl/%.h: libshim/include/acl/%.h
	@mkdir -p $(dir $@)
	install -m 0644 $< $@

$(STAGE)/tests/test_acl_%: tests/user/test_acl_%.c $(TEST_HDRS) $(STAGE)/lib/libascendcl.a $(SHIM_PUB)
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) $(KSFT_CFLAGS) -Ilibshim/include $(STATIC) -o $@ $< $(STAGE)/lib/libascendcl.a -lpthread

$(HOST_TEST_DIR)/%: libshim/tests/%.c $(STAGE)/lib/libascendcl.so $(SHIM_PUB) $(TEST_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) $(KSFT_CFLAGS) -Ilibshim -Ilibshim/include -o $@ $< -L$(STAGE)/lib -Wl,-rpath,$(STAGE)/lib -lascendcl -lpthread

$(HOST_TEST_DIR)/test_acl_errmap: libshim/tests/test_acl_errmap.c $(STAGE)/lib/libascendcl.a $(SHIM_PUB) $(SHIM_INTERNAL) $(TEST_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) $(KSFT_CFLAGS) -Ilibshim -Ilibshim/include -o $@ $< $(STAGE)/lib/libascendcl.a -lpthread

$(HOST_TEST_DIR)/test_acl_layout_cxx: libshim/tests/test_acl_layout.c $(SHIM_PUB) $(TEST_HDRS)
	@mkdir -p $(dir $@)
	$(CXX) -x c++ -std=c++11 -Wall -Wextra -Werror $(KSFT_CFLAGS) -Ilibshim/include -I. -o $@ $<

$(STAGE)/tests/%: tests/user/%.c $(TEST_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) $(KSFT_CFLAGS) $(STATIC) -o $@ $< -lpthread

$(STAGE)/bin/npu-mem-bench: tests/bench/npu_mem_bench.c tests/user/npu.h uapi/npu_mem.h
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) $(STATIC) -o $@ $<

# The demo is a plain ACL program: static, against libascendcl.a like the test_acl_* programs.
$(STAGE)/bin/npu-mem-demo: tools/npu-mem-demo.c $(STAGE)/lib/libascendcl.a $(SHIM_PUB)
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) -Ilibshim/include $(STATIC) -o $@ $< $(STAGE)/lib/libascendcl.a -lpthread

$(STAGE)/bin/npu-mem: $(wildcard tools/npu-mem/*.c) uapi/npu_mem.h uapi/npu_mem_netlink.h
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) $(NL_CFLAGS) $(STATIC) -o $@ $(filter %.c,$^) $(NL_LIBS)

$(STAGE)/bin/npu-mem-vm-tests: tests/vm/run-in-vm.sh
	@mkdir -p $(dir $@)
	install -m 0755 $< $@

$(STAGE)/include/npu_mem.h: uapi/npu_mem.h
	@mkdir -p $(dir $@)
	install -m 0644 $< $@

check:
	tests/run-all

demo:
	tools/vm-run -- npu-mem-demo

# BENCH_ARGS=--quick for a short run, --save to refresh doc/bench/.
bench:
	tests/bench/run-bench $(BENCH_ARGS)

install: userspace
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include/npu_mem
	install -m 0755 $(STAGE)/bin/npu-mem-demo $(STAGE)/bin/npu-mem $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 uapi/npu_mem.h uapi/npu_mem_netlink.h $(DESTDIR)$(PREFIX)/include/npu_mem/
	install -d $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0644 tools/npu-mem/npu-mem.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -d $(DESTDIR)$(PREFIX)/include/acl/error_codes $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0644 $(STAGE)/include/acl/*.h $(DESTDIR)$(PREFIX)/include/acl/
	install -m 0644 $(STAGE)/include/acl/error_codes/*.h $(DESTDIR)$(PREFIX)/include/acl/error_codes/
	install -m 0755 $(STAGE)/lib/libascendcl.so $(DESTDIR)$(PREFIX)/lib/
	install -m 0644 $(STAGE)/lib/libascendcl.a $(DESTDIR)$(PREFIX)/lib/
	sed 's|@PREFIX@|$(PREFIX)|' libshim/ascendcl.pc.in >$(DESTDIR)$(PREFIX)/lib/pkgconfig/ascendcl.pc

clean:
	rm -rf $(BUILD)
