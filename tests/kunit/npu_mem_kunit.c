// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites for npu_mem.ko.
 *
 * They live in a module of their own: 6.1 runs a module's suites before its
 * module_init and 6.12 after, so nothing here may depend on the driver's init
 * having run or not.  Internals are reached through EXPORT_SYMBOL_IF_KUNIT.
 *
 * Every case builds a private machine (two 8 MiB devices behind a counting,
 * failure-injecting wrapper of the host backend) and pretend processes:
 * contexts whose owner (bare tgid, start time) the case chooses.  The exit
 * hook destroys whatever is left and checks that nothing leaked.
 */
#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include "driver/compat.h"
#include "driver/npu_mem.h"
#include "kunit_util.h"

#define KT_DEV_SIZE	(8ULL << 20)
#define KT_2M		NPU_MEM_GRANULARITY
#define KT_MAX_CTX	8

/* Backend wrapper: counts calls, fails on demand. */
static struct {
	int fail_alloc;		/* next alloc returns this error if non-zero */
	int allocs;
	int frees;
} kt_be;

static int kt_be_alloc(struct npu_mem_dev *dev, struct npu_mem_obj *obj)
{
	int ret;

	if (kt_be.fail_alloc)
		return kt_be.fail_alloc;
	ret = npu_mem_host_backend.alloc(dev, obj);
	if (!ret)
		kt_be.allocs++;
	return ret;
}

static void kt_be_free(struct npu_mem_dev *dev, struct npu_mem_obj *obj)
{
	kt_be.frees++;
	npu_mem_host_backend.free(dev, obj);
}

static unsigned long kt_be_pfn(struct npu_mem_obj *obj, u64 off, u64 *contig)
{
	return npu_mem_host_backend.pfn(obj, off, contig);
}

static const struct npu_mem_backend_ops kt_backend = {
	.alloc = kt_be_alloc,
	.free = kt_be_free,
	.pfn = kt_be_pfn,
};

struct kt_fixture {
	struct npu_mem_sys *sys;
	struct npu_mem_ctx *ctx[KT_MAX_CTX];
	int nr_ctx;
};

static int kt_init(struct kunit *test)
{
	struct kt_fixture *fx;

	memset(&kt_be, 0, sizeof(kt_be));
	fx = kunit_kzalloc(test, sizeof(*fx), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, fx);
	fx->sys = npu_mem_sys_create(2, KT_DEV_SIZE, NPU_MEM_GRANULARITY, 0,
				     &kt_backend);
	KUNIT_ASSERT_FALSE(test, IS_ERR(fx->sys));
	test->priv = fx;
	return 0;
}

static void kt_exit(struct kunit *test)
{
	struct kt_fixture *fx = test->priv;
	int i;

	for (i = 0; i < fx->nr_ctx; i++)
		if (fx->ctx[i])
			npu_mem_ctx_destroy(fx->ctx[i]);
	/* Everything must be back: objects, capacity, share table. */
	KUNIT_EXPECT_EQ(test, atomic_read(&fx->sys->nr_objs), 0);
	KUNIT_EXPECT_TRUE(test, xa_empty(&fx->sys->shares));
	KUNIT_EXPECT_EQ(test, npu_mem_dev_free_bytes(&fx->sys->devs[0]), KT_DEV_SIZE);
	KUNIT_EXPECT_EQ(test, npu_mem_dev_free_bytes(&fx->sys->devs[1]), KT_DEV_SIZE);
	KUNIT_EXPECT_EQ(test, kt_be.allocs, kt_be.frees);
	npu_mem_sys_destroy(fx->sys);
}

/* A pretend process: @tgid, started at @start (monotonic ns). */
static struct npu_mem_ctx *kt_proc_at(struct kunit *test, pid_t tgid, u64 start)
{
	struct kt_fixture *fx = test->priv;
	struct npu_mem_owner owner = { .tgid = tgid, .start_time = start };
	struct npu_mem_ctx *ctx;

	KUNIT_ASSERT_LT(test, fx->nr_ctx, KT_MAX_CTX);
	ctx = npu_mem_ctx_create(fx->sys, &owner);
	KUNIT_ASSERT_FALSE(test, IS_ERR(ctx));
	fx->ctx[fx->nr_ctx++] = ctx;
	return ctx;
}

static struct npu_mem_ctx *kt_proc(struct kunit *test, pid_t tgid)
{
	return kt_proc_at(test, tgid, ktime_get_ns());
}

/*
 * Simulate the death of @ctx's process: what the mmu notifier's .release does
 * (npu_mem_ctx_teardown()).  The file itself is closed later, by kt_exit().
 */
static void kt_kill(struct npu_mem_ctx *ctx)
{
	npu_mem_ctx_teardown(ctx);
}

static u64 kt_free_bytes(struct kunit *test, u32 dev)
{
	struct kt_fixture *fx = test->priv;

	return npu_mem_dev_free_bytes(&fx->sys->devs[dev]);
}

static u32 kt_alloc(struct kunit *test, struct npu_mem_ctx *ctx, u32 dev, u64 size)
{
	u32 h = 0;

	KUNIT_ASSERT_EQ(test, npu_mem_ctx_alloc(ctx, dev, size, NPU_MEM_PAGE_HUGE, &h), 0);
	KUNIT_ASSERT_NE(test, h, 0);
	return h;
}

static u64 kt_export(struct kunit *test, struct npu_mem_ctx *ctx, u32 h, u32 flags)
{
	u64 v = 0;

	KUNIT_ASSERT_EQ(test, npu_mem_ctx_export(ctx, h, flags, &v), 0);
	KUNIT_ASSERT_NE(test, v, 0);
	return v;
}

static void kt_set_pid(struct kunit *test, struct npu_mem_ctx *ctx, u64 v, s32 pid)
{
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_set_pids(ctx, v, 0, &pid, 1), 0);
}

/* ---- version ---------------------------------------------------------- */

static void npu_mem_version_reports_abi(struct kunit *test)
{
	struct npu_mem_version ver = { };
	struct npu_mem_sys *sys;

	/* Three devices: the count comes from the machine, not a global. */
	sys = npu_mem_sys_create(3, KT_DEV_SIZE, NPU_MEM_GRANULARITY, 0,
				 &kt_backend);
	KUNIT_ASSERT_FALSE(test, IS_ERR(sys));
	npu_mem_version_fill(sys, &ver);
	KUNIT_EXPECT_EQ(test, ver.abi_major, NPU_MEM_ABI_MAJOR);
	KUNIT_EXPECT_EQ(test, ver.abi_minor, NPU_MEM_ABI_MINOR);
	KUNIT_EXPECT_EQ(test, ver.num_devices, 3);
	npu_mem_sys_destroy(sys);
}

/* Unknown flags of every ioctl: tests/user/test_abi_sizes (the ioctl layer). */
static struct kunit_case npu_mem_version_cases[] = {
	KUNIT_CASE(npu_mem_version_reports_abi),
	{}
};

static struct kunit_suite npu_mem_version_suite = {
	.name = "npu_mem_version",
	.test_cases = npu_mem_version_cases,
};

/* ---- object model ----------------------------------------------------- */

static void npu_mem_obj_capacity_is_exact(struct kunit *test)
{
	struct npu_mem_ctx *a = kt_proc(test, 1001);
	u32 h1, h2, h3;

	h1 = kt_alloc(test, a, 0, 2 * KT_2M);
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 0), KT_DEV_SIZE - 2 * KT_2M);
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 1), KT_DEV_SIZE);
	/* 6 MiB do not fit in the 4 MiB left: ENOMEM, nothing changes. */
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_alloc(a, 0, 3 * KT_2M, 0, &h2), -ENOMEM);
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 0), KT_DEV_SIZE - 2 * KT_2M);
	KUNIT_EXPECT_EQ(test, kt_be.allocs, 1);
	/* Exactly what is left fits. */
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_alloc(a, 0, 2 * KT_2M, 0, &h2), 0);
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 0), 0);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_alloc(a, 0, KT_2M, 0, &h3), -ENOMEM);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_free(a, h1), 0);
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 0), 2 * KT_2M);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_free(a, h2), 0);
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 0), KT_DEV_SIZE);
	KUNIT_EXPECT_EQ(test, atomic_read(&((struct kt_fixture *)test->priv)->sys->nr_objs), 0);
}

static void npu_mem_obj_rejects_bad_sizes(struct kunit *test)
{
	struct npu_mem_ctx *a = kt_proc(test, 1001);
	u32 h;

	KUNIT_EXPECT_EQ(test, npu_mem_ctx_alloc(a, 0, 0, NPU_MEM_PAGE_NORMAL, &h), -EINVAL);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_alloc(a, 0, KT_2M / 2, NPU_MEM_PAGE_NORMAL, &h), -EINVAL);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_alloc(a, 0, KT_2M + PAGE_SIZE, NPU_MEM_PAGE_HUGE, &h),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_alloc(a, 0, KT_2M, NPU_MEM_PAGE_HUGE1G, &h), -EINVAL);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_alloc(a, 0, KT_2M, 3, &h), -EINVAL);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_alloc(a, 0, -KT_2M, NPU_MEM_PAGE_HUGE, &h), -ENOMEM);
	/* A whole 1 GiB object is well-formed but does not fit an 8 MiB device. */
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_alloc(a, 0, NPU_MEM_GRANULARITY_HUGE1G,
					    NPU_MEM_PAGE_HUGE1G, &h), -ENOMEM);
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 0), KT_DEV_SIZE);
}

static void npu_mem_obj_rejects_bad_device(struct kunit *test)
{
	struct npu_mem_ctx *a = kt_proc(test, 1001);
	struct npu_mem_device_info info = { .device = 2 };
	u32 h;

	KUNIT_EXPECT_EQ(test, npu_mem_ctx_alloc(a, 2, KT_2M, 0, &h), -ENODEV);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_alloc(a, U32_MAX, KT_2M, 0, &h), -ENODEV);
	KUNIT_EXPECT_EQ(test, npu_mem_sys_device_info(a->sys, &info), -ENODEV);
	info.device = 1;
	KUNIT_EXPECT_EQ(test, npu_mem_sys_device_info(a->sys, &info), 0);
	KUNIT_EXPECT_EQ(test, info.total, KT_DEV_SIZE);
	KUNIT_EXPECT_EQ(test, info.free, KT_DEV_SIZE);
	KUNIT_EXPECT_EQ(test, info.granularity, KT_2M);
	KUNIT_EXPECT_EQ(test, info.granularity_huge1g, 1ULL << 30);
}

static void npu_mem_obj_memory_is_zeroed(struct kunit *test)
{
	struct npu_mem_obj *obj;
	struct page *page;
	u8 *p;
	int bad = 0;
	u64 i;

	obj = kt_obj_create(((struct kt_fixture *)test->priv)->sys, 1,
				 2 * KT_2M, NPU_MEM_PAGE_NORMAL);
	KUNIT_ASSERT_FALSE(test, IS_ERR(obj));
	KUNIT_EXPECT_EQ(test, refcount_read(&obj->holders), 1);
	list_for_each_entry(page, &obj->pages, lru) {
		p = page_address(page);
		for (i = 0; i < (PAGE_SIZE << compound_order(page)); i += 64)
			bad |= p[i];
		memset(p, 0xa5, 64);	/* dirty it for whoever comes next */
	}
	KUNIT_EXPECT_EQ(test, bad, 0);
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 1), KT_DEV_SIZE - 2 * KT_2M);
	npu_mem_obj_unhold(obj);
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 1), KT_DEV_SIZE);
}

static void npu_mem_obj_handles_are_per_context(struct kunit *test)
{
	struct npu_mem_ctx *a = kt_proc(test, 1001), *b = kt_proc(test, 1002);
	struct npu_mem_handle_info info = { };
	u32 h;

	h = kt_alloc(test, a, 1, KT_2M);
	info.handle = h;
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_handle_info(b, &info), -ENOENT);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_free(b, h), -ENOENT);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_handle_info(a, &info), 0);
	KUNIT_EXPECT_EQ(test, info.device, 1);
	KUNIT_EXPECT_EQ(test, info.origin_device, 1);
	KUNIT_EXPECT_EQ(test, info.size, KT_2M);
	KUNIT_EXPECT_EQ(test, info.page_kind, NPU_MEM_PAGE_HUGE);
	KUNIT_EXPECT_EQ(test, info.info_flags, 0);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_free(a, h), 0);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_free(a, h), -ENOENT);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_free(a, 0), -ENOENT);
}

static void npu_mem_obj_teardown_frees_everything(struct kunit *test)
{
	struct npu_mem_ctx *a = kt_proc(test, 1001);
	u32 h;

	kt_alloc(test, a, 0, KT_2M);
	kt_alloc(test, a, 1, 2 * KT_2M);
	kt_alloc(test, a, 1, KT_2M);
	npu_mem_ctx_teardown(a);
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 0), KT_DEV_SIZE);
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 1), KT_DEV_SIZE);
	/* A torn-down context refuses everything. */
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_alloc(a, 0, KT_2M, 0, &h), -EBADFD);
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 0), KT_DEV_SIZE);
	npu_mem_ctx_teardown(a);	/* idempotent */
}

static struct kunit_case npu_mem_obj_cases[] = {
	KUNIT_CASE(npu_mem_obj_capacity_is_exact),
	KUNIT_CASE(npu_mem_obj_rejects_bad_sizes),
	KUNIT_CASE(npu_mem_obj_rejects_bad_device),
	KUNIT_CASE(npu_mem_obj_memory_is_zeroed),
	KUNIT_CASE(npu_mem_obj_handles_are_per_context),
	KUNIT_CASE(npu_mem_obj_teardown_frees_everything),
	{}
};

static struct kunit_suite npu_mem_obj_suite = {
	.name = "npu_mem_object",
	.init = kt_init,
	.exit = kt_exit,
	.test_cases = npu_mem_obj_cases,
};

/* ---- sharing rules ---------------------------------------------------- */

static void npu_mem_share_values_unique_and_checked(struct kunit *test)
{
	struct npu_mem_ctx *a = kt_proc(test, 1001);
	struct npu_mem_ctx *b = kt_proc_at(test, 1002, 0);
	u64 v1, v2;
	u32 h;

	v1 = kt_export(test, a, kt_alloc(test, a, 0, KT_2M), 1);
	v2 = kt_export(test, a, kt_alloc(test, a, 0, KT_2M), 1);
	KUNIT_EXPECT_NE(test, v1, v2);
	/* Every bit of the value counts. */
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(b, v1 ^ (1ULL << 63), 0, 0, &h), -ENOENT);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(b, v1 ^ (1ULL << 32), 0, 0, &h), -ENOENT);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(b, lower_32_bits(v1), 0, 0, &h), -ENOENT);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(b, 0, 0, 0, &h), -ENOENT);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(b, v1, 0, 1, &h), 0);
}

/*
 * Values are a keyed permutation of a counter: over 10^4 exports no value
 * repeats, every bit is set about half the time, consecutive values differ
 * in about half their bits, and no 32-bit half of the step is small (as a
 * counter in any position would make it).
 */
#define KT_NR_VALUES	10000

static int kt_u64_cmp(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static bool kt_small(u32 x)
{
	return x < (1U << 16) || -x < (1U << 16);
}

static void npu_mem_share_values_look_random(struct kunit *test)
{
	static const struct npu_mem_owner owner = { .tgid = 1001 };
	u32 ones[64] = { }, flips[64] = { }, steps = 0, i, b, h;
	struct npu_mem_sys *sys;
	struct npu_mem_ctx *ctx;
	u64 *v;

	v = kunit_kmalloc_array(test, KT_NR_VALUES, sizeof(*v), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, v);
	/* 4 KiB objects, so that 10^4 exports zero no 2 MiB chunks. */
	sys = npu_mem_sys_create(1, NPU_MEM_GRANULARITY, PAGE_SIZE, 0, &kt_backend);
	KUNIT_ASSERT_FALSE(test, IS_ERR(sys));
	ctx = npu_mem_ctx_create(sys, &owner);
	if (IS_ERR(ctx))
		npu_mem_sys_destroy(sys);
	KUNIT_ASSERT_FALSE(test, IS_ERR(ctx));
	for (i = 0; i < KT_NR_VALUES; i++)
		if (npu_mem_ctx_alloc(ctx, 0, PAGE_SIZE, NPU_MEM_PAGE_NORMAL, &h) ||
		    npu_mem_ctx_export(ctx, h, 0, &v[i]) ||
		    npu_mem_ctx_free(ctx, h))
			break;
	npu_mem_ctx_destroy(ctx);
	npu_mem_sys_destroy(sys);
	KUNIT_ASSERT_EQ(test, i, KT_NR_VALUES);

	for (i = 0; i < KT_NR_VALUES; i++) {
		for (b = 0; b < 64; b++) {
			ones[b] += v[i] >> b & 1;
			if (i)
				flips[b] += (v[i] ^ v[i - 1]) >> b & 1;
		}
		if (i && (kt_small(lower_32_bits(v[i] - v[i - 1])) ||
			  kt_small(upper_32_bits(v[i] - v[i - 1]))))
			steps++;
	}
	/* Binomial(10^4, 1/2): sigma is 50; these bounds are 10 sigma. */
	for (b = 0; b < 64; b++) {
		KUNIT_EXPECT_GE_MSG(test, ones[b], 4500, "bit %u", b);
		KUNIT_EXPECT_LE_MSG(test, ones[b], 5500, "bit %u", b);
		KUNIT_EXPECT_GE_MSG(test, flips[b], 4500, "bit %u", b);
		KUNIT_EXPECT_LE_MSG(test, flips[b], 5500, "bit %u", b);
	}
	/* About 4 * 2^-16 per step at random: 0.6 expected. */
	KUNIT_EXPECT_LE(test, steps, 10);
	sort(v, KT_NR_VALUES, sizeof(*v), kt_u64_cmp, NULL);
	KUNIT_EXPECT_NE(test, v[0], 0);
	for (i = 1; i < KT_NR_VALUES; i++)
		if (v[i] == v[i - 1])
			break;
	KUNIT_EXPECT_EQ_MSG(test, i, KT_NR_VALUES, "a value was handed out twice");
}

static void npu_mem_share_value_dies_with_memory(struct kunit *test)
{
	struct npu_mem_ctx *a = kt_proc(test, 1001);
	struct npu_mem_ctx *b = kt_proc_at(test, 1002, 0);
	u64 v, v2;
	u32 h, hb;

	h = kt_alloc(test, a, 0, KT_2M);
	v = kt_export(test, a, h, NPU_MEM_EXPORT_DISABLE_PID_VALIDATION);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_free(a, h), 0);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(b, v, 0, 0, &hb), -ENOENT);
	/* A new export never gets the dead value back. */
	v2 = kt_export(test, a, kt_alloc(test, a, 0, KT_2M), 1);
	KUNIT_EXPECT_NE(test, v2, v);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(b, v, 0, 0, &hb), -ENOENT);
}

static void npu_mem_share_export_rules(struct kunit *test)
{
	struct npu_mem_ctx *a = kt_proc(test, 1001);
	struct npu_mem_ctx *b = kt_proc_at(test, 1002, 0);
	u64 v, v2;
	u32 h, hb;

	h = kt_alloc(test, a, 0, KT_2M);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_export(a, h + 1, 0, &v), -ENOENT);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_export(b, h, 0, &v), -ENOENT);
	v = kt_export(test, a, h, 0);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_export(a, h, 0, &v2), -EEXIST);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_export(a, h, 1, &v2), -EEXIST);
	kt_set_pid(test, a, v, 1002);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_import(b, v, 0, 1, &hb), 0);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_export(b, hb, 0, &v2), -EPERM);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_export(b, hb, 1, &v2), -EPERM);
}

static void npu_mem_share_import_unknown(struct kunit *test)
{
	struct npu_mem_ctx *b = kt_proc(test, 1002);
	u32 h;

	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(b, 0x1234567800000001ULL, 0, 0, &h), -ENOENT);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(b, 0x1234567800000001ULL, 0, 5, &h), -ENODEV);
}

static void npu_mem_share_self_import(struct kunit *test)
{
	struct npu_mem_ctx *a = kt_proc(test, 1001);
	struct npu_mem_ctx *a2;
	u64 v;
	u32 h;

	v = kt_export(test, a, kt_alloc(test, a, 0, KT_2M), 0);
	kt_set_pid(test, a, v, 1001);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(a, v, 0, 0, &h), -ELOOP);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(a, v, 0, 1, &h), -ELOOP);
	/* Through a second open file of the same process, too. */
	a2 = kt_proc_at(test, 1001, a->owner.start_time);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(a2, v, 0, 1, &h), -ELOOP);
}

static void npu_mem_share_duplicate_import(struct kunit *test)
{
	struct npu_mem_ctx *a = kt_proc(test, 1001);
	struct npu_mem_ctx *b = kt_proc_at(test, 1002, 0);
	struct npu_mem_ctx *b2 = kt_proc_at(test, 1002, 0);
	u64 v;
	u32 h, h2;

	v = kt_export(test, a, kt_alloc(test, a, 0, KT_2M), 0);
	kt_set_pid(test, a, v, 1002);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_import(b, v, 0, 0, &h), 0);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(b, v, 0, 0, &h2), -EEXIST);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(b, v, 0, 1, &h2), -EEXIST);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(b2, v, 0, 1, &h2), -EEXIST);
	/* Once freed, the process may import again. */
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_free(b, h), 0);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(b2, v, 0, 1, &h2), 0);
}

static void npu_mem_share_whitelist(struct kunit *test)
{
	struct npu_mem_ctx *a = kt_proc(test, 1001);
	struct npu_mem_ctx *b = kt_proc_at(test, 1002, 0);
	struct npu_mem_ctx *c = kt_proc_at(test, 1003, 0);
	struct npu_mem_handle_info info = { };
	s32 pids[] = { 0, 1002, 0 };
	u64 v;
	u32 h;

	h = kt_alloc(test, a, 0, 2 * KT_2M);
	v = kt_export(test, a, h, 0);
	/* Nobody is on an empty whitelist. */
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(b, v, 0, 1, &h), -EACCES);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_set_pids(a, v, 0, pids, ARRAY_SIZE(pids)), 0);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(c, v, 0, 1, &h), -EACCES);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_import(b, v, 0, 1, &h), 0);
	info.handle = h;
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_handle_info(b, &info), 0);
	KUNIT_EXPECT_EQ(test, info.device, 1);
	KUNIT_EXPECT_EQ(test, info.origin_device, 0);
	KUNIT_EXPECT_EQ(test, info.size, 2 * KT_2M);
	KUNIT_EXPECT_EQ(test, info.info_flags, NPU_MEM_INFO_IMPORTED);
	KUNIT_EXPECT_EQ(test, info.shareable, v);
	/* Importing uses no capacity on either device. */
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 0), KT_DEV_SIZE - 2 * KT_2M);
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 1), KT_DEV_SIZE);
}

/* Return once ktime_get_ns() reads later than it did on entry. */
static void kt_wait_for_clock_to_advance(void)
{
	u64 t = ktime_get_ns();

	while (ktime_get_ns() == t)
		usleep_range(100, 200);
}

static void npu_mem_share_pid_reuse(struct kunit *test)
{
	struct npu_mem_ctx *a = kt_proc(test, 1001);
	struct npu_mem_ctx *old, *reused;
	u64 v;
	u32 h;

	v = kt_export(test, a, kt_alloc(test, a, 0, KT_2M), 0);
	old = kt_proc(test, 1002);
	kt_set_pid(test, a, v, 1002);
	/*
	 * Pid 1002 died and a new process got the pid after the entry was set.
	 * A real fork comes later on the clock; let the clock move past the
	 * entry first, as it may tick as coarsely as a jiffy.
	 */
	kt_wait_for_clock_to_advance();
	reused = kt_proc_at(test, 1002, ktime_get_ns());
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(reused, v, 0, 0, &h), -EACCES);
	/* Re-adding refreshes the entry: the current holder of the pid may. */
	kt_set_pid(test, a, v, 1002);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(reused, v, 0, 0, &h), 0);
	/* One handle per pid: the earlier process with that pid is refused. */
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(old, v, 0, 0, &h), -EEXIST);
}

static void npu_mem_share_set_pids_rules(struct kunit *test)
{
	struct npu_mem_ctx *a = kt_proc(test, 1001);
	struct npu_mem_ctx *b = kt_proc_at(test, 1002, 0);
	struct npu_mem_ctx *a_later = kt_proc(test, 1001);
	s32 zeros[3] = { }, neg[2] = { 5, -1 }, pid = 1002;
	s32 big[2] = { 5, NPU_MEM_PID_LIMIT }, top = NPU_MEM_PID_LIMIT - 1;
	u64 v, vn;
	u32 h;

	v = kt_export(test, a, kt_alloc(test, a, 0, KT_2M), 0);
	vn = kt_export(test, a, kt_alloc(test, a, 0, KT_2M),
		       NPU_MEM_EXPORT_DISABLE_PID_VALIDATION);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_set_pids(b, v, 0, &pid, 1), -EACCES);
	/* Same pid, another process (pid reused): not the exporter either. */
	a_later->owner.start_time = a->owner.start_time + 1;
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_set_pids(a_later, v, 0, &pid, 1), -EACCES);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_set_pids(a, vn, 0, &pid, 1), -EPERM);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_set_pids(a, v, 0, zeros, 3), -EINVAL);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_set_pids(a, v, 0, neg, 2), -EINVAL);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_set_pids(a, v, 0, &pid, 0), -EINVAL);
	/* No kernel runs pid NPU_MEM_PID_LIMIT. */
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_set_pids(a, v, 0, big, 2), -EINVAL);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_set_pids(a, v, 0, &top, 1), 0);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_set_pids(a, v ^ (1ULL << 40), 0, &pid, 1), -ENOENT);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_set_pids(a, v, 0, &pid, 1), 0);
	/* Without validation anyone may import. */
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(b, vn, 0, 0, &h), 0);
}

static void npu_mem_share_too_many_pids(struct kunit *test)
{
	struct npu_mem_ctx *a = kt_proc(test, 1001);
	struct npu_mem_share *share;
	u32 i, n = NPU_MEM_MAX_PIDS + 1;
	s32 *pids;
	u64 v;

	pids = kunit_kmalloc_array(test, n, sizeof(*pids), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pids);
	v = kt_export(test, a, kt_alloc(test, a, 0, KT_2M), 0);
	for (i = 0; i < n; i++)
		pids[i] = n - i;	/* unsorted on purpose */
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_set_pids(a, v, 0, pids, n), -E2BIG);
	/*
	 * 65535 entries fit, and refreshing them is fine.  (That one more
	 * live entry does not fit cannot be shown here: a KUnit machine has
	 * nowhere near 65535 running processes, and entries of pids nobody
	 * runs make room, see npu_mem_share_stale_pids_make_room.)
	 */
	for (i = 0; i < n; i++)
		pids[i] = i + 1;
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_set_pids(a, v, 0, pids, n - 1), 0);
	share = npu_mem_share_get(a->sys, v);
	KUNIT_ASSERT_NOT_NULL(test, share);
	KUNIT_EXPECT_EQ(test, share->whitelist.nr, NPU_MEM_MAX_PIDS);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_set_pids(a, v, 0, pids, 100), 0);
	KUNIT_EXPECT_EQ(test, share->whitelist.nr, NPU_MEM_MAX_PIDS);
	npu_mem_share_put(share);
}

/* Is @tgid, started at @start, on @share's whitelist (may it import)? */
static bool kt_whitelisted(struct npu_mem_share *share, pid_t tgid, u64 start)
{
	struct npu_mem_owner who = { .tgid = tgid, .start_time = start };
	u32 reason;

	mutex_lock(&share->lock);
	reason = npu_mem_share_may_import(share, &who);
	mutex_unlock(&share->lock);
	return !reason;
}

/*
 * An entry whose pid nobody runs (or whose process started after the entry
 * was set) can authorize nobody: when the whitelist is full, such entries
 * make room.  Entries of running processes stay.
 */
static void npu_mem_share_stale_pids_make_room(struct kunit *test)
{
	struct npu_mem_ctx *a = kt_proc(test, 1001);
	struct npu_mem_owner me = { };
	struct npu_mem_share *share;
	u32 i, n = NPU_MEM_MAX_PIDS;
	s32 *pids, init = 1;
	u64 v;

	pids = kunit_kmalloc_array(test, n, sizeof(*pids), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pids);
	v = kt_export(test, a, kt_alloc(test, a, 0, KT_2M), 0);
	/* This (running) thread's tgid, and 65534 pids no kernel runs. */
	npu_mem_owner_current(&me);
	pids[0] = me.tgid;
	for (i = 1; i < n; i++)
		pids[i] = NPU_MEM_PID_LIMIT - i;
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_set_pids(a, v, 0, pids, n), 0);
	share = npu_mem_share_get(a->sys, v);
	KUNIT_ASSERT_NOT_NULL(test, share);
	KUNIT_EXPECT_EQ(test, share->whitelist.nr, n);
	/* init is running: adding it drops the dead entries, and only them. */
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_set_pids(a, v, 0, &init, 1), 0);
	KUNIT_EXPECT_EQ(test, share->whitelist.nr, 2);
	KUNIT_EXPECT_TRUE(test, kt_whitelisted(share, me.tgid, me.start_time));
	KUNIT_EXPECT_TRUE(test, kt_whitelisted(share, 1, 0));
	KUNIT_EXPECT_FALSE(test, kt_whitelisted(share, NPU_MEM_PID_LIMIT - 1, 0));
	npu_mem_share_put(share);
}

static void npu_mem_share_duplicates_count_once(struct kunit *test)
{
	struct npu_mem_ctx *a = kt_proc(test, 1001);
	struct npu_mem_share *share;
	s32 pids[] = { 7, 7, 0, 9, 7, 9 };
	u64 v;

	v = kt_export(test, a, kt_alloc(test, a, 0, KT_2M), 0);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_set_pids(a, v, 0, pids, ARRAY_SIZE(pids)), 0);
	share = npu_mem_share_get(a->sys, v);
	KUNIT_ASSERT_NOT_NULL(test, share);
	KUNIT_EXPECT_EQ(test, share->whitelist.nr, 2);
	KUNIT_EXPECT_TRUE(test, kt_whitelisted(share, 7, 0));
	KUNIT_EXPECT_TRUE(test, kt_whitelisted(share, 9, 0));
	KUNIT_EXPECT_FALSE(test, kt_whitelisted(share, 0, 0));
	npu_mem_share_put(share);
}

/* ---- kinds, fabric handles, UNEXPORT (ABI 2.1) ------------------------ */

static void npu_mem_share_fabric_value(struct kunit *test)
{
	struct kt_fixture *fx = test->priv;
	struct npu_mem_fabric_handle fh, bad;
	struct npu_mem_sys *other;
	u64 v = 0x0123456789abcdefULL, got;

	npu_mem_fabric_fill(fx->sys, v, &fh);
	KUNIT_EXPECT_EQ(test, memcmp(fh.magic, "NPUMEMFH", 8), 0);
	KUNIT_EXPECT_EQ(test, memcmp(fh.instance, fx->sys->instance, 16), 0);
	KUNIT_EXPECT_EQ(test, fh.shareable, v);
	KUNIT_EXPECT_NULL(test, memchr_inv(fh.reserved, 0, sizeof(fh.reserved)));
	got = 0;
	KUNIT_EXPECT_EQ(test, npu_mem_fabric_value(fx->sys, &fh, &got), 0);
	KUNIT_EXPECT_EQ(test, got, v);

	/* Malformed: EINVAL, and the value is not written. */
	got = 1;
	bad = fh;
	bad.magic[0] ^= 0x20;
	KUNIT_EXPECT_EQ(test, npu_mem_fabric_value(fx->sys, &bad, &got), -EINVAL);
	bad = fh;
	bad.reserved[sizeof(bad.reserved) - 1] = 1;
	KUNIT_EXPECT_EQ(test, npu_mem_fabric_value(fx->sys, &bad, &got), -EINVAL);
	bad = fh;
	bad.shareable = 0;
	KUNIT_EXPECT_EQ(test, npu_mem_fabric_value(fx->sys, &bad, &got), -EINVAL);
	/* Malformed and foreign: malformed wins. */
	bad.instance[3] ^= 1;
	KUNIT_EXPECT_EQ(test, npu_mem_fabric_value(fx->sys, &bad, &got), -EINVAL);
	bad = fh;
	bad.instance[15] ^= 0x80;
	KUNIT_EXPECT_EQ(test, npu_mem_fabric_value(fx->sys, &bad, &got), -EXDEV);
	KUNIT_EXPECT_EQ(test, got, 1);

	/* Another machine (another load of the module) draws its own instance. */
	other = npu_mem_sys_create(1, KT_DEV_SIZE, NPU_MEM_GRANULARITY, 0, &kt_backend);
	KUNIT_ASSERT_FALSE(test, IS_ERR(other));
	KUNIT_EXPECT_NE(test, memcmp(other->instance, fx->sys->instance, 16), 0);
	KUNIT_EXPECT_EQ(test, npu_mem_fabric_value(other, &fh, &got), -EXDEV);
	npu_mem_fabric_fill(other, v, &bad);
	KUNIT_EXPECT_EQ(test, npu_mem_fabric_value(fx->sys, &bad, &got), -EXDEV);
	KUNIT_EXPECT_EQ(test, npu_mem_fabric_value(other, &bad, &got), 0);
	npu_mem_sys_destroy(other);
}

static void npu_mem_share_kind_mismatch_is_enoent(struct kunit *test)
{
	static const u32 kinds[3] = { 0, NPU_MEM_SHARE_IPC_KEY, NPU_MEM_SHARE_FABRIC };
	struct npu_mem_ctx *a = kt_proc(test, 1001);
	struct npu_mem_ctx *b = kt_proc_at(test, 1002, 0);
	s32 pid = 1002;
	u64 v[3];
	u32 h;
	int k, j;

	for (k = 0; k < 3; k++)
		v[k] = kt_export(test, a, kt_alloc(test, a, 0, KT_2M), kinds[k]);
	for (k = 0; k < 3; k++)
		for (j = 0; j < 3; j++) {
			if (j == k)
				continue;
			KUNIT_EXPECT_EQ_MSG(test, npu_mem_ctx_set_pids(a, v[k], kinds[j], &pid, 1),
					    -ENOENT, "value of kind %#x as %#x", kinds[k], kinds[j]);
			KUNIT_EXPECT_EQ_MSG(test, npu_mem_ctx_import(b, v[k], kinds[j], 1, &h),
					    -ENOENT, "value of kind %#x as %#x", kinds[k], kinds[j]);
		}
	for (k = 0; k < 3; k++) {
		KUNIT_EXPECT_EQ(test, npu_mem_ctx_set_pids(a, v[k], kinds[k], &pid, 1), 0);
		KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(b, v[k], kinds[k], 1, &h), 0);
	}
	/* Two kinds at once: EINVAL, nothing exported. */
	h = kt_alloc(test, a, 0, KT_2M);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_export(a, h, NPU_MEM_SHARE_IPC_KEY |
						 NPU_MEM_SHARE_FABRIC, &v[0]), -EINVAL);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_unexport(a, h), -ENOENT);
}

static void npu_mem_share_unexport(struct kunit *test)
{
	struct npu_mem_ctx *a = kt_proc(test, 1001);
	struct npu_mem_ctx *b = kt_proc_at(test, 1002, 0);
	struct npu_mem_ctx *c = kt_proc_at(test, 1003, 0);
	struct npu_mem_handle_info info = { };
	s32 pid = 1003;
	u32 h, hv, hf, hb, hc;
	u64 v, v2;

	h = kt_alloc(test, a, 0, KT_2M);
	hv = kt_alloc(test, a, 0, KT_2M);
	hf = kt_alloc(test, a, 0, KT_2M);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_unexport(a, h), -ENOENT);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_unexport(a, h + 100), -ENOENT);
	kt_export(test, a, hv, NPU_MEM_EXPORT_DISABLE_PID_VALIDATION);
	kt_export(test, a, hf, NPU_MEM_SHARE_FABRIC);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_unexport(a, hv), -EINVAL);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_unexport(a, hf), -EINVAL);

	v = kt_export(test, a, h, NPU_MEM_SHARE_IPC_KEY | NPU_MEM_EXPORT_DISABLE_PID_VALIDATION);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_import(b, v, NPU_MEM_SHARE_IPC_KEY, 1, &hb), 0);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_unexport(b, hb), -EPERM);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_unexport(a, h), 0);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(c, v, NPU_MEM_SHARE_IPC_KEY, 1, &hc), -ENOENT);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_set_pids(a, v, NPU_MEM_SHARE_IPC_KEY, &pid, 1), -ENOENT);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_unexport(a, h), -ENOENT);
	/* The importer keeps its handle. */
	info.handle = hb;
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_handle_info(b, &info), 0);
	KUNIT_EXPECT_EQ(test, info.size, KT_2M);

	/* Exported again: a new value, which dies with the exporter's handle. */
	v2 = kt_export(test, a, h, NPU_MEM_SHARE_IPC_KEY);
	KUNIT_EXPECT_NE(test, v2, v);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_set_pids(a, v2, NPU_MEM_SHARE_IPC_KEY, &pid, 1), 0);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_free(a, h), 0);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(c, v2, NPU_MEM_SHARE_IPC_KEY, 1, &hc), -ENOENT);
	/* b still holds the memory. */
	KUNIT_EXPECT_EQ(test, kt_be.frees, 0);
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 0), KT_DEV_SIZE - 3 * KT_2M);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_free(b, hb), 0);
	KUNIT_EXPECT_EQ(test, kt_be.frees, 1);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_unexport(a, h), -ENOENT);
}

static struct kunit_case npu_mem_share_cases[] = {
	KUNIT_CASE(npu_mem_share_values_unique_and_checked),
	KUNIT_CASE(npu_mem_share_values_look_random),
	KUNIT_CASE(npu_mem_share_value_dies_with_memory),
	KUNIT_CASE(npu_mem_share_export_rules),
	KUNIT_CASE(npu_mem_share_import_unknown),
	KUNIT_CASE(npu_mem_share_self_import),
	KUNIT_CASE(npu_mem_share_duplicate_import),
	KUNIT_CASE(npu_mem_share_whitelist),
	KUNIT_CASE(npu_mem_share_pid_reuse),
	KUNIT_CASE(npu_mem_share_set_pids_rules),
	KUNIT_CASE(npu_mem_share_too_many_pids),
	KUNIT_CASE(npu_mem_share_stale_pids_make_room),
	KUNIT_CASE(npu_mem_share_duplicates_count_once),
	KUNIT_CASE(npu_mem_share_fabric_value),
	KUNIT_CASE(npu_mem_share_kind_mismatch_is_enoent),
	KUNIT_CASE(npu_mem_share_unexport),
	{}
};

static struct kunit_suite npu_mem_share_suite = {
	.name = "npu_mem_share",
	.init = kt_init,
	.exit = kt_exit,
	.test_cases = npu_mem_share_cases,
};

/* ---- lifetime --------------------------------------------------------- */

static void npu_mem_life_exporter_frees_first(struct kunit *test)
{
	struct npu_mem_ctx *a = kt_proc(test, 1001);
	struct npu_mem_ctx *b = kt_proc_at(test, 1002, 0);
	struct npu_mem_ctx *c = kt_proc_at(test, 1003, 0);
	s32 pids[] = { 1002, 1003 };
	u32 h, hb, hc;
	u64 v;

	h = kt_alloc(test, a, 0, KT_2M);
	v = kt_export(test, a, h, 0);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_set_pids(a, v, 0, pids, 2), 0);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_import(b, v, 0, 1, &hb), 0);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_free(a, h), 0);
	/* The memory lives and stays importable. */
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 0), KT_DEV_SIZE - KT_2M);
	KUNIT_EXPECT_EQ(test, kt_be.frees, 0);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_import(c, v, 0, 0, &hc), 0);
	/* The exporter can still manage the whitelist. */
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_set_pids(a, v, 0, pids, 1), 0);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_free(b, hb), 0);
	KUNIT_EXPECT_EQ(test, kt_be.frees, 0);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_free(c, hc), 0);
	KUNIT_EXPECT_EQ(test, kt_be.frees, 1);
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 0), KT_DEV_SIZE);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(b, v, 0, 1, &hb), -ENOENT);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_set_pids(a, v, 0, pids, 1), -ENOENT);
}

static void npu_mem_life_process_death(struct kunit *test)
{
	struct npu_mem_ctx *a = kt_proc(test, 1001);
	struct npu_mem_ctx *b = kt_proc_at(test, 1002, 0);
	struct npu_mem_ctx *c = kt_proc_at(test, 1003, 0);
	u32 hb, hc;
	u64 v;

	v = kt_export(test, a, kt_alloc(test, a, 1, 2 * KT_2M),
		      NPU_MEM_EXPORT_DISABLE_PID_VALIDATION);
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_import(b, v, 0, 0, &hb), 0);
	kt_kill(a);
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 1), KT_DEV_SIZE - 2 * KT_2M);
	kt_kill(b);
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 1), KT_DEV_SIZE);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(c, v, 0, 0, &hc), -ENOENT);
}

static void npu_mem_life_mapping_holds_memory(struct kunit *test)
{
	struct npu_mem_ctx *a = kt_proc(test, 1001);
	struct npu_mem_ctx *b = kt_proc_at(test, 1002, 0);
	struct npu_mem_handle *h;
	struct npu_mem_obj *obj;
	u32 id, hb;
	u64 v;

	id = kt_alloc(test, a, 0, KT_2M);
	v = kt_export(test, a, id, NPU_MEM_EXPORT_DISABLE_PID_VALIDATION);
	h = npu_mem_htab_get(&a->handles, id);
	KUNIT_ASSERT_NOT_NULL(test, h);
	obj = h->obj;
	npu_mem_obj_hold(obj);		/* what mmap() does for its VMA */
	kt_kill(a);
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 0), KT_DEV_SIZE - KT_2M);
	/* Still live: a mapping is a holder, the value stays importable. */
	KUNIT_ASSERT_EQ(test, npu_mem_ctx_import(b, v, 0, 1, &hb), 0);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_free(b, hb), 0);
	KUNIT_EXPECT_EQ(test, kt_be.frees, 0);
	npu_mem_obj_unhold(obj);	/* the last munmap */
	KUNIT_EXPECT_EQ(test, kt_be.frees, 1);
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 0), KT_DEV_SIZE);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_import(b, v, 0, 1, &hb), -ENOENT);
}

static struct kunit_case npu_mem_life_cases[] = {
	KUNIT_CASE(npu_mem_life_exporter_frees_first),
	KUNIT_CASE(npu_mem_life_process_death),
	KUNIT_CASE(npu_mem_life_mapping_holds_memory),
	{}
};

static struct kunit_suite npu_mem_life_suite = {
	.name = "npu_mem_lifetime",
	.init = kt_init,
	.exit = kt_exit,
	.test_cases = npu_mem_life_cases,
};

/* ---- backend failures ------------------------------------------------- */

static void npu_mem_backend_alloc_failure(struct kunit *test)
{
	struct npu_mem_ctx *a = kt_proc(test, 1001);
	u32 h = 0, id;

	kt_be.fail_alloc = -ENOMEM;
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_alloc(a, 0, KT_2M, 0, &h), -ENOMEM);
	KUNIT_EXPECT_EQ(test, h, 0);
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 0), KT_DEV_SIZE);
	id = 1;
	KUNIT_EXPECT_NULL(test, npu_mem_htab_next(&a->handles, &id));
	kt_be.fail_alloc = -EIO;
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_alloc(a, 1, KT_2M, 0, &h), -EIO);
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 1), KT_DEV_SIZE);
	kt_be.fail_alloc = 0;
	kt_alloc(test, a, 0, KT_DEV_SIZE);
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 0), 0);
}

static void npu_mem_backend_dead_context_alloc(struct kunit *test)
{
	struct npu_mem_ctx *a = kt_proc(test, 1001);
	u32 h;

	/* The object is made, then the handle cannot be added: all unwound. */
	npu_mem_ctx_teardown(a);
	KUNIT_EXPECT_EQ(test, npu_mem_ctx_alloc(a, 0, KT_2M, 0, &h), -EBADFD);
	KUNIT_EXPECT_EQ(test, kt_be.allocs, 1);
	KUNIT_EXPECT_EQ(test, kt_be.frees, 1);
	KUNIT_EXPECT_EQ(test, kt_free_bytes(test, 0), KT_DEV_SIZE);
}

/*
 * What page faults rely on: every chunk of the host backend sits at an
 * offset that is a multiple of its size, and .pfn finds, for every page of
 * the object, its page frame and the bytes left in its chunk.  On a machine
 * with a 64 KiB granularity, so that sizes mix 2 MiB and smaller chunks.
 */
static void npu_mem_backend_pfn_finds_every_page(struct kunit *test)
{
	static const u64 sizes[] = { SZ_64K, 3 * SZ_64K, KT_2M + SZ_64K,
				     2 * KT_2M, 3 * KT_2M + 5 * SZ_64K };
	const struct npu_mem_backend_ops *ops = &npu_mem_host_backend;
	struct npu_mem_sys *sys;
	struct npu_mem_obj *obj;
	u64 start, len, off, contig, pmd;
	struct page *page;
	unsigned long pfn;
	int i, bad;

	sys = npu_mem_sys_create(1, KT_DEV_SIZE, SZ_64K, 0, ops);
	KUNIT_ASSERT_FALSE(test, IS_ERR(sys));
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		obj = kt_obj_create(sys, 0, sizes[i], NPU_MEM_PAGE_NORMAL);
		KUNIT_ASSERT_FALSE(test, IS_ERR(obj));
		start = 0;
		pmd = 0;
		bad = 0;
		list_for_each_entry(page, &obj->pages, lru) {
			len = PAGE_SIZE << compound_order(page);
			KUNIT_EXPECT_TRUE_MSG(test, IS_ALIGNED(start, len),
					      "chunk of %llu bytes at %llu", len, start);
			if (len == KT_2M)
				pmd += len;
			for (off = start; off < start + len; off += PAGE_SIZE) {
				pfn = ops->pfn(obj, off, &contig);
				bad += pfn != page_to_pfn(page) + ((off - start) >> PAGE_SHIFT) ||
				       contig != start + len - off;
			}
			start += len;
		}
		KUNIT_EXPECT_EQ_MSG(test, bad, 0, "size %llu", sizes[i]);
		KUNIT_EXPECT_EQ(test, start, sizes[i]);
		KUNIT_EXPECT_EQ(test, obj->pmd_bytes, pmd);
		KUNIT_EXPECT_EQ(test, obj->pmd_bytes, round_down(sizes[i], KT_2M));
		npu_mem_obj_unhold(obj);
	}
	npu_mem_sys_destroy(sys);
}

static struct kunit_case npu_mem_backend_cases[] = {
	KUNIT_CASE(npu_mem_backend_alloc_failure),
	KUNIT_CASE(npu_mem_backend_dead_context_alloc),
	KUNIT_CASE(npu_mem_backend_pfn_finds_every_page),
	{}
};

static struct kunit_suite npu_mem_backend_suite = {
	.name = "npu_mem_backend",
	.init = kt_init,
	.exit = kt_exit,
	.test_cases = npu_mem_backend_cases,
};

/* ---- the per-context handle table --------------------------------------- */

#define KT_NH	200	/* enough to grow the table twice */

static void npu_mem_htab_lowest_free_id_first(struct kunit *test)
{
	struct npu_mem_handle *h = kunit_kcalloc(test, KT_NH, sizeof(*h), GFP_KERNEL);
	struct npu_mem_htab t;
	int i;

	KUNIT_ASSERT_NOT_NULL(test, h);
	npu_mem_htab_init(&t);
	KUNIT_EXPECT_NULL(test, npu_mem_htab_get(&t, 1));
	for (i = 0; i < KT_NH; i++) {
		KUNIT_ASSERT_EQ(test, npu_mem_htab_add(&t, &h[i]), 0);
		KUNIT_EXPECT_EQ(test, h[i].id, i + 1);
	}
	/* Growing kept every entry. */
	for (i = 0; i < KT_NH; i++)
		KUNIT_EXPECT_PTR_EQ(test, npu_mem_htab_get(&t, i + 1), &h[i]);
	KUNIT_EXPECT_PTR_EQ(test, npu_mem_htab_remove(&t, 150), &h[149]);
	KUNIT_EXPECT_PTR_EQ(test, npu_mem_htab_remove(&t, 7), &h[6]);
	KUNIT_EXPECT_NULL(test, npu_mem_htab_remove(&t, 7));
	KUNIT_EXPECT_NULL(test, npu_mem_htab_get(&t, 7));
	/* The lowest free id comes back first, then the next one. */
	KUNIT_ASSERT_EQ(test, npu_mem_htab_add(&t, &h[6]), 0);
	KUNIT_EXPECT_EQ(test, h[6].id, 7);
	KUNIT_ASSERT_EQ(test, npu_mem_htab_add(&t, &h[149]), 0);
	KUNIT_EXPECT_EQ(test, h[149].id, 150);
	KUNIT_ASSERT_EQ(test, npu_mem_htab_add(&t, &h[0]), 0);
	KUNIT_EXPECT_EQ(test, h[0].id, KT_NH + 1);
	KUNIT_EXPECT_PTR_EQ(test, npu_mem_htab_remove(&t, KT_NH + 1), &h[0]);
	for (i = 0; i < KT_NH; i++)
		KUNIT_EXPECT_PTR_EQ(test, npu_mem_htab_remove(&t, i + 1), &h[i]);
	npu_mem_htab_destroy(&t);
}

static void npu_mem_htab_rejects_bad_ids(struct kunit *test)
{
	struct npu_mem_handle h = { };
	struct npu_mem_htab t;

	npu_mem_htab_init(&t);
	KUNIT_ASSERT_EQ(test, npu_mem_htab_add(&t, &h), 0);
	KUNIT_EXPECT_NULL(test, npu_mem_htab_get(&t, 0));
	KUNIT_EXPECT_NULL(test, npu_mem_htab_get(&t, 2));
	KUNIT_EXPECT_NULL(test, npu_mem_htab_get(&t, 64));
	KUNIT_EXPECT_NULL(test, npu_mem_htab_get(&t, 65));
	KUNIT_EXPECT_NULL(test, npu_mem_htab_get(&t, 1ULL << 32 | 1));
	KUNIT_EXPECT_NULL(test, npu_mem_htab_remove(&t, 0));
	KUNIT_EXPECT_NULL(test, npu_mem_htab_remove(&t, U64_MAX));
	KUNIT_EXPECT_PTR_EQ(test, npu_mem_htab_remove(&t, 1), &h);
	npu_mem_htab_destroy(&t);
}

static void npu_mem_htab_iterates_in_id_order(struct kunit *test)
{
	struct npu_mem_handle h[5] = { }, *it;
	struct npu_mem_htab t;
	u32 id, seen = 0, last = 0;
	int i;

	npu_mem_htab_init(&t);
	for (i = 0; i < 5; i++)
		KUNIT_ASSERT_EQ(test, npu_mem_htab_add(&t, &h[i]), 0);
	npu_mem_htab_remove(&t, 2);
	npu_mem_htab_remove(&t, 4);
	npu_mem_htab_for_each(&t, id, it) {
		KUNIT_EXPECT_GT(test, id, last);
		KUNIT_EXPECT_EQ(test, it->id, id);
		last = id;
		seen |= 1U << id;
		/* Removing the current entry must not disturb the walk. */
		npu_mem_htab_remove(&t, id);
	}
	KUNIT_EXPECT_EQ(test, seen, (1U << 1) | (1U << 3) | (1U << 5));
	npu_mem_htab_destroy(&t);
}

static struct kunit_case npu_mem_htab_cases[] = {
	KUNIT_CASE(npu_mem_htab_lowest_free_id_first),
	KUNIT_CASE(npu_mem_htab_rejects_bad_ids),
	KUNIT_CASE(npu_mem_htab_iterates_in_id_order),
	{}
};

static struct kunit_suite npu_mem_htab_suite = {
	.name = "npu_mem_handle_table",
	.test_cases = npu_mem_htab_cases,
};

kunit_test_suites(&npu_mem_version_suite, &npu_mem_obj_suite, &npu_mem_share_suite,
		  &npu_mem_life_suite, &npu_mem_backend_suite, &npu_mem_htab_suite);

MODULE_DESCRIPTION("KUnit tests for npu_mem");
MODULE_LICENSE("GPL");
NPU_MEM_MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
