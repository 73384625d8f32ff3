// SPDX-License-Identifier: GPL-2.0
/*
 * npu_mem: mapping physical objects into the owner's address space.
 *
 * The mmap offset is a per-file cookie: vm_pgoff is a handle id, looked up in
 * the caller's own table, so no other file (or process) can use it.  The
 * whole object is mapped at once, eagerly, by the backend (one
 * remap_pfn_range() per contiguous chunk): no faults, no 4 KiB at a time.
 *
 * Each VMA is a holder of its object (taken here, dropped by .close), so FREE
 * while mapped is legal and the last munmap frees.  VMAs are never copied
 * into a fork()ed child (VM_DONTCOPY), cannot grow (VM_DONTEXPAND), and are
 * never split (.may_split) or moved (.mremap), so exactly one .close matches
 * each successful mmap.
 */
#include <linux/mm.h>

#include "compat.h"
#include "npu_mem.h"

/*
 * Mapping counts, for netlink: the object's and its file's.  The VMA pins the
 * file, so the context outlives it.
 */
static void npu_mem_count_map(struct vm_area_struct *vma, int n)
{
	struct npu_mem_ctx *ctx = vma->vm_file->private_data;
	struct npu_mem_obj *obj = vma->vm_private_data;

	atomic_add(n, &obj->nr_maps);
	atomic_add(n, &ctx->nr_maps);
}

static void npu_mem_vm_open(struct vm_area_struct *vma)
{
	/* Not reached for fork, split or mremap, all refused; kept for safety. */
	npu_mem_obj_hold(vma->vm_private_data);
	npu_mem_count_map(vma, 1);
}

static void npu_mem_vm_close(struct vm_area_struct *vma)
{
	npu_mem_count_map(vma, -1);
	npu_mem_obj_unhold(vma->vm_private_data);
}

static int npu_mem_vm_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	return -EINVAL;
}

static int npu_mem_vm_mremap(struct vm_area_struct *vma)
{
	return -EPERM;
}

static const struct vm_operations_struct npu_mem_vm_ops = {
	.open = npu_mem_vm_open,
	.close = npu_mem_vm_close,
	.may_split = npu_mem_vm_may_split,
	.mremap = npu_mem_vm_mremap,
};

/**
 * npu_mem_ctx_mmap - map a handle's object
 * @ctx: the caller's context (the caller has been checked to own it)
 * @vma: the new VMA; vm_pgoff is the handle id
 *
 * Called with the mmap lock held for writing.
 *
 * Return: 0, -EINVAL (not MAP_SHARED, wrong size), -ENOENT (no such handle),
 * -EBADFD (context torn down) or the backend's error.
 */
int npu_mem_ctx_mmap(struct npu_mem_ctx *ctx, struct vm_area_struct *vma)
{
	unsigned long size = vma->vm_end - vma->vm_start;
	struct npu_mem_handle *h;
	struct npu_mem_obj *obj;
	int ret = 0;

	/*
	 * MAP_SHARED, not MAP_PRIVATE (whose copy-on-write pages cannot come
	 * from a PFN map).  VM_MAYSHARE, as the kernel clears VM_SHARED for a
	 * file opened read-only; it also clears VM_MAYWRITE for one, so such a
	 * mapping can never be made writable by mprotect().
	 */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;

	mutex_lock(&ctx->lock);
	h = npu_mem_ctx_handle(ctx, vma->vm_pgoff);
	if (IS_ERR(h)) {
		ret = PTR_ERR(h);
		goto out_unlock;
	}
	obj = h->obj;
	if (size != obj->size) {
		ret = -EINVAL;
		goto out_unlock;
	}
	npu_mem_obj_hold(obj);
out_unlock:
	mutex_unlock(&ctx->lock);
	if (ret)
		return ret;

	vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTCOPY | VM_DONTEXPAND |
		     VM_DONTDUMP);
	ret = obj->dev->ops->map(obj, vma);
	if (ret) {
		/* No PTE may outlive our holder: other threads need no fault. */
		zap_vma_ptes(vma, vma->vm_start, size);
		npu_mem_obj_unhold(obj);
		return ret;
	}
	vma->vm_private_data = obj;
	vma->vm_ops = &npu_mem_vm_ops;
	atomic_inc(&obj->nr_maps);
	atomic_inc(&ctx->nr_maps);
	return 0;
}
