// SPDX-License-Identifier: GPL-2.0
/*
 * npu_mem: per-process contexts (one per open file) and their handles.
 *
 * A context records its owner (bare tgid + start time) when the file is
 * opened; the ioctl and mmap entry points refuse any other caller, and the
 * functions below only ever consult the recorded owner, so KUnit can make
 * contexts for pretend processes.
 *
 * Process death: a file context registers an mmu notifier on the opener's mm.
 * Its .release runs when the address space goes (exit, SIGKILL, execve), even
 * if a forked child still holds the file, and tears the context down.  File
 * release first drops the handles itself unless the owner's address space is
 * going (npu_mem_release()), then unregisters the notifier, which runs
 * .release itself if exit_mmap() has not and otherwise waits (SRCU) for a
 * concurrent one to finish; the teardown is idempotent, so the two may come
 * in either order or race, and whichever takes the context's lock first
 * reports the handles: the notifier as NPU_MEM_EVENT_HOLDER_DIED, close() as
 * NPU_MEM_EVENT_FREED.
 */
#include <linux/mm.h>
#include <linux/cred.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <kunit/visibility.h>

#include "npu_mem.h"

/* Handles are the most numerous struct (one per holder): a cache of their own. */
static struct kmem_cache *npu_mem_handle_cache;

int npu_mem_handle_cache_create(void)
{
	npu_mem_handle_cache = KMEM_CACHE(npu_mem_handle, SLAB_ACCOUNT);
	return npu_mem_handle_cache ? 0 : -ENOMEM;
}

void npu_mem_handle_cache_destroy(void)
{
	kmem_cache_destroy(npu_mem_handle_cache);
}

/* Return: a zeroed handle, charged to the caller's memory cgroup, or NULL. */
struct npu_mem_handle *npu_mem_handle_new(void)
{
	struct npu_mem_handle *h;

	h = kmem_cache_zalloc(npu_mem_handle_cache, GFP_KERNEL_ACCOUNT);
	if (h) {
		INIT_LIST_HEAD(&h->obj_node);
		INIT_LIST_HEAD(&h->share_node);
	}
	return h;
}

void npu_mem_handle_free(struct npu_mem_handle *h)
{
	kmem_cache_free(npu_mem_handle_cache, h);
}

bool npu_mem_owner_equal(const struct npu_mem_owner *a,
			 const struct npu_mem_owner *b)
{
	return a->tgid == b->tgid && a->start_time == b->start_time;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_owner_equal);

/* The calling process's identity. */
void npu_mem_owner_current(struct npu_mem_owner *owner)
{
	owner->tgid = task_tgid_nr(current);
	owner->start_time = current->group_leader->start_time;
	get_task_comm(owner->comm, current->group_leader);
	owner->uid = current_euid();
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_owner_current);

/*
 * Is the calling process @owner (as npu_mem_owner_equal() would say)?  Every
 * ioctl asks, so it compares in place and copies nothing.
 */
bool npu_mem_owner_is_current(const struct npu_mem_owner *owner)
{
	return owner->tgid == task_tgid_nr(current) &&
	       owner->start_time == current->group_leader->start_time;
}

u64 npu_mem_handle_mmap_offset(u32 handle)
{
	return (u64)handle << PAGE_SHIFT;
}

/*
 * Return: a live context owned by @owner without an mm (KUnit, open()), or
 * an ERR_PTR().
 */
struct npu_mem_ctx *npu_mem_ctx_create(struct npu_mem_sys *sys,
				       const struct npu_mem_owner *owner)
{
	struct npu_mem_ctx *ctx;
	int ret;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL_ACCOUNT);
	if (!ctx)
		return ERR_PTR(-ENOMEM);
	ctx->sys = sys;
	ctx->owner = *owner;
	mutex_init(&ctx->lock);
	npu_mem_htab_init(&ctx->handles);
	atomic_set(&ctx->nr_maps, 0);

	mutex_lock(&sys->ctx_lock);
	ret = xa_alloc(&sys->ctxs, &ctx->id, ctx, xa_limit_31b, GFP_KERNEL_ACCOUNT);
	mutex_unlock(&sys->ctx_lock);
	if (ret) {
		npu_mem_htab_destroy(&ctx->handles);
		mutex_destroy(&ctx->lock);
		kfree(ctx);
		return ERR_PTR(ret);
	}
	return ctx;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_ctx_create);

/*
 * Drop one handle that has been removed from its context's table, telling the
 * "events" group why (@event: NPU_MEM_EVENT_FREED or _HOLDER_DIED).
 */
static void npu_mem_handle_destroy(struct npu_mem_ctx *ctx,
				   struct npu_mem_handle *h, u32 event)
{
	struct npu_mem_event ev;

	npu_mem_obj_unlink(h->obj, h);
	npu_mem_obj_event(&ev, event, h->obj, &ctx->owner);
	ev.device = h->device;
	ev.value = h->share ? h->share->value : 0;
	npu_mem_nl_notify(ctx->sys, &ev);
	if (h->share) {
		if (h->imported)
			npu_mem_share_drop_importer(h->share, h);
		else if (h->share->kind == NPU_MEM_SHARE_IPC_KEY)
			npu_mem_obj_unshare(h->obj, h->share);
		npu_mem_share_put(h->share);
	}
	npu_mem_obj_unhold(h->obj);
	npu_mem_handle_free(h);
}

/*
 * Free every handle of @ctx, as if the owner had called FREE on each, and
 * refuse any further operation.  Mappings hold their own references and go
 * with their VMAs.  Idempotent.
 */
static void __npu_mem_ctx_teardown(struct npu_mem_ctx *ctx, u32 event)
{
	struct npu_mem_handle *h;
	u32 id;

	mutex_lock(&ctx->lock);
	ctx->dead = true;
	npu_mem_htab_for_each(&ctx->handles, id, h) {
		npu_mem_htab_remove(&ctx->handles, id);
		npu_mem_handle_destroy(ctx, h, event);
	}
	mutex_unlock(&ctx->lock);
}

/* The owner's address space has gone: its process died (or called exec). */
void npu_mem_ctx_teardown(struct npu_mem_ctx *ctx)
{
	__npu_mem_ctx_teardown(ctx, NPU_MEM_EVENT_HOLDER_DIED);
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_ctx_teardown);

/* The file is closed while its owner lives: drop its handles as FREE would. */
void npu_mem_ctx_close(struct npu_mem_ctx *ctx)
{
	__npu_mem_ctx_teardown(ctx, NPU_MEM_EVENT_FREED);
}

/* The file is closed (after a teardown if the owner died first). */
void npu_mem_ctx_destroy(struct npu_mem_ctx *ctx)
{
	struct npu_mem_sys *sys = ctx->sys;

	__npu_mem_ctx_teardown(ctx, NPU_MEM_EVENT_FREED);
	mutex_lock(&sys->ctx_lock);
	xa_erase(&sys->ctxs, ctx->id);
	mutex_unlock(&sys->ctx_lock);
	npu_mem_htab_destroy(&ctx->handles);
	mutex_destroy(&ctx->lock);
	kfree(ctx);
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_ctx_destroy);

/**
 * npu_mem_ctx_handle - look a handle up in a live context
 * @ctx: the context; the caller holds its lock
 * @id: the handle id
 *
 * Return: the handle, ERR_PTR(-EBADFD) if @ctx is torn down, or
 * ERR_PTR(-ENOENT) if it has no handle @id.
 */
struct npu_mem_handle *npu_mem_ctx_handle(struct npu_mem_ctx *ctx, u64 id)
{
	struct npu_mem_handle *h;

	lockdep_assert_held(&ctx->lock);
	if (ctx->dead)
		return ERR_PTR(-EBADFD);
	h = npu_mem_htab_get(&ctx->handles, id);
	return h ?: ERR_PTR(-ENOENT);
}

/*
 * Give @h an id in @ctx's table.  Called with @ctx->lock held.
 * Return: 0, -EBADFD if @ctx is torn down, -ENOMEM.
 */
int npu_mem_ctx_add_handle(struct npu_mem_ctx *ctx, struct npu_mem_handle *h)
{
	lockdep_assert_held(&ctx->lock);
	if (ctx->dead)
		return -EBADFD;
	return npu_mem_htab_add(&ctx->handles, h);
}

/**
 * npu_mem_ctx_alloc - NPU_MEM_IOCTL_ALLOC for @ctx
 * @ctx: the caller's context
 * @device: device id
 * @size: bytes
 * @page_kind: NPU_MEM_PAGE_*
 * @handle: out: the new handle's id
 *
 * Return: 0, -EINVAL, -ENODEV, -ENOMEM or -EBADFD; see npu_mem_obj_create().
 */
int npu_mem_ctx_alloc(struct npu_mem_ctx *ctx, u32 device, u64 size, u32 page_kind,
		  u32 *handle)
{
	struct npu_mem_event ev;
	struct npu_mem_handle *h;
	int ret;

	h = npu_mem_handle_new();
	if (!h)
		return -ENOMEM;
	h->obj = npu_mem_obj_alloc(ctx->sys, &ctx->owner, device, size,
				   page_kind);
	if (IS_ERR(h->obj)) {
		ret = PTR_ERR(h->obj);
		goto err_free_handle;
	}
	h->device = device;
	h->tgid = ctx->owner.tgid;
	h->uid = ctx->owner.uid;
	npu_mem_obj_link(h->obj, h);
	npu_mem_obj_event(&ev, NPU_MEM_EVENT_ALLOCATED, h->obj, &ctx->owner);

	mutex_lock(&ctx->lock);
	ret = npu_mem_ctx_add_handle(ctx, h);
	if (!ret)
		*handle = h->id;
	mutex_unlock(&ctx->lock);
	if (ret)
		goto err_unhold;
	npu_mem_nl_notify(ctx->sys, &ev);
	return 0;

err_unhold:
	npu_mem_obj_unlink(h->obj, h);
	npu_mem_obj_abort(h->obj);
err_free_handle:
	npu_mem_handle_free(h);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_ctx_alloc);

/* NPU_MEM_IOCTL_FREE for @ctx.  Return: 0, -ENOENT or -EBADFD. */
int npu_mem_ctx_free(struct npu_mem_ctx *ctx, u32 handle)
{
	struct npu_mem_handle *h;
	int ret = 0;

	mutex_lock(&ctx->lock);
	h = npu_mem_ctx_handle(ctx, handle);
	if (IS_ERR(h)) {
		ret = PTR_ERR(h);
		goto out_unlock;
	}
	npu_mem_htab_remove(&ctx->handles, handle);
	npu_mem_handle_destroy(ctx, h, NPU_MEM_EVENT_FREED);
out_unlock:
	mutex_unlock(&ctx->lock);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_ctx_free);

/* NPU_MEM_IOCTL_HANDLE_INFO for @ctx.  Return: 0, -ENOENT or -EBADFD. */
int npu_mem_ctx_handle_info(struct npu_mem_ctx *ctx, struct npu_mem_handle_info *info)
{
	struct npu_mem_handle *h;
	int ret = 0;

	mutex_lock(&ctx->lock);
	h = npu_mem_ctx_handle(ctx, info->handle);
	if (IS_ERR(h)) {
		ret = PTR_ERR(h);
		goto out_unlock;
	}
	info->device = h->device;
	info->page_kind = h->obj->page_kind;
	info->size = h->obj->size;
	info->origin_device = h->obj->dev->id;
	info->info_flags = 0;
	info->shareable = 0;
	if (h->imported)
		info->info_flags |= NPU_MEM_INFO_IMPORTED;
	if (h->share) {
		info->shareable = h->share->value;
		if (!h->imported)
			info->info_flags |= NPU_MEM_INFO_EXPORTED;
	}
	info->mmap_offset = npu_mem_handle_mmap_offset(h->id);
out_unlock:
	mutex_unlock(&ctx->lock);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_ctx_handle_info);
