// SPDX-License-Identifier: MIT
/*
 * Streams that wait (shim_stream.c) against the stand-in device: aclrtValueWait
 * holds the work queued after it on its stream until its condition holds,
 * aclrtValueWrite, the synchronize calls (with timeouts), aclrtSynchronizeDevice,
 * stream destroy and device reset with queued work, the memcpy kinds 5-7, and
 * every refusal with its code.  Built from the library's sources with
 * LeakSanitizer and UBSan (test_acl_stream) and with ThreadSanitizer
 * (test_acl_stream_tsan).  Each test runs in a process of its own.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "npu_dev_fake.h"
#include "tests/user/harness.h"
#include "tests/user/acl_util.h"

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 30

#define G (2UL << 20)

/* CANN's ACL_ERROR_RT_STREAM_SYNC_TIMEOUT (not in our headers yet). */
#define SYNC_TIMEOUT 507046

/* CANN's values (acl/acl_rt.h) and signatures: a mismatch does not compile. */
_Static_assert(ACL_STREAM_WAIT_VALUE_GEQ == 0 && ACL_STREAM_WAIT_VALUE_EQ == 1 &&
	       ACL_STREAM_WAIT_VALUE_AND == 2 && ACL_STREAM_WAIT_VALUE_NOR == 3, "wait flags");
_Static_assert(ACL_MEMCPY_HOST_TO_BUF_TO_DEVICE == 5 && ACL_MEMCPY_INNER_DEVICE_TO_DEVICE == 6 &&
	       ACL_MEMCPY_INTER_DEVICE_TO_DEVICE == 7, "memcpy kinds");
_Static_assert(ACL_ERROR_RT_STREAM_CONTEXT == 107003, "codes");
static __attribute__((unused)) aclError (*const proto_wait)(void *, uint64_t, uint32_t, aclrtStream) = aclrtValueWait;
static __attribute__((unused)) aclError (*const proto_write)(void *, uint64_t, uint32_t, aclrtStream) = aclrtValueWrite;
static __attribute__((unused)) aclError (*const proto_sync_dev)(void) = aclrtSynchronizeDevice;
static __attribute__((unused)) aclError (*const proto_sync_dev_to)(int32_t) = aclrtSynchronizeDeviceWithTimeout;
static __attribute__((unused)) aclError (*const proto_sync_to)(aclrtStream, int32_t) = aclrtSynchronizeStreamWithTimeout;

int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static int leaks(void)
{
	return __lsan_do_recoverable_leak_check ? __lsan_do_recoverable_leak_check() : 0;
}

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

static void msleep(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&t, NULL);
}

/*
 * ThreadSanitizer runs a thread of its own, started when it likes, and does
 * not let a forked child start threads: those checks are for the other build.
 */
#ifdef __SANITIZE_THREAD__
#define TSAN 1
#else
#define TSAN 0
#endif

/* Threads of this process (under ThreadSanitizer: 0, see above). */
static int nthreads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (TSAN)
		return 0;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* aclInit, device 0 current, and one mapped 2 MiB of device @dev memory at *va. */
struct devmem {
	aclrtDrvMemHandle h;
	void *va;
};

static void map_dev(struct __test_metadata *_metadata, int32_t dev, struct devmem *m)
{
	aclrtPhysicalMemProp prop = acl_dev_prop((uint32_t)dev, ACL_HBM_MEM_HUGE);

	ASSERT_ACL_OK(aclrtMallocPhysical(&m->h, G, &prop, 0));
	ASSERT_ACL_OK(aclrtReserveMemAddress(&m->va, G, 0, NULL, 0));
	ASSERT_ACL_OK(aclrtMapMem(m->va, G, 0, m->h, 0));
	ASSERT_ACL_OK(aclrtMemset(m->va, G, 0, G));
}

static void unmap_dev(struct __test_metadata *_metadata, struct devmem *m)
{
	EXPECT_ACL_OK(aclrtUnmapMem(m->va));
	EXPECT_ACL_OK(aclrtReleaseMemAddress(m->va));
	EXPECT_ACL_OK(aclrtFreePhysical(m->h));
}

static void init_dev0(struct __test_metadata *_metadata, struct devmem *m)
{
	ASSERT_ACL_OK(aclInit(NULL)) TH_LOG("aclInit with the stand-in device");
	ASSERT_ACL_OK(aclrtSetDevice(0));
	map_dev(_metadata, 0, m);
}

static uint64_t peek(struct __test_metadata *_metadata, const void *dev)
{
	uint64_t v = 0;

	EXPECT_ACL_OK(aclrtMemcpy(&v, sizeof(v), dev, sizeof(v), ACL_MEMCPY_DEVICE_TO_HOST));
	return v;
}

static void poke(struct __test_metadata *_metadata, void *dev, uint64_t v)
{
	EXPECT_ACL_OK(aclrtMemcpy(dev, sizeof(v), &v, sizeof(v), ACL_MEMCPY_HOST_TO_DEVICE));
}

/* ---- a thread that writes later ---- */

struct later {
	void *addr;
	uint64_t value;
	long delay_ms;
	long done_at;		/* ms, when the write went in */
	pthread_t t;
};

/* As the sample's writer: ValueWrite on a stream of its own, then synchronize it. */
static void *write_later(void *arg)
{
	struct later *l = arg;
	aclrtStream s = NULL;
	aclError e;

	e = aclrtSetDevice(0);
	if (!e)
		e = aclrtCreateStream(&s);
	msleep(l->delay_ms);
	l->done_at = now_ms();
	if (!e)
		e = aclrtValueWrite(l->addr, l->value, 0, s);
	if (!e)
		e = aclrtSynchronizeStream(s);
	if (!e)
		e = aclrtDestroyStream(s);
	return (void *)(intptr_t)e;
}

static void start_later(struct __test_metadata *_metadata, struct later *l, void *addr, uint64_t v, long ms)
{
	l->addr = addr;
	l->value = v;
	l->delay_ms = ms;
	ASSERT_EQ(0, pthread_create(&l->t, NULL, write_later, l));
}

static void join_later(struct __test_metadata *_metadata, struct later *l)
{
	void *r = NULL;

	ASSERT_EQ(0, pthread_join(l->t, &r));
	EXPECT_EQ(0, (int)(intptr_t)r) TH_LOG("the later ValueWrite succeeded");
}

/* ---- the sample's flow: wait on A, write on B from another thread ---- */

TEST(wait_holds_the_stream_until_a_write)
{
	struct devmem m;
	aclrtStream a = NULL;
	struct later l;
	char *data;
	uint64_t mark = 0x1122334455667788ULL, got = 0;
	long t0, took;

	init_dev0(_metadata, &m);
	data = (char *)m.va + 4096;
	ASSERT_ACL_OK(aclrtCreateStream(&a));
	EXPECT_ACL_OK(aclrtValueWait(m.va, 100, ACL_STREAM_WAIT_VALUE_EQ, a))
		TH_LOG("ValueWait returns at once (asynchronous)");
	EXPECT_ACL_OK(aclrtMemcpyAsync(data, 8, &mark, 8, ACL_MEMCPY_HOST_TO_DEVICE, a))
		TH_LOG("a copy behind the wait is queued");
	EXPECT_ACL_OK(aclrtValueWrite((char *)m.va + 8, 7, 0, a)) TH_LOG("a write behind the wait is queued");
	msleep(50);
	EXPECT_EQ(0, peek(_metadata, data)) TH_LOG("the queued copy has not run (50 ms later)");
	EXPECT_EQ(0, peek(_metadata, (char *)m.va + 8)) TH_LOG("nor the queued write");
	EXPECT_ACL_MSG(SYNC_TIMEOUT, "still waits after 30 ms", aclrtSynchronizeStreamWithTimeout(a, 30))
		TH_LOG("SynchronizeStreamWithTimeout(30 ms) times out");
	EXPECT_ACL(SYNC_TIMEOUT, aclrtSynchronizeStreamWithTimeout(a, 0)) TH_LOG("timeout 0 looks once");
	t0 = now_ms();
	start_later(_metadata, &l, m.va, 100, 200);
	EXPECT_ACL_OK(aclrtSynchronizeStream(a)) TH_LOG("SynchronizeStream returns once the value is written");
	took = now_ms() - t0;
	join_later(_metadata, &l);
	EXPECT_GE(now_ms(), l.done_at);
	EXPECT_LE(l.done_at - t0, took) TH_LOG("SynchronizeStream returned only after the write (%ld ms)", took);
	EXPECT_GE(took, 150) TH_LOG("SynchronizeStream blocked for %ld ms (the write came after 200)", took);
	got = peek(_metadata, data);
	EXPECT_EQ(mark, got) TH_LOG("the queued copy ran after the wait");
	EXPECT_EQ(7, peek(_metadata, (char *)m.va + 8)) TH_LOG("... and the queued write");
	EXPECT_ACL_OK(aclrtSynchronizeStreamWithTimeout(a, 0)) TH_LOG("an idle stream: timeout 0 is fine");
	EXPECT_ACL_OK(aclrtDestroyStream(a));
	unmap_dev(_metadata, &m);
	EXPECT_ACL_OK(aclFinalize());
	EXPECT_EQ(0, leaks());
}

/* A met wait, and a write on an idle stream, complete at once (no thread). */
TEST(idle_stream_runs_at_once)
{
	struct devmem m;
	int before;

	init_dev0(_metadata, &m);
	before = nthreads();
	EXPECT_ACL_OK(aclrtValueWrite(m.va, 42, 0, NULL));
	EXPECT_EQ(42, peek(_metadata, m.va)) TH_LOG("ValueWrite on an idle stream writes at once");
	EXPECT_ACL_OK(aclrtValueWait(m.va, 42, ACL_STREAM_WAIT_VALUE_EQ, NULL));
	EXPECT_ACL_OK(aclrtSynchronizeStreamWithTimeout(NULL, 0)) TH_LOG("a met wait leaves the stream idle");
	EXPECT_EQ(before, nthreads()) TH_LOG("no worker thread was started");
	unmap_dev(_metadata, &m);
	EXPECT_ACL_OK(aclFinalize());
}

/* The four conditions of CANN's docs (api_ref/11-09_stream_memory_operation.md). */
TEST(conditions)
{
	static const struct {
		uint32_t flag;
		uint64_t mem, value;
		bool met;
	} c[] = {
		{ ACL_STREAM_WAIT_VALUE_GEQ, 5, 5, true },
		{ ACL_STREAM_WAIT_VALUE_GEQ, 6, 5, true },
		{ ACL_STREAM_WAIT_VALUE_GEQ, 4, 5, false },
		/* (int64_t)(*devAddr - value) >= 0: wraps, as a sequence number */
		{ ACL_STREAM_WAIT_VALUE_GEQ, 0, UINT64_MAX, true },
		{ ACL_STREAM_WAIT_VALUE_GEQ, UINT64_MAX, 0, false },
		{ ACL_STREAM_WAIT_VALUE_EQ, 9, 9, true },
		{ ACL_STREAM_WAIT_VALUE_EQ, 9, 8, false },
		{ ACL_STREAM_WAIT_VALUE_AND, 0x6, 0x4, true },
		{ ACL_STREAM_WAIT_VALUE_AND, 0x6, 0x9, false },
		{ ACL_STREAM_WAIT_VALUE_NOR, 0x6, 0x9, true },
		{ ACL_STREAM_WAIT_VALUE_NOR, 0xfffffffffffffff0ULL, 0xf, false },
	};
	struct devmem m;
	aclrtStream s;
	unsigned int i;

	init_dev0(_metadata, &m);
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		ASSERT_ACL_OK(aclrtCreateStream(&s));
		poke(_metadata, m.va, c[i].mem);
		EXPECT_ACL_OK(aclrtValueWait(m.va, c[i].value, c[i].flag, s));
		EXPECT_ACL(c[i].met ? ACL_SUCCESS : SYNC_TIMEOUT, aclrtSynchronizeStreamWithTimeout(s, 20))
			TH_LOG("flag %u, *devAddr 0x%llx, value 0x%llx: %s", c[i].flag,
			       (unsigned long long)c[i].mem, (unsigned long long)c[i].value,
			       c[i].met ? "met" : "not met");
		EXPECT_ACL_OK(aclrtDestroyStreamForce(s)) TH_LOG("DestroyStreamForce discards the wait");
	}
	unmap_dev(_metadata, &m);
	EXPECT_ACL_OK(aclFinalize());
	EXPECT_EQ(0, leaks());
}

/* Waits in a chain across two streams: each step waits for the other's write. */
TEST(ping_pong_between_streams)
{
	struct devmem m;
	aclrtStream a, b;
	uint64_t *ping, *pong;
	uint64_t i, n = 50;

	init_dev0(_metadata, &m);
	ping = m.va;
	pong = (uint64_t *)m.va + 1;
	ASSERT_ACL_OK(aclrtCreateStream(&a));
	ASSERT_ACL_OK(aclrtCreateStream(&b));
	/* All queued up front: a waits for b's ping i, answers pong i; b the other way round. */
	for (i = 1; i <= n; i++) {
		EXPECT_ACL_OK(aclrtValueWait(ping, i, ACL_STREAM_WAIT_VALUE_GEQ, a));
		EXPECT_ACL_OK(aclrtValueWrite(pong, i, 0, a));
		EXPECT_ACL_OK(aclrtValueWrite(ping, i, 0, b));
		EXPECT_ACL_OK(aclrtValueWait(pong, i, ACL_STREAM_WAIT_VALUE_EQ, b));
	}
	EXPECT_ACL_OK(aclrtSynchronizeStreamWithTimeout(b, 10000)) TH_LOG("b's chain completes");
	EXPECT_ACL_OK(aclrtSynchronizeStreamWithTimeout(a, 10000)) TH_LOG("a's chain completes");
	EXPECT_EQ(n, peek(_metadata, ping));
	EXPECT_EQ(n, peek(_metadata, pong));
	EXPECT_ACL_OK(aclrtDestroyStream(a));
	EXPECT_ACL_OK(aclrtDestroyStream(b));
	unmap_dev(_metadata, &m);
	EXPECT_ACL_OK(aclFinalize());
	EXPECT_EQ(0, leaks());
}

/* While a wait waits, the process sleeps: the worker polls, it does not spin. */
TEST(a_waiting_wait_costs_little_cpu_and_its_thread_ends)
{
	struct timespec c0, c1;
	struct devmem m;
	int before;
	long cpu_ms;

	init_dev0(_metadata, &m);
	before = nthreads();
	EXPECT_ACL_OK(aclrtValueWait(m.va, 1, ACL_STREAM_WAIT_VALUE_EQ, NULL));
	EXPECT_EQ(before + !TSAN, nthreads()) TH_LOG("a worker thread runs while the wait waits");
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	EXPECT_ACL(SYNC_TIMEOUT, aclrtSynchronizeStreamWithTimeout(NULL, 500));
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	cpu_ms = (c1.tv_sec - c0.tv_sec) * 1000L + (c1.tv_nsec - c0.tv_nsec) / 1000000L;
	EXPECT_LT(cpu_ms, 200) TH_LOG("500 ms of waiting cost %ld ms of CPU (worker and sync)", cpu_ms);
	ksft_print_msg("500 ms blocked in a wait cost %ld ms of CPU\n", cpu_ms);
	EXPECT_ACL_OK(aclrtValueWrite(m.va, 1, 0, NULL)) TH_LOG("queued behind the wait...");
	EXPECT_ACL(SYNC_TIMEOUT, aclrtSynchronizeStreamWithTimeout(NULL, 50))
		TH_LOG("... so it cannot satisfy it: still waiting");
	poke(_metadata, m.va, 1);
	EXPECT_ACL_OK(aclrtSynchronizeStream(NULL)) TH_LOG("a synchronous copy satisfies it");
	msleep(50);
	EXPECT_EQ(before, nthreads()) TH_LOG("the worker ended with the last queue");
	unmap_dev(_metadata, &m);
	EXPECT_ACL_OK(aclFinalize());
}

/* ---- aclrtSynchronizeDevice ---- */

TEST(synchronize_device_waits_for_every_stream_of_the_device)
{
	struct devmem m, m1;
	aclrtStream a, other;
	struct later l;
	long t0;

	init_dev0(_metadata, &m);
	ASSERT_ACL_OK(aclrtSetDevice(1));
	map_dev(_metadata, 1, &m1);
	ASSERT_ACL_OK(aclrtCreateStream(&other));
	EXPECT_ACL_OK(aclrtValueWait(m1.va, 1, ACL_STREAM_WAIT_VALUE_EQ, other)) TH_LOG("device 1 waits");
	ASSERT_ACL_OK(aclrtSetDevice(0));
	EXPECT_ACL_OK(aclrtSynchronizeDeviceWithTimeout(0)) TH_LOG("device 0: nothing waits");
	ASSERT_ACL_OK(aclrtCreateStream(&a));
	EXPECT_ACL_OK(aclrtValueWait(m.va, 1, ACL_STREAM_WAIT_VALUE_EQ, a));
	EXPECT_ACL(SYNC_TIMEOUT, aclrtSynchronizeDeviceWithTimeout(20)) TH_LOG("stream a waits");
	EXPECT_ACL_OK(aclrtValueWait((char *)m.va + 8, 1, ACL_STREAM_WAIT_VALUE_EQ, NULL))
		TH_LOG("the default stream waits too");
	poke(_metadata, m.va, 1);
	EXPECT_ACL_OK(aclrtSynchronizeStream(a));
	EXPECT_ACL(SYNC_TIMEOUT, aclrtSynchronizeDeviceWithTimeout(20)) TH_LOG("the default stream still waits");
	t0 = now_ms();
	start_later(_metadata, &l, (char *)m.va + 8, 1, 100);
	EXPECT_ACL_OK(aclrtSynchronizeDevice()) TH_LOG("SynchronizeDevice returns after the write");
	join_later(_metadata, &l);
	EXPECT_GE(now_ms() - t0, 80);
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtSynchronizeDeviceWithTimeout(-2));
	EXPECT_ACL_OK(aclrtDestroyStreamForce(other)) TH_LOG("device 1's wait is discarded");
	EXPECT_ACL_OK(aclrtDestroyStream(a));
	unmap_dev(_metadata, &m1);
	unmap_dev(_metadata, &m);
	EXPECT_ACL_OK(aclFinalize());
	EXPECT_EQ(0, leaks());
}

/* ---- destroy, reset, finalize with queued work ---- */

TEST(destroy_waits_force_discards)
{
	struct devmem m;
	aclrtStream a, b;
	struct later l;
	uint64_t mark = 5;
	long t0;

	init_dev0(_metadata, &m);
	ASSERT_ACL_OK(aclrtCreateStream(&a));
	ASSERT_ACL_OK(aclrtCreateStream(&b));
	EXPECT_ACL_OK(aclrtValueWait(m.va, 1, ACL_STREAM_WAIT_VALUE_EQ, b));
	EXPECT_ACL_OK(aclrtMemcpyAsync((char *)m.va + 16, 8, &mark, 8, ACL_MEMCPY_HOST_TO_DEVICE, b));
	EXPECT_ACL_OK(aclrtDestroyStreamForce(b)) TH_LOG("DestroyStreamForce returns at once");
	EXPECT_ACL_OK(aclrtValueWait(m.va, 1, ACL_STREAM_WAIT_VALUE_EQ, a));
	EXPECT_ACL_OK(aclrtMemcpyAsync((char *)m.va + 24, 8, &mark, 8, ACL_MEMCPY_HOST_TO_DEVICE, a));
	t0 = now_ms();
	start_later(_metadata, &l, m.va, 1, 100);
	EXPECT_ACL_OK(aclrtDestroyStream(a)) TH_LOG("DestroyStream waits for the queued work");
	join_later(_metadata, &l);
	EXPECT_GE(now_ms() - t0, 80) TH_LOG("DestroyStream returned after the write");
	EXPECT_EQ(5, peek(_metadata, (char *)m.va + 24)) TH_LOG("a's queued copy ran");
	EXPECT_EQ(0, peek(_metadata, (char *)m.va + 16)) TH_LOG("b's was discarded");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtSynchronizeStream(b)) TH_LOG("b is gone");
	unmap_dev(_metadata, &m);
	EXPECT_ACL_OK(aclFinalize());
	EXPECT_EQ(0, leaks());
}

TEST(reset_and_finalize_discard_queued_work)
{
	struct devmem m;
	aclrtStream a;
	uint64_t mark = 5;
	int before;

	init_dev0(_metadata, &m);
	before = nthreads();
	ASSERT_ACL_OK(aclrtCreateStream(&a));
	EXPECT_ACL_OK(aclrtValueWait(m.va, 1, ACL_STREAM_WAIT_VALUE_EQ, a));
	EXPECT_ACL_OK(aclrtValueWait(m.va, 1, ACL_STREAM_WAIT_VALUE_EQ, NULL));
	EXPECT_ACL_OK(aclrtMemcpyAsync((char *)m.va + 8, 8, &mark, 8, ACL_MEMCPY_HOST_TO_BUF_TO_DEVICE, NULL));
	EXPECT_ACL_OK(aclrtResetDeviceForce(0)) TH_LOG("ResetDeviceForce with queued work");
	ASSERT_ACL_OK(aclrtSetDevice(0));
	EXPECT_ACL_OK(aclrtSynchronizeDeviceWithTimeout(0)) TH_LOG("nothing waits after the reset");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtSynchronizeStream(a)) TH_LOG("the stream went with it");
	EXPECT_ACL_OK(aclrtValueWait(m.va, 1, ACL_STREAM_WAIT_VALUE_EQ, NULL));
	EXPECT_ACL_OK(aclrtMemcpyAsync((char *)m.va + 8, 8, &mark, 8, ACL_MEMCPY_HOST_TO_BUF_TO_DEVICE, NULL));
	EXPECT_EQ(0, peek(_metadata, (char *)m.va + 8)) TH_LOG("queued, not run");
	unmap_dev(_metadata, &m);
	EXPECT_ACL_OK(aclFinalize()) TH_LOG("aclFinalize with queued work");
	msleep(50);
	EXPECT_EQ(before, nthreads()) TH_LOG("the worker ended");
	EXPECT_EQ(0, leaks()) TH_LOG("the queued tasks and the copy's buffer were freed");
	EXPECT_ACL_OK(aclInit(NULL)) TH_LOG("aclInit again");
	ASSERT_ACL_OK(aclrtSetDevice(0));
	EXPECT_ACL_OK(aclrtSynchronizeStreamWithTimeout(NULL, 0)) TH_LOG("the default stream is idle");
	EXPECT_ACL_OK(aclFinalize());
}

/* A fork child has no worker: its first wait starts its own. */
TEST(fork_child_waits_with_its_own_worker)
{
	struct devmem m;
	pid_t pid;

	if (TSAN)
		SKIP(return, "ThreadSanitizer: a forked child of a threaded process cannot start threads");
	init_dev0(_metadata, &m);
	EXPECT_ACL_OK(aclrtValueWait(m.va, 1, ACL_STREAM_WAIT_VALUE_EQ, NULL)) TH_LOG("the parent waits");
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct devmem c;
		struct later l;

		EXPECT_ACL_OK(aclInit(NULL)) TH_LOG("child: aclInit");
		EXPECT_ACL_OK(aclrtSetDevice(0));
		map_dev(_metadata, 0, &c);
		EXPECT_ACL_OK(aclrtValueWait(c.va, 3, ACL_STREAM_WAIT_VALUE_EQ, NULL));
		start_later(_metadata, &l, c.va, 3, 50);
		EXPECT_ACL_OK(aclrtSynchronizeStreamWithTimeout(NULL, 5000)) TH_LOG("child: its wait is met");
		join_later(_metadata, &l);
		unmap_dev(_metadata, &c);
		EXPECT_ACL_OK(aclFinalize());
		_exit(_metadata->exit_code);
	}
	EXPECT_EQ(0, wait_child(pid)) TH_LOG("the child failed (above)");
	poke(_metadata, m.va, 1);
	EXPECT_ACL_OK(aclrtSynchronizeStreamWithTimeout(NULL, 5000)) TH_LOG("the parent's wait is met");
	unmap_dev(_metadata, &m);
	EXPECT_ACL_OK(aclFinalize());
}

/* ---- queued work that fails: the next synchronize reports it ---- */

TEST(queued_failures_reach_the_next_synchronize)
{
	struct devmem m, gone;
	aclrtStream a;
	uint64_t mark = 5;

	init_dev0(_metadata, &m);
	map_dev(_metadata, 0, &gone);
	ASSERT_ACL_OK(aclrtCreateStream(&a));
	EXPECT_ACL_OK(aclrtValueWait(m.va, 1, ACL_STREAM_WAIT_VALUE_EQ, a));
	EXPECT_ACL_OK(aclrtMemcpyAsync(gone.va, 8, &mark, 8, ACL_MEMCPY_HOST_TO_DEVICE, a))
		TH_LOG("queued: its destination is mapped now");
	EXPECT_ACL_OK(aclrtValueWrite((char *)gone.va + 8, 1, 0, a));
	EXPECT_ACL_OK(aclrtValueWrite((char *)m.va + 8, 9, 0, a));
	unmap_dev(_metadata, &gone);
	poke(_metadata, m.va, 1);
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "queued aclrtMemcpyAsync: aclrtMemcpy: dst range",
		       aclrtSynchronizeStream(a)) TH_LOG("the first failure (the copy's) is reported");
	EXPECT_EQ(9, peek(_metadata, (char *)m.va + 8)) TH_LOG("the work after the failures ran");
	EXPECT_ACL_OK(aclrtSynchronizeStream(a)) TH_LOG("reported once");
	/* A wait whose memory goes away */
	map_dev(_metadata, 0, &gone);
	EXPECT_ACL_OK(aclrtValueWait(gone.va, 1, ACL_STREAM_WAIT_VALUE_EQ, a));
	unmap_dev(_metadata, &gone);
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "aclrtValueWait: devAddr range", aclrtSynchronizeDevice())
		TH_LOG("SynchronizeDevice reports it");
	EXPECT_ACL_OK(aclrtDestroyStream(a));
	unmap_dev(_metadata, &m);
	EXPECT_ACL_OK(aclFinalize());
	EXPECT_EQ(0, leaks());
}

/* ---- memcpy kinds 5-7 ---- */

TEST(memcpy_host_to_buf_to_device)
{
	struct devmem m;
	aclrtStream a;
	uint64_t v = 11, host = 0;

	init_dev0(_metadata, &m);
	EXPECT_ACL_OK(aclrtMemcpy(m.va, 8, &v, 8, ACL_MEMCPY_HOST_TO_BUF_TO_DEVICE)) TH_LOG("kind 5, synchronous");
	EXPECT_EQ(11, peek(_metadata, m.va));
	ASSERT_ACL_OK(aclrtCreateStream(&a));
	EXPECT_ACL_OK(aclrtValueWait((char *)m.va + 8, 1, ACL_STREAM_WAIT_VALUE_EQ, a));
	v = 12;
	EXPECT_ACL_OK(aclrtMemcpyAsync((char *)m.va + 16, 8, &v, 8, ACL_MEMCPY_HOST_TO_BUF_TO_DEVICE, a))
		TH_LOG("kind 5, queued");
	v = 13;
	EXPECT_ACL_OK(aclrtMemcpyAsync((char *)m.va + 24, 8, &v, 8, ACL_MEMCPY_HOST_TO_DEVICE, a))
		TH_LOG("kind 1, queued");
	v = 14;	/* kind 5 took its own copy; kind 1 reads the source when it runs */
	poke(_metadata, (char *)m.va + 8, 1);
	EXPECT_ACL_OK(aclrtSynchronizeStream(a));
	EXPECT_EQ(12, peek(_metadata, (char *)m.va + 16)) TH_LOG("kind 5 copied the source as it was at the call");
	EXPECT_EQ(14, peek(_metadata, (char *)m.va + 24)) TH_LOG("kind 1 copied it as it was when it ran");
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "of ACL_MEMCPY_HOST_TO_BUF_TO_DEVICE is device memory",
		       aclrtMemcpy((char *)m.va + 32, 8, m.va, 8, ACL_MEMCPY_HOST_TO_BUF_TO_DEVICE));
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "of ACL_MEMCPY_HOST_TO_BUF_TO_DEVICE is device memory",
		       aclrtMemcpyAsync((char *)m.va + 32, 8, m.va, 8, ACL_MEMCPY_HOST_TO_BUF_TO_DEVICE, a));
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "dst range",
		       aclrtMemcpy(&host, 8, &v, 8, ACL_MEMCPY_HOST_TO_BUF_TO_DEVICE))
		TH_LOG("kind 5 into host memory");
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "dst range",
		       aclrtMemcpyAsync(&host, 8, &v, 8, ACL_MEMCPY_HOST_TO_BUF_TO_DEVICE, a));
	EXPECT_ACL_OK(aclrtDestroyStream(a));
	unmap_dev(_metadata, &m);
	EXPECT_ACL_OK(aclFinalize());
	EXPECT_EQ(0, leaks()) TH_LOG("kind 5's buffers were freed");
}

TEST(memcpy_inner_and_inter_device_kinds_are_refused)
{
	struct devmem m, m1;
	aclrtStream a;

	init_dev0(_metadata, &m);
	ASSERT_ACL_OK(aclrtSetDevice(1));
	map_dev(_metadata, 1, &m1);
	ASSERT_ACL_OK(aclrtSetDevice(0));
	ASSERT_ACL_OK(aclrtDeviceEnablePeerAccess(1, 0));
	ASSERT_ACL_OK(aclrtCreateStream(&a));
	/* CANN's MemcpyKindTranslate: 100000 whatever the addresses; DEVICE_TO_DEVICE does both. */
	EXPECT_ACL_MSG(ACL_ERROR_INVALID_PARAM, "use ACL_MEMCPY_DEVICE_TO_DEVICE",
		       aclrtMemcpy((char *)m.va + 8, 8, m.va, 8, ACL_MEMCPY_INNER_DEVICE_TO_DEVICE));
	EXPECT_ACL_MSG(ACL_ERROR_INVALID_PARAM, "use ACL_MEMCPY_DEVICE_TO_DEVICE",
		       aclrtMemcpyAsync((char *)m.va + 8, 8, m.va, 8, ACL_MEMCPY_INNER_DEVICE_TO_DEVICE, a));
	EXPECT_ACL_MSG(ACL_ERROR_INVALID_PARAM, "use ACL_MEMCPY_DEVICE_TO_DEVICE",
		       aclrtMemcpy(m1.va, 8, m.va, 8, ACL_MEMCPY_INTER_DEVICE_TO_DEVICE));
	EXPECT_ACL_MSG(ACL_ERROR_INVALID_PARAM, "use ACL_MEMCPY_DEVICE_TO_DEVICE",
		       aclrtMemcpyAsync(m1.va, 8, m.va, 8, ACL_MEMCPY_INTER_DEVICE_TO_DEVICE, a));
	EXPECT_ACL_MSG(ACL_ERROR_INVALID_PARAM, "kind 8 is not an aclrtMemcpyKind",
		       aclrtMemcpy(m1.va, 8, m.va, 8, (aclrtMemcpyKind)8));
	EXPECT_ACL_OK(aclrtMemcpy(m1.va, 8, m.va, 8, ACL_MEMCPY_DEVICE_TO_DEVICE))
		TH_LOG("DEVICE_TO_DEVICE between devices");
	EXPECT_ACL_OK(aclrtDestroyStream(a));
	unmap_dev(_metadata, &m1);
	unmap_dev(_metadata, &m);
	EXPECT_ACL_OK(aclFinalize());
}

/* ---- refusals ---- */

static void *wait_without_device(void *arg)
{
	return (void *)(intptr_t)aclrtValueWait(arg, 1, ACL_STREAM_WAIT_VALUE_EQ, NULL);
}

static void *sync_device_without_device(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)aclrtSynchronizeDevice();
}

static aclError in_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	void *r = NULL;

	if (pthread_create(&t, NULL, fn, arg) || pthread_join(t, &r))
		return -1;
	return (aclError)(intptr_t)r;
}

TEST(refusals)
{
	struct devmem m, m1;
	aclrtMemAccessDesc ro;
	aclrtStream a, on1;
	uint64_t host = 0;
	void *resv;

	/* Before aclInit (no call needs it) and before any aclrtSetDevice. */
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtValueWait(&host, 1, 0, NULL)) TH_LOG("host memory");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtValueWrite(&host, 1, 0, NULL));
	EXPECT_ACL(ACL_ERROR_RT_CONTEXT_NULL, aclrtSynchronizeDevice());
	EXPECT_ACL(ACL_ERROR_RT_CONTEXT_NULL, aclrtSynchronizeStreamWithTimeout(NULL, 0));
	init_dev0(_metadata, &m);
	ASSERT_ACL_OK(aclrtCreateStream(&a));

	EXPECT_ACL_MSG(ACL_ERROR_INVALID_PARAM, "devAddr is NULL", aclrtValueWait(NULL, 1, 0, a));
	EXPECT_ACL_MSG(ACL_ERROR_INVALID_PARAM, "devAddr is NULL", aclrtValueWrite(NULL, 1, 0, a));
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "flag is 4", aclrtValueWait(m.va, 1, 4, a));
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "flag is 1, must be 0", aclrtValueWrite(m.va, 1, 1, a));
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "devAddr range", aclrtValueWait(&host, 1, 0, a))
		TH_LOG("host memory");
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "devAddr range", aclrtValueWrite(&host, 1, 0, a));
	EXPECT_EQ(0, host) TH_LOG("a refused write wrote nothing");
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "not 8-byte aligned",
		       aclrtValueWait((char *)m.va + 4, 1, 0, a));
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "not 8-byte aligned",
		       aclrtValueWrite((char *)m.va + 4, 1, 0, a));
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "devAddr range",
		       aclrtValueWait((char *)m.va + G - 4, 1, 0, a)) TH_LOG("8 bytes past the mapping's end");
	ASSERT_ACL_OK(aclrtReserveMemAddress(&resv, G, 0, NULL, 0));
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "devAddr range", aclrtValueWait(resv, 1, 0, a))
		TH_LOG("reserved, not mapped");
	EXPECT_ACL_OK(aclrtReleaseMemAddress(resv));
	memset(&ro, 0, sizeof(ro));
	ro.flags = ACL_RT_MEM_ACCESS_FLAGS_READ;
	ro.location.type = ACL_MEM_LOCATION_TYPE_DEVICE;
	ro.location.id = 0;
	ASSERT_ACL_OK(aclrtMemSetAccess(m.va, G, &ro, 1));
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "without write access", aclrtValueWrite(m.va, 1, 0, a))
		TH_LOG("read-only mapping");
	EXPECT_ACL_OK(aclrtValueWait(m.va, 0, ACL_STREAM_WAIT_VALUE_EQ, a)) TH_LOG("... a wait may read it");
	ro.flags = ACL_RT_MEM_ACCESS_FLAGS_READWRITE;
	ASSERT_ACL_OK(aclrtMemSetAccess(m.va, G, &ro, 1));

	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "is not a live stream",
		       aclrtValueWait(m.va, 0, 0, (aclrtStream)(uintptr_t)0x7777));
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "is not a live stream",
		       aclrtValueWrite(m.va, 0, 0, (aclrtStream)(uintptr_t)0x7777));
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "is not a live stream",
		       aclrtSynchronizeStreamWithTimeout((aclrtStream)(uintptr_t)0x7777, 0));
	ASSERT_ACL_OK(aclrtSetDevice(1));
	map_dev(_metadata, 1, &m1);
	ASSERT_ACL_OK(aclrtCreateStream(&on1));
	ASSERT_ACL_OK(aclrtSetDevice(0));
	EXPECT_ACL_MSG(ACL_ERROR_RT_STREAM_CONTEXT, "belongs to device 1, the current device is 0",
		       aclrtValueWait(m1.va, 0, 0, on1));
	EXPECT_ACL_MSG(ACL_ERROR_RT_STREAM_CONTEXT, "belongs to device 1", aclrtValueWrite(m1.va, 0, 0, on1));
	EXPECT_EQ(ACL_ERROR_RT_CONTEXT_NULL, in_thread(wait_without_device, m.va))
		TH_LOG("ValueWait on a thread without a device is 107002");
	aclGetRecentErrMsg();
	EXPECT_EQ(ACL_ERROR_RT_CONTEXT_NULL, in_thread(sync_device_without_device, NULL))
		TH_LOG("SynchronizeDevice on a thread without a device is 107002");
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "timeout is -2", aclrtSynchronizeStreamWithTimeout(a, -2));
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "timeout is -2", aclrtSynchronizeDeviceWithTimeout(-2));
	EXPECT_ACL_OK(aclrtSynchronizeStreamWithTimeout(a, -1)) TH_LOG("-1: no limit");

	EXPECT_ACL_OK(aclrtDestroyStream(on1));
	EXPECT_ACL_OK(aclrtDestroyStream(a));
	unmap_dev(_metadata, &m1);
	unmap_dev(_metadata, &m);
	EXPECT_ACL_OK(aclFinalize());
}

/* ---- threads: queueing, the worker and copies at once (for ThreadSanitizer) ---- */

struct hammer {
	void *va;
	int id;
	aclError err;
};

static void *hammer(void *arg)
{
	struct hammer *h = arg;
	uint64_t *flag = (uint64_t *)h->va + h->id, v, i;
	char *data = (char *)h->va + 4096 * (h->id + 1);
	aclrtStream s;
	char buf[64];

	h->err = aclrtSetDevice(0);
	if (!h->err)
		h->err = aclrtCreateStream(&s);
	for (i = 1; i <= 100 && !h->err; i++) {
		memset(buf, (int)i, sizeof(buf));
		h->err = aclrtValueWait(flag, i, ACL_STREAM_WAIT_VALUE_GEQ, s);
		if (!h->err)
			h->err = aclrtMemcpyAsync(data, sizeof(buf), buf, sizeof(buf),
						  ACL_MEMCPY_HOST_TO_BUF_TO_DEVICE, s);
		v = i;
		if (!h->err)	/* satisfies the wait from this thread, synchronously */
			h->err = aclrtMemcpy(flag, 8, &v, 8, ACL_MEMCPY_HOST_TO_DEVICE);
		if (!h->err)
			h->err = aclrtSynchronizeStream(s);
		if (!h->err)
			h->err = aclrtMemcpy(buf, sizeof(buf), data, sizeof(buf), ACL_MEMCPY_DEVICE_TO_HOST);
		if (!h->err && buf[0] != (char)i)
			h->err = -1;
	}
	if (!h->err)
		h->err = aclrtDestroyStream(s);
	return NULL;
}

TEST(threads_queue_and_sync_at_once)
{
	struct hammer h[4];
	pthread_t t[4];
	struct devmem m;
	int i;

	init_dev0(_metadata, &m);
	for (i = 0; i < 4; i++) {
		h[i].va = m.va;
		h[i].id = i;
		ASSERT_EQ(0, pthread_create(&t[i], NULL, hammer, &h[i]));
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, h[i].err) TH_LOG("thread %d: 100 waits, copies, synchronizes", i);
	}
	unmap_dev(_metadata, &m);
	EXPECT_ACL_OK(aclFinalize());
	EXPECT_EQ(0, leaks());
}

TEST_HARNESS_MAIN
