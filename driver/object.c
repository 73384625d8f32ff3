// SPDX-License-Identifier: GPL-2.0
/*
 * npu_mem: physical objects and their two counts.
 *
 * @ref (kref) keeps the struct; @holders keeps the memory.  A new object has
 * one of each, both owned by the allocating handle.  The struct reference of
 * the holders as a group is dropped by the last holder, after it has killed
 * the shareable value and returned the memory; export records hold their own
 * struct reference.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <kunit/visibility.h>

#include "npu_mem.h"

/* Return: the granularity of @page_kind on @sys, or 0 if it is not a page kind. */
u64 npu_mem_page_kind_granularity(struct npu_mem_sys *sys, u32 page_kind)
{
	switch (page_kind) {
	case NPU_MEM_PAGE_NORMAL:
	case NPU_MEM_PAGE_HUGE:
		return sys->granularity;
	case NPU_MEM_PAGE_HUGE1G:
		return NPU_MEM_GRANULARITY_HUGE1G;
	default:
		return 0;
	}
}

/**
 * npu_mem_obj_alloc - allocate a physical object
 * @sys: the machine
 * @owner: the allocating process
 * @device: device id
 * @size: bytes, a non-zero multiple of @page_kind's granularity
 * @page_kind: NPU_MEM_PAGE_*
 *
 * Return: an object with one holder, or ERR_PTR(-EINVAL) for a bad size or
 * page kind, -ENODEV for a bad device, -ENOMEM when the device's capacity or
 * host memory is exhausted.  On error nothing is changed.
 */
struct npu_mem_obj *npu_mem_obj_alloc(struct npu_mem_sys *sys,
				      const struct npu_mem_owner *owner,
				      u32 device, u64 size, u32 page_kind)
{
	u64 gran = npu_mem_page_kind_granularity(sys, page_kind);
	struct npu_mem_dev *dev;
	struct npu_mem_obj *obj;
	int ret;

	if (!gran || !size || !IS_ALIGNED(size, gran))
		return ERR_PTR(-EINVAL);
	dev = npu_mem_sys_dev(sys, device);
	if (!dev)
		return ERR_PTR(-ENODEV);

	obj = kzalloc(sizeof(*obj), GFP_KERNEL_ACCOUNT);
	if (!obj)
		return ERR_PTR(-ENOMEM);
	kref_init(&obj->ref);
	refcount_set(&obj->holders, 1);
	obj->sys = sys;
	obj->dev = dev;
	obj->size = size;
	obj->page_kind = page_kind;
	INIT_LIST_HEAD(&obj->pages);
	obj->owner = *owner;
	spin_lock_init(&obj->lock);
	INIT_LIST_HEAD(&obj->handles);
	INIT_LIST_HEAD(&obj->imports);
	atomic_set(&obj->nr_maps, 0);

	ret = npu_mem_dev_reserve(dev, size);
	if (ret)
		goto err_free_obj;
	ret = dev->ops->alloc(dev, obj);
	if (ret)
		goto err_unreserve;
	/* Cyclic: an id names one object for a long time (events, dumps). */
	ret = xa_alloc_cyclic(&sys->objs, &obj->id, obj, xa_limit_31b,
			      &sys->next_obj_id, GFP_KERNEL_ACCOUNT);
	if (ret < 0)
		goto err_free_memory;
	atomic_inc(&sys->nr_objs);
	atomic_inc(&dev->nr_objs);
	return obj;

err_free_memory:
	dev->ops->free(dev, obj);
err_unreserve:
	npu_mem_dev_unreserve(dev, size);
err_free_obj:
	kfree(obj);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_obj_alloc);

/**
 * npu_mem_obj_find - look up the live object with the lowest id >= *@id
 * @sys: the machine
 * @id: in: where to start; out: the id found
 *
 * Return: the object with a struct reference (npu_mem_obj_put() it), or NULL
 * if there is none.  Its memory may be released at any time after.
 */
struct npu_mem_obj *npu_mem_obj_find(struct npu_mem_sys *sys, unsigned long *id)
{
	struct npu_mem_obj *obj;

	xa_lock(&sys->objs);
	for (obj = xa_find(&sys->objs, id, ULONG_MAX, XA_PRESENT); obj;
	     obj = xa_find_after(&sys->objs, id, ULONG_MAX, XA_PRESENT))
		if (kref_get_unless_zero(&obj->ref))
			break;
	xa_unlock(&sys->objs);
	return obj;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_obj_find);

/* Record that @h (which has become a holder of @obj) holds it. */
void npu_mem_obj_link(struct npu_mem_obj *obj, struct npu_mem_handle *h)
{
	spin_lock(&obj->lock);
	h->link_seq = ++obj->last_link;
	list_add_tail(&h->obj_node, h->imported ? &obj->imports : &obj->handles);
	spin_unlock(&obj->lock);
}

/* Undo npu_mem_obj_link(), if it was done. */
void npu_mem_obj_unlink(struct npu_mem_obj *obj, struct npu_mem_handle *h)
{
	spin_lock(&obj->lock);
	list_del_init(&h->obj_node);
	spin_unlock(&obj->lock);
}

/**
 * npu_mem_obj_visible - may a netlink caller see @obj?
 * @obj: the object
 * @admin: the caller has CAP_SYS_ADMIN
 * @uid: the caller's effective uid
 *
 * Return: true for CAP_SYS_ADMIN, and for the uid of the allocating process
 * or of any process holding a handle on @obj.
 */
bool npu_mem_obj_visible(struct npu_mem_obj *obj, bool admin, kuid_t uid)
{
	struct npu_mem_handle *h;
	bool ret = admin || uid_eq(obj->owner.uid, uid);

	spin_lock(&obj->lock);
	list_for_each_entry(h, &obj->handles, obj_node)
		ret |= uid_eq(h->uid, uid);
	list_for_each_entry(h, &obj->imports, obj_node)
		ret |= uid_eq(h->uid, uid);
	spin_unlock(&obj->lock);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_obj_visible);

/**
 * npu_mem_obj_event - start an event about @obj
 * @ev: the event to fill
 * @type: NPU_MEM_EVENT_*
 * @obj: the object: its id, device and size
 * @who: the acting process
 *
 * The other fields are zero; callers add what they know (the value, a
 * handle's own device).
 */
void npu_mem_obj_event(struct npu_mem_event *ev, u32 type,
		       const struct npu_mem_obj *obj,
		       const struct npu_mem_owner *who)
{
	*ev = (struct npu_mem_event) {
		.type = type,
		.obj = obj->id,
		.device = obj->dev->id,
		.size = obj->size,
		.who = who,
	};
}

static void npu_mem_obj_release(struct kref *ref)
{
	struct npu_mem_obj *obj = container_of(ref, struct npu_mem_obj, ref);

	atomic_dec(&obj->sys->nr_objs);
	kfree(obj);
}

/* Take a struct reference; the caller must already have one (or a holder). */
void npu_mem_obj_get(struct npu_mem_obj *obj)
{
	kref_get(&obj->ref);
}

void npu_mem_obj_put(struct npu_mem_obj *obj)
{
	kref_put(&obj->ref, npu_mem_obj_release);
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_obj_put);

/* Add a holder; the caller must already be one (or hold a handle's lock). */
void npu_mem_obj_hold(struct npu_mem_obj *obj)
{
	refcount_inc(&obj->holders);
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_obj_hold);

/*
 * The memory's last holder has gone: kill the shareable value, give the
 * memory back to the backend and the capacity to the device, and tell the
 * "events" group if @notify.
 */
static void npu_mem_obj_release_memory(struct npu_mem_obj *obj, bool notify)
{
	struct npu_mem_dev *dev = obj->dev;
	struct npu_mem_share *share;
	struct npu_mem_event ev;

	npu_mem_obj_event(&ev, NPU_MEM_EVENT_RELEASED, obj, &obj->owner);
	xa_erase(&obj->sys->objs, obj->id);
	spin_lock(&obj->lock);
	share = obj->share;
	obj->share = NULL;
	spin_unlock(&obj->lock);
	if (share) {
		ev.value = share->value;
		npu_mem_share_kill(share);
		npu_mem_share_put(share);
	}
	dev->ops->free(dev, obj);
	npu_mem_dev_unreserve(dev, obj->size);
	atomic_dec(&dev->nr_objs);
	if (notify)
		npu_mem_nl_notify(obj->sys, &ev);
	npu_mem_obj_put(obj);
}

/**
 * npu_mem_obj_unshare - kill @obj's shareable value @share before its time
 * @obj: the object
 * @share: the value it was exported as
 *
 * For an IPC key, which dies with its exporter's handle or at UNEXPORT.  The
 * memory's last holder may be killing it at the same time: whoever takes it
 * out of @obj kills it.
 */
void npu_mem_obj_unshare(struct npu_mem_obj *obj, struct npu_mem_share *share)
{
	spin_lock(&obj->lock);
	if (obj->share != share) {
		spin_unlock(&obj->lock);
		return;
	}
	obj->share = NULL;
	spin_unlock(&obj->lock);
	npu_mem_share_kill(share);
	npu_mem_share_put(share);
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_obj_unshare);

/*
 * Drop a holder.  The last one kills the shareable value (no new importer can
 * appear: imports take their holder with refcount_inc_not_zero()), gives the
 * memory back to the backend and the capacity to the device.
 */
void npu_mem_obj_unhold(struct npu_mem_obj *obj)
{
	if (refcount_dec_and_test(&obj->holders))
		npu_mem_obj_release_memory(obj, true);
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_obj_unhold);

/*
 * Undo npu_mem_obj_alloc() when the allocation fails after it: as the last
 * holder's unhold, but with no event, as nobody was told of the object.
 */
void npu_mem_obj_abort(struct npu_mem_obj *obj)
{
	if (refcount_dec_and_test(&obj->holders))
		npu_mem_obj_release_memory(obj, false);
}
