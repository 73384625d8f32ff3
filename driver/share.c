// SPDX-License-Identifier: GPL-2.0
/*
 * npu_mem: export records (shareable values), whitelists and import.
 *
 * A shareable value is a keyed permutation of its export index (value.c):
 * 64 unpredictable bits, never handed out twice while the module is loaded.
 * Lookup decodes the index and loads it from an xarray under RCU, which is
 * also where the lookup takes its reference (kref_get_unless_zero), so a
 * record being torn down is never returned; records are freed after a grace
 * period.  Imports take no global lock.  Lookups that find nothing are
 * metered per user (guess_budget.c).
 *
 * A record lives in npu_mem_sys.shares from export until its object's last
 * holder lets go (npu_mem_share_kill()); after that the value is dead for
 * ever.  The struct itself lives until its last reference: the object's, the
 * exporter handle's, each importer handle's, and in-flight lookups'.
 */
#include <linux/ktime.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/threads.h>
#include <kunit/visibility.h>

#include "npu_mem.h"

static void npu_mem_share_release(struct kref *ref)
{
	struct npu_mem_share *share = container_of(ref, struct npu_mem_share, ref);

	/* Importers are all gone. */
	npu_mem_whitelist_destroy(&share->whitelist);
	WARN_ON(!list_empty(&share->importers));
	mutex_destroy(&share->lock);
	npu_mem_obj_put(share->obj);
	kfree_rcu(share, rcu);
}

void npu_mem_share_put(struct npu_mem_share *share)
{
	kref_put(&share->ref, npu_mem_share_release);
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_share_put);

/* Return: the live record for @value with a reference, or NULL. */
struct npu_mem_share *npu_mem_share_get(struct npu_mem_sys *sys, u64 value)
{
	struct npu_mem_share *share;

	rcu_read_lock();
	share = xa_load(&sys->shares, npu_mem_value_decode(sys, value));
	if (share && (share->value != value || !kref_get_unless_zero(&share->ref)))
		share = NULL;
	rcu_read_unlock();
	return share;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_share_get);

/* Make @share's value unknown for ever.  Called by the object's last holder. */
void npu_mem_share_kill(struct npu_mem_share *share)
{
	xa_erase(&share->obj->sys->shares, share->index);
	atomic_dec(&share->obj->dev->nr_exports);
}

/**
 * npu_mem_refusal_errno - the import error for a refusal
 * @reason: NPU_MEM_REFUSAL_*
 *
 * Return: the -errno NPU_MEM_IOCTL_IMPORT fails with for @reason.
 */
int npu_mem_refusal_errno(u32 reason)
{
	switch (reason) {
	case NPU_MEM_REFUSAL_NOT_WHITELISTED:
	case NPU_MEM_REFUSAL_PID_REUSED:
		return -EACCES;
	case NPU_MEM_REFUSAL_SELF_IMPORT:
		return -ELOOP;
	case NPU_MEM_REFUSAL_DUPLICATE:
		return -EEXIST;
	case NPU_MEM_REFUSAL_DEAD_VALUE:
		return -ENOENT;
	default:
		WARN_ON_ONCE(1);
		return -EINVAL;
	}
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_refusal_errno);

/**
 * npu_mem_ctx_export - NPU_MEM_IOCTL_EXPORT for @ctx
 * @ctx: the caller's context
 * @handle: a handle of @ctx made by alloc
 * @flags: NPU_MEM_EXPORT_DISABLE_PID_VALIDATION, at most one NPU_MEM_SHARE_*
 * @value: out: the shareable value
 *
 * Return: 0, -EINVAL (two kinds), -ENOENT (no handle), -EPERM (imported
 * handle), -EEXIST (already exported), -ENOMEM, -EBADFD.
 */
int npu_mem_ctx_export(struct npu_mem_ctx *ctx, u32 handle, u32 flags, u64 *value)
{
	u32 kind = flags & (NPU_MEM_SHARE_IPC_KEY | NPU_MEM_SHARE_FABRIC);
	struct npu_mem_sys *sys = ctx->sys;
	struct npu_mem_event ev;
	struct npu_mem_handle *h;
	struct npu_mem_share *share;
	int ret;

	if (hweight32(kind) > 1)
		return -EINVAL;
	share = kzalloc(sizeof(*share), GFP_KERNEL_ACCOUNT);
	if (!share)
		return -ENOMEM;
	kref_init(&share->ref);
	mutex_init(&share->lock);
	npu_mem_whitelist_init(&share->whitelist);
	INIT_LIST_HEAD(&share->importers);
	share->exporter = ctx->owner;
	share->kind = kind;
	share->no_validation = flags & NPU_MEM_EXPORT_DISABLE_PID_VALIDATION;

	mutex_lock(&ctx->lock);
	h = npu_mem_ctx_handle(ctx, handle);
	if (IS_ERR(h)) {
		ret = PTR_ERR(h);
		goto err_unlock;
	}
	if (h->imported) {
		ret = -EPERM;
		goto err_unlock;
	}
	if (h->share) {
		ret = -EEXIST;
		goto err_unlock;
	}
	/* Indexes are xarray indexes. */
	BUILD_BUG_ON(BITS_PER_LONG < 64);
	/* 2^64 indexes never run out; the one whose value is 0 is skipped. */
	do {
		share->index = atomic64_inc_return(&sys->next_index);
		share->value = npu_mem_value_encode(sys, share->index);
	} while (!share->value);
	share->obj = h->obj;
	ret = xa_insert(&sys->shares, share->index, share, GFP_KERNEL_ACCOUNT);
	if (ret)
		goto err_unlock;

	/* Visible now.  Our handle is a holder, so the object stays live. */
	npu_mem_obj_get(h->obj);
	kref_get(&share->ref);
	atomic_inc(&h->obj->dev->nr_exports);
	spin_lock(&h->obj->lock);
	h->obj->share = share;
	spin_unlock(&h->obj->lock);
	h->share = share;
	*value = share->value;
	npu_mem_obj_event(&ev, NPU_MEM_EVENT_EXPORTED, h->obj, &ctx->owner);
	ev.value = share->value;
	mutex_unlock(&ctx->lock);
	npu_mem_nl_notify(sys, &ev);
	return 0;

err_unlock:
	mutex_unlock(&ctx->lock);
	mutex_destroy(&share->lock);
	kfree(share);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_ctx_export);

static int npu_mem_pid_cmp(const void *a, const void *b)
{
	s32 x = *(const s32 *)a, y = *(const s32 *)b;

	return x < y ? -1 : x > y;
}

/*
 * npu_mem_share_lookup - the live record for @value of @kind
 *
 * A value of another kind is not there: whoever holds a VMM value learns
 * nothing by trying it as an IPC key, and the other way round.
 *
 * Return: the record with a reference, ERR_PTR(-ENOENT) if there is none
 * (which spends the caller's guess budget), -EAGAIN if the budget is spent
 * (nothing is looked up), -ENOMEM.
 */
static struct npu_mem_share *npu_mem_share_lookup(struct npu_mem_sys *sys, u64 value,
						  u32 kind)
{
	struct npu_mem_guess_budget *budget;
	struct npu_mem_share *share;

	budget = npu_mem_guess_check(sys);
	if (IS_ERR(budget))
		return ERR_CAST(budget);
	share = npu_mem_share_get(sys, value);
	if (share && share->kind != kind) {
		npu_mem_share_put(share);
		share = NULL;
	}
	if (!share) {
		npu_mem_guess_failed(budget);
		return ERR_PTR(-ENOENT);
	}
	return share;
}

/**
 * npu_mem_ctx_set_pids - NPU_MEM_IOCTL_SET_PIDS for @ctx
 * @ctx: the caller's context
 * @value: a shareable value
 * @kind: its NPU_MEM_SHARE_* kind, or 0
 * @pids: @count bare tgids (sorted in place)
 * @count: number of @pids
 *
 * All or nothing.  Each entry records when it was set; it authorizes only a
 * process that had started by then.  Pids no kernel can run are refused:
 * NPU_MEM_PID_LIMIT and up (pid_max itself is not exported to modules, and
 * PID_MAX_LIMIT depends on the kernel's configuration, while the ABI must
 * not).
 *
 * Return: 0, -EINVAL (count 0, a pid out of range, or only zero pids),
 * -E2BIG (too many), -ENOENT (no live value), -EAGAIN (guess budget
 * spent), -EACCES (caller is not the exporter), -EPERM (exported without
 * pid validation), -ENOMEM.
 */
int npu_mem_ctx_set_pids(struct npu_mem_ctx *ctx, u64 value, u32 kind,
			 s32 *pids, u32 count)
{
	struct npu_mem_share *share;
	bool any = false;
	u32 i;
	int ret;

	BUILD_BUG_ON(PID_MAX_LIMIT > NPU_MEM_PID_LIMIT);
	if (!count)
		return -EINVAL;
	if (count > NPU_MEM_MAX_PIDS)
		return -E2BIG;
	for (i = 0; i < count; i++) {
		if (pids[i] < 0 || pids[i] >= NPU_MEM_PID_LIMIT)
			return -EINVAL;
		any |= pids[i] != 0;
	}
	if (!any)
		return -EINVAL;

	share = npu_mem_share_lookup(ctx->sys, value, kind);
	if (IS_ERR(share))
		return PTR_ERR(share);
	if (!npu_mem_owner_equal(&share->exporter, &ctx->owner)) {
		ret = -EACCES;
		goto out_put;
	}
	if (share->no_validation) {
		ret = -EPERM;
		goto out_put;
	}

	sort(pids, count, sizeof(*pids), npu_mem_pid_cmp, NULL);
	mutex_lock(&share->lock);
	ret = npu_mem_whitelist_set(&share->whitelist, pids, count, ktime_get_ns());
	mutex_unlock(&share->lock);
	if (ret)
		goto out_put;
	npu_mem_nl_notify(ctx->sys, &(struct npu_mem_event) {
		.type = NPU_MEM_EVENT_PIDS_SET,
		.obj = share->obj->id,
		.device = share->obj->dev->id,
		.size = share->obj->size,
		.who = &ctx->owner,
		.pids = count,
		.value = share->value,
	});
out_put:
	npu_mem_share_put(share);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_ctx_set_pids);

/*
 * May @owner import @share?  Called with @share->lock held.
 * Return: 0, or why not: NPU_MEM_REFUSAL_DUPLICATE, _NOT_WHITELISTED or
 * _PID_REUSED.
 */
VISIBLE_IF_KUNIT u32 npu_mem_share_may_import(struct npu_mem_share *share,
					      const struct npu_mem_owner *owner)
{
	const struct npu_mem_pid_entry *entry;
	struct npu_mem_handle *h;

	lockdep_assert_held(&share->lock);
	list_for_each_entry(h, &share->importers, share_node)
		if (h->tgid == owner->tgid)
			return NPU_MEM_REFUSAL_DUPLICATE;
	if (share->no_validation)
		return 0;
	entry = npu_mem_whitelist_find(&share->whitelist, owner->tgid);
	if (!entry)
		return NPU_MEM_REFUSAL_NOT_WHITELISTED;
	/* An entry set before this process started was for an earlier one. */
	if (entry->set_ns < owner->start_time)
		return NPU_MEM_REFUSAL_PID_REUSED;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_share_may_import);

/* Tell the "events" group that @ctx's import of @value was refused. */
static void npu_mem_import_refused(struct npu_mem_ctx *ctx, u64 value,
				   struct npu_mem_share *share, u32 reason)
{
	struct npu_mem_event ev = {
		.type = NPU_MEM_EVENT_IMPORT_REFUSED,
		.who = &ctx->owner,
	};

	if (share)
		npu_mem_obj_event(&ev, ev.type, share->obj, ev.who);
	ev.reason = reason;
	ev.value = value;
	npu_mem_nl_notify(ctx->sys, &ev);
}

/**
 * npu_mem_ctx_import - NPU_MEM_IOCTL_IMPORT for @ctx
 * @ctx: the caller's context
 * @value: the shareable value
 * @kind: its NPU_MEM_SHARE_* kind, or 0
 * @device: the device to bind the new handle to
 * @handle: out: the new handle's id
 *
 * Return: 0, -ENODEV, -ENOENT (no live value), -EAGAIN (guess budget spent),
 * -ELOOP (caller is the exporter), -EEXIST (caller already imported it),
 * -EACCES (whitelist), -ENOMEM, -EBADFD.
 */
int npu_mem_ctx_import(struct npu_mem_ctx *ctx, u64 value, u32 kind, u32 device,
		       u32 *handle)
{
	struct npu_mem_event ev;
	pid_t tgid = ctx->owner.tgid;
	struct npu_mem_share *share;
	struct npu_mem_handle *h;
	u32 reason = 0;
	int ret;

	if (!npu_mem_sys_dev(ctx->sys, device))
		return -ENODEV;
	share = npu_mem_share_lookup(ctx->sys, value, kind);
	if (IS_ERR(share)) {
		if (PTR_ERR(share) == -ENOENT)
			npu_mem_import_refused(ctx, value, NULL,
					       NPU_MEM_REFUSAL_DEAD_VALUE);
		return PTR_ERR(share);
	}
	if (npu_mem_owner_equal(&share->exporter, &ctx->owner)) {
		reason = NPU_MEM_REFUSAL_SELF_IMPORT;
		ret = -ELOOP;
		goto err_put_share;
	}
	h = npu_mem_handle_new();
	if (!h) {
		ret = -ENOMEM;
		goto err_put_share;
	}
	h->device = device;
	h->imported = true;
	h->obj = share->obj;
	h->share = share;
	h->tgid = tgid;
	h->uid = ctx->owner.uid;

	mutex_lock(&ctx->lock);
	if (ctx->dead) {
		ret = -EBADFD;
		goto err_unlock_ctx;
	}
	mutex_lock(&share->lock);
	reason = npu_mem_share_may_import(share, &ctx->owner);
	if (reason) {
		ret = npu_mem_refusal_errno(reason);
		goto err_unlock_share;
	}
	list_add_tail(&h->share_node, &share->importers);
	ret = npu_mem_ctx_add_handle(ctx, h);
	if (ret)
		goto err_drop_importer;
	/* The last holder may have gone since the lookup: the value is dead. */
	if (!refcount_inc_not_zero(&share->obj->holders)) {
		reason = NPU_MEM_REFUSAL_DEAD_VALUE;
		ret = -ENOENT;
		goto err_remove_handle;
	}
	npu_mem_obj_link(share->obj, h);
	*handle = h->id;
	/* Once unlocked, another thread of ours may free the handle. */
	npu_mem_obj_event(&ev, NPU_MEM_EVENT_IMPORTED, share->obj, &ctx->owner);
	ev.device = device;
	ev.value = value;
	mutex_unlock(&share->lock);
	mutex_unlock(&ctx->lock);
	npu_mem_nl_notify(ctx->sys, &ev);
	return 0;

err_remove_handle:
	npu_mem_htab_remove(&ctx->handles, h->id);
err_drop_importer:
	list_del(&h->share_node);
err_unlock_share:
	mutex_unlock(&share->lock);
err_unlock_ctx:
	mutex_unlock(&ctx->lock);
	npu_mem_handle_free(h);
err_put_share:
	if (reason)
		npu_mem_import_refused(ctx, value, share, reason);
	npu_mem_share_put(share);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_ctx_import);

/* Forget that @h's process imported @share (its handle is going). */
void npu_mem_share_drop_importer(struct npu_mem_share *share,
				 struct npu_mem_handle *h)
{
	mutex_lock(&share->lock);
	list_del_init(&h->share_node);
	mutex_unlock(&share->lock);
}

/**
 * npu_mem_ctx_unexport - NPU_MEM_IOCTL_UNEXPORT for @ctx
 * @ctx: the caller's context
 * @handle: a handle of @ctx exported as an IPC key
 *
 * Kills the key; importers keep their handles, and @handle may be exported
 * again.
 *
 * Return: 0, -ENOENT (no handle, or not exported), -EPERM (imported handle),
 * -EINVAL (not an IPC key), -EBADFD.
 */
int npu_mem_ctx_unexport(struct npu_mem_ctx *ctx, u32 handle)
{
	struct npu_mem_share *share = NULL;
	struct npu_mem_handle *h;
	int ret = 0;

	mutex_lock(&ctx->lock);
	h = npu_mem_ctx_handle(ctx, handle);
	if (IS_ERR(h))
		ret = PTR_ERR(h);
	else if (h->imported)
		ret = -EPERM;
	else if (!h->share)
		ret = -ENOENT;
	else if (h->share->kind != NPU_MEM_SHARE_IPC_KEY)
		ret = -EINVAL;
	if (!ret) {
		share = h->share;
		h->share = NULL;
		npu_mem_obj_unshare(h->obj, share);
	}
	mutex_unlock(&ctx->lock);
	if (share)
		npu_mem_share_put(share);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_ctx_unexport);
