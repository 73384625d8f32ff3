/* SPDX-License-Identifier: GPL-2.0 */
/*
 * npu_mem: internal interfaces shared by the driver's files and its KUnit suites.
 */
#ifndef _NPU_MEM_H
#define _NPU_MEM_H

#include <linux/kconfig.h>
#include <linux/types.h>

#include "uapi/npu_mem.h"

#define NPU_MEM_MAX_DEVICES	64

extern unsigned int npu_mem_num_devices;

#if IS_ENABLED(CONFIG_KUNIT)
/* Internals the KUnit suites call; static when KUnit is off. */
int npu_mem_version_fill(struct npu_mem_version *ver);
#endif

#endif /* _NPU_MEM_H */
