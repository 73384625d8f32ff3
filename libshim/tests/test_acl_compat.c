// SPDX-License-Identifier: MIT
/*
 * libshim answers as CANN does where it used to differ, against the stand-in
 * device (npu_dev_fake.c), under LeakSanitizer.  Each test names the place in
 * CANN's runtime or driver that gives the behaviour (hicann/runtime 681ef76,
 * hicann/driver ef377e9); each test runs in a process of its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mman.h>

#include "npu_dev_fake.h"
#include "tests/user/harness.h"
#include "tests/user/acl_util.h"

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 30

int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static int leaks(void)
{
	return __lsan_do_recoverable_leak_check ? __lsan_do_recoverable_leak_check() : 0;
}

#define G (2UL << 20)
#define GIB (1UL << 30)

/* Not needed (above), but the checks after the first three tests hold with it too. */
#define INIT() ASSERT_ACL_OK(aclInit(NULL))

/* ---- no call needs aclInit (runtime src/acl: only the dump calls check it) ---- */

/* A process that never calls aclInit: device, tgid, streams, memory, copies. */
TEST(calls_work_without_aclInit)
{
	aclrtPhysicalMemProp prop = acl_dev_prop(0, ACL_HBM_MEM_HUGE);
	aclrtDrvMemHandle h = NULL;
	aclrtStream s = NULL;
	int32_t tgid = 0, dev = -1;
	uint32_t n = 0;
	void *va = NULL;
	char buf[8] = "";

	EXPECT_ACL_OK(aclrtSetDevice(0)) TH_LOG("SetDevice without aclInit");
	EXPECT_ACL_OK(aclrtGetDevice(&dev));
	EXPECT_EQ(0, dev);
	EXPECT_ACL_OK(aclrtGetDeviceCount(&n));
	EXPECT_EQ(NPU_DEV_FAKE_NDEV, n);
	EXPECT_ACL_OK(aclrtDeviceGetBareTgid(&tgid)) TH_LOG("DeviceGetBareTgid without aclInit");
	EXPECT_EQ(getpid(), tgid);
	EXPECT_ACL_OK(aclrtCreateStream(&s)) TH_LOG("CreateStream without aclInit");
	EXPECT_ACL_OK(aclrtMallocPhysical(&h, G, &prop, 0));
	EXPECT_ACL_OK(aclrtReserveMemAddress(&va, G, 0, NULL, 0));
	EXPECT_ACL_OK(aclrtMapMem(va, G, 0, h, 0));
	EXPECT_ACL_OK(aclrtMemcpy(va, G, "hello", 6, ACL_MEMCPY_HOST_TO_DEVICE));
	EXPECT_ACL_OK(aclrtMemcpy(buf, sizeof(buf), va, 6, ACL_MEMCPY_DEVICE_TO_HOST));
	EXPECT_STREQ("hello", buf);
	EXPECT_ACL_OK(aclrtDestroyStream(s));
	EXPECT_ACL_OK(aclrtUnmapMem(va));
	EXPECT_ACL_OK(aclrtReleaseMemAddress(va));
	EXPECT_ACL_OK(aclrtFreePhysical(h));
	EXPECT_ACL_OK(aclrtResetDevice(0));
	EXPECT_EQ(0, npu_dev_fake_handles()) TH_LOG("every handle freed");
}

/* aclInit after calls, twice (100002), aclFinalize (tears down), again (100037), calls after it. */
TEST(aclInit_and_aclFinalize_around_calls)
{
	aclrtPhysicalMemProp prop = acl_dev_prop(1, ACL_HBM_MEM_HUGE);
	aclrtDrvMemHandle h = NULL, h2 = NULL;

	ASSERT_ACL_OK(aclrtMallocPhysical(&h, G, &prop, 0)) TH_LOG("MallocPhysical before aclInit");
	EXPECT_ACL_OK(aclInit(NULL)) TH_LOG("aclInit after a call opened the device");
	EXPECT_ACL(ACL_ERROR_REPEAT_INITIALIZE, aclInit(NULL)) TH_LOG("a second aclInit is 100002");
	EXPECT_ACL_OK(aclFinalize()) TH_LOG("aclFinalize frees what is left");
	EXPECT_EQ(0, npu_dev_fake_handles()) TH_LOG("the handle from before aclInit is freed");
	EXPECT_ACL(ACL_ERROR_REPEAT_FINALIZE, aclFinalize()) TH_LOG("a second aclFinalize is 100037");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtFreePhysical(h)) TH_LOG("the old handle is 107000");
	EXPECT_ACL_OK(aclrtMallocPhysical(&h2, G, &prop, 0)) TH_LOG("calls after aclFinalize reopen the device");
	EXPECT_ACL_OK(aclrtFreePhysical(h2));
	EXPECT_EQ(0, leaks()) TH_LOG("nothing leaked (LeakSanitizer; its report is above)");
}

/* A fork child of a process that never called aclInit works without it too, afresh. */
TEST(fork_child_without_aclInit)
{
	aclrtPhysicalMemProp prop = acl_dev_prop(0, ACL_HBM_MEM_HUGE);
	aclrtDrvMemHandle parent_h = NULL, h = NULL;
	pid_t pid;

	ASSERT_ACL_OK(aclrtSetDevice(0));
	ASSERT_ACL_OK(aclrtMallocPhysical(&parent_h, G, &prop, 0));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid) TH_LOG("fork: %s", strerror(errno));
	if (pid == 0) {
		EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtFreePhysical(parent_h))
			TH_LOG("child: the parent's handle is unknown (107000)");
		EXPECT_ACL_OK(aclrtSetDevice(0)) TH_LOG("child: SetDevice without aclInit");
		EXPECT_ACL_OK(aclrtMallocPhysical(&h, G, &prop, 0)) TH_LOG("child: MallocPhysical");
		EXPECT_ACL_OK(aclrtFreePhysical(h));
		EXPECT_ACL_OK(aclInit(NULL)) TH_LOG("child: its own aclInit (the parent's state is not inherited)");
		EXPECT_ACL_OK(aclFinalize());
		EXPECT_EQ(0, leaks()) TH_LOG("child: nothing leaked");
		_exit(_metadata->exit_code);
	}
	EXPECT_EQ(0, wait_child(pid)) TH_LOG("the child failed (above), or 128 + N: killed by signal N");
	EXPECT_ACL_OK(aclrtFreePhysical(parent_h)) TH_LOG("the parent's handle is untouched");
}

/* ---- aclrtMemGetAllocationGranularity (acl memory.cpp:1299, api_error.cc:6498, driver svm_vmm.c:413) ---- */

TEST(granularity_checks_as_cann)
{
	aclrtPhysicalMemProp p = acl_dev_prop(0, ACL_HBM_MEM_HUGE);
	size_t g = 0;

	INIT();
	EXPECT_ACL_OK(aclrtMemGetAllocationGranularity(&p, ACL_RT_MEM_ALLOC_GRANULARITY_MINIMUM, &g));
	EXPECT_EQ(G, g) TH_LOG("2 MiB for HBM_MEM_HUGE");
	p.memAttr = ACL_MEM_HUGE1G;
	EXPECT_ACL_OK(aclrtMemGetAllocationGranularity(&p, ACL_RT_MEM_ALLOC_GRANULARITY_RECOMMENDED, &g));
	EXPECT_EQ(GIB, g) TH_LOG("1 GiB for MEM_HUGE1G");
	p.memAttr = ACL_DDR_MEM;	/* lenient for older clients (README) */
	EXPECT_ACL_OK(aclrtMemGetAllocationGranularity(&p, ACL_RT_MEM_ALLOC_GRANULARITY_MINIMUM, &g));
	p = acl_dev_prop(0, ACL_HBM_MEM_HUGE);
	EXPECT_ACL_MSG(ACL_ERROR_RT_FEATURE_NOT_SUPPORT, "option 2",
		       aclrtMemGetAllocationGranularity(&p, (aclrtMemGranularityOptions)2, &g))
		TH_LOG("the driver does not support an option >= 2: 207000");
	EXPECT_ACL(ACL_ERROR_RT_FEATURE_NOT_SUPPORT,
		   aclrtMemGetAllocationGranularity(&p, ACL_RT_MEM_ALLOC_GRANULARITY_UNDEF, &g));
	p.location.id = NPU_DEV_FAKE_NDEV;
	EXPECT_ACL_MSG(ACL_ERROR_RT_INVALID_DEVICEID, "location.id",
		       aclrtMemGetAllocationGranularity(&p, ACL_RT_MEM_ALLOC_GRANULARITY_MINIMUM, &g))
		TH_LOG("a device that does not exist: 107001");
	p = acl_dev_prop(0, ACL_HBM_MEM_HUGE);
	p.handleType = ACL_MEM_HANDLE_TYPE_POSIX;
	p.allocationType = (aclrtMemAllocationType)1;
	EXPECT_ACL_OK(aclrtMemGetAllocationGranularity(&p, ACL_RT_MEM_ALLOC_GRANULARITY_MINIMUM, &g))
		TH_LOG("handleType and allocationType are not checked");
}

/*
 * prop.reserve: CANN's current driver refuses it (devmm_svm.c:4936, svm_vmm.c:368: 107000);
 * vllm-ascend's camem_allocator.cpp sets it to the size (with ACL_DDR_MEM): accepted and
 * ignored, as for older drivers (README, "prop.reserve").
 */
TEST(reserve_field_accepted_and_ignored)
{
	aclrtPhysicalMemProp p = acl_dev_prop(0, ACL_DDR_MEM), got;
	aclrtDrvMemHandle h = NULL;
	size_t g = 0;
	void *va = NULL;

	INIT();
	p.reserve = 3 * G;
	ASSERT_ACL_OK(aclrtSetDevice(0));
	EXPECT_ACL_OK(aclrtMemGetAllocationGranularity(&p, ACL_RT_MEM_ALLOC_GRANULARITY_MINIMUM, &g))
		TH_LOG("granularity with vllm-ascend's prop");
	ASSERT_ACL_OK(aclrtMallocPhysical(&h, 3 * G, &p, 0)) TH_LOG("MallocPhysical with vllm-ascend's prop");
	EXPECT_ACL_OK(aclrtReserveMemAddress(&va, 3 * G, 0, NULL, 0));
	EXPECT_ACL_OK(aclrtMapMem(va, 3 * G, 0, h, 0));
	EXPECT_ACL_OK(aclrtMemGetAllocationPropertiesFromHandle(h, &got));
	EXPECT_EQ(0, got.reserve) TH_LOG("reserve is not kept");
	EXPECT_ACL_OK(aclrtUnmapMem(va));
	EXPECT_ACL_OK(aclrtReleaseMemAddress(va));
	EXPECT_ACL_OK(aclrtFreePhysical(h));
}

/* ---- properties from a handle, rebuilt as acl memory.cpp:1999 does ---- */

TEST(properties_report_cann_attributes)
{
	static const struct {
		aclrtMemAttr given, reported;
	} cases[] = {
		{ ACL_MEM_HUGE, ACL_HBM_MEM_HUGE },
		{ ACL_MEM_NORMAL, ACL_HBM_MEM_NORMAL },
		{ ACL_MEM_HUGE1G, ACL_HBM_MEM_HUGE1G },
		{ ACL_HBM_MEM_HUGE, ACL_HBM_MEM_HUGE },
		{ ACL_MEM_P2P_HUGE, ACL_MEM_P2P_HUGE },
		{ ACL_MEM_P2P_NORMAL, ACL_MEM_P2P_NORMAL },
		{ ACL_DDR_MEM, ACL_HBM_MEM_NORMAL },
		{ ACL_HBM_MEM, ACL_HBM_MEM_NORMAL },
	};
	aclrtPhysicalMemProp p, got;
	aclrtDrvMemHandle h;
	size_t i;

	INIT();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = acl_dev_prop(1, cases[i].given);
		h = NULL;
		ASSERT_ACL_OK(aclrtMallocPhysical(&h, cases[i].given == ACL_MEM_HUGE1G ? GIB : G, &p, 0))
			TH_LOG("memAttr %d", (int)cases[i].given);
		memset(&got, 0xa5, sizeof(got));
		EXPECT_ACL_OK(aclrtMemGetAllocationPropertiesFromHandle(h, &got));
		EXPECT_EQ(cases[i].reported, got.memAttr)
			TH_LOG("allocated with memAttr %d: reported %d, CANN reports %d", (int)cases[i].given,
			       (int)got.memAttr, (int)cases[i].reported);
		EXPECT_EQ(ACL_MEM_LOCATION_TYPE_DEVICE, got.location.type);
		EXPECT_EQ(1, got.location.id);
		EXPECT_EQ(ACL_MEM_HANDLE_TYPE_NONE, got.handleType);
		EXPECT_EQ(ACL_MEM_ALLOCATION_TYPE_PINNED, got.allocationType);
		EXPECT_ACL_OK(aclrtFreePhysical(h));
	}
}

/* ---- copies: acl memory.cpp:650/670 (count 0 first), api_error.cc:2139 and devmm_svm.c:1977 (107000) ---- */

TEST(copies_check_as_cann)
{
	char a[8] = "abcdefg", b[8] = "";

	INIT();
	EXPECT_ACL_OK(aclrtMemcpy(NULL, 0, NULL, 0, (aclrtMemcpyKind)99))
		TH_LOG("Memcpy of 0 bytes succeeds before any other check");
	EXPECT_ACL_OK(aclrtMemcpyAsync(NULL, 0, NULL, 0, (aclrtMemcpyKind)99, NULL))
		TH_LOG("MemcpyAsync of 0 bytes too");
	EXPECT_ACL_OK(aclrtMemset(NULL, 0, 0, 0)) TH_LOG("Memset of 0 bytes too");
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "destMax",
		       aclrtMemcpy(b, 4, a, 8, ACL_MEMCPY_HOST_TO_HOST)) TH_LOG("count > destMax: 107000");
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "maxCount", aclrtMemset(b, 4, 0, 8))
		TH_LOG("count > maxCount: 107000");
	EXPECT_ACL(ACL_ERROR_INVALID_PARAM, aclrtMemcpy(NULL, 8, a, 8, ACL_MEMCPY_HOST_TO_HOST))
		TH_LOG("a NULL pointer is still the ACL layer's 100000");
	EXPECT_ACL_OK(aclrtMemcpy(b, 8, a, 8, ACL_MEMCPY_HOST_TO_HOST));
	EXPECT_STREQ("abcdefg", b);
}

/* ---- V2 share types: api_error.cc:6424/6463/6492 check the type (107000) ---- */

TEST(v2_invalid_share_type)
{
	aclrtPhysicalMemProp p = acl_dev_prop(0, ACL_HBM_MEM_HUGE);
	aclrtMemSharedHandleType bad = (aclrtMemSharedHandleType)7;
	aclrtDrvMemHandle h = NULL, imp = NULL;
	uint64_t sh = 0;
	int32_t pid = 1;

	INIT();
	ASSERT_ACL_OK(aclrtSetDevice(0));
	ASSERT_ACL_OK(aclrtMallocPhysical(&h, G, &p, 0));
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "shareType 7", aclrtMemExportToShareableHandleV2(h, 0, bad, &sh));
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "shareType 7", aclrtMemSetPidToShareableHandleV2(&sh, bad, &pid, 1));
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "shareType 7", aclrtMemImportFromShareableHandleV2(&sh, bad, 0, &imp));
	EXPECT_ACL_OK(aclrtFreePhysical(h));
}

/* ---- ReserveMemAddress: the driver's expectPtr and alignment rules (svm_vmm.c:780, 849) ---- */

/* A free, 1 GiB aligned range of 2 GiB (nothing is mapped there when this returns). */
static uintptr_t free_gib_aligned(void)
{
	void *p = mmap(NULL, 3 * GIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uintptr_t a;

	if (p == MAP_FAILED)
		return 0;
	a = ((uintptr_t)p + GIB - 1) & ~(GIB - 1);
	munmap(p, 3 * GIB);
	return a;
}

TEST(reserve_expectPtr_as_the_driver)
{
	uintptr_t base = free_gib_aligned();
	void *va = NULL, *va2 = NULL;

	INIT();
	ASSERT_NE(0, base);
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "expectPtr",
		       aclrtReserveMemAddress(&va, G, 0, (void *)(base + 4096), 0))
		TH_LOG("an expectPtr that is not a multiple of 2 MiB is refused, not moved");
	EXPECT_ACL_OK(aclrtReserveMemAddress(&va, 768 * (1UL << 20), 0, (void *)(base + G), 0));
	EXPECT_EQ(base + G, (uintptr_t)va)
		TH_LOG("768 MiB at a free 2 MiB aligned expectPtr: there (1 GiB alignment starts at 1 GiB)");
	EXPECT_ACL_OK(aclrtReleaseMemAddress(va));
	EXPECT_ACL_OK(aclrtReserveMemAddress(&va2, GIB, 0, NULL, 0));
	EXPECT_EQ(0, (uintptr_t)va2 % GIB) TH_LOG("1 GiB is 1 GiB aligned");
	EXPECT_ACL_OK(aclrtReleaseMemAddress(va2));
}

TEST_HARNESS_MAIN
