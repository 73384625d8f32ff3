/* SPDX-License-Identifier: GPL-2.0 */
/*
 * For the tests that drive the npu-mem tool and read what it prints: where
 * the tool is, and counting in its output.
 */
#ifndef NPU_MEM_TESTS_NPU_TOOL_H
#define NPU_MEM_TESTS_NPU_TOOL_H

#include <stdlib.h>
#include <string.h>

/* The npu-mem binary: $NPU_MEM_BIN, or where the VM installs it. */
static inline const char *npu_mem_bin(void)
{
	const char *b = getenv("NPU_MEM_BIN");

	return b ? b : "/opt/npu_mem/bin/npu-mem";
}

/* Occurrences of @needle in @s. */
static inline int count_occ(const char *s, const char *needle)
{
	int n = 0;

	while ((s = strstr(s, needle))) {
		n++;
		s++;
	}
	return n;
}

#endif
