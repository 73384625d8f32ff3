/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Memory cgroup (v2) helpers for the tests that measure what a process is
 * charged: mount cgroup2 if need be, create a child with the memory
 * controller, move a process into it, read its memory.current.
 */
#ifndef NPU_MEM_TESTS_CGROUP_H
#define NPU_MEM_TESTS_CGROUP_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define CGROUP_ROOT "/sys/fs/cgroup"

/* Read @path into @buf (a string, "" on error); 0 or -1. */
static inline int cgroup_read(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);

	if (fd >= 0)
		close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return n < 0 ? -1 : 0;
}

/* Write @s to @path; 0 or -1 with errno set. */
static inline int cgroup_write(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : write(fd, s, strlen(s));
	int e = errno;

	if (fd >= 0)
		close(fd);
	errno = e;
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/*
 * Create the memory cgroup @path (CGROUP_ROOT/<name>), mounting cgroup2 and
 * enabling the memory controller first if need be.  0, or -1 with errno set.
 */
static inline int cgroup_create(const char *path)
{
	if (access(CGROUP_ROOT "/cgroup.controllers", F_OK) &&
	    mount("none", CGROUP_ROOT, "cgroup2", 0, NULL))
		return -1;
	if (cgroup_write(CGROUP_ROOT "/cgroup.subtree_control", "+memory"))
		return -1;
	if (mkdir(path, 0755) && errno != EEXIST)
		return -1;
	return 0;
}

/* Move process @pid (0: the caller) into @path.  0 or -1. */
static inline int cgroup_enter(const char *path, pid_t pid)
{
	char file[256], buf[16];

	snprintf(file, sizeof(file), "%s/cgroup.procs", path);
	snprintf(buf, sizeof(buf), "%d", pid ? pid : getpid());
	return cgroup_write(file, buf);
}

/* memory.current of @path in bytes, or UINT64_MAX. */
static inline uint64_t cgroup_memory_current(const char *path)
{
	char file[256], buf[32];

	snprintf(file, sizeof(file), "%s/memory.current", path);
	return cgroup_read(file, buf, sizeof(buf)) || !buf[0] ? UINT64_MAX :
	       strtoull(buf, NULL, 10);
}

/* Leave @path (back to the root) and remove it. */
static inline void cgroup_destroy(const char *path)
{
	cgroup_enter(CGROUP_ROOT, 0);
	rmdir(path);
}

#endif
