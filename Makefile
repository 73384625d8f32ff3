# npu_mem top-level Makefile.
#
#   make            npu_mem.ko against KDIR (default: the running kernel's headers) and
#                   the userspace pieces (libshim, tools, test programs)
#   make libshim    libascendcl.so/.a and the acl/ headers into build/stage
#   make host-tests libshim's host tests (C and C++; run by tests/run-all host)
#   make vm         what tools/vm-run boots: a test kernel (SERIES=6.12|6.1,
#                   VARIANT=debug|perf), npu_mem.ko built against it, the programs
#   make demo       the cross-process sharing demo, in the test VM
#   make check      every test: compile checks, checkpatch, sparse, KUnit and integration
#                   tests in the VM; ends with "N passed, N failed"
#   make bench      npu_mem against memfd and dma-buf heaps, in the VM (perf kernel)
#   make coverage   driver/'s line coverage under the VM tests (coverage kernel, gcov):
#                   an lcov report in build/coverage/, "driver/: lines X%, functions Y%"
#   make fuzz       the seeded ioctl/netlink/mmap fuzzer in the debug VM (SERIES=6.12, OPS=1000000,
#                   SEED= to replay a run)
#   make stress     npu-mem-stress for DURATION seconds (default 600) in the 6.12 debug VM
#   make clean
#
# Installing (every target honours DESTDIR; the README's "Installing" says more):
#   make install          the tools and man pages, the library in its CANN-shaped tree
#                         (ACLDIR: include/acl, lib64/libascendcl.so/.a, set_env.sh and
#                         its link bin/setenv.bash), its pkg-config file, the ABI headers,
#                         the udev rule, the sysusers.d entry for group npu and a
#                         commented modprobe.d file
#   make install-dkms     the module's source and dkms.conf into DKMSDIR, for dkms
#   make modules_install  npu_mem.ko as built by "make module" for KDIR, into
#                         INSTALL_MOD_PATH (default DESTDIR)/lib/modules/KVER/extra
#   make deb              the Debian packages, into build/deb/
#   make version          print VERSION (for dkms install npu-mem/VERSION)

KDIR ?= /lib/modules/$(shell uname -r)/build
BUILD ?= $(CURDIR)/build
STAGE := $(BUILD)/stage
# The project's version, for the packages and DKMS: debian/changelog's first entry.
VERSION := $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)

# Where make install puts things (below DESTDIR).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(PREFIX)/lib/pkgconfig
# The library gets a tree of its own, shaped like CANN's, off the linker's default path:
# its file names are Huawei's, and it must never shadow a real CANN.
ACLDIR ?= $(PREFIX)/lib/npu-mem
# System configuration read from /etc only, whatever PREFIX is (packages use /lib, /usr/lib).
SYSCONFDIR ?= /etc
UDEVRULESDIR ?= $(SYSCONFDIR)/udev/rules.d
SYSUSERSDIR ?= $(SYSCONFDIR)/sysusers.d
MODPROBEDIR ?= $(SYSCONFDIR)/modprobe.d
DKMSDIR ?= /usr/src/npu-mem-$(VERSION)
INSTALL_MOD_PATH ?= $(DESTDIR)

CC ?= cc
OBJCOPY ?= objcopy
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
	     $(STAGE)/bin/npu-mem $(STAGE)/bin/npu-mem-fuzz \
	     $(STAGE)/bin/npu-mem-stress
# npu-mem talks generic netlink through libnl-genl-3 (Debian: libnl-genl-3-dev).
NL_CFLAGS = $(shell pkg-config --cflags libnl-genl-3.0)
NL_LIBS = $(shell pkg-config --static --libs libnl-genl-3.0)
# What make install installs is built apart, dynamically linked (the VM's copies are static).
INST := $(BUILD)/installable

# libshim: the ACL runtime library (libascendcl.so / .a) and its headers.
SHIM_SRCS := $(wildcard libshim/*.c)
SHIM_INTERNAL := $(wildcard libshim/*.h)
SHIM_PUB := $(shell find libshim/include/acl -name '*.h')
SHIM_STAGED_HDRS := $(patsubst libshim/include/%,$(STAGE)/include/%,$(SHIM_PUB))
# FUNC_VISIBILITY: ACL_FUNC_VISIBILITY exports the acl* calls (as in CANN's acl_base_rt.h)
SHIM_CFLAGS := $(CPPFLAGS) $(USER_CFLAGS) -Ilibshim -Ilibshim/include -DFUNC_VISIBILITY -fvisibility=hidden -pthread
SHIM_OBJDIR := $(BUILD)/libshim
SHIM_PIC_OBJS := $(patsubst libshim/%.c,$(SHIM_OBJDIR)/pic/%.o,$(SHIM_SRCS))
SHIM_OBJS := $(patsubst libshim/%.c,$(SHIM_OBJDIR)/static/%.o,$(SHIM_SRCS))
SHIM_LIBS := $(STAGE)/lib/libascendcl.so $(STAGE)/lib/libascendcl.a
# VM tests of the library: static, linked against libascendcl.a
ACL_TEST_SRCS := $(wildcard tests/user/test_acl_*.c)
ACL_TEST_BINS := $(patsubst tests/user/%.c,$(STAGE)/tests/%,$(ACL_TEST_SRCS))
# Host tests of the library (no device, no VM): built here, run by tests/run-all host
HOST_TEST_DIR := $(BUILD)/host-tests
HOST_TEST_BINS := $(patsubst libshim/tests/%.c,$(HOST_TEST_DIR)/%,$(wildcard libshim/tests/test_*.c)) \
	$(HOST_TEST_DIR)/test_acl_layout_cxx $(HOST_TEST_DIR)/test_acl_symbols $(HOST_TEST_DIR)/test_acl_codes \
	$(HOST_TEST_DIR)/test_acl_stream_tsan
# Test-only builds of the library against a stand-in device: its sources with npu_dev.c
# replaced by libshim/tests/npu_dev_fake.c (memfds); never installed.
SHIM_FAKE_SRCS := $(filter-out libshim/npu_dev.c,$(SHIM_SRCS)) libshim/tests/npu_dev_fake.c
SHIM_FAKE_DEPS := $(SHIM_FAKE_SRCS) libshim/tests/npu_dev_fake.h $(SHIM_INTERNAL) $(SHIM_PUB) $(TEST_HDRS)
SHIM_TEST_CFLAGS := $(USER_CFLAGS) -Ilibshim -Ilibshim/include -pthread

.PHONY: all module userspace libshim host-tests check vm demo bench coverage fuzz stress \
	installable install install-dkms modules_install deb version clean FORCE

all: module userspace

# One object directory per kernel, so builds for several kernels can coexist.
MODDIR ?= $(BUILD)/modules/$(subst /,_,$(abspath $(KDIR)))

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
	$(CC) $(LDFLAGS) -shared -pthread -Wl,-soname,libascendcl.so -Wl,--no-undefined -o $@ $^

# One relocatable object whose only globals are the acl* functions: the library's own
# names (shim, shim_*, npu_dev_*) stay out of a static program's namespace, as in the .so.
$(STAGE)/lib/libascendcl.a: $(SHIM_OBJS)
	@mkdir -p $(dir $@)
	$(CC) -r -nostdlib -o $(SHIM_OBJDIR)/libascendcl.o $^
	$(OBJCOPY) --localize-hidden $(SHIM_OBJDIR)/libascendcl.o
	rm -f $@
	$(AR) rcs $@ $(SHIM_OBJDIR)/libascendcl.o

$(STAGE)/include/acl/%.h: libshim/include/acl/%.h
	@mkdir -p $(dir $@)
	install -m 0644 $< $@

$(STAGE)/tests/test_acl_%: tests/user/test_acl_%.c $(TEST_HDRS) $(STAGE)/lib/libascendcl.a $(SHIM_PUB)
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) $(KSFT_CFLAGS) -Ilibshim/include $(STATIC) -o $@ $< $(STAGE)/lib/libascendcl.a -lpthread

$(HOST_TEST_DIR)/%: libshim/tests/%.c $(STAGE)/lib/libascendcl.so $(SHIM_PUB) $(TEST_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) $(KSFT_CFLAGS) -Ilibshim -Ilibshim/include -o $@ $< -L$(STAGE)/lib -Wl,-rpath,$(STAGE)/lib -lascendcl -lpthread

# Reaches the internal table: linked with the library's objects, not the archive.
$(HOST_TEST_DIR)/test_acl_errmap: libshim/tests/test_acl_errmap.c $(SHIM_OBJS) $(SHIM_PUB) $(SHIM_INTERNAL) $(TEST_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) $(KSFT_CFLAGS) -Ilibshim -Ilibshim/include -o $@ $< $(SHIM_OBJS) -lpthread

$(HOST_TEST_DIR)/test_acl_fakedev: libshim/tests/test_acl_fakedev.c $(SHIM_FAKE_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(SHIM_TEST_CFLAGS) $(KSFT_CFLAGS) -fsanitize=leak,undefined -fno-sanitize-recover=undefined \
		-o $@ $< $(SHIM_FAKE_SRCS)

$(HOST_TEST_DIR)/test_acl_compat: libshim/tests/test_acl_compat.c $(SHIM_FAKE_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(SHIM_TEST_CFLAGS) $(KSFT_CFLAGS) -fsanitize=leak,undefined -fno-sanitize-recover=undefined \
		-o $@ $< $(SHIM_FAKE_SRCS)

$(HOST_TEST_DIR)/test_acl_tsan: libshim/tests/test_acl_tsan.c $(SHIM_FAKE_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(SHIM_TEST_CFLAGS) $(KSFT_CFLAGS) -fsanitize=thread -o $@ $< $(SHIM_FAKE_SRCS)

$(HOST_TEST_DIR)/test_acl_stream: libshim/tests/test_acl_stream.c $(SHIM_FAKE_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(SHIM_TEST_CFLAGS) $(KSFT_CFLAGS) -fsanitize=leak,undefined -fno-sanitize-recover=undefined \
		-o $@ $< $(SHIM_FAKE_SRCS)

$(HOST_TEST_DIR)/test_acl_stream_tsan: libshim/tests/test_acl_stream.c $(SHIM_FAKE_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(SHIM_TEST_CFLAGS) $(KSFT_CFLAGS) -fsanitize=thread -o $@ $< $(SHIM_FAKE_SRCS)

$(HOST_TEST_DIR)/test_acl_symbols: libshim/tests/test_acl_symbols.sh $(STAGE)/lib/libascendcl.a \
		$(STAGE)/lib/libascendcl.so $(SHIM_STAGED_HDRS)
	@mkdir -p $(dir $@)
	sed -e 's|@STAGE@|$(STAGE)|g' -e 's|@CC@|$(CC)|g' $< >$@
	chmod 0755 $@

$(HOST_TEST_DIR)/test_acl_codes: libshim/tests/test_acl_codes.sh libshim/tests/acl_codes.txt \
		$(SHIM_SRCS) $(SHIM_INTERNAL) $(SHIM_STAGED_HDRS)
	@mkdir -p $(dir $@)
	sed -e 's|@STAGE@|$(STAGE)|g' -e 's|@CC@|$(CC)|g' -e 's|@CXX@|$(CXX)|g' \
		-e 's|@CODES@|$(CURDIR)/libshim/tests/acl_codes.txt|g' -e 's|@SRC@|$(CURDIR)/libshim|g' $< >$@
	chmod 0755 $@

$(HOST_TEST_DIR)/test_acl_layout_cxx: libshim/tests/test_acl_layout.c $(SHIM_PUB) $(TEST_HDRS)
	@mkdir -p $(dir $@)
	$(CXX) -x c++ -std=c++11 -Wall -Wextra -Werror $(KSFT_CFLAGS) -Ilibshim/include -I. -o $@ $<

$(STAGE)/tests/%: tests/user/%.c $(TEST_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) $(KSFT_CFLAGS) $(STATIC) -o $@ $< -lpthread

$(STAGE)/bin/npu-mem-fuzz: $(wildcard tests/fuzz/*.[ch]) tests/user/npu.h uapi/npu_mem.h \
		uapi/npu_mem_netlink.h
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) $(STATIC) -o $@ $(filter %.c,$^)

$(STAGE)/bin/npu-mem-bench: tests/bench/npu_mem_bench.c tests/user/npu.h uapi/npu_mem.h
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) $(STATIC) -o $@ $<

$(STAGE)/bin/npu-mem-stress: $(wildcard tests/stress/*.[ch]) tests/user/npu.h tests/user/cgroup.h \
		tests/user/npu_tool.h uapi/npu_mem.h
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) $(STATIC) -o $@ $(filter %.c,$^) -lpthread

# The demo is a plain ACL program: static, against libascendcl.a like the test_acl_* programs.
$(STAGE)/bin/npu-mem-demo: tools/npu-mem-demo.c $(STAGE)/lib/libascendcl.a $(SHIM_PUB)
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) -Ilibshim/include $(STATIC) -o $@ $< $(STAGE)/lib/libascendcl.a -lpthread

# npu-mem --version names the package version (debian/changelog).
TOOL_CFLAGS = $(NL_CFLAGS) -DNPU_MEM_TOOL_VERSION='"$(VERSION)"'

$(STAGE)/bin/npu-mem: $(wildcard tools/npu-mem/*.[ch]) uapi/npu_mem.h uapi/npu_mem_netlink.h
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) $(TOOL_CFLAGS) $(STATIC) -o $@ $(filter %.c,$^) $(NL_LIBS)

$(STAGE)/bin/npu-mem-vm-tests: tests/vm/run-in-vm.sh
	@mkdir -p $(dir $@)
	install -m 0755 $< $@

$(STAGE)/include/npu_mem.h: uapi/npu_mem.h
	@mkdir -p $(dir $@)
	install -m 0644 $< $@

check:
	tests/run-all

# What tools/vm-run boots: a test kernel (SERIES=6.12 or 6.1, VARIANT=debug or perf),
# npu_mem.ko and the KUnit modules built against it, and the userspace programs.
SERIES ?= 6.12
VARIANT ?= debug
vm: userspace
	scripts/prepare-vm.sh $(VARIANT) $(SERIES)

demo: vm
	tools/vm-run -- npu-mem-demo

# The fuzzer's long run: OPS operations (default 10^6), SEED= replays a run, in the debug
# kernel of SERIES (default 6.12); vm-run fails on any splat in the kernel log.
# FUZZ_ARGS= adds options (--race: a racer thread per worker; --procs N).
OPS ?= 1000000
SEED ?=
FUZZ_ARGS ?=
fuzz: vm
	tools/vm-run --series $(SERIES) --kernel $(VARIANT) --timeout 7200 -- \
		npu-mem-fuzz --ops $(OPS) $(if $(SEED),--seed $(SEED)) $(FUZZ_ARGS)

# Many processes, a killer, memory pressure; then nothing lost or leaked (tests/stress/).
# The VM gets the run's length plus time to boot, stop, check and scan for leaks.
DURATION ?= 600
stress: vm
	tools/vm-run --series $(SERIES) --timeout $$(( $(DURATION) * 2 + 900 )) -- \
		npu-mem-stress --duration $(DURATION) $(STRESS_ARGS)

# BENCH_ARGS=--quick for a short run, --save to refresh doc/bench/.
bench:
	tests/bench/run-bench $(BENCH_ARGS)

# Fails below the issue's goal, 95% of driver/'s lines (COVERAGE_ARGS= for no floor).
COVERAGE_ARGS ?= --min 95
coverage: userspace
	scripts/coverage.sh $(COVERAGE_ARGS)

# What make install installs, built (dpkg-buildpackage's CPPFLAGS and LDFLAGS apply).
installable: libshim $(INST)/npu-mem $(INST)/npu-mem-demo

# The installed demo finds libascendcl.so in ACLDIR by its RUNPATH; a LD_LIBRARY_PATH set by
# a CANN set_env.sh still comes first.  It is relinked when ACLDIR changes.
$(INST)/npu-mem-demo: tools/npu-mem-demo.c $(STAGE)/lib/libascendcl.so $(SHIM_PUB) $(INST)/acldir
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(USER_CFLAGS) -Ilibshim/include $(LDFLAGS) -o $@ $< \
		-L$(STAGE)/lib -lascendcl -Wl,-rpath,$(ACLDIR)/lib64

$(INST)/npu-mem: $(wildcard tools/npu-mem/*.[ch]) uapi/npu_mem.h uapi/npu_mem_netlink.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(USER_CFLAGS) $(TOOL_CFLAGS) $(LDFLAGS) -o $@ $(filter %.c,$^) \
		$(shell pkg-config --libs libnl-genl-3.0)

$(INST)/acldir: FORCE
	@mkdir -p $(dir $@)
	@echo '$(ACLDIR)' | cmp -s - $@ || echo '$(ACLDIR)' >$@

install: installable
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(INST)/npu-mem $(INST)/npu-mem-demo $(DESTDIR)$(BINDIR)/
	install -m 0644 tools/npu-mem-demo.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 tools/npu-mem/npu-mem.8 $(DESTDIR)$(MANDIR)/man8/
	for h in $(SHIM_PUB:libshim/include/%=%); do \
		install -D -m 0644 libshim/include/$$h $(DESTDIR)$(ACLDIR)/include/$$h || exit 1; \
	done
	install -d $(DESTDIR)$(ACLDIR)/lib64
	install -m 0644 $(STAGE)/lib/libascendcl.so $(STAGE)/lib/libascendcl.a $(DESTDIR)$(ACLDIR)/lib64/
	sed 's|@ACLDIR@|$(ACLDIR)|' libshim/set_env.sh.in >$(DESTDIR)$(ACLDIR)/set_env.sh
	# As in CANN (SetEnvCommon.xml): Huawei's sample run.sh scripts source bin/setenv.bash.
	install -d $(DESTDIR)$(ACLDIR)/bin
	ln -sf ../set_env.sh $(DESTDIR)$(ACLDIR)/bin/setenv.bash
	install -d $(DESTDIR)$(PKGCONFIGDIR)
	sed 's|@ACLDIR@|$(ACLDIR)|' libshim/npu-mem-acl.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/npu-mem-acl.pc
	install -d $(DESTDIR)$(INCLUDEDIR)/npu_mem
	install -m 0644 uapi/npu_mem.h uapi/npu_mem_netlink.h $(DESTDIR)$(INCLUDEDIR)/npu_mem/
	install -D -m 0644 dist/udev/60-npu-mem.rules $(DESTDIR)$(UDEVRULESDIR)/60-npu-mem.rules
	install -D -m 0644 dist/sysusers.d/npu-mem.conf $(DESTDIR)$(SYSUSERSDIR)/npu-mem.conf
	install -D -m 0644 dist/modprobe.d/npu-mem.conf $(DESTDIR)$(MODPROBEDIR)/npu-mem.conf

# What dkms.conf builds: driver/ (with its probes) and uapi/; the KUnit suites stay out.
# Sources only, named one by one: an in-tree build leaves objects and conftest.h in driver/.
DKMS_SRCS := driver/Kbuild driver/conftest.mk $(filter-out driver/conftest.h,$(wildcard driver/*.[ch]))
install-dkms:
	install -d $(DESTDIR)$(DKMSDIR)/driver/conftest $(DESTDIR)$(DKMSDIR)/uapi
	install -m 0644 $(DKMS_SRCS) $(DESTDIR)$(DKMSDIR)/driver/
	install -m 0755 driver/conftest.sh $(DESTDIR)$(DKMSDIR)/driver/
	install -m 0644 driver/conftest/*.c $(DESTDIR)$(DKMSDIR)/driver/conftest/
	install -m 0644 uapi/npu_mem.h uapi/npu_mem_netlink.h $(DESTDIR)$(DKMSDIR)/uapi/
	sed 's/#MODULE_VERSION#/$(VERSION)/' dkms.conf >$(DESTDIR)$(DKMSDIR)/dkms.conf

# npu_mem.ko into /lib/modules/KVER/extra, KVER from the module's own vermagic, then depmod.
# Not Kbuild's modules_install: it also installs the test kernels' KUnit modules, and signs
# with a key that Debian's header packages do not have (DKMS signs with the machine's MOK).
modules_install: module
	kver=$$(modinfo -F vermagic $(MODDIR)/driver/npu_mem.ko | cut -d' ' -f1) && \
	install -D -m 0644 $(MODDIR)/driver/npu_mem.ko \
		$(INSTALL_MOD_PATH)/lib/modules/$$kver/extra/npu_mem.ko && \
	depmod -b $(or $(INSTALL_MOD_PATH),/) $$kver

# dpkg-buildpackage writes its results next to the source tree: build in a copy of the tree
# (the files git knows, committed or not) so that nothing lands outside build/.
deb:
	scripts/build-debs.sh $(BUILD)/deb

version:
	@echo $(VERSION)

clean:
	rm -rf $(BUILD)
