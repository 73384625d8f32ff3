// SPDX-License-Identifier: GPL-2.0
/*
 * npu_mem: the "npu_mem" generic netlink family, for observability.
 *
 * Classic struct genl_ops (as in drivers/net/wireguard/netlink.c) so that the
 * same code builds on 6.1 and 6.12.  The family lives in the initial network
 * namespace only, like the data it describes.  uapi/npu_mem.yaml describes it
 * and uapi/npu_mem_netlink.h holds its numbers.
 *
 * Dumps resume by id (cb->args[0]): GET_OBJECT walks npu_mem_sys.objs with
 * npu_mem_obj_find(), which takes a struct reference inside the xarray lock,
 * so an object freed meanwhile is either skipped or reported with the state
 * it had; an object whose holders do not fit one message is continued in the
 * next ones, resuming after the last holder sent (by its join number, so
 * that holders coming and going meanwhile move no other one).  GET_PROC walks
 * npu_mem_sys.ctxs under its ctx_lock, which keeps the contexts alive.  Who
 * is asking is decided once, in .start, in the context of the process that
 * sent the request: without CAP_SYS_ADMIN, it sees the objects and files of
 * processes with its effective uid (its own user's, as a monitor is a
 * process of its own), only the holders with that uid, nothing of another
 * user's process or sharing rules, and no shareable value.
 *
 * Events are built and multicast with GFP_KERNEL: npu_mem_nl_notify() must
 * not be called under a spinlock (might_sleep() checks it).  Nothing is built
 * when nobody listens.  Every event sent has a sequence number; import-refused
 * events, which any process can cause at will, are rate limited, and the
 * next event sent says how many were withheld.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/hash.h>
#include <linux/ktime.h>
#include <linux/minmax.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/netlink.h>
#include <linux/ratelimit.h>
#include <linux/sched.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/netlink.h>

#include "npu_mem.h"

/* Dump state in netlink_callback.args[]. */
enum {
	NPU_MEM_NL_ARG_NEXT,	/* next id to report */
	NPU_MEM_NL_ARG_ADMIN,	/* the requester has CAP_SYS_ADMIN */
	NPU_MEM_NL_ARG_UID,	/* the requester's effective kuid */
	/* GET_OBJECT, in the middle of an object's holders (else 0): */
	NPU_MEM_NL_ARG_HLIST,	/* 1 + the list to go on with (0 handles, 1 imports) */
	NPU_MEM_NL_ARG_HSEQ,	/* link_seq of the last holder reported from it */
};

enum {
	NPU_MEM_NL_MCGRP_EVENTS,
};

/*
 * The module's machine, set before the family is registered and cleared
 * after it is unregistered; KUnit's private machines are never reported.
 */
static struct npu_mem_sys *npu_mem_nl_sys;

static struct genl_family npu_mem_nl_family;

static int npu_mem_nl_get_info(struct sk_buff *skb, struct genl_info *info)
{
	struct npu_mem_version ver = {};
	struct sk_buff *msg;
	void *hdr;

	npu_mem_version_fill(npu_mem_nl_sys, &ver);
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &npu_mem_nl_family, 0,
				NPU_MEM_CMD_GET_INFO);
	if (!hdr)
		goto err_free;
	if (nla_put_u32(msg, NPU_MEM_A_INFO_ABI_MAJOR, ver.abi_major) ||
	    nla_put_u32(msg, NPU_MEM_A_INFO_ABI_MINOR, ver.abi_minor) ||
	    nla_put_u32(msg, NPU_MEM_A_INFO_GENL_VERSION, NPU_MEM_GENL_VERSION) ||
	    nla_put_u32(msg, NPU_MEM_A_INFO_NUM_DEVICES, ver.num_devices) ||
	    (netlink_capable(skb, CAP_SYS_ADMIN) &&
	     nla_put_flag(msg, NPU_MEM_A_INFO_ADMIN)))
		goto err_free;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_free:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

/* Record who is asking, in the requester's own context. */
static int npu_mem_nl_dump_start(struct netlink_callback *cb)
{
	cb->args[NPU_MEM_NL_ARG_NEXT] = 0;
	cb->args[NPU_MEM_NL_ARG_ADMIN] = netlink_capable(cb->skb, CAP_SYS_ADMIN);
	cb->args[NPU_MEM_NL_ARG_UID] = __kuid_val(current_euid());
	cb->args[NPU_MEM_NL_ARG_HLIST] = 0;
	cb->args[NPU_MEM_NL_ARG_HSEQ] = 0;
	return 0;
}

static void *npu_mem_nl_dump_put(struct sk_buff *skb, struct netlink_callback *cb,
				 u8 cmd)
{
	return genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			   &npu_mem_nl_family, NLM_F_MULTI, cmd);
}

/*
 * End a dump step: @ret is 0 if everything fitted, else the error of the
 * entry that did not.  An entry too big for an empty message is an error.
 */
static int npu_mem_nl_dump_end(struct sk_buff *skb, int ret)
{
	if (ret && !skb->len)
		return ret;
	return skb->len;
}

static int npu_mem_nl_fill_device(struct sk_buff *skb, struct netlink_callback *cb,
				  struct npu_mem_dev *dev)
{
	void *hdr;
	u64 used;

	spin_lock(&dev->lock);
	used = dev->used;
	spin_unlock(&dev->lock);

	hdr = npu_mem_nl_dump_put(skb, cb, NPU_MEM_CMD_GET_DEVICE);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(skb, NPU_MEM_A_DEV_ID, dev->id) ||
	    nla_put_u64_64bit(skb, NPU_MEM_A_DEV_TOTAL, dev->total,
			      NPU_MEM_A_DEV_PAD) ||
	    nla_put_u64_64bit(skb, NPU_MEM_A_DEV_USED, used, NPU_MEM_A_DEV_PAD) ||
	    nla_put_u32(skb, NPU_MEM_A_DEV_OBJECTS, atomic_read(&dev->nr_objs)) ||
	    nla_put_u32(skb, NPU_MEM_A_DEV_EXPORTS, atomic_read(&dev->nr_exports)) ||
	    nla_put_u64_64bit(skb, NPU_MEM_A_DEV_ZERO_RESERVE,
			      (u64)npu_mem_zero_pool_chunks(&dev->zero) <<
			      (PAGE_SHIFT + NPU_MEM_CHUNK_ORDER), NPU_MEM_A_DEV_PAD)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

static int npu_mem_nl_get_device_dump(struct sk_buff *skb,
				      struct netlink_callback *cb)
{
	struct npu_mem_sys *sys = npu_mem_nl_sys;
	unsigned long i = cb->args[NPU_MEM_NL_ARG_NEXT];
	int ret = 0;

	for (; i < sys->num_devices; i++) {
		ret = npu_mem_nl_fill_device(skb, cb, &sys->devs[i]);
		if (ret)
			break;
	}
	cb->args[NPU_MEM_NL_ARG_NEXT] = i;
	return npu_mem_nl_dump_end(skb, ret);
}

/* One holder entry.  Return: 0, or -EMSGSIZE with nothing of it left. */
static int npu_mem_nl_put_holder(struct sk_buff *skb, struct npu_mem_handle *h)
{
	struct nlattr *nest = nla_nest_start(skb, NPU_MEM_A_OBJ_HOLDER);

	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(skb, NPU_MEM_A_HOLDER_TGID, h->tgid) ||
	    nla_put_u32(skb, NPU_MEM_A_HOLDER_DEVICE, h->device) ||
	    (h->imported && nla_put_flag(skb, NPU_MEM_A_HOLDER_IMPORTED))) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

/*
 * The holders of @obj the caller may see, from the cursor in cb->args on:
 * list ARG_HLIST - 1 (0 handles, 1 imports; ARG_HLIST 0: from the start),
 * after the handle whose link_seq is ARG_HSEQ.  Each list is in link_seq
 * order, so a holder that joins or leaves between two dump steps moves no
 * other one across the cursor.  Called with @obj->lock held.
 *
 * Return: 0, or -EMSGSIZE with the cursor after the last holder put and
 * *@progress set if there was one.
 */
static int npu_mem_nl_put_holders(struct sk_buff *skb, struct netlink_callback *cb,
				  struct npu_mem_obj *obj, bool *progress)
{
	kuid_t uid = KUIDT_INIT(cb->args[NPU_MEM_NL_ARG_UID]);
	bool admin = cb->args[NPU_MEM_NL_ARG_ADMIN];
	struct list_head *lists[] = { &obj->handles, &obj->imports };
	unsigned long pos = 0, after = 0;
	struct npu_mem_handle *h;

	lockdep_assert_held(&obj->lock);
	if (cb->args[NPU_MEM_NL_ARG_HLIST]) {
		pos = cb->args[NPU_MEM_NL_ARG_HLIST] - 1;
		after = cb->args[NPU_MEM_NL_ARG_HSEQ];
	}
	*progress = false;
	for (; pos < ARRAY_SIZE(lists); pos++, after = 0) {
		list_for_each_entry(h, lists[pos], obj_node) {
			if (h->link_seq <= after ||
			    (!admin && !uid_eq(h->uid, uid)))
				continue;
			if (npu_mem_nl_put_holder(skb, h)) {
				cb->args[NPU_MEM_NL_ARG_HLIST] = pos + 1;
				cb->args[NPU_MEM_NL_ARG_HSEQ] = after;
				return -EMSGSIZE;
			}
			after = h->link_seq;
			*progress = true;
		}
	}
	return 0;
}

/*
 * Report @obj if the caller may see it: all of it to CAP_SYS_ADMIN and to
 * the allocator's user; to another user (who holds it) only what its own
 * handles tell it.  If cb->args has a holder cursor, this message continues
 * the object's holder list.  Holders come last: an object too big for a
 * message of its own is sent in several, each ending where the holders that
 * fitted end.
 *
 * Return: 0 (the cursor cleared), or -EMSGSIZE: either nothing was added
 * (resume at the cursor as it was), or the message was sent as far as it
 * fitted (resume at the new cursor).
 */
static int npu_mem_nl_fill_object(struct sk_buff *skb, struct netlink_callback *cb,
				  struct npu_mem_obj *obj)
{
	kuid_t uid = KUIDT_INIT(cb->args[NPU_MEM_NL_ARG_UID]);
	bool admin = cb->args[NPU_MEM_NL_ARG_ADMIN];
	long hlist = cb->args[NPU_MEM_NL_ARG_HLIST];
	long hseq = cb->args[NPU_MEM_NL_ARG_HSEQ];
	bool alone = !skb->len, full, progress = false;
	struct npu_mem_share *share;
	bool whitelist = false;
	u32 nr_pids = 0;
	void *hdr;
	int ret;

	if (!npu_mem_obj_visible(obj, admin, uid))
		goto done;
	full = admin || uid_eq(obj->owner.uid, uid);

	spin_lock(&obj->lock);
	share = obj->share;
	if (share)
		kref_get(&share->ref);
	spin_unlock(&obj->lock);
	if (share && full) {
		mutex_lock(&share->lock);
		whitelist = !share->no_validation;
		nr_pids = share->whitelist.nr;
		mutex_unlock(&share->lock);
	}

	hdr = npu_mem_nl_dump_put(skb, cb, NPU_MEM_CMD_GET_OBJECT);
	if (!hdr)
		goto err_put_share;
	if (nla_put_u32(skb, NPU_MEM_A_OBJ_ID, obj->id) ||
	    nla_put_u32(skb, NPU_MEM_A_OBJ_DEVICE, obj->dev->id) ||
	    nla_put_u64_64bit(skb, NPU_MEM_A_OBJ_SIZE, obj->size,
			      NPU_MEM_A_OBJ_PAD) ||
	    nla_put_u32(skb, NPU_MEM_A_OBJ_PAGE_KIND, obj->page_kind) ||
	    nla_put_u64_64bit(skb, NPU_MEM_A_OBJ_PMD_BYTES, obj->pmd_bytes,
			      NPU_MEM_A_OBJ_PAD) ||
	    (hlist && nla_put_flag(skb, NPU_MEM_A_OBJ_CONTINUED)) ||
	    (share && (nla_put_flag(skb, NPU_MEM_A_OBJ_EXPORTED) ||
		       nla_put_u32(skb, NPU_MEM_A_OBJ_SHARE_KIND, share->kind))))
		goto err_cancel;
	if (full &&
	    (nla_put_u32(skb, NPU_MEM_A_OBJ_OWNER_TGID, obj->owner.tgid) ||
	     nla_put_string(skb, NPU_MEM_A_OBJ_OWNER_COMM, obj->owner.comm) ||
	     nla_put_u32(skb, NPU_MEM_A_OBJ_HOLDERS,
			 refcount_read(&obj->holders)) ||
	     nla_put_u32(skb, NPU_MEM_A_OBJ_MAPPINGS,
			 atomic_read(&obj->nr_maps))))
		goto err_cancel;
	if (share && full &&
	    (nla_put_u8(skb, NPU_MEM_A_OBJ_WHITELIST, whitelist) ||
	     nla_put_u32(skb, NPU_MEM_A_OBJ_WHITELIST_SIZE, nr_pids) ||
	     (admin && nla_put_u64_64bit(skb, NPU_MEM_A_OBJ_SHAREABLE,
					 share->value, NPU_MEM_A_OBJ_PAD))))
		goto err_cancel;

	spin_lock(&obj->lock);
	ret = npu_mem_nl_put_holders(skb, cb, obj, &progress);
	spin_unlock(&obj->lock);
	if (ret && !(alone && progress)) {
		/* Start again, in a message of its own. */
		cb->args[NPU_MEM_NL_ARG_HLIST] = hlist;
		cb->args[NPU_MEM_NL_ARG_HSEQ] = hseq;
		goto err_cancel;
	}
	if (share)
		npu_mem_share_put(share);
	genlmsg_end(skb, hdr);
	if (ret)
		return ret;
done:
	cb->args[NPU_MEM_NL_ARG_HLIST] = 0;
	cb->args[NPU_MEM_NL_ARG_HSEQ] = 0;
	return 0;

err_cancel:
	genlmsg_cancel(skb, hdr);
err_put_share:
	if (share)
		npu_mem_share_put(share);
	return -EMSGSIZE;
}

static int npu_mem_nl_get_object_dump(struct sk_buff *skb,
				      struct netlink_callback *cb)
{
	unsigned long id = cb->args[NPU_MEM_NL_ARG_NEXT];
	struct npu_mem_obj *obj;
	int ret = 0;

	while ((obj = npu_mem_obj_find(npu_mem_nl_sys, &id))) {
		/* The object whose holders were cut short is gone. */
		if (id != cb->args[NPU_MEM_NL_ARG_NEXT]) {
			cb->args[NPU_MEM_NL_ARG_HLIST] = 0;
			cb->args[NPU_MEM_NL_ARG_HSEQ] = 0;
		}
		ret = npu_mem_nl_fill_object(skb, cb, obj);
		npu_mem_obj_put(obj);
		if (ret)
			break;
		cb->args[NPU_MEM_NL_ARG_NEXT] = ++id;
	}
	cb->args[NPU_MEM_NL_ARG_NEXT] = id;
	return npu_mem_nl_dump_end(skb, ret);
}

/* Report one open file.  Called with the machine's ctx_lock held. */
static int npu_mem_nl_fill_proc(struct sk_buff *skb, struct netlink_callback *cb,
				struct npu_mem_ctx *ctx)
{
	u64 allocated = 0, imported = 0;
	struct npu_mem_handle *h;
	u32 handles = 0, i;
	void *hdr;

	mutex_lock(&ctx->lock);
	npu_mem_htab_for_each(&ctx->handles, i, h) {
		if (h->imported)
			imported += h->obj->size;
		else
			allocated += h->obj->size;
		handles++;
	}
	mutex_unlock(&ctx->lock);

	hdr = npu_mem_nl_dump_put(skb, cb, NPU_MEM_CMD_GET_PROC);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(skb, NPU_MEM_A_PROC_FILE, ctx->id) ||
	    nla_put_u32(skb, NPU_MEM_A_PROC_TGID, ctx->owner.tgid) ||
	    nla_put_string(skb, NPU_MEM_A_PROC_COMM, ctx->owner.comm) ||
	    nla_put_u64_64bit(skb, NPU_MEM_A_PROC_ALLOCATED, allocated,
			      NPU_MEM_A_PROC_PAD) ||
	    nla_put_u64_64bit(skb, NPU_MEM_A_PROC_IMPORTED, imported,
			      NPU_MEM_A_PROC_PAD) ||
	    nla_put_u32(skb, NPU_MEM_A_PROC_HANDLES, handles) ||
	    nla_put_u32(skb, NPU_MEM_A_PROC_MAPPINGS, atomic_read(&ctx->nr_maps))) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

static int npu_mem_nl_get_proc_dump(struct sk_buff *skb,
				    struct netlink_callback *cb)
{
	kuid_t uid = KUIDT_INIT(cb->args[NPU_MEM_NL_ARG_UID]);
	bool admin = cb->args[NPU_MEM_NL_ARG_ADMIN];
	unsigned long id = cb->args[NPU_MEM_NL_ARG_NEXT];
	struct npu_mem_sys *sys = npu_mem_nl_sys;
	struct npu_mem_ctx *ctx;
	int ret = 0;

	mutex_lock(&sys->ctx_lock);
	for (ctx = xa_find(&sys->ctxs, &id, ULONG_MAX, XA_PRESENT); ctx;
	     ctx = xa_find_after(&sys->ctxs, &id, ULONG_MAX, XA_PRESENT)) {
		if (!admin && !uid_eq(ctx->owner.uid, uid))
			continue;
		ret = npu_mem_nl_fill_proc(skb, cb, ctx);
		if (ret)
			break;
	}
	mutex_unlock(&sys->ctx_lock);
	/* On -EMSGSIZE resume at the entry that did not fit, else past all. */
	cb->args[NPU_MEM_NL_ARG_NEXT] = ret ? id : ULONG_MAX;
	return npu_mem_nl_dump_end(skb, ret);
}

/*
 * import-refused events are rate limited (a guessing loop would flood every
 * listener into ENOBUFS): at most refused_event_burst of them per
 * refused_event_interval_ms, per user (uids hashed into buckets, so that one
 * user's flood holds back few others).  0 ms: no limit.  Read at each event,
 * so that a change applies at once.
 */
static unsigned int refused_event_burst = DEFAULT_RATELIMIT_BURST;
module_param(refused_event_burst, uint, 0644);
MODULE_PARM_DESC(refused_event_burst,
		 "import-refused events sent per user and interval (default 10)");

static unsigned int refused_event_interval_ms = 5000;
module_param(refused_event_interval_ms, uint, 0644);
MODULE_PARM_DESC(refused_event_interval_ms,
		 "rate-limit interval of import-refused events in ms, at most a day (default 5000; 0: no limit)");

#define NPU_MEM_NL_REFUSED_BITS		6
#define NPU_MEM_NL_MAX_INTERVAL_MS	(24U * 3600 * 1000)

/* Numbering and limiting events: one event at a time, in number order. */
static DEFINE_MUTEX(npu_mem_nl_ev_lock);	/* protects the three below */
static u64 npu_mem_nl_ev_seq;			/* last event number given */
static u64 npu_mem_nl_ev_suppressed;		/* withheld since the last sent */
static struct ratelimit_state npu_mem_nl_refused_rs[1 << NPU_MEM_NL_REFUSED_BITS];

/* May this import-refused event go out?  Called with npu_mem_nl_ev_lock held. */
static bool npu_mem_nl_refused_ok(const struct npu_mem_event *ev)
{
	u32 uid = ev->who ? __kuid_val(ev->who->uid) : 0;
	struct ratelimit_state *rs;
	unsigned int ms;
	bool ok;

	lockdep_assert_held(&npu_mem_nl_ev_lock);
	rs = &npu_mem_nl_refused_rs[hash_32(uid, NPU_MEM_NL_REFUSED_BITS)];
	ms = min(READ_ONCE(refused_event_interval_ms), NPU_MEM_NL_MAX_INTERVAL_MS);
	/* 0 jiffies is "no limit" to __ratelimit(): keep 0 ms for that. */
	WRITE_ONCE(rs->interval, ms ? max_t(int, msecs_to_jiffies(ms), 1) : 0);
	WRITE_ONCE(rs->burst, min_t(unsigned int, READ_ONCE(refused_event_burst), INT_MAX));
	ok = __ratelimit(rs);
	/* We count what is withheld ourselves; never let it print. */
	rs->missed = 0;
	return ok;
}

/**
 * npu_mem_nl_notify - multicast an event to the "events" group
 * @sys: the machine it happened on (only the module's is reported)
 * @ev: the event
 *
 * May sleep.  Best effort, like every netlink notification: a listener whose
 * socket buffer is full misses events (and gets ENOBUFS on its next read).
 * While the group has listeners, every event gets the next number, also one
 * the rate limit withholds; the next event sent says how many were withheld
 * before it.  Events are numbered and sent under one mutex, so they reach
 * every listener in number order.
 */
void npu_mem_nl_notify(struct npu_mem_sys *sys, const struct npu_mem_event *ev)
{
	struct sk_buff *skb;
	u64 seq;
	void *hdr;

	might_sleep();
	if (sys != READ_ONCE(npu_mem_nl_sys) ||
	    !genl_has_listeners(&npu_mem_nl_family, &init_net,
				NPU_MEM_NL_MCGRP_EVENTS))
		return;

	mutex_lock(&npu_mem_nl_ev_lock);
	seq = ++npu_mem_nl_ev_seq;
	if (ev->type == NPU_MEM_EVENT_IMPORT_REFUSED && !npu_mem_nl_refused_ok(ev)) {
		npu_mem_nl_ev_suppressed++;
		goto out_unlock;
	}

	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		goto out_unlock;
	hdr = genlmsg_put(skb, 0, 0, &npu_mem_nl_family, 0, NPU_MEM_CMD_EVENT);
	if (!hdr)
		goto err_free;
	if (nla_put_u32(skb, NPU_MEM_A_EV_TYPE, ev->type) ||
	    nla_put_u64_64bit(skb, NPU_MEM_A_EV_TIME, ktime_get_real_ns(),
			      NPU_MEM_A_EV_PAD) ||
	    nla_put_u64_64bit(skb, NPU_MEM_A_EV_SEQ, seq, NPU_MEM_A_EV_PAD) ||
	    (npu_mem_nl_ev_suppressed &&
	     nla_put_u64_64bit(skb, NPU_MEM_A_EV_SUPPRESSED,
			       npu_mem_nl_ev_suppressed, NPU_MEM_A_EV_PAD)) ||
	    (ev->obj && nla_put_u32(skb, NPU_MEM_A_EV_OBJ, ev->obj)) ||
	    nla_put_u32(skb, NPU_MEM_A_EV_DEVICE, ev->device) ||
	    (ev->size && nla_put_u64_64bit(skb, NPU_MEM_A_EV_SIZE, ev->size,
					    NPU_MEM_A_EV_PAD)) ||
	    (ev->who && (nla_put_u32(skb, NPU_MEM_A_EV_TGID, ev->who->tgid) ||
			 nla_put_string(skb, NPU_MEM_A_EV_COMM, ev->who->comm))) ||
	    (ev->reason && nla_put_u32(skb, NPU_MEM_A_EV_REASON, ev->reason)) ||
	    (ev->pids && nla_put_u32(skb, NPU_MEM_A_EV_PIDS, ev->pids)) ||
	    (ev->value && nla_put_u64_64bit(skb, NPU_MEM_A_EV_SHAREABLE,
					     ev->value, NPU_MEM_A_EV_PAD)))
		goto err_free;
	genlmsg_end(skb, hdr);
	genlmsg_multicast(&npu_mem_nl_family, skb, 0, NPU_MEM_NL_MCGRP_EVENTS,
			  GFP_KERNEL);
	npu_mem_nl_ev_suppressed = 0;
	goto out_unlock;

err_free:
	nlmsg_free(skb);
out_unlock:
	mutex_unlock(&npu_mem_nl_ev_lock);
}

static const struct genl_ops npu_mem_nl_ops[] = {
	{
		.cmd = NPU_MEM_CMD_GET_INFO,
		.doit = npu_mem_nl_get_info,
	},
	{
		.cmd = NPU_MEM_CMD_GET_DEVICE,
		.start = npu_mem_nl_dump_start,
		.dumpit = npu_mem_nl_get_device_dump,
	},
	{
		.cmd = NPU_MEM_CMD_GET_OBJECT,
		.start = npu_mem_nl_dump_start,
		.dumpit = npu_mem_nl_get_object_dump,
	},
	{
		.cmd = NPU_MEM_CMD_GET_PROC,
		.start = npu_mem_nl_dump_start,
		.dumpit = npu_mem_nl_get_proc_dump,
	},
};

static const struct genl_multicast_group npu_mem_nl_mcgrps[] = {
	/* Events name other processes and carry shareable values. */
	[NPU_MEM_NL_MCGRP_EVENTS] = {
		.name = NPU_MEM_GENL_MCGRP_EVENTS,
		.flags = GENL_MCAST_CAP_SYS_ADMIN,
	},
};

static struct genl_family npu_mem_nl_family __ro_after_init = {
	.name = NPU_MEM_GENL_NAME,
	.version = NPU_MEM_GENL_VERSION,
	.module = THIS_MODULE,
	.parallel_ops = true,
	.ops = npu_mem_nl_ops,
	.n_ops = ARRAY_SIZE(npu_mem_nl_ops),
	/*
	 * .resv_start_op 0: every command is new, so the core validates them
	 * strictly: reserved header bytes and unknown flags are errors, and
	 * as no command has a policy, so is any request attribute.
	 */
	.mcgrps = npu_mem_nl_mcgrps,
	.n_mcgrps = ARRAY_SIZE(npu_mem_nl_mcgrps),
};

/* Report @sys through the family.  Return: 0 or -errno. */
int npu_mem_nl_register(struct npu_mem_sys *sys)
{
	int ret, i;

	for (i = 0; i < ARRAY_SIZE(npu_mem_nl_refused_rs); i++)
		ratelimit_state_init(&npu_mem_nl_refused_rs[i], 0, 0);

	WRITE_ONCE(npu_mem_nl_sys, sys);
	ret = genl_register_family(&npu_mem_nl_family);
	if (ret)
		WRITE_ONCE(npu_mem_nl_sys, NULL);
	return ret;
}

void npu_mem_nl_unregister(void)
{
	genl_unregister_family(&npu_mem_nl_family);
	WRITE_ONCE(npu_mem_nl_sys, NULL);
}
