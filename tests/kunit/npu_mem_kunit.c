// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites for npu_mem.ko.
 *
 * They live in a module of their own: 6.1 runs a module's suites before its
 * module_init and 6.12 after, so nothing here may depend on the driver's init
 * having run or not.  Internals are reached through EXPORT_SYMBOL_IF_KUNIT.
 */
#include <kunit/test.h>
#include <linux/module.h>

#include "driver/npu_mem.h"

static void npu_mem_version_reports_abi(struct kunit *test)
{
	struct npu_mem_version ver = { };

	KUNIT_ASSERT_EQ(test, npu_mem_version_fill(&ver), 0);
	KUNIT_EXPECT_EQ(test, ver.abi_major, NPU_MEM_ABI_MAJOR);
	KUNIT_EXPECT_EQ(test, ver.abi_minor, NPU_MEM_ABI_MINOR);
	KUNIT_EXPECT_EQ(test, ver.num_devices, npu_mem_num_devices);
}

static void npu_mem_version_rejects_unknown_flags(struct kunit *test)
{
	struct npu_mem_version ver = { .flags = 1 };

	KUNIT_EXPECT_EQ(test, npu_mem_version_fill(&ver), -EINVAL);
	ver.flags = 1U << 31;
	KUNIT_EXPECT_EQ(test, npu_mem_version_fill(&ver), -EINVAL);
}

static struct kunit_case npu_mem_version_cases[] = {
	KUNIT_CASE(npu_mem_version_reports_abi),
	KUNIT_CASE(npu_mem_version_rejects_unknown_flags),
	{}
};

static struct kunit_suite npu_mem_version_suite = {
	.name = "npu_mem_version",
	.test_cases = npu_mem_version_cases,
};

kunit_test_suites(&npu_mem_version_suite);

MODULE_DESCRIPTION("KUnit tests for npu_mem");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
