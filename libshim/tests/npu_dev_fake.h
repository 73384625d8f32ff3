/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for npu_dev.c in host tests: the same interface (npu_dev.h),
 * memory from memfds instead of /dev/npu_mem.  Test programs are linked with
 * libshim's other sources and this file; the library itself never is.
 */
#ifndef NPU_MEM_SHIM_NPU_DEV_FAKE_H
#define NPU_MEM_SHIM_NPU_DEV_FAKE_H

#include <stddef.h>
#include <stdint.h>

#include "npu_dev.h"

#define NPU_DEV_FAKE_NDEV	2
#define NPU_DEV_FAKE_MEM	(1ULL << 30)	/* per device */

/*
 * Make the next npu_dev_map() fail with @err (positive) the way a failing
 * mmap handler does: MAP_FIXED has already removed what was at [va, va+size).
 * Then @hole, if set, runs (to put something else in the hole) before the
 * failure is returned.
 */
void npu_dev_fake_fail_map(int err, void (*hole)(void *va, size_t size));

/*
 * The granularity of NORMAL and HUGE memory device @dev reports from now on
 * (NPU_MEM_GRANULARITY until this is called); ALLOC refuses other multiples.
 */
void npu_dev_fake_set_granularity(uint32_t dev, uint64_t granularity);

/* Handles the stand-in holds now (for leak checks). */
unsigned int npu_dev_fake_handles(void);

#endif /* NPU_MEM_SHIM_NPU_DEV_FAKE_H */
