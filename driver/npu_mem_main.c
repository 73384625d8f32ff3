// SPDX-License-Identifier: GPL-2.0
/*
 * npu_mem: simulated NPU device memory shared between processes.
 *
 * This file holds the module's entry points, the /dev/npu_mem misc device,
 * its file operations and the ioctl dispatch.  Every file operation first
 * checks that the caller is the process that opened the file (its recorded
 * bare tgid and start time, and the same mm): a file inherited over fork()
 * or passed over a socket is useless to anyone else (EBADFD).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bits.h>
#include <linux/fs.h>
#include <linux/log2.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/nospec.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/stddef.h>
#include <linux/uaccess.h>
#include <kunit/visibility.h>

#include "compat.h"
#include "npu_mem.h"

/* The module parameters: read once, by npu_mem_init(), into the machine. */
static unsigned int npu_mem_num_devices = 2;
module_param_named(num_devices, npu_mem_num_devices, uint, 0444);
MODULE_PARM_DESC(num_devices, "number of simulated NPU devices (1-64, default 2)");

static unsigned int npu_mem_dev_mem_mb = 512;
module_param_named(mem_mb, npu_mem_dev_mem_mb, uint, 0444);
MODULE_PARM_DESC(mem_mb, "memory of each simulated device in MiB (multiple of 2, default 512)");

static unsigned int npu_mem_zero_reserve_mb = 64;
module_param_named(zero_reserve_mb, npu_mem_zero_reserve_mb, uint, 0444);
MODULE_PARM_DESC(zero_reserve_mb, "zeroed memory each device keeps ready per memory cgroup that allocates on it, charged to that cgroup, in MiB (multiple of 2, default 64, 0 = none)");

/*
 * For benchmarks and tests only: a 4 KiB granularity lets a VM hold 10^6 live
 * objects.  Real devices (and ACL) use 2 MiB.
 */
/* Read at every lookup (guess_budget.c): root may change it at run time. */
unsigned int npu_mem_guess_budget = 256;
module_param_named(guess_budget, npu_mem_guess_budget, uint, 0644);
MODULE_PARM_DESC(guess_budget, "lookups of shareable values that do not exist each user may make a second (IMPORT, SET_PIDS), with a burst of one second's worth; past it lookups fail with EAGAIN (default 256, 0 = no limit)");

static unsigned int npu_mem_test_granularity_kb;
module_param_named(test_granularity_kb, npu_mem_test_granularity_kb, uint, 0444);
MODULE_PARM_DESC(test_granularity_kb,
		 "benchmarks/tests only: granularity of NORMAL and HUGE objects in KiB (4-2048, power of 2; default 0 = 2 MiB)");

/* The module's machine: set once by init, before the device is registered. */
static struct npu_mem_sys *npu_mem_sys;

/* Fill the answer to NPU_MEM_IOCTL_VERSION for @sys. */
void npu_mem_version_fill(struct npu_mem_sys *sys, struct npu_mem_version *ver)
{
	ver->abi_major = NPU_MEM_ABI_MAJOR;
	ver->abi_minor = NPU_MEM_ABI_MINOR;
	ver->num_devices = sys->num_devices;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_version_fill);

/* The opener's address space is going: release what the process held. */
static void npu_mem_mn_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	npu_mem_ctx_teardown(container_of(mn, struct npu_mem_ctx, mn));
}

static const struct mmu_notifier_ops npu_mem_mn_ops = {
	.release = npu_mem_mn_release,
};

static int npu_mem_open(struct inode *inode, struct file *file)
{
	struct npu_mem_owner owner;
	struct npu_mem_ctx *ctx;
	int ret;

	if (!current->mm)
		return -EINVAL;
	npu_mem_owner_current(&owner);
	ctx = npu_mem_ctx_create(npu_mem_sys, &owner);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	ctx->mn.ops = &npu_mem_mn_ops;
	ret = mmu_notifier_register(&ctx->mn, current->mm);
	if (ret) {
		npu_mem_ctx_destroy(ctx);
		return ret;
	}
	ctx->mm = current->mm;
	file->private_data = ctx;
	return 0;
}

/*
 * Is @ctx's owner losing its address space, so that its handles go as its
 * death (HOLDER_DIED) rather than as a close (FREED)?  Yes once the mm has no
 * users (exit_mmap() has run the notifier or will), and when the owner itself
 * drops its files on the way out (exit, or execve() closing O_CLOEXEC files)
 * while someone else briefly pins its old mm.  A racy snapshot: a close that
 * races with the death reports either event, and nothing else depends on it.
 */
static bool npu_mem_owner_mm_going(struct npu_mem_ctx *ctx)
{
	if (!atomic_read(&ctx->mm->mm_users))
		return true;
	return npu_mem_owner_is_current(&ctx->owner) && current->mm != ctx->mm;
}

static int npu_mem_release(struct inode *inode, struct file *file)
{
	struct npu_mem_ctx *ctx = file->private_data;

	/* ctx->mm is pinned (mmgrab()) until mmu_notifier_unregister(). */
	if (!npu_mem_owner_mm_going(ctx))
		npu_mem_ctx_close(ctx);
	/*
	 * Runs .release unless exit_mmap() already has, then waits for it; after
	 * a close it finds no handles left.
	 */
	mmu_notifier_unregister(&ctx->mn, ctx->mm);
	npu_mem_ctx_destroy(ctx);
	return 0;
}

/* Return: 0 if the caller is @ctx's owner, running in its mm; else -EBADFD. */
static int npu_mem_check_caller(struct npu_mem_ctx *ctx)
{
	if (!npu_mem_owner_is_current(&ctx->owner) || current->mm != ctx->mm)
		return -EBADFD;
	return 0;
}

/*
 * The handlers below unpack their struct for the core.  Flags and reserved
 * fields have already been checked by the funnel (npu_mem_ioctl_args_ok()).
 */
static int npu_mem_ioc_version(struct npu_mem_ctx *ctx, void *arg)
{
	npu_mem_version_fill(ctx->sys, arg);
	return 0;
}

static int npu_mem_ioc_device_info(struct npu_mem_ctx *ctx, void *arg)
{
	return npu_mem_sys_device_info(ctx->sys, arg);
}

static int npu_mem_ioc_alloc(struct npu_mem_ctx *ctx, void *arg)
{
	struct npu_mem_alloc *a = arg;
	int ret;

	ret = npu_mem_ctx_alloc(ctx, a->device, a->size, a->page_kind, &a->handle);
	if (!ret)
		a->mmap_offset = npu_mem_handle_mmap_offset(a->handle);
	return ret;
}

static int npu_mem_ioc_free(struct npu_mem_ctx *ctx, void *arg)
{
	struct npu_mem_free *f = arg;

	return npu_mem_ctx_free(ctx, f->handle);
}

static int npu_mem_ioc_export(struct npu_mem_ctx *ctx, void *arg)
{
	struct npu_mem_export *e = arg;
	int ret;

	ret = npu_mem_ctx_export(ctx, e->handle, e->flags, &e->shareable);
	if (!ret && (e->flags & NPU_MEM_SHARE_FABRIC))
		npu_mem_fabric_fill(ctx->sys, e->shareable, &e->fabric);
	return ret;
}

/*
 * The value SET_PIDS or IMPORT names: @shareable, or with
 * NPU_MEM_SHARE_FABRIC the one @fabric carries (then @shareable must be 0;
 * without it, @fabric is reserved and must be zero).
 * 0, -EINVAL or -EXDEV (npu_mem_fabric_value()).
 */
static int npu_mem_named_value(struct npu_mem_ctx *ctx, u32 kind, u64 shareable,
			       const struct npu_mem_fabric_handle *fabric,
			       u64 *value)
{
	if (hweight32(kind) > 1)
		return -EINVAL;
	if (kind != NPU_MEM_SHARE_FABRIC) {
		if (memchr_inv(fabric, 0, sizeof(*fabric)))
			return -EINVAL;
		*value = shareable;
		return 0;
	}
	if (shareable)
		return -EINVAL;
	return npu_mem_fabric_value(ctx->sys, fabric, value);
}

static int npu_mem_ioc_set_pids(struct npu_mem_ctx *ctx, void *arg)
{
	struct npu_mem_set_pids *s = arg;
	s32 *pids;
	u64 value;
	int ret;

	ret = npu_mem_named_value(ctx, s->flags, s->shareable, &s->fabric, &value);
	if (ret)
		return ret;
	if (!s->count)
		return -EINVAL;
	if (s->count > NPU_MEM_MAX_PIDS)
		return -E2BIG;
	pids = kvmalloc_array(s->count, sizeof(*pids), GFP_KERNEL_ACCOUNT);
	if (!pids)
		return -ENOMEM;
	if (copy_from_user(pids, u64_to_user_ptr(s->pids),
			   array_size(s->count, sizeof(*pids)))) {
		ret = -EFAULT;
		goto out_free;
	}
	ret = npu_mem_ctx_set_pids(ctx, value, s->flags, pids, s->count);
out_free:
	kvfree(pids);
	return ret;
}

static int npu_mem_ioc_import(struct npu_mem_ctx *ctx, void *arg)
{
	struct npu_mem_import *im = arg;
	u64 value;
	int ret;

	ret = npu_mem_named_value(ctx, im->flags, im->shareable, &im->fabric, &value);
	if (ret)
		return ret;
	ret = npu_mem_ctx_import(ctx, value, im->flags, im->device, &im->handle);
	if (!ret)
		im->mmap_offset = npu_mem_handle_mmap_offset(im->handle);
	return ret;
}

static int npu_mem_ioc_bare_tgid(struct npu_mem_ctx *ctx, void *arg)
{
	struct npu_mem_bare_tgid *t = arg;

	t->tgid = ctx->owner.tgid;
	return 0;
}

static int npu_mem_ioc_handle_info(struct npu_mem_ctx *ctx, void *arg)
{
	return npu_mem_ctx_handle_info(ctx, arg);
}

static int npu_mem_ioc_unexport(struct npu_mem_ctx *ctx, void *arg)
{
	struct npu_mem_unexport *u = arg;

	return npu_mem_ctx_unexport(ctx, u->handle);
}

/* Big enough for every ioctl's argument, at this module's struct sizes. */
union npu_mem_ioctl_arg {
	struct npu_mem_version version;
	struct npu_mem_device_info device_info;
	struct npu_mem_alloc alloc;
	struct npu_mem_free free;
	struct npu_mem_export export;
	struct npu_mem_set_pids set_pids;
	struct npu_mem_import import;
	struct npu_mem_bare_tgid bare_tgid;
	struct npu_mem_handle_info handle_info;
	struct npu_mem_unexport unexport;
};

/**
 * struct npu_mem_ioctl_desc - one ioctl of the table
 * @cmd: the ioctl number as this module's header defines it; its type,
 *	number and direction must match the caller's, its size need not
 * @size: sizeof() the argument struct in this module
 * @min_size: the smallest size accepted, NPU_MEM_*_SIZE_VER0
 * @flags_offset: where the struct's __u32 flags field is
 * @valid_flags: the flags bits this ioctl defines
 * @reserved_offset: where a __u32 that must be zero is, or 0 for none
 * @func: the handler; it sees the argument at @size bytes, checked
 */
struct npu_mem_ioctl_desc {
	unsigned int cmd;
	unsigned int size;
	unsigned int min_size;
	unsigned int flags_offset;
	u32 valid_flags;
	unsigned int reserved_offset;
	int (*func)(struct npu_mem_ctx *ctx, void *arg);
};

#define NPU_MEM_IOCTL_DEF(_cmd, _func, _type, _min_size, _valid_flags,	\
			  _reserved_offset)				\
	[_IOC_NR(_cmd)] = {						\
		.cmd = (_cmd),						\
		.size = sizeof(struct _type),				\
		.min_size = (_min_size),				\
		.flags_offset = offsetof(struct _type, flags),		\
		.valid_flags = (_valid_flags),				\
		.reserved_offset = (_reserved_offset),			\
		.func = (_func),					\
	}

static const struct npu_mem_ioctl_desc npu_mem_ioctls[] = {
	NPU_MEM_IOCTL_DEF(NPU_MEM_IOCTL_VERSION, npu_mem_ioc_version,
			  npu_mem_version, NPU_MEM_VERSION_SIZE_VER0, 0, 0),
	NPU_MEM_IOCTL_DEF(NPU_MEM_IOCTL_DEVICE_INFO, npu_mem_ioc_device_info,
			  npu_mem_device_info, NPU_MEM_DEVICE_INFO_SIZE_VER0, 0, 0),
	NPU_MEM_IOCTL_DEF(NPU_MEM_IOCTL_ALLOC, npu_mem_ioc_alloc,
			  npu_mem_alloc, NPU_MEM_ALLOC_SIZE_VER0, 0, 0),
	NPU_MEM_IOCTL_DEF(NPU_MEM_IOCTL_FREE, npu_mem_ioc_free,
			  npu_mem_free, NPU_MEM_FREE_SIZE_VER0, 0, 0),
	NPU_MEM_IOCTL_DEF(NPU_MEM_IOCTL_EXPORT, npu_mem_ioc_export,
			  npu_mem_export, NPU_MEM_EXPORT_SIZE_VER0,
			  NPU_MEM_EXPORT_DISABLE_PID_VALIDATION |
			  NPU_MEM_SHARE_IPC_KEY | NPU_MEM_SHARE_FABRIC, 0),
	NPU_MEM_IOCTL_DEF(NPU_MEM_IOCTL_SET_PIDS, npu_mem_ioc_set_pids,
			  npu_mem_set_pids, NPU_MEM_SET_PIDS_SIZE_VER0,
			  NPU_MEM_SHARE_IPC_KEY | NPU_MEM_SHARE_FABRIC, 0),
	NPU_MEM_IOCTL_DEF(NPU_MEM_IOCTL_IMPORT, npu_mem_ioc_import,
			  npu_mem_import, NPU_MEM_IMPORT_SIZE_VER0,
			  NPU_MEM_SHARE_IPC_KEY | NPU_MEM_SHARE_FABRIC,
			  offsetof(struct npu_mem_import, reserved)),
	NPU_MEM_IOCTL_DEF(NPU_MEM_IOCTL_BARE_TGID, npu_mem_ioc_bare_tgid,
			  npu_mem_bare_tgid, NPU_MEM_BARE_TGID_SIZE_VER0, 0, 0),
	NPU_MEM_IOCTL_DEF(NPU_MEM_IOCTL_HANDLE_INFO, npu_mem_ioc_handle_info,
			  npu_mem_handle_info, NPU_MEM_HANDLE_INFO_SIZE_VER0, 0, 0),
	NPU_MEM_IOCTL_DEF(NPU_MEM_IOCTL_UNEXPORT, npu_mem_ioc_unexport,
			  npu_mem_unexport, NPU_MEM_UNEXPORT_SIZE_VER0, 0, 0),
};

/*
 * The ioctls that create device memory or give other processes access to it
 * need a file opened for writing, as BLKDISCARD does (EBADF otherwise).  A
 * read-only file may query, IMPORT what was shared with its process, map it
 * (read-only: the kernel lets no mapping of it become writable) and FREE.
 */
#define NPU_MEM_IOCTLS_WRITE	(BIT(_IOC_NR(NPU_MEM_IOCTL_ALLOC)) |	\
				 BIT(_IOC_NR(NPU_MEM_IOCTL_EXPORT)) |	\
				 BIT(_IOC_NR(NPU_MEM_IOCTL_SET_PIDS)))

/* The one check of every ioctl's flags and reserved fields. */
static bool npu_mem_ioctl_args_ok(const struct npu_mem_ioctl_desc *desc,
				  const void *karg)
{
	u32 flags = *(const u32 *)(karg + desc->flags_offset);

	if (flags & ~desc->valid_flags)
		return false;
	return !desc->reserved_offset ||
	       !*(const u32 *)(karg + desc->reserved_offset);
}

/*
 * The ioctl funnel.  The caller's struct size comes from its ioctl number:
 * copy_struct_from_user() zero-extends an older, shorter struct and refuses
 * (E2BIG) a newer, longer one whose extra bytes are not zero, so adding a
 * field at the end never changes an ioctl number.
 */
static long npu_mem_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct npu_mem_ctx *ctx = file->private_data;
	void __user *uarg = (void __user *)arg;
	const struct npu_mem_ioctl_desc *desc;
	union npu_mem_ioctl_arg karg;
	unsigned int nr = _IOC_NR(cmd);
	unsigned int usize = _IOC_SIZE(cmd);
	int ret;

	if (_IOC_TYPE(cmd) != NPU_MEM_IOCTL_BASE || nr >= ARRAY_SIZE(npu_mem_ioctls))
		return -ENOTTY;
	desc = &npu_mem_ioctls[array_index_nospec(nr, ARRAY_SIZE(npu_mem_ioctls))];
	if (!desc->func || _IOC_DIR(cmd) != _IOC_DIR(desc->cmd))
		return -ENOTTY;
	if (usize < desc->min_size)
		return -EINVAL;

	ret = npu_mem_check_caller(ctx);
	if (ret)
		return ret;
	if ((NPU_MEM_IOCTLS_WRITE & BIT(nr)) && !(file->f_mode & FMODE_WRITE))
		return -EBADF;
	ret = copy_struct_from_user(&karg, desc->size, uarg, usize);
	if (ret)
		return ret;
	if (!npu_mem_ioctl_args_ok(desc, &karg))
		return -EINVAL;
	/* A fabric export must be able to hand its handle back. */
	if (nr == _IOC_NR(NPU_MEM_IOCTL_EXPORT) &&
	    (karg.export.flags & NPU_MEM_SHARE_FABRIC) &&
	    usize < NPU_MEM_EXPORT_SIZE_VER1)
		return -EINVAL;
	ret = desc->func(ctx, &karg);
	if (ret)
		return ret;
	if ((_IOC_DIR(cmd) & _IOC_READ) &&
	    copy_to_user(uarg, &karg, min(usize, desc->size)))
		return -EFAULT;
	return 0;
}

static int npu_mem_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct npu_mem_ctx *ctx = file->private_data;
	int ret;

	ret = npu_mem_check_caller(ctx);
	if (ret)
		return ret;
	return npu_mem_ctx_mmap(ctx, vma);
}

static const struct file_operations npu_mem_fops = {
	.owner = THIS_MODULE,
	.open = npu_mem_open,
	.release = npu_mem_release,
	.unlocked_ioctl = npu_mem_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = npu_mem_mmap,
#ifdef CONFIG_TRANSPARENT_HUGEPAGE
	.get_unmapped_area = npu_mem_get_unmapped_area,
#endif
};

static struct miscdevice npu_mem_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = NPU_MEM_DEVICE_NAME,
	.fops = &npu_mem_fops,
	/* Root only; a udev rule gives the node to a group (dist/udev/). */
	.mode = 0600,
};

static int __init npu_mem_init(void)
{
	int ret;

	if (npu_mem_num_devices < 1 || npu_mem_num_devices > NPU_MEM_MAX_DEVICES) {
		pr_err("num_devices=%u is out of range 1-%d\n",
		       npu_mem_num_devices, NPU_MEM_MAX_DEVICES);
		return -EINVAL;
	}
	if (!npu_mem_dev_mem_mb || npu_mem_dev_mem_mb % 2) {
		pr_err("mem_mb=%u is not a positive multiple of 2\n",
		       npu_mem_dev_mem_mb);
		return -EINVAL;
	}
	if (npu_mem_zero_reserve_mb % 2 ||
	    npu_mem_zero_reserve_mb > npu_mem_dev_mem_mb) {
		pr_err("zero_reserve_mb=%u is not a multiple of 2 up to mem_mb\n",
		       npu_mem_zero_reserve_mb);
		return -EINVAL;
	}
	if (npu_mem_test_granularity_kb &&
	    (npu_mem_test_granularity_kb < PAGE_SIZE >> 10 ||
	     npu_mem_test_granularity_kb > NPU_MEM_GRANULARITY >> 10 ||
	     !is_power_of_2(npu_mem_test_granularity_kb))) {
		pr_err("test_granularity_kb must be 0 or a power of 2 from %lu to 2048\n",
		       PAGE_SIZE >> 10);
		return -EINVAL;
	}

	ret = npu_mem_handle_cache_create();
	if (ret)
		return ret;
	ret = npu_mem_zero_pools_register();
	if (ret)
		goto err_destroy_cache;
	npu_mem_sys = npu_mem_sys_create(npu_mem_num_devices,
					 (u64)npu_mem_dev_mem_mb << 20,
					 npu_mem_test_granularity_kb ?
					 (u64)npu_mem_test_granularity_kb << 10 :
					 NPU_MEM_GRANULARITY,
					 (u64)npu_mem_zero_reserve_mb << 20,
					 &npu_mem_host_backend);
	if (IS_ERR(npu_mem_sys)) {
		ret = PTR_ERR(npu_mem_sys);
		goto err_unregister_shrinker;
	}

	ret = npu_mem_nl_register(npu_mem_sys);
	if (ret) {
		pr_err("cannot register generic netlink family %s: %d\n",
		       NPU_MEM_GENL_NAME, ret);
		goto err_destroy_sys;
	}
	ret = misc_register(&npu_mem_misc);
	if (ret) {
		pr_err("cannot register /dev/%s: %d\n", NPU_MEM_DEVICE_NAME, ret);
		goto err_unregister_nl;
	}
	pr_info("%u simulated devices of %u MiB, ABI %d.%d\n", npu_mem_num_devices,
		npu_mem_dev_mem_mb, NPU_MEM_ABI_MAJOR, NPU_MEM_ABI_MINOR);
	return 0;

err_unregister_nl:
	npu_mem_nl_unregister();
err_destroy_sys:
	npu_mem_sys_destroy(npu_mem_sys);
err_unregister_shrinker:
	npu_mem_zero_pools_unregister();
err_destroy_cache:
	npu_mem_handle_cache_destroy();
	return ret;
}

static void __exit npu_mem_exit(void)
{
	/* Open files pin the module: no context, hence no object, is left. */
	misc_deregister(&npu_mem_misc);
	npu_mem_nl_unregister();
	npu_mem_sys_destroy(npu_mem_sys);
	npu_mem_zero_pools_unregister();
	npu_mem_handle_cache_destroy();
}

module_init(npu_mem_init);
module_exit(npu_mem_exit);

MODULE_DESCRIPTION("Simulated NPU device memory with cross-process sharing");
MODULE_LICENSE("GPL");
