/* SPDX-License-Identifier: GPL-2.0 */
/*
 * For the tests that inject faults with /proc/thread-self/fail-nth
 * (Documentation/fault-injection/fault-injection.rst): the fault attributes
 * they need, written to debugfs.
 */
#ifndef NPU_MEM_TESTS_FAIL_NTH_H
#define NPU_MEM_TESTS_FAIL_NTH_H

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Write @val to the debugfs file @path: 0, or -1. */
static inline int fault_attr_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

/*
 * failslab and fail_page_alloc as fail-nth needs them: sleeping allocations
 * may fail, quietly; pages from order 1 (2 MiB chunks, their order 4
 * fallback, slabs).  0, or -1.
 */
static inline int fault_attrs_setup(void)
{
	static const char *const w[][2] = {
		{ "/sys/kernel/debug/failslab/ignore-gfp-wait", "N" },
		{ "/sys/kernel/debug/failslab/verbose", "0" },
		{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N" },
		{ "/sys/kernel/debug/fail_page_alloc/verbose", "0" },
		{ "/sys/kernel/debug/fail_page_alloc/min-order", "1" },
	};

	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (fault_attr_write(w[i][0], w[i][1]))
			return -1;
	return 0;
}

#endif
