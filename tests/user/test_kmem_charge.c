// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel memory a user can make the driver allocate is charged to the
 * user's memory cgroup (v2): per open file (a context, its registry entry),
 * per handle (the handle, the object struct, their table and registry).
 *
 * A worker process joins a fresh cgroup and opens files, or allocates
 * handles; the cgroup's "slab" figure in memory.stat must grow by at least
 * what the driver allocated for them.  The driver's structs are not visible
 * here, so the bounds are floors that any build's structs exceed: a context
 * holds an mmu notifier, a mutex and its owner's identity (over 128 bytes);
 * a handle and its object together hold two list heads each, a kref, the
 * owner's identity and more (over 192 bytes).  An open of /dev/npu_mem is
 * compared with an open of /dev/null, so that the struct file, charged for
 * both, does not count.  Skipped when the kernel has no memory controller.
 */
#define _GNU_SOURCE
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "cgroup.h"
#include "harness.h"
#include "npu.h"

#define CG_ROOT	"/sys/fs/cgroup"
#define NFILES	4096	/* files per kind */
#define NHANDLES 64	/* 2 MiB handles (128 MiB of device 0) */
#define CTX_FLOOR 128
#define HANDLE_FLOOR 192
#define FAIL	UINT64_MAX

static char cg[64];
static int mounted;

/* The "slab" line of @cg's memory.stat, in bytes, or FAIL. */
static uint64_t cg_slab(void)
{
	static char buf[8192];
	char path[128];
	const char *p;

	snprintf(path, sizeof(path), "%s/memory.stat", cg);
	if (cgroup_read(path, buf, sizeof(buf)))
		return FAIL;
	for (p = buf; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, "slab ", 5))
			return strtoull(p + 5, NULL, 10);
	return FAIL;
}

FIXTURE(kmem) {
	pid_t worker;
	int cmd, reply;
};

/* Mount cgroup2 if need be, enable +memory, create the test's cgroup; NULL or why not. */
static const char *cg_setup(void)
{
	char buf[256];

	if (access(CG_ROOT "/cgroup.controllers", F_OK)) {
		if (mount("none", CG_ROOT, "cgroup2", 0, NULL))
			return "cannot mount cgroup2";
		mounted = 1;
	}
	cgroup_read(CG_ROOT "/cgroup.controllers", buf, sizeof(buf));
	if (!strstr(buf, "memory"))
		return "no memory controller";
	if (cgroup_write(CG_ROOT "/cgroup.subtree_control", "+memory"))
		return "cannot enable +memory in the root cgroup";
	snprintf(cg, sizeof(cg), CG_ROOT "/npu_kmem.%d", getpid());
	if (mkdir(cg, 0755))
		return "cannot create a cgroup";
	return NULL;
}

/* The worker: joins the cgroup, then measures what the parent asks. */
enum { OP_FILES = 1, OP_HANDLES };

static uint64_t worker_op(uint64_t op, int *fds)
{
	uint64_t s0, s1;
	int fd, n;

	switch (op) {
	case OP_FILES:	/* slab bytes of NFILES opens of /dev/null, then of /dev/npu_mem */
		s0 = cg_slab();
		for (n = 0; n < NFILES; n++)
			if ((fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
				return FAIL;
		s1 = cg_slab();
		for (n = 0; n < NFILES; n++)
			if ((fds[NFILES + n] = npu_open()) < 0)
				return FAIL;
		/* Two results in one: (null delta) << 32 | (npu delta), in bytes. */
		return (s1 - s0) << 32 | (uint32_t)(cg_slab() - s1);
	case OP_HANDLES:	/* slab bytes of NHANDLES allocations on one file */
		fd = npu_open();
		if (fd < 0)
			return FAIL;
		s0 = cg_slab();
		for (n = 0; n < NHANDLES; n++) {
			uint32_t h;

			if (npu_alloc(fd, 0, 2 * MIB, &h, NULL))
				return FAIL;
		}
		return cg_slab() - s0;
	}
	return FAIL;
}

static void worker(int cmd, int reply)
{
	static int fds[2 * NFILES];
	struct rlimit rl = { 2 * NFILES + 64, 2 * NFILES + 64 };
	char pid[16], procs[128];

	/* Room for every file, and a file table already that big: its growth is not ours. */
	snprintf(pid, sizeof(pid), "%d", getpid());
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
	if (setrlimit(RLIMIT_NOFILE, &rl) || dup2(0, 2 * NFILES + 32) < 0 ||
	    cgroup_write(procs, pid))
		put64(reply, FAIL);
	else
		put64(reply, 0);
	for (;;)
		put64(reply, worker_op(get64(cmd), fds));
}

FIXTURE_SETUP(kmem)
{
	const char *skip = cg_setup();
	int c[2], r[2];

	self->worker = 0;
	if (skip)
		SKIP(return, "kernel memory charging: %s", skip);
	ASSERT_EQ(0, pipe(c) || pipe(r));
	self->worker = fork();
	if (self->worker == 0) {
		close(c[1]);
		close(r[0]);
		worker(c[0], r[1]);
	}
	close(c[0]);
	close(r[1]);
	self->cmd = c[1];
	self->reply = r[0];
	ASSERT_EQ(0, get64(self->reply)) TH_LOG("the worker joins %s", cg);
}

FIXTURE_TEARDOWN(kmem)
{
	if (self->worker > 0) {
		kill(self->worker, SIGKILL);
		reap(self->worker);
	}
	if (cg[0])
		rmdir(cg);
	if (mounted)
		umount(CG_ROOT);
	cg[0] = '\0';
	mounted = 0;
}

static uint64_t ask(FIXTURE_DATA(kmem) *self, uint64_t op)
{
	put64(self->cmd, op);
	return get64(self->reply);
}

TEST_F(kmem, open_files_are_charged)
{
	uint64_t r = ask(self, OP_FILES);
	int64_t null_b = (int64_t)(int32_t)(r >> 32), npu_b = (int64_t)(int32_t)(uint32_t)r;

	ASSERT_NE(FAIL, r) TH_LOG("the worker opened %d files of each kind", NFILES);
	printf("# slab: %d opens of /dev/null %+lld bytes, of /dev/npu_mem %+lld bytes\n",
	       NFILES, (long long)null_b, (long long)npu_b);
	EXPECT_GE(npu_b - null_b, (int64_t)NFILES * CTX_FLOOR)
		TH_LOG("%d opens of /dev/npu_mem are charged %lld bytes more than of /dev/null, "
		       "want at least %d per open", NFILES, (long long)(npu_b - null_b), CTX_FLOOR);
}

TEST_F(kmem, handles_are_charged)
{
	uint64_t d = ask(self, OP_HANDLES);

	ASSERT_NE(FAIL, d) TH_LOG("the worker allocated %d handles", NHANDLES);
	printf("# slab: %d handles %+lld bytes\n", NHANDLES, (long long)d);
	EXPECT_GE((int64_t)d, (int64_t)NHANDLES * HANDLE_FLOOR)
		TH_LOG("%d handles are charged %lld bytes, want at least %d per handle",
		       NHANDLES, (long long)d, HANDLE_FLOOR);
}

TEST_HARNESS_MAIN
