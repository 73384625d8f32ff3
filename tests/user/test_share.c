// SPDX-License-Identifier: GPL-2.0
/*
 * Two real processes share device memory: the exporter writes, a whitelisted
 * importer (on another device) reads and writes back through its own mapping;
 * a process not on the whitelist, a duplicate import, self-import, a foreign
 * fd, MAP_PRIVATE and misshapen mappings are refused with the documented
 * errnos; free-while-mapped keeps the memory until the last munmap; and the
 * devices' free memory ends where it started.
 *
 * Each test starts from the fixture: an exporter that allocated 4 MiB on
 * device 0, mapped it and wrote a pattern into its first half.
 */
#define _GNU_SOURCE
#include <sys/mman.h>

#include "harness.h"
#include "npu.h"

#define SZ (4 * MIB)

struct chan {
	int to_child[2], to_parent[2];
	pid_t pid;
};

/* A helper process's body: it reports through its return value (its exit status). */
typedef int (*child_fn)(struct __test_metadata *_metadata, struct chan *c);

/* Fork a child running @fn(chan); the child exits with fn's return value. */
static void spawn(struct __test_metadata *_metadata, struct chan *c, child_fn fn)
{
	ASSERT_EQ(0, pipe(c->to_child));
	ASSERT_EQ(0, pipe(c->to_parent));
	c->pid = fork();
	ASSERT_LE(0, c->pid);
	if (c->pid == 0) {
		close(c->to_child[1]);
		close(c->to_parent[0]);
		_exit(fn(_metadata, c));
	}
	close(c->to_child[0]);
	close(c->to_parent[1]);
}

#define TO_PARENT(c, v) put64((c)->to_parent[1], (v))
#define FROM_PARENT(c)  get64((c)->to_child[0])
#define TO_CHILD(c, v)  put64((c)->to_child[1], (v))
#define FROM_CHILD(c)   get64((c)->to_parent[0])

/* A failed mmap() as -errno, a successful one as 0. */
static long mmap_err(void *p)
{
	return p == MAP_FAILED ? -(long)errno : 0;
}

static int all_zero(const void *p, size_t n)
{
	const uint64_t *w = p;

	for (size_t i = 0; i < n / 8; i++)
		if (w[i])
			return 0;
	return 1;
}

FIXTURE(share) {
	uint64_t free0, free1, off;
	uint32_t h;
	bool freed;
	int fd;
	void *va;
};

FIXTURE_SETUP(share)
{
	self->free0 = npu_dev_free(0);
	self->free1 = npu_dev_free(1);
	ASSERT_NE(UINT64_MAX, self->free0) TH_LOG("device 0 free memory is readable");
	ASSERT_NE(UINT64_MAX, self->free1) TH_LOG("device 1 free memory is readable");
	self->fd = npu_open();
	ASSERT_LE(0, self->fd) TH_LOG("exporter opens the device");
	ASSERT_EQ(0, npu_alloc(self->fd, 0, SZ, &self->h, &self->off))
		TH_LOG("exporter allocates 4 MiB on device 0");
	EXPECT_EQ(self->free0 - SZ, npu_dev_free(0)) TH_LOG("device 0 free memory drops by 4 MiB");
	self->va = npu_map(self->fd, self->off, SZ);
	ASSERT_NE(NULL, self->va) TH_LOG("exporter maps its object");
	EXPECT_TRUE(all_zero(self->va, SZ)) TH_LOG("fresh device memory is zeroed");
	fill(self->va, SZ / 2, 0x1234);
}

FIXTURE_TEARDOWN(share)
{
	if (self->va)
		munmap(self->va, SZ);
	if (self->fd >= 0) {
		if (!self->freed)
			npu_free(self->fd, self->h);
		close(self->fd);
	}
	EXPECT_EQ(self->free0, npu_dev_free(0)) TH_LOG("device 0 free memory is back to its start");
	EXPECT_EQ(self->free1, npu_dev_free(1)) TH_LOG("device 1 free memory is back to its start");
}

TEST_F(share, misshapen_mappings_are_refused)
{
	int fd = self->fd;
	uint64_t off = self->off;
	void *va = self->va;

	EXPECT_EQ(-EINVAL, mmap_err(mmap(NULL, SZ, PROT_READ, MAP_PRIVATE, fd, off)))
		TH_LOG("MAP_PRIVATE is EINVAL");
	EXPECT_EQ(-EINVAL, mmap_err(mmap(NULL, SZ / 2, PROT_READ, MAP_SHARED, fd, off)))
		TH_LOG("mapping part of an object is EINVAL");
	EXPECT_EQ(-ENOENT, mmap_err(mmap(NULL, SZ, PROT_READ, MAP_SHARED, fd, off + 4096 * 7)))
		TH_LOG("an offset naming no handle is ENOENT");
	EXPECT_EQ(-EINVAL, neg_errno(munmap(va, 2 * MIB))) TH_LOG("partial munmap is EINVAL");
	EXPECT_EQ(-EINVAL, neg_errno(mprotect(va, 2 * MIB, PROT_READ)))
		TH_LOG("partial mprotect is EINVAL");
	EXPECT_EQ(MAP_FAILED, mremap(va, SZ, 2 * SZ, MREMAP_MAYMOVE)) TH_LOG("mremap is refused");
	EXPECT_TRUE(check(va, SZ / 2, 0x1234)) TH_LOG("the mapping still holds the pattern");
}

TEST_F(share, export_and_import_errors)
{
	uint64_t value = 0, v2 = 0;
	int32_t pids[2] = { 0, 0 };
	uint32_t h2 = 0;
	int fd = self->fd;

	EXPECT_EQ(-EINVAL, neg_errno(npu_export(fd, self->h, 8, &value)))
		TH_LOG("export with unknown flags is EINVAL");
	EXPECT_EQ(-ENOENT, neg_errno(npu_export(fd, self->h + 100, 0, &value)))
		TH_LOG("export of an unknown handle is ENOENT");
	ASSERT_EQ(0, npu_export(fd, self->h, 0, &value)) TH_LOG("export (whitelist on) succeeds");
	EXPECT_EQ(-EEXIST, neg_errno(npu_export(fd, self->h, 0, &v2)))
		TH_LOG("second export is EEXIST");
	EXPECT_EQ(-ELOOP, neg_errno(npu_import(fd, value, 1, &h2, NULL)))
		TH_LOG("self-import is ELOOP");
	EXPECT_EQ(-ENOENT, neg_errno(npu_import(fd, value ^ (1ULL << 50), 1, &h2, NULL)))
		TH_LOG("import of an unknown value is ENOENT");
	EXPECT_EQ(-ENODEV, neg_errno(npu_import(fd, value, 64, &h2, NULL)))
		TH_LOG("import onto an invalid device is ENODEV");
	EXPECT_EQ(-EINVAL, neg_errno(npu_set_pids(fd, value, pids, 2)))
		TH_LOG("an all-zero pid list is EINVAL");
	EXPECT_EQ(-E2BIG, neg_errno(npu_set_pids(fd, value, pids, 65536)))
		TH_LOG("too many pids is E2BIG");
	EXPECT_EQ(-EFAULT, neg_errno(ioctl(fd, NPU_MEM_IOCTL_SET_PIDS, &(struct npu_mem_set_pids){
		.shareable = value, .pids = 8, .count = 1 })))
			TH_LOG("a bad pid pointer is EFAULT");
}

/* Whitelisted importer: imports onto device 1, reads, writes back. */
static int importer(struct __test_metadata *_metadata, struct chan *c)
{
	int fd = npu_open();
	uint64_t value = 0, off = 0;
	uint32_t h = 0, h2 = 0;
	void *va;

	TO_PARENT(c, (uint64_t)npu_bare_tgid(fd));
	value = FROM_PARENT(c);
	EXPECT_EQ(0, npu_import(fd, value, 1, &h, &off))
		TH_LOG("importer: whitelisted import onto device 1 succeeds");
	EXPECT_EQ(-EEXIST, neg_errno(npu_import(fd, value, 1, &h2, NULL)))
		TH_LOG("importer: second import (same device) is EEXIST");
	EXPECT_EQ(-EEXIST, neg_errno(npu_import(fd, value, 0, &h2, NULL)))
		TH_LOG("importer: second import (other device) is EEXIST");
	va = npu_map(fd, off, SZ);
	EXPECT_NE(NULL, va) TH_LOG("importer: maps the imported object");
	if (va) {
		EXPECT_TRUE(check(va, SZ / 2, 0x1234))
			TH_LOG("importer: reads the exporter's pattern");
		fill((char *)va + SZ / 2, SZ / 2, 0xbeef);
	}
	TO_PARENT(c, 1);
	FROM_PARENT(c);		/* parent has checked our write */
	if (va)
		EXPECT_EQ(0, munmap(va, SZ)) TH_LOG("importer: unmaps");
	EXPECT_EQ(0, npu_free(fd, h)) TH_LOG("importer: frees its handle");
	close(fd);
	return _metadata->exit_code;
}

/* Not on the whitelist. */
static int outsider(struct __test_metadata *_metadata, struct chan *c)
{
	int fd = npu_open();
	uint32_t h;

	TO_PARENT(c, (uint64_t)npu_bare_tgid(fd));
	EXPECT_EQ(-EACCES, neg_errno(npu_import(fd, FROM_PARENT(c), 0, &h, NULL)))
		TH_LOG("outsider: import without being whitelisted is EACCES");
	close(fd);
	return _metadata->exit_code;
}

TEST_F(share, whitelisted_importer_shares_the_memory)
{
	struct chan imp, out;
	int32_t pids[2] = { 0, 0 };
	uint64_t value = 0;

	ASSERT_EQ(0, npu_export(self->fd, self->h, 0, &value))
		TH_LOG("export (whitelist on) succeeds");
	spawn(_metadata, &imp, importer);
	spawn(_metadata, &out, outsider);
	pids[0] = (int32_t)FROM_CHILD(&imp);
	EXPECT_EQ(0, npu_set_pids(self->fd, value, pids, 2))
		TH_LOG("exporter whitelists the importer's bare tgid");
	FROM_CHILD(&out);
	TO_CHILD(&out, value);
	EXPECT_EQ(0, reap(out.pid)) TH_LOG("outsider exits cleanly");
	TO_CHILD(&imp, value);
	FROM_CHILD(&imp);
	EXPECT_TRUE(check((char *)self->va + SZ / 2, SZ / 2, 0xbeef))
		TH_LOG("exporter sees the importer's write");
	TO_CHILD(&imp, 1);
	EXPECT_EQ(0, reap(imp.pid)) TH_LOG("importer exits cleanly");
}

static int inherited_fd;
static uint64_t inherited_off;
static void *inherited_va;

/* Uses the parent's fd and touches the parent's mapping address. */
static int inheritor(struct __test_metadata *_metadata, struct chan *c)
{
	struct npu_mem_version ver = { 0 };
	uint32_t h;

	(void)c;
	EXPECT_EQ(-EBADFD, neg_errno(ioctl(inherited_fd, NPU_MEM_IOCTL_VERSION, &ver)))
		TH_LOG("inherited fd: VERSION is EBADFD");
	EXPECT_EQ(-EBADFD, neg_errno(npu_alloc(inherited_fd, 0, 2 * MIB, &h, NULL)))
		TH_LOG("inherited fd: ALLOC is EBADFD");
	EXPECT_EQ(-EBADFD, neg_errno(npu_free(inherited_fd, 1)))
		TH_LOG("inherited fd: FREE of the parent's handle is EBADFD");
	EXPECT_EQ(-EBADFD, mmap_err(mmap(NULL, SZ, PROT_READ, MAP_SHARED, inherited_fd,
					 inherited_off))) TH_LOG("inherited fd: mmap is refused");
	if (_metadata->exit_code)
		return _metadata->exit_code;	/* not the SIGSEGV the parent waits for */
	/* The parent's mapping was not copied: this must fault. */
	return *(volatile char *)inherited_va == 0x55 ? 0 : 1;
}

TEST_F(share, forked_child_inherits_neither_fd_nor_mapping)
{
	struct chan inh;

	inherited_fd = self->fd;
	inherited_off = self->off;
	inherited_va = self->va;
	spawn(_metadata, &inh, inheritor);
	EXPECT_EQ(128 + SIGSEGV, reap(inh.pid))
		TH_LOG("forked child did not inherit the mapping (SIGSEGV)");
}

TEST_F(share, free_while_mapped_keeps_the_memory_until_the_last_munmap)
{
	int32_t pid = getpid();
	uint64_t value = 0;

	ASSERT_EQ(0, npu_export(self->fd, self->h, 0, &value))
		TH_LOG("export (whitelist on) succeeds");
	EXPECT_EQ(0, npu_free(self->fd, self->h)) TH_LOG("free while mapped succeeds");
	self->freed = true;
	EXPECT_TRUE(check(self->va, SZ / 2, 0x1234)) TH_LOG("the memory is still there");
	EXPECT_EQ(self->free0 - SZ, npu_dev_free(0)) TH_LOG("device 0 memory is still in use");
	EXPECT_EQ(0, npu_set_pids(self->fd, value, &pid, 1))
		TH_LOG("the value is still alive while mapped");
	EXPECT_EQ(0, munmap(self->va, SZ)) TH_LOG("last munmap succeeds");
	self->va = NULL;
	EXPECT_EQ(self->free0, npu_dev_free(0))
		TH_LOG("device 0 memory is back after the last munmap");
	EXPECT_EQ(-ENOENT, neg_errno(npu_set_pids(self->fd, value, &pid, 1)))
		TH_LOG("the value is dead after the last holder");
	EXPECT_EQ(-ENOENT, neg_errno(npu_free(self->fd, self->h))) TH_LOG("double free is ENOENT");
}

/* A mapping of another handle after close(): the VMA keeps file and memory. */
TEST_F(share, a_mapping_outlives_its_fd)
{
	uint64_t off2 = 0;
	uint32_t h2 = 0;
	void *p;

	ASSERT_EQ(0, npu_alloc(self->fd, 1, 2 * MIB, &h2, &off2))
		TH_LOG("allocate 2 MiB on device 1");
	p = npu_map(self->fd, off2, 2 * MIB);
	ASSERT_NE(NULL, p) TH_LOG("map it");
	EXPECT_EQ(0, close(self->fd)) TH_LOG("close the fd while mapped");
	self->fd = -1;
	memset(p, 0x5a, 2 * MIB);
	EXPECT_EQ(0x5a, ((char *)p)[2 * MIB - 1]) TH_LOG("the mapping outlives the fd");
	EXPECT_EQ(self->free1 - 2 * MIB, npu_dev_free(1))
		TH_LOG("device 1 memory in use until munmap");
	munmap(p, 2 * MIB);
}

TEST_HARNESS_MAIN
