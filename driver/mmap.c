// SPDX-License-Identifier: GPL-2.0
/*
 * npu_mem: mapping physical objects into the owner's address space.
 *
 * The mmap offset is a per-file cookie: vm_pgoff is a handle id, looked up in
 * the caller's own table, so no other file (or process) can use it.
 *
 * mmap() itself maps nothing: page faults do, as device-dax does, each with
 * the largest entry the backing allows.  Where the kernel lets a PFN map
 * take huge faults (CONFIG_ARCH_SUPPORTS_HUGE_PFNMAP, Linux 6.12) that is a
 * PUD for 1 GiB of contiguous memory and a PMD for a 2 MiB chunk; otherwise,
 * and for smaller chunks, .fault fills the 4 KiB entries of the whole 2 MiB
 * window around the address, so a first touch costs one fault per 2 MiB.
 * (Linux 6.1 never calls .huge_fault for a VMA that is not DAX:
 * hugepage_vma_check() refuses VM_PFNMAP.)  The entries are "special": no
 * struct page is looked at, so a backend of device memory works the same.
 *
 * Each VMA is a holder of its object (taken here, dropped by .close), so FREE
 * while mapped is legal, the last munmap frees, and a fault always finds the
 * memory.  VMAs are never copied into a fork()ed child (VM_DONTCOPY), cannot
 * grow (VM_DONTEXPAND), and are never split (.may_split) or moved (.mremap),
 * so exactly one .close matches each successful mmap, and the munmap that
 * calls it zaps whatever the faults inserted.
 */
#include <linux/mm.h>
#include <linux/pfn_t.h>

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

/* The page frame backing @addr of @vma, and the contiguous bytes from there. */
static unsigned long npu_mem_vm_pfn(struct vm_area_struct *vma,
				    unsigned long addr, u64 *contig)
{
	struct npu_mem_obj *obj = vma->vm_private_data;

	return obj->dev->ops->pfn(obj, addr - vma->vm_start, contig);
}

/*
 * 4 KiB entries: the faulting page, then the rest of its 2 MiB window (as
 * TTM prefaults), where a failure only means a later fault.
 */
static vm_fault_t npu_mem_vm_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long win = ALIGN_DOWN(vmf->address, NPU_MEM_CHUNK_SIZE);
	unsigned long addr = max(win, vma->vm_start);
	unsigned long end = min(win + NPU_MEM_CHUNK_SIZE, vma->vm_end);
	unsigned long pfn;
	vm_fault_t ret;
	u64 contig;

	pfn = npu_mem_vm_pfn(vma, vmf->address, &contig);
	ret = vmf_insert_pfn(vma, vmf->address, pfn);
	if (ret != VM_FAULT_NOPAGE)
		return ret;
	while (addr < end) {
		pfn = npu_mem_vm_pfn(vma, addr, &contig);
		for (; contig && addr < end; contig -= PAGE_SIZE) {
			if (vmf_insert_pfn(vma, addr, pfn) != VM_FAULT_NOPAGE)
				return VM_FAULT_NOPAGE;
			addr += PAGE_SIZE;
			pfn++;
		}
	}
	return VM_FAULT_NOPAGE;
}

#ifdef CONFIG_ARCH_SUPPORTS_HUGE_PFNMAP
/*
 * One PMD or PUD, when the range it would cover lies inside the VMA and one
 * aligned chunk backs all of it; else the caller falls back to a smaller one.
 */
static vm_fault_t npu_mem_vm_huge_fault(struct vm_fault *vmf, unsigned int order)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long size = PAGE_SIZE << order;
	unsigned long addr = ALIGN_DOWN(vmf->address, size);
	bool write = vmf->flags & FAULT_FLAG_WRITE;
	unsigned long pfn;
	u64 contig;

	if (addr < vma->vm_start || addr + size > vma->vm_end)
		return VM_FAULT_FALLBACK;
	pfn = npu_mem_vm_pfn(vma, addr, &contig);
	if (contig < size || !IS_ALIGNED(pfn, 1UL << order))
		return VM_FAULT_FALLBACK;
	switch (order) {
	case PMD_ORDER:
		return vmf_insert_pfn_pmd(vmf, __pfn_to_pfn_t(pfn, 0), write);
#ifdef CONFIG_ARCH_SUPPORTS_PUD_PFNMAP
	case PUD_ORDER:
		return vmf_insert_pfn_pud(vmf, __pfn_to_pfn_t(pfn, 0), write);
#endif
	default:
		return VM_FAULT_FALLBACK;
	}
}
#endif

static const struct vm_operations_struct npu_mem_vm_ops = {
	.open = npu_mem_vm_open,
	.close = npu_mem_vm_close,
	.may_split = npu_mem_vm_may_split,
	.mremap = npu_mem_vm_mremap,
	.fault = npu_mem_vm_fault,
#ifdef CONFIG_ARCH_SUPPORTS_HUGE_PFNMAP
	.huge_fault = npu_mem_vm_huge_fault,
#endif
};

#ifdef CONFIG_TRANSPARENT_HUGEPAGE
/*
 * Where mmap() puts a mapping the caller did not place: at a 2 MiB boundary
 * when it is that large, so that PMDs can map it (and, without them, a first
 * touch faults once per chunk).  The offset is a handle id, not a position
 * in anything: aligned as offset 0.
 */
unsigned long npu_mem_get_unmapped_area(struct file *file, unsigned long addr,
					unsigned long len, unsigned long pgoff,
					unsigned long flags)
{
	return thp_get_unmapped_area(file, addr, len, 0, flags);
}
#endif

/**
 * npu_mem_ctx_mmap - map a handle's object
 * @ctx: the caller's context (the caller has been checked to own it)
 * @vma: the new VMA; vm_pgoff is the handle id
 *
 * Called with the mmap lock held for writing.  Maps nothing yet: faults do.
 *
 * Return: 0, -EINVAL (not MAP_SHARED, wrong size), -ENOENT (no such handle)
 * or -EBADFD (context torn down).
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
	vma->vm_private_data = obj;
	vma->vm_ops = &npu_mem_vm_ops;
	atomic_inc(&obj->nr_maps);
	atomic_inc(&ctx->nr_maps);
	return 0;
}
