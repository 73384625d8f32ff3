/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the npu_mem KUnit suites. */
#ifndef _NPU_MEM_KUNIT_UTIL_H
#define _NPU_MEM_KUNIT_UTIL_H

#include "driver/npu_mem.h"

/* An object allocated by the kernel itself (tgid 0), with no handle. */
static inline struct npu_mem_obj *kt_obj_create(struct npu_mem_sys *sys,
						u32 device, u64 size,
						u32 page_kind)
{
	static const struct npu_mem_owner kernel = { .comm = "kernel" };

	return npu_mem_obj_alloc(sys, &kernel, device, size, page_kind);
}

#endif /* _NPU_MEM_KUNIT_UTIL_H */
