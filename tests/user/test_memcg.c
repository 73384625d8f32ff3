// SPDX-License-Identifier: GPL-2.0
/*
 * Device memory is charged to the memory cgroup (v2) of the process that
 * allocates it, and to no other: an importer that maps and touches it is not
 * charged; the charge lives as long as the memory (not the allocating handle)
 * and goes when the last holder does, including on SIGKILL; and a cgroup's
 * allocation is never served by memory charged to another cgroup.
 *
 * Each role runs in a worker process that first joins its cgroup (A or B) and
 * then does what the parent asks over a pipe; the parent measures the
 * cgroups' memory.current.  The module's zero_reserve_mb (absent: 0) lets a
 * cgroup keep up to that many MiB of pre-zeroed chunks per device, charged to
 * it and refilled in the background, so the upper bounds allow that much more.
 * Skipped when the kernel has no memory controller.  Cases 1-5 are one
 * scenario; case 6 (the reserve under memory pressure) is a test of its own,
 * and so are cases 7-9: a cgroup's own limits reach its reserves (the
 * shrinker is memcg-aware, and refills respect memory.high and memory.max);
 * and case 10: an ALLOC past memory.max fails, it does not OOM-kill.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>

#include "cgroup.h"
#include "harness.h"
#include "npu.h"

#define CG_ROOT	"/sys/fs/cgroup"
#define RESERVE_PARAM "/sys/module/npu_mem/parameters/zero_reserve_mb"
#define DEVICES_PARAM "/sys/module/npu_mem/parameters/num_devices"
#define SZ	(64 * MIB)	/* the shared object */
#define SLACK	(4 * MIB)	/* kernel objects, page tables, per-cpu charge stock */
#define FAIL	UINT64_MAX

static char cg_a[64], cg_b[64];
static uint64_t reserve;	/* bytes a cgroup may hold beyond its live objects */
static unsigned int devices;	/* the module's num_devices */
static int mounted;

/* ---- cgroup files */

static int cg_write(const char *cg, const char *file, const char *s)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	return cgroup_write(path, s);
}

/* Is @word one of the space-separated words of @list? */
static int has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || !p[n]))
			return 1;
	return 0;
}

/* memory.current of @cg in bytes, or FAIL. */
static uint64_t cg_current(const char *cg)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), "%s/memory.current", cg);
	return cgroup_read(path, buf, sizeof(buf)) || !buf[0] ? FAIL : strtoull(buf, NULL, 10);
}

/* The count of @event in @cg's memory.events, or FAIL. */
static uint64_t cg_event(const char *cg, const char *event)
{
	char path[128], buf[512];
	size_t n = strlen(event);

	snprintf(path, sizeof(path), "%s/memory.events", cg);
	if (cgroup_read(path, buf, sizeof(buf)))
		return FAIL;
	for (char *p = strtok(buf, "\n"); p; p = strtok(NULL, "\n"))
		if (!strncmp(p, event, n) && p[n] == ' ')
			return strtoull(p + n + 1, NULL, 10);
	return FAIL;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * memory.current of @cg once it has stayed within 512 KiB for 300 ms (the
 * reserve's refill has finished), or its last value after 5 s.
 */
static uint64_t cg_settle(const char *cg)
{
	uint64_t start = now_ms(), since = start, ref = cg_current(cg), v = ref;

	while (now_ms() - since < 300 && now_ms() - start < 5000) {
		sleep_ms(20);
		v = cg_current(cg);
		if (v > ref + MIB / 2 || v + MIB / 2 < ref) {
			ref = v;
			since = now_ms();
		}
	}
	return v;
}

/*
 * memory.current of @cg once it has grown to @want (or 10 s have passed) and
 * then settled: a refill that a busy host slows down can pause for longer
 * than cg_settle() waits.
 */
static uint64_t cg_grow_settle(const char *cg, uint64_t want)
{
	uint64_t start = now_ms();

	while (cg_current(cg) < want && now_ms() - start < 10000)
		sleep_ms(20);
	return cg_settle(cg);
}

/* memory.current of @cg once it is at most @bound, or its last value after 5 s. */
static uint64_t cg_wait_le(const char *cg, uint64_t bound)
{
	uint64_t start = now_ms(), v;

	while ((v = cg_current(cg)) > bound && now_ms() - start < 5000)
		sleep_ms(20);
	return v;
}

/*
 * Mount cgroup2 if need be, enable the memory controller for the root's
 * children and create A and B.  Returns NULL, or why the test must be skipped.
 */
static const char *cg_setup(void)
{
	static char why[160];
	char buf[256];

	if (access(CG_ROOT "/cgroup.controllers", F_OK)) {
		if (mount("none", CG_ROOT, "cgroup2", 0, NULL)) {
			snprintf(why, sizeof(why), "cannot mount cgroup2 on " CG_ROOT ": %s",
				 strerror(errno));
			return why;
		}
		mounted = 1;
	}
	cgroup_read(CG_ROOT "/cgroup.controllers", buf, sizeof(buf));
	if (!has_word(buf, "memory"))
		return "no memory controller in " CG_ROOT "/cgroup.controllers";
	if (cgroup_write(CG_ROOT "/cgroup.subtree_control", "+memory")) {
		snprintf(why, sizeof(why), "cannot enable +memory in the root cgroup: %s",
			 strerror(errno));
		return why;
	}
	return NULL;
}

/* Move whatever is left in @cg to the root, then remove it. */
static int cg_remove(const char *cg)
{
	char path[128], buf[1024];

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	cgroup_read(path, buf, sizeof(buf));
	for (char *p = strtok(buf, "\n"); p; p = strtok(NULL, "\n"))
		cgroup_write(CG_ROOT "/cgroup.procs", p);
	return rmdir(cg);
}

/* ---- workers: one process in a cgroup, doing the parent's ioctls */

enum { OP_ALLOC = 1, OP_EXPORT, OP_IMPORT_TOUCH, OP_FREE, OP_FILL_RESERVES, OP_ANON,
       OP_ALLOC_ERRNO };

struct worker {
	pid_t pid;
	int cmd, reply;		/* the parent's ends of the pipes */
};

static struct worker wa, wb;	/* cleaned up at the end, whatever happened */

static uint64_t do_op(int fd, uint64_t op, uint64_t arg)
{
	uint64_t off, value;
	uint32_t h;
	char *va;

	switch (op) {
	case OP_ALLOC:		/* arg: size on device 0; returns the handle */
		return npu_alloc(fd, 0, arg, &h, NULL) ? FAIL : h;
	case OP_EXPORT:		/* arg: handle; returns the value (any pid may import) */
		return npu_export(fd, arg, NPU_MEM_EXPORT_DISABLE_PID_VALIDATION, &value) ?
		       FAIL : value;
	case OP_IMPORT_TOUCH:	/* arg: value of an SZ object; import, map, write each page */
		if (npu_import(fd, arg, 0, &h, &off) || !(va = npu_map(fd, off, SZ)))
			return FAIL;
		for (size_t i = 0; i < SZ; i += 4096)
			((volatile char *)va)[i] = 1;
		return h;
	case OP_FREE:		/* arg: handle */
		return npu_free(fd, arg) ? FAIL : 0;
	case OP_FILL_RESERVES:	/* arg: devices; allocate and free 2 MiB on each: their reserves fill */
		for (uint32_t dev = 0; dev < arg; dev++)
			if (npu_alloc(fd, dev, 2 * MIB, &h, NULL) || npu_free(fd, h))
				return FAIL;
		return 0;
	case OP_ALLOC_ERRNO:	/* arg: size on device 0; 0 (and freed again) or the errno */
		if (npu_alloc(fd, 0, arg, &h, NULL))
			return errno;
		return npu_free(fd, h) ? FAIL : 0;
	case OP_ANON:		/* arg: bytes; map and touch that much anonymous memory, kept */
		va = mmap(NULL, arg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (va == MAP_FAILED)
			return FAIL;
		for (size_t i = 0; i < arg; i += 4096)
			((volatile char *)va)[i] = 1;
		return 0;
	}
	return FAIL;
}

/* @w's next answer, or FAIL if it died. */
static uint64_t answer(struct worker *w)
{
	uint64_t r;

	return read(w->reply, &r, sizeof(r)) == sizeof(r) ? r : FAIL;
}

/* Fork a worker that joins @cg and opens the device; 0 when it is ready. */
static int spawn(struct worker *w, const char *cg)
{
	int cmd[2], reply[2];

	if (pipe(cmd) || pipe(reply) || (w->pid = fork()) < 0)
		return -1;
	if (w->pid == 0) {
		char pid[16];
		int fd;

		/* The other worker must see EOF when the parent closes its pipe. */
		for (struct worker *o = &wa; o; o = o == &wa ? &wb : NULL)
			if (o != w && o->pid > 0) {
				close(o->cmd);
				close(o->reply);
			}
		close(cmd[1]);
		close(reply[0]);
		snprintf(pid, sizeof(pid), "%d", getpid());
		fd = cg_write(cg, "cgroup.procs", pid) ? -1 : npu_open();
		put64(reply[1], fd < 0 ? FAIL : 0);
		for (;;) {	/* get64() exits when the parent closes the pipe */
			uint64_t op = get64(cmd[0]), arg = get64(cmd[0]);

			put64(reply[1], do_op(fd, op, arg));
		}
	}
	close(cmd[0]);
	close(reply[1]);
	w->cmd = cmd[1];
	w->reply = reply[0];
	return answer(w) == 0 ? 0 : -1;
}

/* Ask @w to do @op on @arg; its answer, or FAIL. */
static uint64_t call(struct worker *w, uint64_t op, uint64_t arg)
{
	uint64_t msg[2] = { op, arg };

	return write(w->cmd, msg, sizeof(msg)) == sizeof(msg) ? answer(w) : FAIL;
}

/* Make @w exit (by @sig, or by closing its pipe) and reap it. */
static void stop(struct worker *w, int sig)
{
	if (w->pid <= 0)
		return;
	if (sig)
		kill(w->pid, sig);
	close(w->cmd);
	close(w->reply);
	reap(w->pid);
	w->pid = 0;
}

/* ---- results */

/* @cg's memory.current went @from -> @to: pass if the change is in [@lo, @hi]. */
#define check_delta(name, cg, from, to, lo, hi) \
	__check_delta(_metadata, name, cg, from, to, lo, hi)
static void __check_delta(struct __test_metadata *_metadata, const char *name, const char *cg,
			  uint64_t from, uint64_t to, int64_t lo, int64_t hi)
{
	int64_t d = (int64_t)(to - from);

	printf("# %s: %llu -> %llu bytes (%+lld)\n", cg + strlen(CG_ROOT "/"),
	       (unsigned long long)from, (unsigned long long)to, (long long)d);
	EXPECT_TRUE(from != FAIL && to != FAIL && d >= lo && d <= hi)
		TH_LOG("%s: %s/memory.current went %llu -> %llu bytes (%+lld), "
		       "want a change in [%+lld, %+lld]", name,
		       cg, (unsigned long long)from, (unsigned long long)to, (long long)d,
		       (long long)lo, (long long)hi);
}

FIXTURE(memcg) {
	int unused;
};

/* Stop the workers, remove A and B (teardown, or a setup that failed: no teardown then). */
static void memcg_cleanup(struct __test_metadata *_metadata)
{
	stop(&wa, SIGKILL);
	stop(&wb, SIGKILL);
	if (cg_a[0])
		EXPECT_EQ(0, cg_remove(cg_a)) TH_LOG("cgroup A is removed");
	if (cg_b[0])
		EXPECT_EQ(0, cg_remove(cg_b)) TH_LOG("cgroup B is removed");
	cg_a[0] = cg_b[0] = '\0';
	/* The memory controller stays enabled: disabling it may wait for dying cgroups. */
	if (mounted)
		umount(CG_ROOT);
	mounted = 0;
}

/*
 * cgroup2 mounted (if need be), the memory controller enabled for the root's
 * children, and cgroups A and B created; or the test is skipped.
 */
FIXTURE_SETUP(memcg)
{
	const char *skip;
	char buf[32];

	signal(SIGPIPE, SIG_IGN);	/* a dead worker is an error from call(), not our death */
	if (!cgroup_read(RESERVE_PARAM, buf, sizeof(buf)))
		reserve = strtoull(buf, NULL, 10) * MIB;
	if (!cgroup_read(DEVICES_PARAM, buf, sizeof(buf)))
		devices = strtoul(buf, NULL, 10);
	printf("# zero_reserve_mb: %llu (bounds allow that much per cgroup and device)\n",
	       (unsigned long long)(reserve / MIB));

	skip = cg_setup();
	if (skip) {
		memcg_cleanup(_metadata);
		SKIP(return, "memcg charging: %s", skip);
	}
	snprintf(cg_a, sizeof(cg_a), CG_ROOT "/npu_memcg_a.%d", getpid());
	snprintf(cg_b, sizeof(cg_b), CG_ROOT "/npu_memcg_b.%d", getpid());
	if (mkdir(cg_a, 0755))
		cg_a[0] = '\0';
	EXPECT_TRUE(cg_a[0]) TH_LOG("cgroup A is created: %s", strerror(errno));
	if (mkdir(cg_b, 0755))
		cg_b[0] = '\0';
	EXPECT_TRUE(cg_b[0]) TH_LOG("cgroup B is created: %s", strerror(errno));
	if (_metadata->exit_code)
		memcg_cleanup(_metadata);
}

FIXTURE_TEARDOWN(memcg)
{
	memcg_cleanup(_metadata);
}

TEST_F(memcg, charges_follow_the_memory)
{
	const int64_t sz = SZ, slack = SLACK, res = reserve;
	uint64_t a0, a1, a2, b0, b1, h, value;

	ASSERT_TRUE(cg_a[0] && cg_b[0]);

	/* 1. A allocates and maps nothing: A pays for it (plus its reserve, at most). */
	ASSERT_EQ(0, spawn(&wa, cg_a) || spawn(&wb, cg_b))
		TH_LOG("workers join cgroups A and B: %s", strerror(errno));
	a0 = cg_settle(cg_a);
	h = call(&wa, OP_ALLOC, SZ);
	ASSERT_NE(FAIL, h) TH_LOG("A allocates 64 MiB on device 0");
	a1 = cg_settle(cg_a);
	check_delta("1. A's allocation of 64 MiB is charged to A", cg_a, a0, a1,
		    sz, sz + res + slack);

	/* 2. B imports, maps and touches every page: B is not charged. */
	value = call(&wa, OP_EXPORT, h);
	EXPECT_NE(FAIL, value) TH_LOG("A exports its object");
	b0 = cg_settle(cg_b);
	EXPECT_NE(FAIL, call(&wb, OP_IMPORT_TOUCH, value))
		TH_LOG("B imports, maps and touches every page");
	b1 = cg_settle(cg_b);
	check_delta("2. B's import and mapping are not charged to B", cg_b, b0, b1,
		    -slack, slack - 1);

	/* 3. The charge follows the memory, not A's handle. */
	EXPECT_EQ(0, call(&wa, OP_FREE, h)) TH_LOG("A frees its handle");
	a2 = cg_settle(cg_a);
	check_delta("3. A stays charged while B still holds the memory", cg_a, a1, a2,
		    -slack, res + slack);
	stop(&wb, 0);
	a2 = cg_wait_le(cg_a, a0 + reserve + SLACK);
	check_delta("3. A's charge goes when B, the last holder, exits", cg_a, a0, a2,
		    -slack, res + slack);

	/* 4. B's allocation is charged to B, not served from A's reserve. */
	stop(&wa, 0);
	ASSERT_EQ(0, spawn(&wb, cg_b)) TH_LOG("a new worker joins cgroup B: %s", strerror(errno));
	a1 = cg_settle(cg_a);
	b0 = cg_settle(cg_b);
	EXPECT_NE(FAIL, call(&wb, OP_ALLOC, SZ)) TH_LOG("B allocates 64 MiB on device 0");
	b1 = cg_settle(cg_b);
	a2 = cg_settle(cg_a);
	check_delta("4. B's allocation of 64 MiB is charged to B", cg_b, b0, b1,
		    sz, sz + res + slack);
	check_delta("4. A's charge does not move while B allocates", cg_a, a1, a2,
		    -slack, slack);
	stop(&wb, 0);

	/* 5. SIGKILL of the allocator uncharges A. */
	a0 = cg_settle(cg_a);
	ASSERT_EQ(0, spawn(&wa, cg_a)) TH_LOG("a new worker joins cgroup A: %s", strerror(errno));
	EXPECT_NE(FAIL, call(&wa, OP_ALLOC, SZ / 2)) TH_LOG("A allocates 32 MiB on device 0");
	a1 = cg_settle(cg_a);
	check_delta("5. A's allocation of 32 MiB is charged to A", cg_a, a0, a1,
		    sz / 2, sz / 2 + res + slack);
	stop(&wa, SIGKILL);
	a2 = cg_wait_le(cg_a, a0 + reserve + SLACK);
	check_delta("5. A's charge goes when the allocator is SIGKILLed", cg_a, a0, a2,
		    -slack, res + slack);
}

/*
 * 6. A's reserve (its allocations filled it) is given back to memory
 * pressure: drop_caches runs every shrinker.
 */
TEST_F(memcg, reserve_is_given_back_under_memory_pressure)
{
	const int64_t sz = SZ, slack = SLACK, res = reserve;
	uint64_t a0, a1, a2;

	if (!reserve)
		SKIP(return, "6. reserve given back to the shrinker: zero_reserve_mb is 0");
	ASSERT_TRUE(cg_a[0]);

	/* A allocation by A (killed again) fills A's reserve, as in case 5. */
	a0 = cg_settle(cg_a);
	ASSERT_EQ(0, spawn(&wa, cg_a)) TH_LOG("a worker joins cgroup A: %s", strerror(errno));
	EXPECT_NE(FAIL, call(&wa, OP_ALLOC, SZ / 2)) TH_LOG("A allocates 32 MiB on device 0");
	a1 = cg_settle(cg_a);
	check_delta("A's allocation of 32 MiB is charged to A", cg_a, a0, a1,
		    sz / 2, sz / 2 + res + slack);
	stop(&wa, SIGKILL);
	cg_wait_le(cg_a, a0 + reserve + SLACK);

	a1 = cg_settle(cg_a);
	EXPECT_EQ(0, cgroup_write("/proc/sys/vm/drop_caches", "2")) TH_LOG("drop_caches runs the shrinkers");
	a2 = cg_wait_le(cg_a, a1 - reserve + SLACK);
	check_delta("6. A's reserve is given back under memory pressure", cg_a, a1, a2,
		    -res - slack, -res + slack);
}

/*
 * A worker in A (with @limit written to A's memory.@file first, if any)
 * allocates and frees 2 MiB on devices 0 and 1: both of A's reserves fill.
 * Returns A's memory.current before that; *@after: once they have filled.
 */
/*
 * A's worker fills its reserves on two devices; *@after is memory.current
 * once it has settled, having grown by @grow (0: however much it grows).
 */
#define fill_two_reserves(file, limit, grow, after) \
	__fill_two_reserves(_metadata, file, limit, grow, after)
static uint64_t __fill_two_reserves(struct __test_metadata *_metadata, const char *file,
				    const char *limit, uint64_t grow, uint64_t *after)
{
	uint64_t a0;

	if (file)
		EXPECT_EQ(0, cg_write(cg_a, file, limit))
			TH_LOG("memory.%s of A is set to %s: %s", file, limit, strerror(errno));
	if (spawn(&wa, cg_a)) {
		EXPECT_TRUE(0) TH_LOG("a worker joins cgroup A: %s", strerror(errno));
		return FAIL;
	}
	a0 = cg_settle(cg_a);
	EXPECT_EQ(0, call(&wa, OP_FILL_RESERVES, 2))
		TH_LOG("A allocates and frees 2 MiB on devices 0 and 1");
	*after = cg_grow_settle(cg_a, a0 + grow);
	return a0;
}

/* Skip unless there are reserves on two devices to fill. */
#define NEED_TWO_RESERVES(what) do {						\
	if (!reserve)								\
		SKIP(return, "%s: zero_reserve_mb is 0", what);			\
	if (devices < 2)							\
		SKIP(return, "%s: fewer than 2 devices", what);			\
	ASSERT_TRUE(cg_a[0]);							\
} while (0)

/*
 * 7. Writing to A's memory.reclaim gives A's reserves back: the shrinker
 * reaches the reserves of the cgroup under reclaim.  (The write may fail with
 * EAGAIN: a cgroup's own reclaim does not count pages freed by shrinkers as
 * progress on 6.12.  What counts is what memory.current shows.)
 */
TEST_F(memcg, reserve_is_given_back_to_memory_reclaim)
{
	const int64_t slack = SLACK, res2 = 2 * reserve;
	uint64_t a0, a1, a2;
	char buf[32];
	int ret;

	NEED_TWO_RESERVES("7. memory.reclaim");
	a0 = fill_two_reserves(NULL, NULL, res2 - slack, &a1);
	ASSERT_NE(FAIL, a0);
	check_delta("7. A's reserves on two devices fill", cg_a, a0, a1,
		    res2 - slack, res2 + slack);

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)res2);
	ret = cg_write(cg_a, "memory.reclaim", buf);
	printf("# memory.reclaim %s: %s\n", buf, ret ? strerror(errno) : "done");
	a2 = cg_wait_le(cg_a, a0 + SLACK);
	check_delta("7. memory.reclaim gives A's reserves back", cg_a, a1, a2,
		    -res2 - slack, -res2 + slack);
}

/*
 * 8. With memory.max=256M, A's reserves fill (128 MiB with the default
 * zero_reserve_mb) and then A fills its cgroup with anonymous memory up to
 * near memory.max: the reserves give way, nothing is OOM-killed.  (The test
 * VM has no swap: anonymous memory cannot give way instead.)
 */
TEST_F(memcg, reserve_gives_way_to_memory_max)
{
	const int64_t slack = SLACK, res2 = 2 * reserve;
	const uint64_t max = 256 * MIB;
	uint64_t a0, a1, a2, anon, oom;

	NEED_TWO_RESERVES("8. memory.max");
	a0 = fill_two_reserves("memory.max", "256M", res2 - slack, &a1);
	ASSERT_NE(FAIL, a0);
	check_delta("8. A's reserves on two devices fill", cg_a, a0, a1,
		    res2 - slack, res2 + slack);
	ASSERT_LT(a0 + 4 * SLACK, max) TH_LOG("A has room for anonymous memory");

	anon = max - a0 - 4 * SLACK;
	printf("# A maps %llu MiB of anonymous memory (memory.max 256 MiB, %llu MiB in use)\n",
	       (unsigned long long)(anon / MIB), (unsigned long long)(a1 / MIB));
	EXPECT_EQ(0, call(&wa, OP_ANON, anon))
		TH_LOG("A maps and touches %llu MiB of anonymous memory and survives",
		       (unsigned long long)(anon / MIB));
	a2 = cg_current(cg_a);
	oom = cg_event(cg_a, "oom_kill");
	printf("# A: memory.current %llu MiB, oom_kill %llu\n",
	       (unsigned long long)(a2 / MIB), (unsigned long long)oom);
	EXPECT_EQ(0, oom) TH_LOG("8. A's memory.events shows no oom_kill");
}

/*
 * 9. With memory.high=48M, refilling A's reserves never pushes A over
 * memory.high; they still fill up to it.
 */
TEST_F(memcg, reserve_stays_under_memory_high)
{
	const uint64_t high = 48 * MIB;
	uint64_t a0, a1;

	NEED_TWO_RESERVES("9. memory.high");
	a0 = fill_two_reserves("memory.high", "48M", 0, &a1);
	ASSERT_NE(FAIL, a0);
	ASSERT_LT(a0 + 8 * MIB, high) TH_LOG("A starts well under memory.high");
	printf("# A: memory.current %llu -> %llu bytes, memory.high %llu, high events %llu\n",
	       (unsigned long long)a0, (unsigned long long)a1, (unsigned long long)high,
	       (unsigned long long)cg_event(cg_a, "high"));
	EXPECT_LE(a1, high) TH_LOG("9. A's reserves keep A under memory.high");
	EXPECT_GE(a1, a0 + 8 * MIB) TH_LOG("9. A's reserves still fill under memory.high");
}

/*
 * 10. An ALLOC that does not fit under A's memory.max fails with ENOMEM: an
 * allocation that can report failure must not call the OOM killer, which
 * would kill the caller or (here) a bystander in its cgroup holding more
 * memory.  Nothing stays charged.
 */
TEST_F(memcg, alloc_past_memory_max_fails_without_oom_kill)
{
	uint64_t a0, a1, r;

	ASSERT_TRUE(cg_a[0]);
	EXPECT_EQ(0, cg_write(cg_a, "memory.max", "96M")) TH_LOG("memory.max of A: 96M");
	ASSERT_EQ(0, spawn(&wa, cg_a)) TH_LOG("a worker joins A");
	ASSERT_EQ(0, spawn(&wb, cg_a)) TH_LOG("a bystander joins A");
	EXPECT_EQ(0, call(&wb, OP_ANON, 32 * MIB)) TH_LOG("the bystander holds 32 MiB");
	a0 = cg_settle(cg_a);
	r = call(&wa, OP_ALLOC_ERRNO, 128 * MIB);
	EXPECT_EQ(ENOMEM, r) TH_LOG("10. ALLOC of 128 MiB under memory.max 96M: %s",
				    r == FAIL ? "the worker died" : strerror((int)r));
	EXPECT_EQ(0, cg_event(cg_a, "oom_kill")) TH_LOG("10. A's memory.events shows no oom_kill");
	EXPECT_EQ(0, call(&wb, OP_FILL_RESERVES, 0)) TH_LOG("10. the bystander is alive");
	EXPECT_EQ(0, call(&wa, OP_FILL_RESERVES, 0)) TH_LOG("10. the worker is alive");
	a1 = cg_wait_le(cg_a, a0 + SLACK);
	check_delta("10. the failed ALLOC left no charge", cg_a, a0, a1, -(int64_t)SLACK,
		    (int64_t)SLACK);
}

TEST_HARNESS_MAIN
