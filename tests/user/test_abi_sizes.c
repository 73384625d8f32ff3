// SPDX-License-Identifier: GPL-2.0
/*
 * ABI 2.x struct sizes: every ioctl is called the way binaries built against
 * other headers call it, with the struct size in the ioctl number changed.
 *  - shorter than NPU_MEM_*_SIZE_VER0 (nothing is older than 2.0): EINVAL;
 *  - exactly VER0 (an older header), this header's size + 8 and 4096 bytes
 *    with a zero tail (a newer header): the same result, and nothing past
 *    VER0 is written where this call has nothing to say;
 *  - this header's size + 8 with a non-zero tail: E2BIG;
 *  - the wrong direction bits, or a 1.x ioctl number: ENOTTY;
 *  - any flags bit the ioctl does not define, or a non-zero reserved field:
 *    EINVAL.
 * Every refused call must leave no trace (no handle, no allocation, no export).
 * One test per ioctl (a variant of the fixture "ioctl"), and two of the ABI as
 * a whole.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "harness.h"
#include "npu.h"

#define BIG 4096
#define TAIL 8

struct env {
	int fd;
	uint64_t foreign;	/* a value another process exported, no whitelist */
	uint64_t dev0_free;	/* device 0's free bytes before each case */
	pid_t child;		/* ... which holds it until we close @hold */
	int hold;
};

/* The ioctl @cmd with the struct size field set to @size. */
static int ioctl_sized(int fd, unsigned long cmd, void *arg, size_t size)
{
	return ioctl(fd, _IOC(_IOC_DIR(cmd), _IOC_TYPE(cmd), _IOC_NR(cmd), size), arg);
}

static uint32_t alloc_2m(struct env *e)
{
	uint32_t h = 0;

	if (npu_alloc(e->fd, 0, 2 * MIB, &h, NULL))
		return 0;
	return h;
}

static int handle_info(struct env *e, uint32_t h, struct npu_mem_handle_info *info)
{
	memset(info, 0, sizeof(*info));
	info->handle = h;
	return ioctl(e->fd, NPU_MEM_IOCTL_HANDLE_INFO, info);
}

/* Free @h and check that device 0 is back where the case started. */
static int free_and_settled(struct env *e, uint32_t h)
{
	return npu_free(e->fd, h) == 0 && npu_dev_free(0) == e->dev0_free;
}

/*
 * One ioctl: @prepare writes a valid argument (creating what it needs),
 * @done checks a successful call's results and @unchanged that a refused call
 * changed nothing; both release what @prepare created.
 */
struct abi_case {
	const char *name;
	unsigned long cmd;
	size_t ver0;
	size_t cur;		/* sizeof() the struct in this header */
	size_t flags_off;	/* offsetof() the struct's flags */
	uint32_t valid_flags;
	void (*prepare)(struct env *e, void *arg);
	int (*done)(struct env *e, void *arg);
	int (*unchanged)(struct env *e, void *arg);
};

static void prep_none(struct env *e, void *arg)
{
}

static void prep_handle(struct env *e, void *arg)
{
	*(uint32_t *)arg = alloc_2m(e);	/* @handle is the first field */
}

static int free_handle(struct env *e, void *arg)
{
	return free_and_settled(e, *(uint32_t *)arg);
}

static int done_version(struct env *e, void *arg)
{
	struct npu_mem_version *v = arg;

	return v->abi_major == NPU_MEM_ABI_MAJOR && v->abi_minor == NPU_MEM_ABI_MINOR &&
	       v->num_devices == 2;
}

static int unchanged_nothing(struct env *e, void *arg)
{
	return npu_dev_free(0) == e->dev0_free;
}

static int done_device_info(struct env *e, void *arg)
{
	struct npu_mem_device_info *d = arg;

	return d->total > 0 && d->free == e->dev0_free && d->granularity == NPU_MEM_GRANULARITY;
}

static void prep_alloc(struct env *e, void *arg)
{
	struct npu_mem_alloc *a = arg;

	a->device = 0;
	a->page_kind = NPU_MEM_PAGE_HUGE;
	a->size = 2 * MIB;
}

static int done_alloc(struct env *e, void *arg)
{
	struct npu_mem_alloc *a = arg;

	return a->handle && npu_dev_free(0) == e->dev0_free - 2 * MIB &&
	       free_and_settled(e, a->handle);
}

static int done_free(struct env *e, void *arg)
{
	struct npu_mem_handle_info info;

	return handle_info(e, *(uint32_t *)arg, &info) == -1 && errno == ENOENT &&
	       npu_dev_free(0) == e->dev0_free;
}

static int done_export(struct env *e, void *arg)
{
	struct npu_mem_export *x = arg;
	struct npu_mem_handle_info info;

	return x->shareable && handle_info(e, x->handle, &info) == 0 &&
	       info.shareable == x->shareable && free_handle(e, arg);
}

static int unchanged_export(struct env *e, void *arg)
{
	struct npu_mem_handle_info info;

	return handle_info(e, *(uint32_t *)arg, &info) == 0 &&
	       !(info.info_flags & NPU_MEM_INFO_EXPORTED) && free_handle(e, arg);
}

/* The SET_PIDS case keeps its handle here: the argument has only the value. */
static uint32_t set_pids_handle;
static int32_t set_pids_pid;

static void prep_set_pids(struct env *e, void *arg)
{
	struct npu_mem_set_pids *s = arg;
	uint64_t value = 0;

	set_pids_handle = alloc_2m(e);
	set_pids_pid = getpid();
	npu_export(e->fd, set_pids_handle, 0, &value);
	s->shareable = value;
	s->pids = (uintptr_t)&set_pids_pid;
	s->count = 1;
}

static int release_set_pids(struct env *e, void *arg)
{
	return free_and_settled(e, set_pids_handle);
}

static void prep_import(struct env *e, void *arg)
{
	struct npu_mem_import *im = arg;

	im->shareable = e->foreign;
	im->device = 1;
}

static int done_import(struct env *e, void *arg)
{
	struct npu_mem_import *im = arg;
	struct npu_mem_handle_info info;

	return im->handle && handle_info(e, im->handle, &info) == 0 &&
	       info.mmap_offset == im->mmap_offset &&
	       (info.info_flags & NPU_MEM_INFO_IMPORTED) && npu_free(e->fd, im->handle) == 0;
}

/* A refused import left no handle behind: a real one is not EEXIST. */
static int unchanged_import(struct env *e, void *arg)
{
	uint32_t h;

	return npu_import(e->fd, e->foreign, 1, &h, NULL) == 0 && npu_free(e->fd, h) == 0;
}

static void prep_unexport(struct env *e, void *arg)
{
	struct npu_mem_unexport *u = arg;
	uint64_t value;

	u->handle = alloc_2m(e);
	npu_export(e->fd, u->handle, NPU_MEM_SHARE_IPC_KEY, &value);
}

static int exported(struct env *e, uint32_t h)
{
	struct npu_mem_handle_info info;

	return handle_info(e, h, &info) == 0 && (info.info_flags & NPU_MEM_INFO_EXPORTED);
}

static int done_unexport(struct env *e, void *arg)
{
	return !exported(e, *(uint32_t *)arg) && free_handle(e, arg);
}

static int unchanged_unexport(struct env *e, void *arg)
{
	return exported(e, *(uint32_t *)arg) && free_handle(e, arg);
}

static int done_bare_tgid(struct env *e, void *arg)
{
	return ((struct npu_mem_bare_tgid *)arg)->tgid == getpid();
}

static int done_handle_info(struct env *e, void *arg)
{
	struct npu_mem_handle_info *info = arg;

	return info->size == 2 * MIB && info->page_kind == NPU_MEM_PAGE_HUGE &&
	       free_handle(e, arg);
}

static const struct abi_case cases[] = {
	{ "VERSION", NPU_MEM_IOCTL_VERSION, NPU_MEM_VERSION_SIZE_VER0,
	  sizeof(struct npu_mem_version), offsetof(struct npu_mem_version, flags), 0,
	  prep_none, done_version, unchanged_nothing },
	{ "DEVICE_INFO", NPU_MEM_IOCTL_DEVICE_INFO, NPU_MEM_DEVICE_INFO_SIZE_VER0,
	  sizeof(struct npu_mem_device_info), offsetof(struct npu_mem_device_info, flags), 0,
	  prep_none, done_device_info, unchanged_nothing },
	{ "ALLOC", NPU_MEM_IOCTL_ALLOC, NPU_MEM_ALLOC_SIZE_VER0,
	  sizeof(struct npu_mem_alloc), offsetof(struct npu_mem_alloc, flags), 0,
	  prep_alloc, done_alloc, unchanged_nothing },
	{ "FREE", NPU_MEM_IOCTL_FREE, NPU_MEM_FREE_SIZE_VER0,
	  sizeof(struct npu_mem_free), offsetof(struct npu_mem_free, flags), 0,
	  prep_handle, done_free, free_handle },
	{ "EXPORT", NPU_MEM_IOCTL_EXPORT, NPU_MEM_EXPORT_SIZE_VER0,
	  sizeof(struct npu_mem_export), offsetof(struct npu_mem_export, flags),
	  NPU_MEM_EXPORT_DISABLE_PID_VALIDATION | NPU_MEM_SHARE_IPC_KEY | NPU_MEM_SHARE_FABRIC,
	  prep_handle, done_export, unchanged_export },
	{ "SET_PIDS", NPU_MEM_IOCTL_SET_PIDS, NPU_MEM_SET_PIDS_SIZE_VER0,
	  sizeof(struct npu_mem_set_pids), offsetof(struct npu_mem_set_pids, flags),
	  NPU_MEM_SHARE_IPC_KEY | NPU_MEM_SHARE_FABRIC,
	  prep_set_pids, release_set_pids, release_set_pids },
	{ "IMPORT", NPU_MEM_IOCTL_IMPORT, NPU_MEM_IMPORT_SIZE_VER0,
	  sizeof(struct npu_mem_import), offsetof(struct npu_mem_import, flags),
	  NPU_MEM_SHARE_IPC_KEY | NPU_MEM_SHARE_FABRIC,
	  prep_import, done_import, unchanged_import },
	{ "BARE_TGID", NPU_MEM_IOCTL_BARE_TGID, NPU_MEM_BARE_TGID_SIZE_VER0,
	  sizeof(struct npu_mem_bare_tgid), offsetof(struct npu_mem_bare_tgid, flags), 0,
	  prep_none, done_bare_tgid, unchanged_nothing },
	{ "HANDLE_INFO", NPU_MEM_IOCTL_HANDLE_INFO, NPU_MEM_HANDLE_INFO_SIZE_VER0,
	  sizeof(struct npu_mem_handle_info), offsetof(struct npu_mem_handle_info, flags), 0,
	  prep_handle, done_handle_info, free_handle },
	{ "UNEXPORT", NPU_MEM_IOCTL_UNEXPORT, NPU_MEM_UNEXPORT_SIZE_VER0,
	  sizeof(struct npu_mem_unexport), offsetof(struct npu_mem_unexport, flags), 0,
	  prep_unexport, done_unexport, unchanged_unexport },
};

static int tail_is_zero(const uint8_t *buf, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (buf[i])
			return 0;
	return 1;
}

/* Call @c at @size bytes; @poison makes the last byte non-zero. */
static void run_size(struct __test_metadata *_metadata, struct env *e, const struct abi_case *c,
		     size_t size, int poison, int want_errno, const char *what)
{
	static uint8_t buf[BIG];
	int r, err;

	memset(buf, 0, sizeof(buf));
	e->dev0_free = npu_dev_free(0);
	c->prepare(e, buf);
	if (poison)
		buf[size - 1] = 0x5a;
	r = ioctl_sized(e->fd, c->cmd, buf, size);
	err = errno;
	if (want_errno) {
		EXPECT_EQ(-want_errno, r == -1 ? -err : r)
			TH_LOG("%s at %zu bytes (%s): errno %d (%s), want %d (%s)", c->name, size,
			       what, r == -1 ? err : 0, r == -1 ? strerror(err) : "none",
			       want_errno, strerror(want_errno));
		EXPECT_TRUE(c->unchanged(e, buf))
			TH_LOG("%s at %zu bytes changed nothing", c->name, size);
		return;
	}
	EXPECT_EQ(0, r) TH_LOG("%s at %zu bytes (%s): errno %d (%s)", c->name, size, what, err,
			       strerror(err));
	EXPECT_TRUE(r == 0 && c->done(e, buf) && tail_is_zero(buf, c->ver0, BIG))
		TH_LOG("%s at %zu bytes: results right, tail untouched", c->name, size);
}

/*
 * Every flags bit @c does not define, one at a time: EINVAL and no trace.
 * Return: the first bit that was not refused cleanly, or -1.
 */
static int undefined_flags_refused(struct env *e, const struct abi_case *c)
{
	static uint8_t buf[BIG];

	for (int bit = 0; bit < 32; bit++) {
		uint32_t flag = 1U << bit;
		int r;

		if (c->valid_flags & flag)
			continue;
		memset(buf, 0, sizeof(buf));
		e->dev0_free = npu_dev_free(0);
		c->prepare(e, buf);
		memcpy(buf + c->flags_off, &flag, sizeof(flag));
		r = ioctl(e->fd, c->cmd, buf);
		if (!(r == -1 && errno == EINVAL) || !c->unchanged(e, buf))
			return bit;
	}
	return -1;
}

/* A child exports one value without a whitelist and holds it until we close @hold. */
static pid_t start_exporter(uint64_t *value, int *hold)
{
	int to_parent[2], to_child[2];
	pid_t pid;

	if (pipe(to_parent) || pipe(to_child))
		return -1;
	pid = fork();
	if (pid == 0) {
		int fd = npu_open();
		uint32_t h;
		uint64_t v = 0;
		char c;

		if (fd < 0 || npu_alloc(fd, 0, 2 * MIB, &h, NULL) ||
		    npu_export(fd, h, NPU_MEM_EXPORT_DISABLE_PID_VALIDATION, &v))
			v = 0;
		put64(to_parent[1], v);
		close(to_child[1]);
		if (read(to_child[0], &c, 1) < 0)
			_exit(3);
		_exit(0);
	}
	close(to_parent[1]);
	close(to_child[0]);
	*value = pid > 0 ? get64(to_parent[0]) : 0;
	close(to_parent[0]);
	*hold = to_child[1];
	return pid;
}

/* The device opened, and a value exported by a child process to import. */
static void env_start(struct __test_metadata *_metadata, struct env *e)
{
	e->hold = -1;
	e->fd = npu_open();
	ASSERT_LE(0, e->fd) TH_LOG("device opens");
	e->child = start_exporter(&e->foreign, &e->hold);
	ASSERT_TRUE(e->child > 0 && e->foreign) TH_LOG("a child exported a value to import");
}

static void env_stop(struct __test_metadata *_metadata, struct env *e)
{
	if (e->hold >= 0)
		close(e->hold);
	EXPECT_TRUE(e->child > 0 && reap(e->child) == 0) TH_LOG("the exporter child exits cleanly");
	EXPECT_EQ(0, close(e->fd)) TH_LOG("the file closes");
	EXPECT_EQ(512 * MIB, npu_dev_free(0)) TH_LOG("device 0 has all its memory back");
}

FIXTURE(ioctl) {
	struct env e;
};

FIXTURE_VARIANT(ioctl) {
	const struct abi_case *c;
};

FIXTURE_VARIANT_ADD(ioctl, VERSION) { .c = &cases[0] };
FIXTURE_VARIANT_ADD(ioctl, DEVICE_INFO) { .c = &cases[1] };
FIXTURE_VARIANT_ADD(ioctl, ALLOC) { .c = &cases[2] };
FIXTURE_VARIANT_ADD(ioctl, FREE) { .c = &cases[3] };
FIXTURE_VARIANT_ADD(ioctl, EXPORT) { .c = &cases[4] };
FIXTURE_VARIANT_ADD(ioctl, SET_PIDS) { .c = &cases[5] };
FIXTURE_VARIANT_ADD(ioctl, IMPORT) { .c = &cases[6] };
FIXTURE_VARIANT_ADD(ioctl, BARE_TGID) { .c = &cases[7] };
FIXTURE_VARIANT_ADD(ioctl, HANDLE_INFO) { .c = &cases[8] };
FIXTURE_VARIANT_ADD(ioctl, UNEXPORT) { .c = &cases[9] };

FIXTURE_SETUP(ioctl)
{
	env_start(_metadata, &self->e);
}

FIXTURE_TEARDOWN(ioctl)
{
	env_stop(_metadata, &self->e);
}

TEST_F(ioctl, sizes_directions_and_flags)
{
	static uint8_t zeros[BIG];
	const struct abi_case *c = variant->c;
	unsigned long wrong_dir = _IOC(_IOC_DIR(c->cmd) ^ _IOC_READ, _IOC_TYPE(c->cmd),
				       _IOC_NR(c->cmd), c->ver0);
	struct env *e = &self->e;
	int bad;

	run_size(_metadata, e, c, c->ver0 - 1, 0, EINVAL, "one byte short");
	run_size(_metadata, e, c, c->ver0, 0, 0, "VER0");
	run_size(_metadata, e, c, c->cur, 0, 0, "this header's size");
	run_size(_metadata, e, c, c->cur + TAIL, 0, 0, "newer, zero tail");
	run_size(_metadata, e, c, BIG, 0, 0, "page-sized, zero tail");
	run_size(_metadata, e, c, c->cur + TAIL, 1, E2BIG, "newer, non-zero tail");
	EXPECT_EQ(-ENOTTY, neg_errno(ioctl(e->fd, wrong_dir, zeros)))
		TH_LOG("%s with the wrong direction bits is ENOTTY", c->name);
	bad = undefined_flags_refused(e, c);
	EXPECT_EQ(-1, bad) TH_LOG("%s: every undefined flags bit is EINVAL, no trace: "
				  "flags bit %d was not refused cleanly", c->name, bad);
}

FIXTURE(abi) {
	struct env e;
};

FIXTURE_SETUP(abi)
{
	env_start(_metadata, &self->e);
}

FIXTURE_TEARDOWN(abi)
{
	env_stop(_metadata, &self->e);
}

TEST_F(abi, import_with_a_non_zero_reserved_field_is_einval)
{
	struct npu_mem_import im = { .shareable = self->e.foreign, .device = 1, .reserved = 1 };

	EXPECT_EQ(-EINVAL, neg_errno(ioctl(self->e.fd, NPU_MEM_IOCTL_IMPORT, &im)));
	EXPECT_TRUE(unchanged_import(&self->e, NULL)) TH_LOG("... and left no handle");
}

/* ABI 1.x numbers ('N', 0x00-0x08) belong to drivers/usb/scanner.h. */
TEST_F(abi, the_abi_1x_version_number_is_enotty)
{
	struct npu_mem_version ver = { 0 };

	EXPECT_EQ(-ENOTTY, neg_errno(ioctl(self->e.fd, _IOWR('N', 0x00, struct npu_mem_version),
					   &ver)));
}

TEST_HARNESS_MAIN
