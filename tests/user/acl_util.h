/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers for the libascendcl tests (tests/user/test_acl_*.c, libshim/tests/). */
#ifndef NPU_MEM_TESTS_ACL_UTIL_H
#define NPU_MEM_TESTS_ACL_UTIL_H

#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acl/acl.h"
#include "npu_tool.h"

#define MIB (1024UL * 1024UL)

/*
 * ACL checks for kselftest harness tests.  Each compares @call's aclError with
 * @want and, on a mismatch, logs both and the message aclGetRecentErrMsg()
 * gives; a TH_LOG() may follow, as after EXPECT_*().
 *   EXPECT_ACL_OK(call), ASSERT_ACL_OK(call): ACL_SUCCESS
 *   EXPECT_ACL(want, call), ASSERT_ACL(want, call)
 *   EXPECT_ACL_MSG(want, needle, call): and the message mentions @needle
 */
#define __EXPECT_ACL(want, call, needle, assert) do {				\
	aclError __want = (want), __got = (call);				\
	const char *__msg = aclGetRecentErrMsg(), *__needle = (needle);		\
	if (__got != __want || (__needle && !(__msg && strstr(__msg, __needle)))) { \
		__TH_LOG("%s returned %d, want %s (%d); message: %s%s%s%s", #call, \
			 __got, #want, __want, __msg ? __msg : "(none)",	\
			 __needle ? " (should mention \"" : "",		\
			 __needle ? __needle : "", __needle ? "\")" : "");	\
		_metadata->exit_code = KSFT_FAIL;				\
		_metadata->trigger = 1;						\
	} else if (__needle) {							\
		ksft_print_msg("%s\n", __msg);					\
	}									\
} while (0); OPTIONAL_HANDLER(assert)
#define EXPECT_ACL(want, call)	__EXPECT_ACL(want, call, NULL, 0)
#define ASSERT_ACL(want, call)	__EXPECT_ACL(want, call, NULL, 1)
#define EXPECT_ACL_OK(call)	__EXPECT_ACL(ACL_SUCCESS, call, NULL, 0)
#define ASSERT_ACL_OK(call)	__EXPECT_ACL(ACL_SUCCESS, call, NULL, 1)
#define EXPECT_ACL_MSG(want, needle, call) __EXPECT_ACL(want, call, needle, 0)

static inline aclrtPhysicalMemProp acl_dev_prop(uint32_t dev, aclrtMemAttr attr)
{
	aclrtPhysicalMemProp p;

	memset(&p, 0, sizeof(p));
	p.handleType = ACL_MEM_HANDLE_TYPE_NONE;
	p.allocationType = ACL_MEM_ALLOCATION_TYPE_PINNED;
	p.memAttr = attr;
	p.location.type = ACL_MEM_LOCATION_TYPE_DEVICE;
	p.location.id = dev;
	return p;
}

/* Free bytes of device @dev (sets the device on the calling thread). */
static inline size_t acl_free_bytes(int32_t dev)
{
	size_t f = 0, t = 0;

	if (aclrtSetDevice(dev) != ACL_SUCCESS || aclrtGetMemInfo(ACL_HBM_MEM, &f, &t) != ACL_SUCCESS)
		return (size_t)-1;
	aclrtResetDevice(dev);
	return f;
}

static inline int write_full(int fd, const void *buf, size_t n)
{
	return write(fd, buf, n) == (ssize_t)n ? 0 : -1;
}

static inline int read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = read(fd, (char *)buf + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* A u64 over a pipe or socket; a broken channel ends the process (status 2). */
static inline void send_u64(int fd, uint64_t v)
{
	if (write_full(fd, &v, sizeof(v)))
		exit(2);
}

static inline uint64_t recv_u64(int fd)
{
	uint64_t v;

	if (read_full(fd, &v, sizeof(v)))
		exit(2);
	return v;
}

/* Wait for a child; its exit status, or 128 + signal. */
static inline int wait_child(pid_t pid)
{
	int st = 0;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Free bytes of the calling thread's current device, or (size_t)-1. */
static inline size_t acl_cur_free(void)
{
	size_t f = 0, t = 0;

	return aclrtGetMemInfo(ACL_HBM_MEM, &f, &t) == ACL_SUCCESS ? f : (size_t)-1;
}

/*
 * Free bytes of the current device once they are @want, polling for up to
 * @ms milliseconds (a dead process's memory goes back as its files close):
 * what it last saw.
 */
static inline size_t acl_wait_free(size_t want, int ms)
{
	size_t f = acl_cur_free();

	for (; f != want && ms > 0; ms -= 10) {
		usleep(10000);
		f = acl_cur_free();
	}
	return f;
}

/*
 * `npu-mem --json objects --pid @tgid` into @out (NUL-terminated): 0, or -1
 * if the tool could not run or failed.
 */
static inline int acl_objects_json(int32_t tgid, char *out, size_t len)
{
	char cmd[256];
	size_t n;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s --json objects --pid %d", npu_mem_bin(), (int)tgid);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	return pclose(p) ? -1 : 0;
}

#endif
