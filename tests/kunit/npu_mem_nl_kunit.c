// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for what the netlink family of npu_mem.ko relies on: the
 * refusal reasons and their errnos, the object registry the dumps walk, the
 * unprivileged-view filter, and the per-device counters.
 *
 * A module of its own (see npu_mem_kunit.c for why suites are not in the
 * driver).  Every case builds a private machine, which netlink never reports.
 */
#include <kunit/test.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "driver/compat.h"
#include "driver/npu_mem.h"

#define NK_DEV_SIZE	(8ULL << 20)
#define NK_2M		NPU_MEM_GRANULARITY
#define NK_MAX_CTX	4

struct nk_fixture {
	struct npu_mem_sys *sys;
	struct npu_mem_ctx *ctx[NK_MAX_CTX];
	int nr_ctx;
};

static int nk_init(struct kunit *test)
{
	struct nk_fixture *fx;

	fx = kunit_kzalloc(test, sizeof(*fx), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, fx);
	fx->sys = npu_mem_sys_create(2, NK_DEV_SIZE, NPU_MEM_GRANULARITY, 0,
				     &npu_mem_host_backend);
	KUNIT_ASSERT_FALSE(test, IS_ERR(fx->sys));
	test->priv = fx;
	return 0;
}

static void nk_exit(struct kunit *test)
{
	struct nk_fixture *fx = test->priv;
	int i;

	for (i = 0; i < fx->nr_ctx; i++)
		npu_mem_ctx_destroy(fx->ctx[i]);
	KUNIT_EXPECT_TRUE(test, xa_empty(&fx->sys->objs));
	KUNIT_EXPECT_TRUE(test, xa_empty(&fx->sys->ctxs));
	npu_mem_sys_destroy(fx->sys);
}

/* A pretend process @tgid of user @uid, started long ago. */
static struct npu_mem_ctx *nk_proc(struct kunit *test, pid_t tgid, uid_t uid)
{
	struct nk_fixture *fx = test->priv;
	struct npu_mem_owner owner = {
		.tgid = tgid,
		.start_time = 1,
		.uid = KUIDT_INIT(uid),
	};
	struct npu_mem_ctx *ctx;

	KUNIT_ASSERT_LT(test, fx->nr_ctx, NK_MAX_CTX);
	ctx = npu_mem_ctx_create(fx->sys, &owner);
	KUNIT_ASSERT_FALSE(test, IS_ERR(ctx));
	fx->ctx[fx->nr_ctx++] = ctx;
	return ctx;
}

/* The object behind handle @id of @ctx. */
static struct npu_mem_obj *nk_obj(struct kunit *test, struct npu_mem_ctx *ctx,
				  u32 id)
{
	struct npu_mem_handle *h = npu_mem_htab_get(&ctx->handles, id);

	KUNIT_ASSERT_NOT_NULL(test, h);
	return h->obj;
}

/* Each refusal fails the import with the errno uapi/npu_mem.h documents. */
static void npu_mem_nl_refusal_errnos(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, npu_mem_refusal_errno(NPU_MEM_REFUSAL_NOT_WHITELISTED),
			-EACCES);
	KUNIT_EXPECT_EQ(test, npu_mem_refusal_errno(NPU_MEM_REFUSAL_PID_REUSED),
			-EACCES);
	KUNIT_EXPECT_EQ(test, npu_mem_refusal_errno(NPU_MEM_REFUSAL_SELF_IMPORT),
			-ELOOP);
	KUNIT_EXPECT_EQ(test, npu_mem_refusal_errno(NPU_MEM_REFUSAL_DUPLICATE),
			-EEXIST);
	KUNIT_EXPECT_EQ(test, npu_mem_refusal_errno(NPU_MEM_REFUSAL_DEAD_VALUE),
			-ENOENT);
}

/* Each import refusal reaches the caller as that errno. */
static void npu_mem_nl_refusals_reach_import(struct kunit *test)
{
	struct npu_mem_ctx *a = nk_proc(test, 100, 1000);
	struct npu_mem_ctx *b = nk_proc(test, 200, 1000);
	struct npu_mem_ctx *c = nk_proc(test, 300, 1000);
	s32 pid = 200;
	u32 ha, hb;
	u64 v;

	KUNIT_ASSERT_EQ(test, npu_mem_ctx_alloc(a, 0, NK_2M, NPU_MEM_PAGE_NORMAL, &ha), 0);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_export(a, ha, 0, &v), 0);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_set_pids(a, v, 0, &pid, 1), 0);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(a, v, 0, 0, &hb),
			npu_mem_refusal_errno(NPU_MEM_REFUSAL_SELF_IMPORT));
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(c, v, 0, 0, &hb),
			npu_mem_refusal_errno(NPU_MEM_REFUSAL_NOT_WHITELISTED));
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_import(b, v, 0, 1, &hb), 0);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(b, v, 0, 1, &hb),
			npu_mem_refusal_errno(NPU_MEM_REFUSAL_DUPLICATE));
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(c, v ^ (1ULL << 40), 0, 0, &hb),
			npu_mem_refusal_errno(NPU_MEM_REFUSAL_DEAD_VALUE));
}

/* @owner's refusal reason for value @v, as the import check sees it. */
static u32 nk_reason(struct kunit *test, u64 v, pid_t tgid, u64 start)
{
	struct nk_fixture *fx = test->priv;
	struct npu_mem_owner owner = { .tgid = tgid, .start_time = start };
	struct npu_mem_share *share = npu_mem_share_get(fx->sys, v);
	u32 reason;

	KUNIT_ASSERT_NOT_NULL(test, share);
	mutex_lock(&share->lock);
	reason = npu_mem_share_may_import(share, &owner);
	mutex_unlock(&share->lock);
	npu_mem_share_put(share);
	return reason;
}

/* Each reason the events report, from the check itself. */
static void npu_mem_nl_refusal_reasons(struct kunit *test)
{
	struct npu_mem_ctx *a = nk_proc(test, 100, 1000);
	struct npu_mem_ctx *b = nk_proc(test, 200, 1000);
	u64 later = ktime_get_ns() + NSEC_PER_SEC * 3600;
	s32 pid = 200;
	u32 ha, ha2, hb;
	u64 v, v2;

	KUNIT_ASSERT_EQ(test, npu_mem_ctx_alloc(a, 0, NK_2M, NPU_MEM_PAGE_NORMAL, &ha), 0);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_export(a, ha, 0, &v), 0);
	KUNIT_EXPECT_EQ(test, nk_reason(test, v, 200, 1), NPU_MEM_REFUSAL_NOT_WHITELISTED);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_set_pids(a, v, 0, &pid, 1), 0);
	KUNIT_EXPECT_EQ(test, nk_reason(test, v, 200, 1), 0);
	/* Pid 200 again, but a process started after the entry was set. */
	KUNIT_EXPECT_EQ(test, nk_reason(test, v, 200, later), NPU_MEM_REFUSAL_PID_REUSED);
	KUNIT_EXPECT_EQ(test, nk_reason(test, v, 300, 1), NPU_MEM_REFUSAL_NOT_WHITELISTED);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_import(b, v, 0, 0, &hb), 0);
	KUNIT_EXPECT_EQ(test, nk_reason(test, v, 200, 1), NPU_MEM_REFUSAL_DUPLICATE);

	/* Without pid validation only the one-to-one rule is left. */
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_alloc(a, 0, NK_2M, NPU_MEM_PAGE_NORMAL, &ha2), 0);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_export(a, ha2,
					     NPU_MEM_EXPORT_DISABLE_PID_VALIDATION, &v2), 0);
	KUNIT_EXPECT_EQ(test, nk_reason(test, v2, 300, later), 0);
}

/* The registry holds live objects by id; dumps find them in id order. */
static void npu_mem_nl_registry(struct kunit *test)
{
	struct nk_fixture *fx = test->priv;
	struct npu_mem_ctx *a = nk_proc(test, 100, 1000);
	struct npu_mem_obj *o1, *o2, *found;
	unsigned long id = 0;
	u32 h1, h2, h3;

	KUNIT_ASSERT_EQ(test, npu_mem_ctx_alloc(a, 0, NK_2M, NPU_MEM_PAGE_NORMAL, &h1), 0);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_alloc(a, 1, 2 * NK_2M, NPU_MEM_PAGE_NORMAL, &h2), 0);
	o1 = nk_obj(test, a, h1);
	o2 = nk_obj(test, a, h2);
	KUNIT_EXPECT_LT(test, o1->id, o2->id);
	KUNIT_EXPECT_EQ(test, o1->owner.tgid, 100);

	found = npu_mem_obj_find(fx->sys, &id);
	KUNIT_EXPECT_PTR_EQ(test, found, o1);
	KUNIT_EXPECT_EQ(test, id, (unsigned long)o1->id);
	npu_mem_obj_put(found);
	id++;
	found = npu_mem_obj_find(fx->sys, &id);
	KUNIT_EXPECT_PTR_EQ(test, found, o2);
	npu_mem_obj_put(found);
	id++;
	KUNIT_EXPECT_NULL(test, npu_mem_obj_find(fx->sys, &id));

	/* A freed object leaves the registry; its id is not handed out again. */
	id = o1->id;
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_free(a, h1), 0);
	found = npu_mem_obj_find(fx->sys, &id);
	KUNIT_EXPECT_PTR_EQ(test, found, o2);
	npu_mem_obj_put(found);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_alloc(a, 0, NK_2M, NPU_MEM_PAGE_NORMAL, &h3), 0);
	KUNIT_EXPECT_GT(test, nk_obj(test, a, h3)->id, o2->id);
}

/* Without CAP_SYS_ADMIN: the owner's and holders' users only. */
static void npu_mem_nl_visibility(struct kunit *test)
{
	struct npu_mem_ctx *a = nk_proc(test, 100, 1000);
	struct npu_mem_ctx *b = nk_proc(test, 200, 1001);
	struct npu_mem_obj *obj;
	u32 ha, hb;
	u64 v;

	KUNIT_ASSERT_EQ(test, npu_mem_ctx_alloc(a, 0, NK_2M, NPU_MEM_PAGE_NORMAL, &ha), 0);
	obj = nk_obj(test, a, ha);
	KUNIT_EXPECT_TRUE(test, npu_mem_obj_visible(obj, false, KUIDT_INIT(1000)));
	KUNIT_EXPECT_FALSE(test, npu_mem_obj_visible(obj, false, KUIDT_INIT(1001)));
	KUNIT_EXPECT_FALSE(test, npu_mem_obj_visible(obj, false, KUIDT_INIT(1002)));
	KUNIT_EXPECT_TRUE(test, npu_mem_obj_visible(obj, true, KUIDT_INIT(1002)));

	KUNIT_ASSERT_EQ(test, npu_mem_ctx_export(a, ha,
					     NPU_MEM_EXPORT_DISABLE_PID_VALIDATION, &v), 0);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_import(b, v, 0, 1, &hb), 0);
	KUNIT_EXPECT_TRUE(test, npu_mem_obj_visible(obj, false, KUIDT_INIT(1001)));
	KUNIT_EXPECT_FALSE(test, npu_mem_obj_visible(obj, false, KUIDT_INIT(1002)));

	/* The importer lets go: the object is no longer its user's business. */
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_free(b, hb), 0);
	KUNIT_EXPECT_FALSE(test, npu_mem_obj_visible(obj, false, KUIDT_INIT(1001)));
	/* The owner's user still sees it after the owner's handle is gone. */
	npu_mem_obj_hold(obj);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_free(a, ha), 0);
	KUNIT_EXPECT_TRUE(test, npu_mem_obj_visible(obj, false, KUIDT_INIT(1000)));
	npu_mem_obj_unhold(obj);
}

/*
 * Each holder list is in join order (link_seq), across frees and new
 * imports: a GET_OBJECT dump resumes a list after a link_seq.
 */
static void npu_mem_nl_link_seq(struct kunit *test)
{
	struct npu_mem_ctx *a = nk_proc(test, 100, 1000);
	struct npu_mem_ctx *b = nk_proc(test, 200, 1000);
	struct npu_mem_ctx *c = nk_proc(test, 300, 1001);
	struct npu_mem_handle *h, *ha;
	struct npu_mem_obj *obj;
	unsigned long last = 0;
	u32 id_a, id_b, id_c;
	pid_t order[2];
	int n = 0;
	u64 v;

	KUNIT_ASSERT_EQ(test, npu_mem_ctx_alloc(a, 0, NK_2M, NPU_MEM_PAGE_NORMAL, &id_a), 0);
	obj = nk_obj(test, a, id_a);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_export(a, id_a,
					     NPU_MEM_EXPORT_DISABLE_PID_VALIDATION, &v), 0);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_import(b, v, 0, 0, &id_b), 0);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_import(c, v, 0, 1, &id_c), 0);
	/* b leaves and comes back: it goes to the end, with a new number. */
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_free(b, id_b), 0);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_import(b, v, 0, 0, &id_b), 0);

	ha = npu_mem_htab_get(&a->handles, id_a);
	KUNIT_ASSERT_NOT_NULL(test, ha);
	KUNIT_EXPECT_EQ(test, ha->link_seq, 1UL);
	spin_lock(&obj->lock);
	list_for_each_entry(h, &obj->imports, obj_node) {
		KUNIT_EXPECT_GT(test, h->link_seq, last);
		last = h->link_seq;
		if (n < 2)
			order[n] = h->tgid;
		n++;
	}
	spin_unlock(&obj->lock);
	KUNIT_ASSERT_EQ(test, n, 2);
	KUNIT_EXPECT_EQ(test, order[0], 300);
	KUNIT_EXPECT_EQ(test, order[1], 200);
	KUNIT_EXPECT_EQ(test, last, obj->last_link);
	KUNIT_EXPECT_EQ(test, last, 4UL);
}

/* The device counters GET_DEVICE reports. */
static void npu_mem_nl_device_counters(struct kunit *test)
{
	struct nk_fixture *fx = test->priv;
	struct npu_mem_dev *d0 = &fx->sys->devs[0];
	struct npu_mem_ctx *a = nk_proc(test, 100, 1000);
	struct npu_mem_ctx *b = nk_proc(test, 200, 1000);
	u32 h1, h2, hb;
	u64 v;

	KUNIT_ASSERT_EQ(test, npu_mem_ctx_alloc(a, 0, NK_2M, NPU_MEM_PAGE_NORMAL, &h1), 0);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_alloc(a, 0, NK_2M, NPU_MEM_PAGE_NORMAL, &h2), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&d0->nr_objs), 2);
	KUNIT_EXPECT_EQ(test, atomic_read(&d0->nr_exports), 0);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_export(a, h1,
					     NPU_MEM_EXPORT_DISABLE_PID_VALIDATION, &v), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&d0->nr_exports), 1);
	/* An import onto device 1 is still device 0's memory. */
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_import(b, v, 0, 1, &hb), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&fx->sys->devs[1].nr_objs), 0);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_free(a, h1), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&d0->nr_objs), 2);
	KUNIT_EXPECT_EQ(test, atomic_read(&d0->nr_exports), 1);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_free(b, hb), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&d0->nr_objs), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&d0->nr_exports), 0);
	npu_mem_ctx_teardown(a);
	KUNIT_EXPECT_EQ(test, atomic_read(&d0->nr_objs), 0);
}

static struct kunit_case npu_mem_nl_cases[] = {
	KUNIT_CASE(npu_mem_nl_refusal_errnos),
	KUNIT_CASE(npu_mem_nl_refusals_reach_import),
	KUNIT_CASE(npu_mem_nl_refusal_reasons),
	KUNIT_CASE(npu_mem_nl_registry),
	KUNIT_CASE(npu_mem_nl_visibility),
	KUNIT_CASE(npu_mem_nl_link_seq),
	KUNIT_CASE(npu_mem_nl_device_counters),
	{}
};

static struct kunit_suite npu_mem_nl_suite = {
	.name = "npu_mem_netlink",
	.init = nk_init,
	.exit = nk_exit,
	.test_cases = npu_mem_nl_cases,
};

kunit_test_suites(&npu_mem_nl_suite);

MODULE_DESCRIPTION("KUnit tests for npu_mem's netlink support");
MODULE_LICENSE("GPL");
NPU_MEM_MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
