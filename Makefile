# npu_mem top-level Makefile.
#
#   make            npu_mem.ko against KDIR (default: the running kernel's headers) and
#                   the userspace pieces (libshim, tools, test programs)
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

TEST_SRCS := $(wildcard tests/user/test_*.c)
TEST_BINS := $(patsubst tests/user/%.c,$(STAGE)/tests/%,$(TEST_SRCS))
TEST_HDRS := $(wildcard tests/user/*.h) uapi/npu_mem.h uapi/npu_mem_netlink.h
TOOL_BINS := $(STAGE)/bin/npu-mem-demo $(STAGE)/bin/npu-mem-vm-tests $(STAGE)/bin/npu-mem-bench \
	     $(STAGE)/bin/npu-mem
# npu-mem talks generic netlink through libnl-genl-3 (Debian: libnl-genl-3-dev).
NL_CFLAGS = $(shell pkg-config --cflags libnl-genl-3.0)
NL_LIBS = $(shell pkg-config --static --libs libnl-genl-3.0)

.PHONY: all module userspace check demo bench install clean

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

userspace: $(TEST_BINS) $(TOOL_BINS) $(STAGE)/include/npu_mem.h

$(STAGE)/tests/%: tests/user/%.c $(TEST_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) $(STATIC) -o $@ $< -lpthread

$(STAGE)/bin/npu-mem-bench: tests/bench/npu_mem_bench.c tests/user/npu.h uapi/npu_mem.h
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) $(STATIC) -o $@ $<

$(STAGE)/bin/npu-mem-demo: tools/npu-mem-demo.c uapi/npu_mem.h
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) $(STATIC) -o $@ $<

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

clean:
	rm -rf $(BUILD)
