/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Thin wrappers over the /dev/npu_mem ioctls for the userspace tests, plus
 * pipe helpers to synchronize the processes of a test.  Each wrapper returns
 * what ioctl() returns (0, or -1 with errno set).
 */
#ifndef NPU_MEM_TESTS_NPU_H
#define NPU_MEM_TESTS_NPU_H

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uapi/npu_mem.h"

#define MIB (1ULL << 20)

/* Read module parameter @name (its line of text): 0, or -1. */
static inline int npu_param_read(const char *name, char *buf, size_t size)
{
	char path[128];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/sys/module/npu_mem/parameters/%s", name);
	f = fopen(path, "re");
	ok = f && fgets(buf, (int)size, f);
	if (f)
		fclose(f);
	return ok ? 0 : -1;
}

/* Write module parameter @name (0644 ones, as root): 0, or -1. */
static inline int npu_param_write(const char *name, const char *s)
{
	char path[128];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/sys/module/npu_mem/parameters/%s", name);
	f = fopen(path, "we");
	ok = f && fputs(s, f) >= 0;
	if (f && fclose(f))
		ok = 0;
	return ok ? 0 : -1;
}

static inline int npu_open(void)
{
	return open("/dev/" NPU_MEM_DEVICE_NAME, O_RDWR | O_CLOEXEC);
}

static inline int npu_alloc(int fd, uint32_t dev, uint64_t size, uint32_t *h, uint64_t *off)
{
	struct npu_mem_alloc a = { .device = dev, .size = size, .page_kind = NPU_MEM_PAGE_HUGE };
	int r = ioctl(fd, NPU_MEM_IOCTL_ALLOC, &a);

	if (!r) {
		*h = a.handle;
		if (off)
			*off = a.mmap_offset;
	}
	return r;
}

static inline int npu_free(int fd, uint32_t h)
{
	struct npu_mem_free f = { .handle = h };

	return ioctl(fd, NPU_MEM_IOCTL_FREE, &f);
}

static inline int npu_export(int fd, uint32_t h, uint32_t flags, uint64_t *value)
{
	struct npu_mem_export e = { .handle = h, .flags = flags };
	int r = ioctl(fd, NPU_MEM_IOCTL_EXPORT, &e);

	if (!r)
		*value = e.shareable;
	return r;
}

static inline int npu_set_pids(int fd, uint64_t value, const int32_t *pids, uint32_t n)
{
	struct npu_mem_set_pids s = {
		.shareable = value, .pids = (uintptr_t)pids, .count = n,
	};

	return ioctl(fd, NPU_MEM_IOCTL_SET_PIDS, &s);
}

static inline int npu_import(int fd, uint64_t value, uint32_t dev, uint32_t *h, uint64_t *off)
{
	struct npu_mem_import im = { .shareable = value, .device = dev };
	int r = ioctl(fd, NPU_MEM_IOCTL_IMPORT, &im);

	if (!r) {
		*h = im.handle;
		if (off)
			*off = im.mmap_offset;
	}
	return r;
}

/*
 * Kind-aware wrappers (ABI 2.1).  @kind is what SET_PIDS and IMPORT name in
 * their flags: 0 (a VMM value), NPU_MEM_SHARE_IPC_KEY or NPU_MEM_SHARE_FABRIC
 * (then the value travels in @fh, and @value is normally 0); @fh may be NULL.
 */
static inline int npu_export_kind(int fd, uint32_t h, uint32_t flags, uint64_t *value,
				  struct npu_mem_fabric_handle *fh)
{
	struct npu_mem_export e = { .handle = h, .flags = flags };
	int r = ioctl(fd, NPU_MEM_IOCTL_EXPORT, &e);

	if (!r) {
		*value = e.shareable;
		if (fh)
			*fh = e.fabric;
	}
	return r;
}

static inline int npu_set_pids_kind(int fd, uint64_t value, uint32_t kind,
				    const struct npu_mem_fabric_handle *fh,
				    const int32_t *pids, uint32_t n)
{
	struct npu_mem_set_pids s = {
		.shareable = value, .pids = (uintptr_t)pids, .count = n, .flags = kind,
	};

	if (fh)
		s.fabric = *fh;
	return ioctl(fd, NPU_MEM_IOCTL_SET_PIDS, &s);
}

static inline int npu_import_kind(int fd, uint64_t value, uint32_t kind,
				  const struct npu_mem_fabric_handle *fh, uint32_t dev,
				  uint32_t *h, uint64_t *off)
{
	struct npu_mem_import im = { .shareable = value, .device = dev, .flags = kind };
	int r;

	if (fh)
		im.fabric = *fh;
	r = ioctl(fd, NPU_MEM_IOCTL_IMPORT, &im);
	if (!r) {
		*h = im.handle;
		if (off)
			*off = im.mmap_offset;
	}
	return r;
}

static inline int npu_unexport(int fd, uint32_t h, uint32_t flags)
{
	struct npu_mem_unexport u = { .handle = h, .flags = flags };

	return ioctl(fd, NPU_MEM_IOCTL_UNEXPORT, &u);
}

static inline int32_t npu_bare_tgid(int fd)
{
	struct npu_mem_bare_tgid t = { 0 };

	return ioctl(fd, NPU_MEM_IOCTL_BARE_TGID, &t) ? -1 : t.tgid;
}

/*
 * Become the unprivileged user @uid (gid @uid), keeping access to the device
 * node as a user in its group does: the udev rule's group, which the VM
 * harness gives the node as udev would.  Call as root.  Return: 0, or -1 with
 * errno set.
 */
static inline int npu_drop_to_user(uid_t uid)
{
	struct stat st;

	if (stat("/dev/" NPU_MEM_DEVICE_NAME, &st) || setgroups(1, &st.st_gid) ||
	    setgid(uid) || setuid(uid))
		return -1;
	return 0;
}

/* Free bytes of @dev (through a private open), or UINT64_MAX on error. */
static inline uint64_t npu_dev_free(uint32_t dev)
{
	struct npu_mem_device_info info = { .device = dev };
	int fd = npu_open(), r;

	if (fd < 0)
		return UINT64_MAX;
	r = ioctl(fd, NPU_MEM_IOCTL_DEVICE_INFO, &info);
	close(fd);
	return r ? UINT64_MAX : info.free;
}

/* aclrtReserveMemAddress + aclrtMapMem: reserve, then MAP_FIXED into it. */
static inline void *npu_map(int fd, uint64_t off, size_t size)
{
	void *va = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (va == MAP_FAILED)
		return NULL;
	if (mmap(va, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, off) == MAP_FAILED) {
		int e = errno;

		munmap(va, size);
		errno = e;
		return NULL;
	}
	return va;
}

static inline void fill(void *p, size_t n, uint32_t seed)
{
	uint32_t *w = p;

	for (size_t i = 0; i < n / 4; i++)
		w[i] = seed ^ (uint32_t)(i * 2654435761u);
}

static inline int check(const void *p, size_t n, uint32_t seed)
{
	const uint32_t *w = p;

	for (size_t i = 0; i < n / 4; i++)
		if (w[i] != (seed ^ (uint32_t)(i * 2654435761u)))
			return 0;
	return 1;
}

/* This process's page tables, in KiB (VmPTE of /proc/self/status), or -1. */
static inline long vm_pte_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPTE: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Pipes: one 8-byte message at a time. */
static inline void put64(int fd, uint64_t v)
{
	if (write(fd, &v, sizeof(v)) != sizeof(v))
		_exit(3);
}

static inline uint64_t get64(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		_exit(3);
	return v;
}

/* Reap @pid; return its exit status, or 128 + signal. */
static inline int reap(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#endif
