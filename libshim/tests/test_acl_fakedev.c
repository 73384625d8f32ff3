// SPDX-License-Identifier: MIT
/*
 * libshim against a stand-in device (npu_dev_fake.c: memfds, real mmaps), for
 * what needs aclInit to succeed but no driver.  Built from the library's
 * sources with LeakSanitizer (not AddressSanitizer: its quarantine would hide
 * the reuse of freed records).  Each test runs in a process of its own, so a
 * check that crashes or hangs the library fails that test only: a crash as a
 * signal, a deadlock as the test's timeout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "npu_dev_fake.h"
#include "tests/user/harness.h"
#include "tests/user/acl_util.h"

/* Each test takes well under a second: a deadlock fails it after 30 s. */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 30

/* LeakSanitizer's, when the program is built with it (-fsanitize=leak). */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static int leaks(void)
{
	return __lsan_do_recoverable_leak_check ? __lsan_do_recoverable_leak_check() : 0;
}

/* A crash is a crash (SIGSEGV), not LeakSanitizer's report and exit status 23. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
	return "handle_segv=0";
}

#define G (2UL << 20)
#define PAGE 4096UL

static aclrtPhysicalMemProp prop0(void)
{
	return acl_dev_prop(0, ACL_HBM_MEM_HUGE);
}

/* aclInit with the stand-in device, and device 0 current: where most tests start. */
static void init_dev0(struct __test_metadata *_metadata)
{
	ASSERT_ACL_OK(aclInit(NULL)) TH_LOG("aclInit with the stand-in device");
	ASSERT_ACL_OK(aclrtSetDevice(0));
}

/* Is every page of [p, p + n) mapped (by anyone)? */
static bool range_mapped(const void *p, size_t n)
{
	static unsigned char vec[4096];

	if (n / PAGE > sizeof(vec))
		return false;
	return mincore((void *)p, n, vec) == 0;
}

/* ---- stale handles and streams ---- */

/* A freed handle never reaches the record that reuses its memory. */
TEST(stale_handles_after_free)
{
	aclrtPhysicalMemProp prop = prop0(), got;
	aclrtDrvMemHandle old[10], h = NULL;
	unsigned int i, hits = 0;
	aclError r;

	init_dev0(_metadata);
	for (i = 0; i < 10; i++)
		aclrtMallocPhysical(&old[i], G, &prop, 0);
	for (i = 0; i < 10; i++)
		aclrtFreePhysical(old[i]);
	EXPECT_ACL_OK(aclrtMallocPhysical(&h, G, &prop, 0)) TH_LOG("MallocPhysical after 10 frees");
	for (i = 0; i < 10; i++) {
		r = aclrtMemGetAllocationPropertiesFromHandle(old[i], &got);
		aclGetRecentErrMsg();
		hits += r != ACL_ERROR_RT_PARAM_INVALID;
	}
	EXPECT_EQ(0, hits) TH_LOG("no freed handle reaches the new one (GetAllocationProperties is 107000)");
	for (i = 0, hits = 0; i < 10; i++) {
		r = aclrtFreePhysical(old[i]);
		aclGetRecentErrMsg();
		hits += r != ACL_ERROR_RT_PARAM_INVALID;
	}
	EXPECT_EQ(0, hits) TH_LOG("FreePhysical of each freed handle is 107000");
	EXPECT_ACL_OK(aclrtFreePhysical(h)) TH_LOG("the owner frees the live handle");
}

TEST(stale_handle_from_before_aclFinalize)
{
	aclrtPhysicalMemProp prop = prop0();
	aclrtDrvMemHandle old = NULL, h = NULL;

	init_dev0(_metadata);
	EXPECT_ACL_OK(aclrtMallocPhysical(&old, G, &prop, 0)) TH_LOG("MallocPhysical before aclFinalize");
	EXPECT_ACL_OK(aclFinalize());
	EXPECT_ACL_OK(aclInit(NULL));
	aclrtSetDevice(0);
	EXPECT_ACL_OK(aclrtMallocPhysical(&h, G, &prop, 0)) TH_LOG("MallocPhysical after aclInit");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtFreePhysical(old))
		TH_LOG("a handle from before aclFinalize is 107000");
	EXPECT_ACL_OK(aclrtFreePhysical(h)) TH_LOG("... and the new one is still live");
}

TEST(stale_stream)
{
	aclrtStream s1 = NULL, s2 = NULL;

	init_dev0(_metadata);
	EXPECT_ACL_OK(aclrtCreateStream(&s1));
	EXPECT_ACL_OK(aclrtDestroyStream(s1));
	EXPECT_ACL_OK(aclrtCreateStream(&s2)) TH_LOG("CreateStream again");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtDestroyStream(s1))
		TH_LOG("DestroyStream of the destroyed stream is 107000");
	EXPECT_ACL_OK(aclrtSynchronizeStream(s2)) TH_LOG("the new stream is still live");
	EXPECT_ACL_OK(aclrtDestroyStream(s2)) TH_LOG("DestroyStream of the new stream");
}

/* After fork the child forgets the parent's records as aclFinalize does: freed, unknown. */
TEST(fork_forgets_the_parents_records)
{
	aclrtPhysicalMemProp prop = prop0();
	aclrtDrvMemHandle parent_h = NULL, h = NULL;
	void *va = NULL;
	pid_t pid;

	init_dev0(_metadata);
	ASSERT_ACL_OK(aclrtMallocPhysical(&parent_h, G, &prop, 0));
	ASSERT_ACL_OK(aclrtReserveMemAddress(&va, G, 0, NULL, 0));
	ASSERT_ACL_OK(aclrtMapMem(va, G, 0, parent_h, 0));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid) TH_LOG("fork: %s", strerror(errno));
	if (pid == 0) {
		EXPECT_ACL_OK(aclInit(NULL)) TH_LOG("child: aclInit");
		EXPECT_ACL_OK(aclrtSetDevice(0)) TH_LOG("child: SetDevice(0)");
		EXPECT_ACL_OK(aclrtMallocPhysical(&h, G, &prop, 0)) TH_LOG("child: MallocPhysical");
		EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtFreePhysical(parent_h))
			TH_LOG("child: the parent's handle is 107000");
		EXPECT_ACL_OK(aclrtFreePhysical(h)) TH_LOG("child: FreePhysical of its own handle");
		EXPECT_ACL_OK(aclFinalize()) TH_LOG("child: aclFinalize");
		EXPECT_EQ(0, leaks()) TH_LOG("child: nothing leaked (LeakSanitizer; its report is above)");
		_exit(_metadata->exit_code);
	}
	EXPECT_EQ(0, wait_child(pid)) TH_LOG("the child failed (above), or 128 + N: killed by signal N");
	EXPECT_ACL_OK(aclrtUnmapMem(va)) TH_LOG("the parent's mapping is untouched");
	EXPECT_ACL_OK(aclrtReleaseMemAddress(va));
	EXPECT_ACL_OK(aclrtFreePhysical(parent_h));
}

/* ---- cancellation: a lock left held would hang aclrtGetDeviceCount (the test's timeout) ---- */

static void *cancelled_init(void *arg)
{
	(void)arg;
	pthread_cancel(pthread_self());
	aclInit(NULL);
	pthread_testcancel();
	return NULL;
}

static void *cancelled_finalize(void *arg)
{
	(void)arg;
	pthread_cancel(pthread_self());
	aclFinalize();
	pthread_testcancel();
	return NULL;
}

static void cancel_in(struct __test_metadata *_metadata, void *(*fn)(void *), aclError want_count)
{
	pthread_t t;
	void *res = NULL;
	uint32_t n = 0;

	ASSERT_EQ(0, pthread_create(&t, NULL, fn, NULL));
	ASSERT_EQ(0, pthread_join(t, &res));
	EXPECT_EQ(PTHREAD_CANCELED, res) TH_LOG("the thread was cancelled");
	EXPECT_ACL(want_count, aclrtGetDeviceCount(&n)) TH_LOG("the lock is free afterwards");
}

TEST(cancelled_in_aclInit_leaves_the_lock_free)
{
	cancel_in(_metadata, cancelled_init, ACL_SUCCESS);
}

TEST(cancelled_in_aclFinalize_leaves_the_lock_free)
{
	ASSERT_ACL_OK(aclInit(NULL));
	cancel_in(_metadata, cancelled_finalize, ACL_SUCCESS);	/* reopens the device: no aclInit needed */
}

/* ---- a failed map ---- */

TEST(map_failure_restores_the_placeholder)
{
	aclrtPhysicalMemProp prop = prop0();
	aclrtDrvMemHandle h = NULL;
	void *va = NULL;
	char buf[8] = "payload", rd[8] = "";

	init_dev0(_metadata);
	ASSERT_ACL_OK(aclrtMallocPhysical(&h, G, &prop, 0));
	ASSERT_ACL_OK(aclrtReserveMemAddress(&va, 2 * G, 0, NULL, 0)) TH_LOG("ReserveMemAddress 4 MiB");
	npu_dev_fake_fail_map(ENOMEM, NULL);
	EXPECT_ACL(ACL_ERROR_RT_MEMORY_ALLOCATION, aclrtMapMem(va, G, 0, h, 0))
		TH_LOG("MapMem gets the driver's ENOMEM (207001)");
	EXPECT_TRUE(range_mapped(va, G)) TH_LOG("the placeholder is back over the failed range");
	EXPECT_ACL_OK(aclrtMapMem(va, G, 0, h, 0)) TH_LOG("MapMem again at the same address");
	EXPECT_ACL_OK(aclrtMemcpy(va, 8, buf, 8, ACL_MEMCPY_HOST_TO_DEVICE));
	EXPECT_ACL_OK(aclrtMemcpy(rd, 8, va, 8, ACL_MEMCPY_DEVICE_TO_HOST));
	EXPECT_EQ(0, memcmp(buf, rd, 8)) TH_LOG("the retried mapping holds the data");
	EXPECT_ACL_OK(aclrtUnmapMem(va));
	EXPECT_ACL_OK(aclrtReleaseMemAddress(va));
	EXPECT_ACL_OK(aclrtFreePhysical(h));
}

static void *foreign;

/* What another thread's mmap(NULL, ...) might do right after the hole opens. */
static void take_hole(void *va, size_t size)
{
	foreign = mmap(va, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (foreign == MAP_FAILED)
		foreign = NULL;
	else
		memset(foreign, 0xab, size);
}

static bool foreign_intact(void)
{
	const unsigned char *f = foreign;

	return f && range_mapped(f, G) && f[0] == 0xab && f[G - 1] == 0xab;
}

/*
 * The hole is taken before the library can fill it: the reservation is broken,
 * refuses maps, and neither release nor finalize unmaps the newcomer.
 */
static void map_failure_hole_taken(struct __test_metadata *_metadata, bool finalize)
{
	const char *how = finalize ? "aclFinalize" : "ReleaseMemAddress";
	aclrtPhysicalMemProp prop = prop0();
	aclrtDrvMemHandle h = NULL, h2 = NULL;
	void *va = NULL;
	aclError r;

	init_dev0(_metadata);
	ASSERT_ACL_OK(aclrtMallocPhysical(&h, G, &prop, 0));
	ASSERT_ACL_OK(aclrtMallocPhysical(&h2, G, &prop, 0)) TH_LOG("MallocPhysical (a neighbour)");
	ASSERT_ACL_OK(aclrtReserveMemAddress(&va, 3 * G, 0, NULL, 0)) TH_LOG("ReserveMemAddress 6 MiB");
	ASSERT_ACL_OK(aclrtMapMem((char *)va + 2 * G, G, 0, h2, 0)) TH_LOG("MapMem a neighbour");
	foreign = NULL;
	npu_dev_fake_fail_map(ENOMEM, take_hole);
	EXPECT_ACL_MSG(ACL_ERROR_RT_MEMORY_ALLOCATION, "broken", aclrtMapMem(va, G, 0, h, 0))
		TH_LOG("MapMem fails and says the reservation is broken");
	EXPECT_TRUE(foreign == va && foreign_intact()) TH_LOG("the newcomer is in the hole");
	r = aclrtMapMem((char *)va + G, G, 0, h, 0);
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "broken", r)
		TH_LOG("a broken reservation refuses maps (507899)");
	if (r == ACL_SUCCESS)
		aclrtUnmapMem((char *)va + G);
	EXPECT_ACL_OK(aclrtUnmapMem((char *)va + 2 * G)) TH_LOG("the neighbour still unmaps");
	EXPECT_TRUE(range_mapped((char *)va + 2 * G, G)) TH_LOG("... and its range is a placeholder again");
	if (finalize) {
		EXPECT_ACL_OK(aclFinalize());
		EXPECT_ACL_OK(aclInit(NULL));
		aclrtSetDevice(0);
	} else {
		EXPECT_ACL_OK(aclrtReleaseMemAddress(va));
		aclrtFreePhysical(h);
		aclrtFreePhysical(h2);
	}
	EXPECT_TRUE(foreign_intact()) TH_LOG("%s leaves the newcomer's memory alone", how);
	EXPECT_TRUE(!range_mapped((char *)va + G, G) && !range_mapped((char *)va + 2 * G, G))
		TH_LOG("%s unmaps the rest of the reservation", how);
	if (foreign && range_mapped(foreign, G))
		munmap(foreign, G);
}

TEST(map_failure_hole_taken_then_ReleaseMemAddress)
{
	map_failure_hole_taken(_metadata, false);
}

TEST(map_failure_hole_taken_then_aclFinalize)
{
	map_failure_hole_taken(_metadata, true);
}

/* ---- host ranges that run into a reservation (a wrong answer may crash: a signal) ---- */

FIXTURE(edge) {
	void *hostlo;	/* host memory; [edge, edge + G) a reservation, host memory after it */
	void *edge;
	void *dev;	/* G of device memory, mapped */
};

FIXTURE_SETUP(edge)
{
	aclrtPhysicalMemProp prop = prop0();
	aclrtDrvMemHandle h;
	void *va;

	init_dev0(_metadata);
	ASSERT_ACL_OK(aclrtMallocPhysical(&h, G, &prop, 0));
	self->hostlo = mmap(NULL, 4 * G, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->hostlo) TH_LOG("mmap: %s", strerror(errno));
	self->edge = (void *)(((uintptr_t)self->hostlo + PAGE + G - 1) & ~(G - 1));
	munmap(self->edge, G);
	ASSERT_ACL_OK(aclrtReserveMemAddress(&va, G, 0, self->edge, 0)) TH_LOG("ReserveMemAddress at the hole");
	ASSERT_EQ(self->edge, va) TH_LOG("the reservation is where it was asked for");
	ASSERT_ACL_OK(aclrtReserveMemAddress(&self->dev, G, 0, NULL, 0));
	ASSERT_ACL_OK(aclrtMapMem(self->dev, G, 0, h, 0));
}

FIXTURE_TEARDOWN(edge)
{
	/* The test's process ends, and with it the library's state. */
}

TEST_F(edge, h2d_from_host_memory_into_a_reservation)
{
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID,
		   aclrtMemcpy(self->dev, 128, (char *)self->edge - 64, 128, ACL_MEMCPY_HOST_TO_DEVICE));
}

TEST_F(edge, d2h_to_host_memory_into_a_reservation)
{
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID,
		   aclrtMemcpy((char *)self->edge - 64, 128, self->dev, 128, ACL_MEMCPY_DEVICE_TO_HOST));
}

TEST_F(edge, memset_of_host_memory_into_a_reservation)
{
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtMemset((char *)self->edge - 64, 128, 0, 128));
}

TEST_F(edge, memset_from_a_reservations_end_into_host_memory)
{
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtMemset((char *)self->edge + G - 64, 128, 0, 128));
}

TEST_F(edge, memset_of_a_range_that_wraps_around)
{
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtMemset((void *)(UINTPTR_MAX - 63), 128, 0, 128));
}

TEST_F(edge, host_memory_that_ends_where_a_reservation_starts_is_host_memory)
{
	char *end = self->edge;

	memset(end - 64, 7, 64);
	EXPECT_ACL_OK(aclrtMemcpy(self->dev, 64, end - 64, 64, ACL_MEMCPY_HOST_TO_DEVICE));
	EXPECT_ACL_OK(aclrtMemset(end - 64, 64, 0, 64));
	EXPECT_ACL_OK(aclrtMemcpy(end - 64, 64, self->dev, 64, ACL_MEMCPY_DEVICE_TO_HOST));
	EXPECT_EQ(7, end[-1]) TH_LOG("the copy back restored the host bytes");
}

/* ---- a copy whose host side faults into userfaultfd must not hold off writers ---- */

struct stall {
	int uffd;
	char *page;
	void *dev;
	bool to_dev;
	atomic_int copy_ret, writer_done;
};

static void *stall_copier(void *arg)
{
	struct stall *s = arg;
	aclError r;

	if (s->to_dev)
		r = aclrtMemcpy(s->dev, PAGE, s->page, PAGE, ACL_MEMCPY_HOST_TO_DEVICE);
	else
		r = aclrtMemcpy(s->page, PAGE, s->dev, PAGE, ACL_MEMCPY_DEVICE_TO_HOST);
	atomic_store(&s->copy_ret, r);
	return NULL;
}

static void *stall_writer(void *arg)
{
	struct stall *s = arg;
	void *va;

	if (!aclrtReserveMemAddress(&va, G, 0, NULL, 0))
		aclrtReleaseMemAddress(va);
	atomic_store(&s->writer_done, 1);
	return NULL;
}

static int uffd_open(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd;

	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (fd < 0)
		fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (fd >= 0 && ioctl(fd, UFFDIO_API, &api)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void copy_stalled_on_host_fault(struct __test_metadata *_metadata, bool to_dev)
{
	const char *dir = to_dev ? "H2D" : "D2H";
	struct stall s = { .to_dev = to_dev, .copy_ret = -1 };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_zeropage zp = { .mode = 0 };
	aclrtPhysicalMemProp prop = prop0();
	aclrtDrvMemHandle h = NULL;
	struct pollfd pfd;
	struct uffd_msg msg;
	pthread_t copier, writer;
	bool faulted, writing = false;
	int i;

	s.uffd = uffd_open();
	if (s.uffd < 0)
		SKIP(return, "no userfaultfd (%s)", strerror(errno));
	init_dev0(_metadata);
	ASSERT_ACL_OK(aclrtMallocPhysical(&h, G, &prop, 0));
	ASSERT_ACL_OK(aclrtReserveMemAddress(&s.dev, G, 0, NULL, 0));
	ASSERT_ACL_OK(aclrtMapMem(s.dev, G, 0, h, 0));
	s.page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, s.page) TH_LOG("mmap: %s", strerror(errno));
	reg.range.start = (uintptr_t)s.page;
	reg.range.len = PAGE;
	ASSERT_EQ(0, ioctl(s.uffd, UFFDIO_REGISTER, &reg)) TH_LOG("userfaultfd register: %s", strerror(errno));
	ASSERT_EQ(0, pthread_create(&copier, NULL, stall_copier, &s));
	pfd.fd = s.uffd;
	pfd.events = POLLIN;
	faulted = poll(&pfd, 1, 5000) == 1 && read(s.uffd, &msg, sizeof(msg)) == sizeof(msg);
	EXPECT_TRUE(faulted) TH_LOG("the %s copy never faulted on the host page", dir);
	if (faulted) {
		writing = !pthread_create(&writer, NULL, stall_writer, &s);
		for (i = 0; i < 200 && !atomic_load(&s.writer_done); i++)
			usleep(10000);
		EXPECT_TRUE(atomic_load(&s.writer_done))
			TH_LOG("ReserveMemAddress waited 2 s for the stalled %s copy (the lock is held across it)",
			       dir);
	}
	zp.range = reg.range;
	ioctl(s.uffd, UFFDIO_ZEROPAGE, &zp);
	pthread_join(copier, NULL);
	if (writing)
		pthread_join(writer, NULL);
	EXPECT_ACL_OK(atomic_load(&s.copy_ret)) TH_LOG("the stalled %s copy completes", dir);
	close(s.uffd);
	munmap(s.page, PAGE);
	EXPECT_ACL_OK(aclrtUnmapMem(s.dev));
	EXPECT_ACL_OK(aclrtReleaseMemAddress(s.dev));
	EXPECT_ACL_OK(aclrtFreePhysical(h));
}

TEST(writer_proceeds_while_an_h2d_copy_waits_on_a_host_fault)
{
	copy_stalled_on_host_fault(_metadata, true);
}

TEST(writer_proceeds_while_a_d2h_copy_waits_on_a_host_fault)
{
	copy_stalled_on_host_fault(_metadata, false);
}

/* ---- aclInit/aclFinalize cycles leave nothing behind ---- */

TEST(init_finalize_cycles)
{
	aclrtPhysicalMemProp prop = prop0();
	aclrtDrvMemHandle h;
	aclrtStream s;
	void *va, *host;
	int i;

	for (i = 0; i < 20; i++) {
		ASSERT_ACL_OK(aclInit(NULL)) TH_LOG("cycle %d", i);
		ASSERT_ACL_OK(aclrtSetDevice(0)) TH_LOG("cycle %d", i);
		ASSERT_ACL_OK(aclrtMallocPhysical(&h, G, &prop, 0)) TH_LOG("cycle %d", i);
		ASSERT_ACL_OK(aclrtReserveMemAddress(&va, 2 * G, 0, NULL, 0)) TH_LOG("cycle %d", i);
		ASSERT_ACL_OK(aclrtMapMem(va, G, 0, h, 0)) TH_LOG("cycle %d", i);
		ASSERT_ACL_OK(aclrtCreateStream(&s)) TH_LOG("cycle %d", i);
		ASSERT_ACL_OK(aclrtMallocHost(&host, 100)) TH_LOG("cycle %d", i);
		ASSERT_ACL_OK(aclFinalize()) TH_LOG("cycle %d: aclFinalize with everything still held", i);
	}
	EXPECT_EQ(0, npu_dev_fake_handles()) TH_LOG("the stand-in holds no handle afterwards");
	EXPECT_EQ(0, leaks()) TH_LOG("nothing leaked (LeakSanitizer; its report is above)");
}

/* ---- each device's granularity, as DEVICE_INFO reports it ---- */

TEST(granularity_per_device)
{
	aclrtPhysicalMemProp p0 = prop0(), p1 = acl_dev_prop(1, ACL_MEM_NORMAL);
	size_t g0 = 0, g1 = 0, k64 = 64 << 10, f0 = 0, f1 = 0, t;
	aclrtDrvMemHandle h0 = NULL, h1 = NULL;
	void *va = NULL;

	npu_dev_fake_set_granularity(1, k64);
	ASSERT_ACL_OK(aclInit(NULL)) TH_LOG("aclInit with 64 KiB on device 1");
	EXPECT_ACL_OK(aclrtMemGetAllocationGranularity(&p0, ACL_RT_MEM_ALLOC_GRANULARITY_MINIMUM, &g0))
		TH_LOG("device 0");
	EXPECT_ACL_OK(aclrtMemGetAllocationGranularity(&p1, ACL_RT_MEM_ALLOC_GRANULARITY_MINIMUM, &g1))
		TH_LOG("device 1");
	EXPECT_EQ(G, g0) TH_LOG("2 MiB on device 0");
	EXPECT_EQ(k64, g1) TH_LOG("64 KiB on device 1");
	EXPECT_ACL_OK(aclrtMallocPhysical(&h1, k64, &p1, 0)) TH_LOG("MallocPhysical 64 KiB on device 1");
	EXPECT_ACL_OK(aclrtReserveMemAddress(&va, k64, 0, NULL, 0));
	EXPECT_ACL_OK(aclrtMapMem(va, k64, 0, h1, 0)) TH_LOG("MapMem 64 KiB");
	EXPECT_ACL_OK(aclrtUnmapMem(va));
	EXPECT_ACL_OK(aclrtReleaseMemAddress(va));
	aclrtSetDevice(0);
	aclrtGetMemInfo(ACL_HBM_MEM, &f0, &t);
	EXPECT_ACL_OK(aclrtMallocPhysical(&h0, k64, &p0, 0)) TH_LOG("MallocPhysical 64 KiB on device 0");
	aclrtGetMemInfo(ACL_HBM_MEM, &f1, &t);
	EXPECT_EQ(G, f0 - f1) TH_LOG("... takes 2 MiB there");
	EXPECT_ACL_OK(aclrtFreePhysical(h0)) TH_LOG("device 0");
	EXPECT_ACL_OK(aclrtFreePhysical(h1)) TH_LOG("device 1");
	EXPECT_ACL_OK(aclFinalize());
	npu_dev_fake_set_granularity(1, 0);
}

TEST_HARNESS_MAIN
