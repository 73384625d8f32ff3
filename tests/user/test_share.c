// SPDX-License-Identifier: GPL-2.0
/*
 * Two real processes share device memory: the exporter writes, a whitelisted
 * importer (on another device) reads and writes back through its own mapping;
 * a process not on the whitelist, a duplicate import, self-import, a foreign
 * fd, MAP_PRIVATE and misshapen mappings are refused with the documented
 * errnos; free-while-mapped keeps the memory until the last munmap; and the
 * devices' free memory ends where it started.
 */
#define _GNU_SOURCE
#include <sys/mman.h>

#include "tap.h"
#include "npu.h"

#define SZ (4 * MIB)

struct chan {
	int to_child[2], to_parent[2];
	pid_t pid;
};

/* Fork a child running @fn(chan); the child exits with fn's return value. */
static void spawn(struct chan *c, int (*fn)(struct chan *))
{
	if (pipe(c->to_child) || pipe(c->to_parent))
		exit(2);
	c->pid = fork();
	if (c->pid < 0)
		exit(2);
	if (c->pid == 0) {
		close(c->to_child[1]);
		close(c->to_parent[0]);
		exit(fn(c));
	}
	close(c->to_child[0]);
	close(c->to_parent[1]);
}

#define TO_PARENT(c, v) put64((c)->to_parent[1], (v))
#define FROM_PARENT(c)  get64((c)->to_child[0])
#define TO_CHILD(c, v)  put64((c)->to_child[1], (v))
#define FROM_CHILD(c)   get64((c)->to_parent[0])

/* Whitelisted importer: imports onto device 1, reads, writes back. */
static int importer(struct chan *c)
{
	int fd = npu_open();
	uint64_t value = 0, off = 0;
	uint32_t h = 0, h2 = 0;
	void *va;

	TO_PARENT(c, (uint64_t)npu_bare_tgid(fd));
	value = FROM_PARENT(c);
	TAP_CHECK("importer: whitelisted import onto device 1 succeeds",
		  npu_import(fd, value, 1, &h, &off) == 0);
	TAP_ERRNO("importer: second import (same device) is EEXIST",
		  npu_import(fd, value, 1, &h2, NULL), EEXIST);
	TAP_ERRNO("importer: second import (other device) is EEXIST",
		  npu_import(fd, value, 0, &h2, NULL), EEXIST);
	va = npu_map(fd, off, SZ);
	TAP_CHECK("importer: maps the imported object", va != NULL);
	if (va) {
		TAP_CHECK("importer: reads the exporter's pattern", check(va, SZ / 2, 0x1234));
		fill((char *)va + SZ / 2, SZ / 2, 0xbeef);
	}
	TO_PARENT(c, 1);
	FROM_PARENT(c);		/* parent has checked our write */
	if (va)
		TAP_CHECK("importer: unmaps", munmap(va, SZ) == 0);
	TAP_CHECK("importer: frees its handle", npu_free(fd, h) == 0);
	close(fd);
	return tap_done();
}

/* Not on the whitelist. */
static int outsider(struct chan *c)
{
	int fd = npu_open();
	uint32_t h;

	TO_PARENT(c, (uint64_t)npu_bare_tgid(fd));
	TAP_ERRNO("outsider: import without being whitelisted is EACCES",
		  npu_import(fd, FROM_PARENT(c), 0, &h, NULL), EACCES);
	close(fd);
	return tap_done();
}

static int inherited_fd_fd = -1;
static uint64_t inherited_off;
static void *inherited_va;

/* Uses the parent's fd and touches the parent's mapping address. */
static int inheritor(struct chan *c)
{
	struct npu_mem_version ver = { 0 };
	uint32_t h;

	(void)c;
	TAP_ERRNO("inherited fd: VERSION is EBADFD",
		  ioctl(inherited_fd_fd, NPU_MEM_IOCTL_VERSION, &ver), EBADFD);
	TAP_ERRNO("inherited fd: ALLOC is EBADFD",
		  npu_alloc(inherited_fd_fd, 0, 2 * MIB, &h, NULL), EBADFD);
	TAP_ERRNO("inherited fd: FREE of the parent's handle is EBADFD",
		  npu_free(inherited_fd_fd, 1), EBADFD);
	TAP_CHECK("inherited fd: mmap is refused",
		  mmap(NULL, SZ, PROT_READ, MAP_SHARED, inherited_fd_fd, inherited_off) ==
		  MAP_FAILED && errno == EBADFD);
	fflush(stdout);
	/* The parent's mapping was not copied: this must fault. */
	return *(volatile char *)inherited_va == 0x55 ? 0 : 1;
}

static int all_zero(const void *p, size_t n)
{
	const uint64_t *w = p;

	for (size_t i = 0; i < n / 8; i++)
		if (w[i])
			return 0;
	return 1;
}

int main(void)
{
	alarm(120);	/* a hang is a failure, not a stuck run */
	uint64_t free0 = npu_dev_free(0), free1 = npu_dev_free(1);
	struct chan imp, out, inh;
	uint64_t value = 0, off = 0, off2 = 0, v2 = 0;
	int32_t pids[2];
	uint32_t h = 0, h2 = 0;
	int fd;
	void *va, *p;

	TAP_CHECK("device free memory is readable", free0 != UINT64_MAX && free1 != UINT64_MAX);
	fd = npu_open();
	TAP_CHECK("exporter opens the device", fd >= 0);
	TAP_CHECK("exporter allocates 4 MiB on device 0", npu_alloc(fd, 0, SZ, &h, &off) == 0);
	TAP_CHECK("device 0 free memory drops by 4 MiB", npu_dev_free(0) == free0 - SZ);
	va = npu_map(fd, off, SZ);
	TAP_CHECK("exporter maps its object", va != NULL);
	if (!va)
		return tap_done();
	TAP_CHECK("fresh device memory is zeroed", all_zero(va, SZ));
	fill(va, SZ / 2, 0x1234);

	TAP_ERRNO("MAP_PRIVATE is EINVAL",
		  mmap(NULL, SZ, PROT_READ, MAP_PRIVATE, fd, off) == MAP_FAILED ? -1 : 0, EINVAL);
	TAP_ERRNO("mapping part of an object is EINVAL",
		  mmap(NULL, SZ / 2, PROT_READ, MAP_SHARED, fd, off) == MAP_FAILED ? -1 : 0, EINVAL);
	TAP_ERRNO("an offset naming no handle is ENOENT",
		  mmap(NULL, SZ, PROT_READ, MAP_SHARED, fd, off + 4096 * 7) == MAP_FAILED ? -1 : 0,
		  ENOENT);
	TAP_ERRNO("partial munmap is EINVAL", munmap(va, 2 * MIB), EINVAL);
	TAP_ERRNO("partial mprotect is EINVAL", mprotect(va, 2 * MIB, PROT_READ), EINVAL);
	TAP_CHECK("mremap is refused",
		  mremap(va, SZ, 2 * SZ, MREMAP_MAYMOVE) == MAP_FAILED);
	TAP_CHECK("the mapping still holds the pattern", check(va, SZ / 2, 0x1234));

	TAP_ERRNO("export with unknown flags is EINVAL", npu_export(fd, h, 2, &value), EINVAL);
	TAP_ERRNO("export of an unknown handle is ENOENT", npu_export(fd, h + 100, 0, &value),
		  ENOENT);
	TAP_CHECK("export (whitelist on) succeeds", npu_export(fd, h, 0, &value) == 0);
	TAP_ERRNO("second export is EEXIST", npu_export(fd, h, 0, &v2), EEXIST);
	TAP_ERRNO("self-import is ELOOP", npu_import(fd, value, 1, &h2, NULL), ELOOP);
	TAP_ERRNO("import of an unknown value is ENOENT",
		  npu_import(fd, value ^ (1ULL << 50), 1, &h2, NULL), ENOENT);
	TAP_ERRNO("import onto an invalid device is ENODEV",
		  npu_import(fd, value, 64, &h2, NULL), ENODEV);
	pids[0] = pids[1] = 0;
	TAP_ERRNO("an all-zero pid list is EINVAL", npu_set_pids(fd, value, pids, 2), EINVAL);
	TAP_ERRNO("too many pids is E2BIG", npu_set_pids(fd, value, pids, 65536), E2BIG);
	TAP_ERRNO("a bad pid pointer is EFAULT",
		  ioctl(fd, NPU_MEM_IOCTL_SET_PIDS, &(struct npu_mem_set_pids){
			.shareable = value, .pids = 8, .count = 1 }), EFAULT);

	spawn(&imp, importer);
	spawn(&out, outsider);
	pids[0] = (int32_t)FROM_CHILD(&imp);
	pids[1] = 0;
	TAP_CHECK("exporter whitelists the importer's bare tgid",
		  npu_set_pids(fd, value, pids, 2) == 0);
	FROM_CHILD(&out);
	TO_CHILD(&out, value);
	TAP_CHECK("outsider exits cleanly", reap(out.pid) == 0);
	TO_CHILD(&imp, value);
	FROM_CHILD(&imp);
	TAP_CHECK("exporter sees the importer's write", check((char *)va + SZ / 2, SZ / 2, 0xbeef));
	TO_CHILD(&imp, 1);
	TAP_CHECK("importer exits cleanly", reap(imp.pid) == 0);

	inherited_fd_fd = fd;
	inherited_off = off;
	inherited_va = va;
	spawn(&inh, inheritor);
	TAP_CHECK("forked child did not inherit the mapping (SIGSEGV)",
		  reap(inh.pid) == 128 + SIGSEGV);

	/* Free while mapped: memory stays until the last munmap. */
	TAP_CHECK("free while mapped succeeds", npu_free(fd, h) == 0);
	TAP_CHECK("the memory is still there", check(va, SZ / 2, 0x1234));
	TAP_CHECK("device 0 memory is still in use", npu_dev_free(0) == free0 - SZ);
	TAP_CHECK("the value is still alive while mapped",
		  npu_set_pids(fd, value, pids, 1) == 0);
	TAP_CHECK("last munmap succeeds", munmap(va, SZ) == 0);
	TAP_CHECK("device 0 memory is back after the last munmap", npu_dev_free(0) == free0);
	TAP_ERRNO("the value is dead after the last holder", npu_set_pids(fd, value, pids, 1),
		  ENOENT);
	TAP_ERRNO("double free is ENOENT", npu_free(fd, h), ENOENT);

	/* A mapping of another handle after close(): the VMA keeps file and memory. */
	TAP_CHECK("allocate 2 MiB on device 1", npu_alloc(fd, 1, 2 * MIB, &h2, &off2) == 0);
	p = npu_map(fd, off2, 2 * MIB);
	TAP_CHECK("map it", p != NULL);
	TAP_CHECK("close the fd while mapped", close(fd) == 0);
	if (p) {
		memset(p, 0x5a, 2 * MIB);
		TAP_CHECK("the mapping outlives the fd", ((char *)p)[2 * MIB - 1] == 0x5a);
		TAP_CHECK("device 1 memory in use until munmap", npu_dev_free(1) == free1 - 2 * MIB);
		munmap(p, 2 * MIB);
	}
	TAP_CHECK("device 0 free memory is back to its start", npu_dev_free(0) == free0);
	TAP_CHECK("device 1 free memory is back to its start", npu_dev_free(1) == free1);
	return tap_done();
}
