// SPDX-License-Identifier: MIT
/*
 * libshim against a stand-in device (npu_dev_fake.c: memfds, real mmaps), for
 * what needs aclInit to succeed but no driver.  Built from the library's
 * sources with LeakSanitizer (not AddressSanitizer: its quarantine would hide
 * the reuse of freed records).  Checks that can crash or hang the library run
 * in a child process.
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
#include "tests/user/acl_util.h"

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

/* ---- cycles ---- */

static void cycles(void)
{
	aclrtPhysicalMemProp prop = prop0();
	aclrtDrvMemHandle h;
	aclrtStream s;
	void *va, *host;
	int i, bad = 0;

	aclFinalize();
	for (i = 0; i < 20; i++) {
		bad |= aclInit(NULL) || aclrtSetDevice(0) || aclrtMallocPhysical(&h, G, &prop, 0) ||
		       aclrtReserveMemAddress(&va, 2 * G, 0, NULL, 0) || aclrtMapMem(va, G, 0, h, 0) ||
		       aclrtCreateStream(&s) || aclrtMallocHost(&host, 100);
		bad |= aclFinalize();
	}
	TAP_CHECK("cycles: 20 x aclInit, allocate, map, aclFinalize", !bad);
	TAP_CHECK("cycles: the stand-in holds no handle afterwards", npu_dev_fake_handles() == 0);
	TAP_CHECK("cycles: nothing leaked (LeakSanitizer)", !leaks());
}

/* Run @fn in a child process that gets @secs seconds; report one result. */
static void in_child(const char *name, int (*fn)(void), unsigned int secs)
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		alarm(secs);
		_exit(fn());
	}
	st = wait_child(pid);
	if (st == 128 + SIGALRM)
		tap_result(0, name, "the child hung for %u s (deadlock)", secs);
	else if (st > 128)
		tap_result(0, name, "the child was killed by signal %d (%s)", st - 128, strsignal(st - 128));
	else
		tap_result(st == 0, name, "the child exited with status %d", st);
}

/* ---- 2: stale handles and streams ---- */

static void stale_handles(void)
{
	aclrtPhysicalMemProp prop = prop0(), got;
	aclrtDrvMemHandle old[10], h = NULL;
	aclrtStream s1 = NULL, s2 = NULL;
	unsigned int i, hits = 0;
	aclError r;

	for (i = 0; i < 10; i++)
		aclrtMallocPhysical(&old[i], G, &prop, 0);
	for (i = 0; i < 10; i++)
		aclrtFreePhysical(old[i]);
	ACL_OK("stale: MallocPhysical after 10 frees", aclrtMallocPhysical(&h, G, &prop, 0));
	for (i = 0; i < 10; i++) {
		r = aclrtMemGetAllocationPropertiesFromHandle(old[i], &got);
		aclGetRecentErrMsg();
		hits += r != ACL_ERROR_RT_PARAM_INVALID;
	}
	TAP_CHECK("stale: no freed handle reaches the new one (GetAllocationProperties is 107000)", hits == 0);
	for (i = 0, hits = 0; i < 10; i++) {
		r = aclrtFreePhysical(old[i]);
		aclGetRecentErrMsg();
		hits += r != ACL_ERROR_RT_PARAM_INVALID;
	}
	TAP_CHECK("stale: FreePhysical of each freed handle is 107000", hits == 0);
	ACL_OK("stale: the owner frees the live handle", aclrtFreePhysical(h));

	ACL_OK("stale: MallocPhysical before aclFinalize", aclrtMallocPhysical(&old[0], G, &prop, 0));
	ACL_OK("stale: aclFinalize", aclFinalize());
	ACL_OK("stale: aclInit", aclInit(NULL));
	aclrtSetDevice(0);
	ACL_OK("stale: MallocPhysical after aclInit", aclrtMallocPhysical(&h, G, &prop, 0));
	ACL_IS("stale: a handle from before aclFinalize is 107000", aclrtFreePhysical(old[0]),
	       ACL_ERROR_RT_PARAM_INVALID);
	ACL_OK("stale: ... and the new one is still live", aclrtFreePhysical(h));

	ACL_OK("stale: CreateStream", aclrtCreateStream(&s1));
	ACL_OK("stale: DestroyStream", aclrtDestroyStream(s1));
	ACL_OK("stale: CreateStream again", aclrtCreateStream(&s2));
	ACL_IS("stale: DestroyStream of the destroyed stream is 107000", aclrtDestroyStream(s1),
	       ACL_ERROR_RT_PARAM_INVALID);
	ACL_OK("stale: the new stream is still live", aclrtSynchronizeStream(s2));
	ACL_OK("stale: DestroyStream of the new stream", aclrtDestroyStream(s2));
}

/* After fork the child forgets the parent's records as aclFinalize does: freed, unknown. */
static aclrtDrvMemHandle parent_h;

static int child_after_fork(void)
{
	aclrtPhysicalMemProp prop = prop0();
	aclrtDrvMemHandle h;
	int bad = 0;

	bad |= aclInit(NULL) != ACL_SUCCESS;
	bad |= aclrtSetDevice(0) != ACL_SUCCESS;
	bad |= aclrtMallocPhysical(&h, G, &prop, 0) != ACL_SUCCESS;
	bad |= (aclrtFreePhysical(parent_h) != ACL_ERROR_RT_PARAM_INVALID) << 1;
	bad |= aclrtFreePhysical(h) != ACL_SUCCESS;
	bad |= aclFinalize() != ACL_SUCCESS;
	bad |= leaks() << 2;
	return bad;
}

static void fork_forgets(void)
{
	aclrtPhysicalMemProp prop = prop0();
	void *va = NULL;

	ACL_OK("fork: MallocPhysical", aclrtMallocPhysical(&parent_h, G, &prop, 0));
	ACL_OK("fork: ReserveMemAddress", aclrtReserveMemAddress(&va, G, 0, NULL, 0));
	ACL_OK("fork: MapMem", aclrtMapMem(va, G, 0, parent_h, 0));
	in_child("fork: the child frees the parent's records, its handles are 107000, no leak (LeakSanitizer)",
		 child_after_fork, 20);
	ACL_OK("fork: the parent's mapping is untouched", aclrtUnmapMem(va));
	ACL_OK("fork: ReleaseMemAddress", aclrtReleaseMemAddress(va));
	ACL_OK("fork: FreePhysical", aclrtFreePhysical(parent_h));
}

/* ---- 4: cancellation ---- */

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

static int cancel_in(void *(*fn)(void *), aclError want_count)
{
	pthread_t t;
	void *res = NULL;
	uint32_t n = 0;

	if (pthread_create(&t, NULL, fn, NULL) || pthread_join(t, &res))
		return 2;
	if (res != PTHREAD_CANCELED)
		return 3;
	return aclrtGetDeviceCount(&n) == want_count ? 0 : 4;
}

static int child_cancel_init(void)
{
	return cancel_in(cancelled_init, ACL_SUCCESS);
}

static int child_cancel_finalize(void)
{
	if (aclInit(NULL))
		return 5;
	return cancel_in(cancelled_finalize, ACL_ERROR_UNINITIALIZE);
}

/* Is every page of [p, p + n) mapped (by anyone)? */
static bool range_mapped(const void *p, size_t n)
{
	static unsigned char vec[4096];

	if (n / PAGE > sizeof(vec))
		return false;
	return mincore((void *)p, n, vec) == 0;
}

/* ---- 1: a failed map ---- */

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

static void map_failure_restores_placeholder(void)
{
	aclrtPhysicalMemProp prop = prop0();
	aclrtDrvMemHandle h = NULL;
	void *va = NULL;
	char buf[8] = "payload", rd[8] = "";

	ACL_OK("map failure: MallocPhysical", aclrtMallocPhysical(&h, G, &prop, 0));
	ACL_OK("map failure: ReserveMemAddress 4 MiB", aclrtReserveMemAddress(&va, 2 * G, 0, NULL, 0));
	npu_dev_fake_fail_map(ENOMEM, NULL);
	ACL_IS("map failure: MapMem gets the driver's ENOMEM (207001)", aclrtMapMem(va, G, 0, h, 0),
	       ACL_ERROR_RT_MEMORY_ALLOCATION);
	TAP_CHECK("map failure: the placeholder is back over the failed range", range_mapped(va, G));
	ACL_OK("map failure: MapMem again at the same address", aclrtMapMem(va, G, 0, h, 0));
	ACL_OK("map failure: Memcpy H2D", aclrtMemcpy(va, 8, buf, 8, ACL_MEMCPY_HOST_TO_DEVICE));
	ACL_OK("map failure: Memcpy D2H", aclrtMemcpy(rd, 8, va, 8, ACL_MEMCPY_DEVICE_TO_HOST));
	TAP_CHECK("map failure: the retried mapping holds the data", !memcmp(buf, rd, 8));
	ACL_OK("map failure: UnmapMem", aclrtUnmapMem(va));
	ACL_OK("map failure: ReleaseMemAddress", aclrtReleaseMemAddress(va));
	ACL_OK("map failure: FreePhysical", aclrtFreePhysical(h));
}

/*
 * The hole is taken before the library can fill it: the reservation is broken,
 * refuses maps, and neither release nor finalize unmaps the newcomer.
 */
static void map_failure_hole_taken(bool finalize)
{
	const char *how = finalize ? "aclFinalize" : "ReleaseMemAddress";
	aclrtPhysicalMemProp prop = prop0();
	aclrtDrvMemHandle h = NULL, h2 = NULL;
	void *va = NULL;
	char name[160];
	aclError r;

	aclrtSetDevice(0);
	ACL_OK("hole taken: MallocPhysical", aclrtMallocPhysical(&h, G, &prop, 0));
	ACL_OK("hole taken: MallocPhysical (a neighbour)", aclrtMallocPhysical(&h2, G, &prop, 0));
	ACL_OK("hole taken: ReserveMemAddress 6 MiB", aclrtReserveMemAddress(&va, 3 * G, 0, NULL, 0));
	ACL_OK("hole taken: MapMem a neighbour", aclrtMapMem((char *)va + 2 * G, G, 0, h2, 0));
	foreign = NULL;
	npu_dev_fake_fail_map(ENOMEM, take_hole);
	ACL_IS_MSG("hole taken: MapMem fails and says the reservation is broken", aclrtMapMem(va, G, 0, h, 0),
		   ACL_ERROR_RT_MEMORY_ALLOCATION, "broken");
	TAP_CHECK("hole taken: the newcomer is in the hole", foreign == va && foreign_intact());
	r = aclrtMapMem((char *)va + G, G, 0, h, 0);
	ACL_IS_MSG("hole taken: a broken reservation refuses maps (507899)", r, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
		   "broken");
	if (r == ACL_SUCCESS)
		aclrtUnmapMem((char *)va + G);
	ACL_OK("hole taken: the neighbour still unmaps", aclrtUnmapMem((char *)va + 2 * G));
	TAP_CHECK("hole taken: ... and its range is a placeholder again", range_mapped((char *)va + 2 * G, G));
	if (finalize) {
		ACL_OK("hole taken: aclFinalize", aclFinalize());
		ACL_OK("hole taken: aclInit", aclInit(NULL));
		aclrtSetDevice(0);
	} else {
		ACL_OK("hole taken: ReleaseMemAddress", aclrtReleaseMemAddress(va));
		aclrtFreePhysical(h);
		aclrtFreePhysical(h2);
	}
	snprintf(name, sizeof(name), "hole taken: %s leaves the newcomer's memory alone", how);
	TAP_CHECK(name, foreign_intact());
	snprintf(name, sizeof(name), "hole taken: %s unmaps the rest of the reservation", how);
	TAP_CHECK(name, !range_mapped((char *)va + G, G) && !range_mapped((char *)va + 2 * G, G));
	if (foreign && range_mapped(foreign, G))
		munmap(foreign, G);
}

/* ---- 6: copies ---- */

static void *hostlo;	/* host memory; [edge, edge + G) a reservation, host memory after it */
static void *edge, *dev;

static int copy_setup(void)
{
	aclrtPhysicalMemProp prop = prop0();
	aclrtDrvMemHandle h;
	void *va;

	if (aclInit(NULL) || aclrtSetDevice(0) || aclrtMallocPhysical(&h, G, &prop, 0))
		return -1;
	hostlo = mmap(NULL, 4 * G, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hostlo == MAP_FAILED)
		return -1;
	edge = (void *)(((uintptr_t)hostlo + PAGE + G - 1) & ~(G - 1));
	munmap(edge, G);
	if (aclrtReserveMemAddress(&va, G, 0, edge, 0) || va != edge)
		return -1;
	if (aclrtReserveMemAddress(&dev, G, 0, NULL, 0) || aclrtMapMem(dev, G, 0, h, 0))
		return -1;
	return 0;
}

/* Child exit status: 0 if @r is 107000. */
static int is_107000(aclError r)
{
	return r == ACL_ERROR_RT_PARAM_INVALID ? 0 : 1;
}

static int copy_h2d_into_resv(void)
{
	if (copy_setup())
		return 10;
	return is_107000(aclrtMemcpy(dev, 128, (char *)edge - 64, 128, ACL_MEMCPY_HOST_TO_DEVICE));
}

static int copy_d2h_into_resv(void)
{
	if (copy_setup())
		return 10;
	return is_107000(aclrtMemcpy((char *)edge - 64, 128, dev, 128, ACL_MEMCPY_DEVICE_TO_HOST));
}

static int memset_into_resv(void)
{
	if (copy_setup())
		return 10;
	return is_107000(aclrtMemset((char *)edge - 64, 128, 0, 128));
}

static int memset_from_resv_end(void)
{
	if (copy_setup())
		return 10;
	return is_107000(aclrtMemset((char *)edge + G - 64, 128, 0, 128));
}

static int memset_wraps(void)
{
	if (copy_setup())
		return 10;
	return is_107000(aclrtMemset((void *)(UINTPTR_MAX - 63), 128, 0, 128));
}

static int copy_up_to_resv(void)
{
	if (copy_setup())
		return 10;
	memset((char *)edge - 64, 7, 64);
	if (aclrtMemcpy(dev, 64, (char *)edge - 64, 64, ACL_MEMCPY_HOST_TO_DEVICE) ||
	    aclrtMemset((char *)edge - 64, 64, 0, 64) ||
	    aclrtMemcpy((char *)edge - 64, 64, dev, 64, ACL_MEMCPY_DEVICE_TO_HOST))
		return 1;
	return ((char *)edge)[-1] == 7 ? 0 : 2;
}

/* A copy whose host side faults into userfaultfd must not hold off writers. */
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

static void copy_stalled_on_host_fault(void *dev_va, bool to_dev)
{
	const char *name = to_dev ? "copy: a writer proceeds while an H2D copy waits on a host page fault" :
				    "copy: a writer proceeds while a D2H copy waits on a host page fault";
	struct stall s = { .dev = dev_va, .to_dev = to_dev, .copy_ret = -1 };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_zeropage zp = { .mode = 0 };
	struct pollfd pfd;
	struct uffd_msg msg;
	pthread_t copier, writer;
	bool writing = false;
	int i;

	s.uffd = uffd_open();
	if (s.uffd < 0) {
		printf("ok - %s # SKIP no userfaultfd (%s)\n", name, strerror(errno));
		return;
	}
	s.page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	reg.range.start = (uintptr_t)s.page;
	reg.range.len = PAGE;
	if (s.page == MAP_FAILED || ioctl(s.uffd, UFFDIO_REGISTER, &reg)) {
		tap_result(0, name, "userfaultfd register: %s", strerror(errno));
		close(s.uffd);
		return;
	}
	pthread_create(&copier, NULL, stall_copier, &s);
	pfd.fd = s.uffd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 5000) != 1 || read(s.uffd, &msg, sizeof(msg)) != sizeof(msg)) {
		tap_result(0, name, "the copy never faulted on the host page");
	} else {
		writing = !pthread_create(&writer, NULL, stall_writer, &s);
		for (i = 0; i < 200 && !atomic_load(&s.writer_done); i++)
			usleep(10000);
		tap_result(atomic_load(&s.writer_done), name,
			   "ReserveMemAddress waited 2 s for the stalled copy (the lock is held across it)");
	}
	zp.range = reg.range;
	ioctl(s.uffd, UFFDIO_ZEROPAGE, &zp);
	pthread_join(copier, NULL);
	if (writing)
		pthread_join(writer, NULL);
	TAP_CHECK(to_dev ? "copy: the stalled H2D copy completes" : "copy: the stalled D2H copy completes",
		  atomic_load(&s.copy_ret) == ACL_SUCCESS);
	close(s.uffd);
	munmap(s.page, PAGE);
}

static void copies(void)
{
	aclrtPhysicalMemProp prop = prop0();
	aclrtDrvMemHandle h = NULL;
	void *va = NULL;

	in_child("copy: H2D from host memory running into a reservation is 107000", copy_h2d_into_resv, 20);
	in_child("copy: D2H to host memory running into a reservation is 107000", copy_d2h_into_resv, 20);
	in_child("copy: Memset of host memory running into a reservation is 107000", memset_into_resv, 20);
	in_child("copy: Memset from a reservation's end into host memory is 107000", memset_from_resv_end, 20);
	in_child("copy: Memset of a range that wraps around is 107000", memset_wraps, 20);
	in_child("copy: host memory that ends where a reservation starts is plain host memory",
		 copy_up_to_resv, 20);

	ACL_OK("copy: MallocPhysical", aclrtMallocPhysical(&h, G, &prop, 0));
	ACL_OK("copy: ReserveMemAddress", aclrtReserveMemAddress(&va, G, 0, NULL, 0));
	ACL_OK("copy: MapMem", aclrtMapMem(va, G, 0, h, 0));
	copy_stalled_on_host_fault(va, true);
	copy_stalled_on_host_fault(va, false);
	ACL_OK("copy: UnmapMem", aclrtUnmapMem(va));
	ACL_OK("copy: ReleaseMemAddress", aclrtReleaseMemAddress(va));
	ACL_OK("copy: FreePhysical", aclrtFreePhysical(h));
}

/* ---- each device's granularity, as DEVICE_INFO reports it ---- */

static void granularity_per_device(void)
{
	aclrtPhysicalMemProp p0 = prop0(), p1 = acl_dev_prop(1, ACL_MEM_NORMAL);
	size_t g0 = 0, g1 = 0, k64 = 64 << 10, f0 = 0, f1 = 0, t;
	aclrtDrvMemHandle h0 = NULL, h1 = NULL;
	void *va = NULL;

	npu_dev_fake_set_granularity(1, k64);
	ACL_OK("granularity: aclInit with 64 KiB on device 1", aclInit(NULL));
	ACL_OK("granularity: device 0",
	       aclrtMemGetAllocationGranularity(&p0, ACL_RT_MEM_ALLOC_GRANULARITY_MINIMUM, &g0));
	ACL_OK("granularity: device 1",
	       aclrtMemGetAllocationGranularity(&p1, ACL_RT_MEM_ALLOC_GRANULARITY_MINIMUM, &g1));
	TAP_CHECK("granularity: 2 MiB on device 0, 64 KiB on device 1", g0 == G && g1 == k64);
	ACL_OK("granularity: MallocPhysical 64 KiB on device 1", aclrtMallocPhysical(&h1, k64, &p1, 0));
	ACL_OK("granularity: ReserveMemAddress", aclrtReserveMemAddress(&va, k64, 0, NULL, 0));
	ACL_OK("granularity: MapMem 64 KiB", aclrtMapMem(va, k64, 0, h1, 0));
	ACL_OK("granularity: UnmapMem", aclrtUnmapMem(va));
	ACL_OK("granularity: ReleaseMemAddress", aclrtReleaseMemAddress(va));
	aclrtSetDevice(0);
	aclrtGetMemInfo(ACL_HBM_MEM, &f0, &t);
	ACL_OK("granularity: MallocPhysical 64 KiB on device 0", aclrtMallocPhysical(&h0, k64, &p0, 0));
	aclrtGetMemInfo(ACL_HBM_MEM, &f1, &t);
	TAP_CHECK("granularity: ... takes 2 MiB there", f0 - f1 == G);
	ACL_OK("granularity: FreePhysical (device 0)", aclrtFreePhysical(h0));
	ACL_OK("granularity: FreePhysical (device 1)", aclrtFreePhysical(h1));
	ACL_OK("granularity: aclFinalize", aclFinalize());
	npu_dev_fake_set_granularity(1, 0);
}

int main(void)
{
	ACL_OK("aclInit with the stand-in device", aclInit(NULL));
	ACL_OK("SetDevice(0)", aclrtSetDevice(0));
	stale_handles();
	fork_forgets();
	in_child("cancel: a thread cancelled inside aclInit leaves the lock free", child_cancel_init, 10);
	in_child("cancel: a thread cancelled inside aclFinalize leaves the lock free", child_cancel_finalize, 10);
	map_failure_restores_placeholder();
	map_failure_hole_taken(false);
	map_failure_hole_taken(true);
	copies();
	cycles();
	granularity_per_device();
	return tap_done();
}
