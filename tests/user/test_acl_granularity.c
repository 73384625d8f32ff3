// SPDX-License-Identifier: GPL-2.0
/*
 * The allocation granularity is the device's: aclrtMemGetAllocationGranularity
 * reports what npu_mem.ko's test_granularity_kb makes it (2 MiB by default),
 * one granule allocates, maps and copies, and sizes round up to granules.
 * tests/run-all's vm stage runs this once more with test_granularity_kb=64.
 */
#include <stdio.h>

#include "harness.h"
#include "acl_util.h"

#define PARAM "/sys/module/npu_mem/parameters/test_granularity_kb"

/* The granularity of NORMAL and HUGE memory the module was loaded with. */
static size_t module_granularity(void)
{
	unsigned int kb = 0;
	FILE *f = fopen(PARAM, "r");

	if (f) {
		if (fscanf(f, "%u", &kb) != 1)
			kb = 0;
		fclose(f);
	}
	return kb ? kb * 1024UL : 2 * MIB;
}

FIXTURE(granularity) {
	aclrtPhysicalMemProp prop;
	size_t want;	/* the module's granularity */
	size_t f0, t;	/* device 0's free and total memory at the start */
};

FIXTURE_SETUP(granularity)
{
	self->prop = acl_dev_prop(0, ACL_HBM_MEM_HUGE);
	self->want = module_granularity();
	ksft_print_msg("the module's granularity: %zu bytes\n", self->want);
	ASSERT_ACL_OK(aclInit(NULL));
	ASSERT_ACL_OK(aclrtSetDevice(0));
	ASSERT_ACL_OK(aclrtGetMemInfo(ACL_HBM_MEM, &self->f0, &self->t));
}

FIXTURE_TEARDOWN(granularity)
{
	size_t f = 0, t;

	EXPECT_ACL_OK(aclrtGetMemInfo(ACL_HBM_MEM, &f, &t));
	EXPECT_EQ(self->f0, f) TH_LOG("device free memory is back to its start value");
	EXPECT_ACL_OK(aclrtResetDevice(0));
	EXPECT_ACL_OK(aclFinalize());
}

TEST_F(granularity, reported_as_the_module_sets_it)
{
	size_t g = 0;

	EXPECT_ACL_OK(aclrtMemGetAllocationGranularity(&self->prop, ACL_RT_MEM_ALLOC_GRANULARITY_MINIMUM, &g));
	EXPECT_EQ(self->want, g) TH_LOG("HBM_MEM_HUGE");
	self->prop.memAttr = ACL_MEM_NORMAL;
	EXPECT_ACL_OK(aclrtMemGetAllocationGranularity(&self->prop, ACL_RT_MEM_ALLOC_GRANULARITY_RECOMMENDED,
						       &g));
	EXPECT_EQ(self->want, g) TH_LOG("MEM_NORMAL");
	self->prop.memAttr = ACL_MEM_HUGE1G;
	EXPECT_ACL_OK(aclrtMemGetAllocationGranularity(&self->prop, ACL_RT_MEM_ALLOC_GRANULARITY_MINIMUM, &g));
	EXPECT_EQ(1024 * MIB, g) TH_LOG("MEM_HUGE1G");
}

TEST_F(granularity, one_granule_allocates_maps_and_copies)
{
	char buf[64] = "one granule", rd[64];
	aclrtDrvMemHandle h = NULL;
	size_t f1 = 0, t;
	void *va = NULL;

	ASSERT_ACL_OK(aclrtMallocPhysical(&h, self->want, &self->prop, 0));
	EXPECT_ACL_OK(aclrtGetMemInfo(ACL_HBM_MEM, &f1, &t));
	EXPECT_EQ(self->want, self->f0 - f1) TH_LOG("free memory dropped by one granule");
	ASSERT_ACL_OK(aclrtReserveMemAddress(&va, self->want, 0, NULL, 0));
	EXPECT_ACL_OK(aclrtMapMem(va, self->want, 0, h, 0));
	EXPECT_ACL_OK(aclrtMemcpy((char *)va + self->want - sizeof(buf), sizeof(buf), buf, sizeof(buf),
				  ACL_MEMCPY_HOST_TO_DEVICE)) TH_LOG("to the granule's end");
	EXPECT_ACL_OK(aclrtMemcpy(rd, sizeof(rd), (char *)va + self->want - sizeof(rd), sizeof(rd),
				  ACL_MEMCPY_DEVICE_TO_HOST));
	EXPECT_EQ(0, memcmp(rd, buf, sizeof(rd))) TH_LOG("D2H reads what H2D wrote");
	EXPECT_ACL_OK(aclrtUnmapMem(va));
	EXPECT_ACL_OK(aclrtReleaseMemAddress(va));
	EXPECT_ACL_OK(aclrtFreePhysical(h));
}

TEST_F(granularity, sizes_round_up_to_granules)
{
	aclrtDrvMemHandle h = NULL;
	size_t f1 = 0, t;

	ASSERT_ACL_OK(aclrtMallocPhysical(&h, self->want + 1, &self->prop, 0));
	EXPECT_ACL_OK(aclrtGetMemInfo(ACL_HBM_MEM, &f1, &t));
	EXPECT_EQ(2 * self->want, self->f0 - f1) TH_LOG("one granule + 1 byte takes two granules");
	EXPECT_ACL_OK(aclrtFreePhysical(h));
}

TEST_HARNESS_MAIN
