// SPDX-License-Identifier: GPL-2.0
/*
 * A whitelist cannot be made to pin kernel memory or to stop growing:
 * - pids no kernel can ever run (above PID_MAX_LIMIT) are refused;
 * - a full whitelist of 65535 sparse pids costs at most a few tens of bytes
 *   an entry, all of it charged to the exporter's memory cgroup;
 * - entries that can authorize nobody (their pid was not running when they
 *   were set, or their process has exited) make room for new ones.
 */
#define _GNU_SOURCE
#include <stdio.h>

#include "cgroup.h"
#include "harness.h"
#include "npu.h"

#define PID_MAX_LIMIT	NPU_MEM_PID_LIMIT
#define MAX_PIDS	NPU_MEM_MAX_PIDS
#define CG		CGROUP_ROOT "/npu_whitelist"

/* An exported 2 MiB object of a fresh open. */
struct exported {
	int fd;
	uint32_t handle;
	uint64_t value;
};

static void export_one(struct __test_metadata *_metadata, struct exported *e)
{
	e->fd = npu_open();
	ASSERT_LE(0, e->fd);
	ASSERT_EQ(0, npu_alloc(e->fd, 0, 2 * MIB, &e->handle, NULL));
	ASSERT_EQ(0, npu_export(e->fd, e->handle, 0, &e->value));
}

/* "Slab:" of /proc/meminfo in bytes. */
static uint64_t meminfo_slab(void)
{
	char line[128];
	uint64_t kb = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Slab: %lu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb * 1024;
}

/* The VM's pid_max: pids from it up are not running. */
static int32_t pid_max(void)
{
	int v = 0;
	FILE *f = fopen("/proc/sys/kernel/pid_max", "re");

	if (!f || fscanf(f, "%d", &v) != 1)
		v = 0;
	if (f)
		fclose(f);
	return v;
}

/*
 * A running process: it waits for a value on @ctl, imports it onto device 1
 * (a value of 0: it does not), and exits with 0 or the import's errno.
 */
static pid_t importer(int ctl[2])
{
	pid_t pid;

	if (pipe(ctl))
		return -1;
	pid = fork();
	if (pid == 0) {
		uint64_t v;
		uint32_t h;
		int fd;

		close(ctl[1]);
		v = get64(ctl[0]);
		fd = npu_open();
		_exit(!v ? 0 : fd < 0 || npu_import(fd, v, 1, &h, NULL) ? errno : 0);
	}
	close(ctl[0]);
	return pid;
}

TEST(pids_no_kernel_can_run_are_refused)
{
	int32_t bad[][2] = {
		{ 1, PID_MAX_LIMIT }, { INT32_MAX, 1 }, { -1, 1 },
	};
	int32_t top = PID_MAX_LIMIT - 1;
	struct exported e;

	export_one(_metadata, &e);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, neg_errno(npu_set_pids(e.fd, e.value, bad[i], 2))) {
			TH_LOG("pids %d, %d", bad[i][0], bad[i][1]);
		}
	}
	EXPECT_EQ(0, npu_set_pids(e.fd, e.value, &top, 1));
	close(e.fd);
}

/*
 * 65535 pids spaced 64 apart (each in a node of its own in a radix tree)
 * on one value: at most 64 bytes an entry, charged to the caller's cgroup.
 */
TEST(full_sparse_whitelist_is_compact_and_charged)
{
	uint64_t slab0, slab1, cg0, cg1;
	struct exported e;
	int32_t *pids;

	/*
	 * The object is allocated outside the cgroup: its memory, and the
	 * zeroed reserve refilled after it, are charged elsewhere.
	 */
	export_one(_metadata, &e);
	pids = calloc(MAX_PIDS, sizeof(*pids));
	ASSERT_NE(NULL, pids);
	for (int i = 0; i < MAX_PIDS; i++)
		pids[i] = 1 + 64 * i;
	if (cgroup_create(CG))
		SKIP(return, "no memory cgroup: %s", strerror(errno));
	ASSERT_EQ(0, cgroup_enter(CG, 0));

	slab0 = meminfo_slab();
	cg0 = cgroup_memory_current(CG);
	ASSERT_EQ(0, npu_set_pids(e.fd, e.value, pids, MAX_PIDS));
	cg1 = cgroup_memory_current(CG);
	slab1 = meminfo_slab();
	TH_LOG("65535 entries: cgroup +%lu KiB, Slab %+ld KiB",
	       (unsigned long)(cg1 - cg0) / 1024, ((long)slab1 - (long)slab0) / 1024);
	EXPECT_GE(cg1, cg0 + MAX_PIDS * 8ULL) TH_LOG("the whitelist is not charged");
	EXPECT_LE(cg1, cg0 + MAX_PIDS * 64ULL);
	EXPECT_LE((long)slab1 - (long)slab0, (long)MAX_PIDS * 64);

	close(e.fd);
	free(pids);
	cgroup_destroy(CG);
}

/*
 * 65535 entries of pids nobody runs, then a running process: it is added
 * (the dead entries make room) and can import.  Then 65534 dead entries and
 * that process, which exits: a second process gets in too.
 */
TEST(entries_that_authorize_nobody_make_room)
{
	int32_t base = pid_max(), *pids, live;
	int ctl1[2], ctl2[2];
	struct exported e;
	pid_t p1, p2;

	ASSERT_LT(0, base);
	ASSERT_GT(PID_MAX_LIMIT - MAX_PIDS, base);
	pids = calloc(MAX_PIDS, sizeof(*pids));
	ASSERT_NE(NULL, pids);
	for (int i = 0; i < MAX_PIDS; i++)
		pids[i] = base + i;
	export_one(_metadata, &e);
	ASSERT_EQ(0, npu_set_pids(e.fd, e.value, pids, MAX_PIDS));

	/* Full of pids nobody runs: a running process still gets in. */
	p1 = importer(ctl1);
	ASSERT_LT(0, p1);
	live = p1;
	EXPECT_EQ(0, neg_errno(npu_set_pids(e.fd, e.value, &live, 1)));
	/* Full again, p1 among the entries: p1 imports, then exits. */
	EXPECT_EQ(0, neg_errno(npu_set_pids(e.fd, e.value, pids, MAX_PIDS - 1)));
	put64(ctl1[1], e.value);
	EXPECT_EQ(0, reap(p1));
	close(ctl1[1]);

	/* p1's entry authorizes nobody now: a second process gets in and imports. */
	p2 = importer(ctl2);
	ASSERT_LT(0, p2);
	live = p2;
	EXPECT_EQ(0, neg_errno(npu_set_pids(e.fd, e.value, &live, 1)));
	put64(ctl2[1], e.value);
	EXPECT_EQ(0, reap(p2));
	close(ctl2[1]);
	close(e.fd);
	free(pids);
}

TEST_HARNESS_MAIN
