// SPDX-License-Identifier: GPL-2.0
/*
 * npu_mem: fabric handles (ACL_MEM_SHARE_HANDLE_TYPE_FABRIC).
 *
 * A fabric handle carries a value of kind NPU_MEM_SHARE_FABRIC and the
 * random instance id this machine drew at load, which stands for CANN's
 * server id: a handle from another instance (another host, or this one
 * before a reload) has no fabric link here and is refused with EXDEV,
 * before anything is looked up.  Values are as unguessable as any; the rest
 * of the handle is constant per machine, so it tells a guesser nothing.
 */
#include <linux/random.h>
#include <linux/string.h>
#include <kunit/visibility.h>

#include "npu_mem.h"

void npu_mem_fabric_init(struct npu_mem_sys *sys)
{
	get_random_bytes(sys->instance, sizeof(sys->instance));
}

void npu_mem_fabric_fill(struct npu_mem_sys *sys, u64 value,
			 struct npu_mem_fabric_handle *fh)
{
	BUILD_BUG_ON(sizeof(*fh) != 128);
	BUILD_BUG_ON(sizeof(fh->magic) != sizeof(NPU_MEM_FABRIC_MAGIC) - 1);
	BUILD_BUG_ON(sizeof(fh->instance) != sizeof(sys->instance));
	memset(fh, 0, sizeof(*fh));
	memcpy(fh->magic, NPU_MEM_FABRIC_MAGIC, sizeof(fh->magic));
	memcpy(fh->instance, sys->instance, sizeof(fh->instance));
	fh->shareable = value;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_fabric_fill);

/**
 * npu_mem_fabric_value - the value a fabric handle carries
 * @sys: this machine
 * @fh: the handle
 * @value: out: its value
 *
 * Return: 0, -EINVAL (not a fabric handle: magic, reserved bytes, value 0),
 * -EXDEV (another instance's: no fabric link).
 */
int npu_mem_fabric_value(struct npu_mem_sys *sys,
			 const struct npu_mem_fabric_handle *fh, u64 *value)
{
	if (memcmp(fh->magic, NPU_MEM_FABRIC_MAGIC, sizeof(fh->magic)) ||
	    memchr_inv(fh->reserved, 0, sizeof(fh->reserved)) || !fh->shareable)
		return -EINVAL;
	if (memcmp(fh->instance, sys->instance, sizeof(sys->instance)))
		return -EXDEV;
	*value = fh->shareable;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_fabric_value);
