// SPDX-License-Identifier: MIT
/*
 * libshim aclrtMalloc / aclrtFree: linear device memory.
 *
 * One aclrtMalloc is one driver object (ALLOC) on the calling thread's
 * device, mapped whole into a reservation of its own, so it counts in
 * aclrtGetMemInfo and in npu-mem, dies with the process, can be copied to
 * and from like any mapping, and can be shared by an IPC key.  Only aclrtFree
 * tears it down: the VMM calls refuse its range.
 */
#include "shim.h"

/*
 * The page kind each policy asks for, as the runtime's aclMallocMemInner
 * turns policies into rtMalloc flags: a value it does not know (the memory
 * type bits, say) is the default, huge pages first.
 */
static aclrtMemAttr policy_attr(aclrtMemMallocPolicy policy)
{
	switch (policy) {
	case ACL_MEM_MALLOC_NORMAL_ONLY:
	case ACL_MEM_MALLOC_NORMAL_ONLY_P2P:
		return ACL_HBM_MEM_NORMAL;
	case ACL_MEM_MALLOC_HUGE1G_ONLY:
	case ACL_MEM_MALLOC_HUGE1G_ONLY_P2P:
		return ACL_HBM_MEM_HUGE1G;
	default:
		return ACL_HBM_MEM_HUGE;
	}
}

/*
 * CANN aligns a request to 32 bytes and, except for HUGE1G (and the Align32
 * variant), adds 32 bytes of padding; the driver then rounds up to the
 * granularity.  So does this.
 */
static aclError do_malloc(const char *func, void **devPtr, size_t size, aclrtMemMallocPolicy policy,
			  bool pad)
{
	aclrtMemAttr attr = policy_attr(policy);
	struct shim_handle *h;
	struct shim_map *m;
	int32_t dev;
	aclError e;

	if (!devPtr)
		return shim_arg_null(func, "devPtr");
	if (!size)
		return shim_arg_zero(func, "size");
	if (attr == ACL_HBM_MEM_HUGE1G)
		pad = false;
	if (size > SIZE_MAX - 64)
		return shim_fail(func, ACL_ERROR_RT_MEMORY_ALLOCATION, "size %zu is too large", size);
	size = (size + 31) / 32 * 32 + (pad ? 32 : 0);
	e = shim_lock(func, true);
	if (e)
		return e;
	e = shim_need_device(func, &dev);
	if (!e)
		e = shim_alloc_handle(func, (uint32_t)dev, size, attr, &h);
	if (e)
		goto out;
	e = shim_map_whole(func, h, SHIM_RESV_MALLOC, &m);
	/* Mapped, the mapping's reference keeps it (aclrtFree drops that); if not, this frees it. */
	shim_put_handle(func, h);
	if (!e)
		*devPtr = (void *)m->va;
out:
	shim_unlock();
	return e;
}

aclError aclrtMalloc(void **devPtr, size_t size, aclrtMemMallocPolicy policy)
{
	return do_malloc(__func__, devPtr, size, policy, true);
}

aclError aclrtMallocAlign32(void **devPtr, size_t size, aclrtMemMallocPolicy policy)
{
	return do_malloc(__func__, devPtr, size, policy, false);
}

/* Simulated device memory is host memory: "cached" changes nothing. */
aclError aclrtMallocCached(void **devPtr, size_t size, aclrtMemMallocPolicy policy)
{
	return do_malloc(__func__, devPtr, size, policy, true);
}

aclError aclrtFree(void *devPtr)
{
	struct shim_map *m;
	aclError e;

	if (!devPtr)
		return shim_arg_null(__func__, "devPtr");
	e = shim_lock(__func__, true);
	if (e)
		return e;
	m = shim_find_map((uintptr_t)devPtr, 1);
	if (!m || m->r->owner != SHIM_RESV_MALLOC || m->va != (uintptr_t)devPtr)
		e = FAIL(ACL_ERROR_RT_PARAM_INVALID, "%p is not the start of an aclrtMalloc allocation",
			 devPtr);
	else {
		shim_ipc_forget(m);
		e = shim_unmap_whole(__func__, m);
	}
	shim_unlock();
	return e;
}
