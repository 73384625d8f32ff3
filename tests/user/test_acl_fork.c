// SPDX-License-Identifier: GPL-2.0
/*
 * fork(): the child does not inherit the parent's ACL state.  As in CANN no
 * call needs aclInit: the child's first call opens the device afresh, the
 * parent's handles, mappings and reservations mean nothing (PARAM_INVALID /
 * DRV_INTERNAL_ERROR), and the child uses ACL normally, with its own aclInit.
 * The parent is unaffected.
 */
#include "harness.h"
#include "acl_util.h"

static const size_t G = 2 * MIB;

/* Allocate, map, copy both ways, unmap and free; @who names the process in the log. */
static void use_acl(struct __test_metadata *_metadata, const char *who)
{
	aclrtPhysicalMemProp prop = acl_dev_prop(0, ACL_HBM_MEM_HUGE);
	aclrtDrvMemHandle h = NULL;
	char buf[16] = "hello, device", rd[16];
	void *va = NULL;

	EXPECT_ACL_OK(aclrtMallocPhysical(&h, G, &prop, 0)) TH_LOG("%s", who);
	EXPECT_ACL_OK(aclrtReserveMemAddress(&va, G, 0, NULL, 0)) TH_LOG("%s", who);
	EXPECT_ACL_OK(aclrtMapMem(va, G, 0, h, 0)) TH_LOG("%s", who);
	EXPECT_ACL_OK(aclrtMemcpy(va, G, buf, sizeof(buf), ACL_MEMCPY_HOST_TO_DEVICE)) TH_LOG("%s", who);
	EXPECT_ACL_OK(aclrtMemcpy(rd, sizeof(rd), va, sizeof(rd), ACL_MEMCPY_DEVICE_TO_HOST))
		TH_LOG("%s", who);
	EXPECT_EQ(0, memcmp(rd, buf, sizeof(rd))) TH_LOG("%s: round trip", who);
	EXPECT_ACL_OK(aclrtUnmapMem(va)) TH_LOG("%s", who);
	EXPECT_ACL_OK(aclrtReleaseMemAddress(va)) TH_LOG("%s", who);
	EXPECT_ACL_OK(aclrtFreePhysical(h)) TH_LOG("%s", who);
}

/* The forked child: the parent's @h and @va mean nothing here. */
static int child(struct __test_metadata *_metadata, aclrtDrvMemHandle h, void *va)
{
	aclrtDrvMemHandle hr;
	uint64_t sh = 0;
	char rd[8];

	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "not a live handle", aclrtFreePhysical(h))
		TH_LOG("child: before aclInit too, the parent's handle is PARAM_INVALID");
	EXPECT_ACL_OK(aclrtSetDevice(0)) TH_LOG("child: SetDevice before aclInit (opens the device)");
	EXPECT_ACL_OK(aclInit(NULL)) TH_LOG("child: aclInit (the parent's is not inherited)");
	EXPECT_ACL_OK(aclrtSetDevice(0)) TH_LOG("child: SetDevice(0)");
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "not a live handle", aclrtFreePhysical(h))
		TH_LOG("child: the parent's handle is PARAM_INVALID");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID,
		   aclrtMemExportToShareableHandle(h, ACL_MEM_HANDLE_TYPE_NONE, 1, &sh))
		TH_LOG("child: exporting the parent's handle is PARAM_INVALID");
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtUnmapMem(va))
		TH_LOG("child: the parent's mapping is not mapped here");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtMemRetainAllocationHandle(va, &hr))
		TH_LOG("child: Retain on the parent's mapping is PARAM_INVALID");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtReleaseMemAddress(va))
		TH_LOG("child: the parent's reservation is not ours");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtMemcpy(rd, 8, va, 8, ACL_MEMCPY_DEVICE_TO_HOST))
		TH_LOG("child: Memcpy from the parent's device address is PARAM_INVALID");
	use_acl(_metadata, "child");
	EXPECT_ACL_OK(aclFinalize()) TH_LOG("child: aclFinalize");
	return _metadata->exit_code;
}

TEST(a_forked_child_does_not_inherit_acl_state)
{
	aclrtPhysicalMemProp prop = acl_dev_prop(0, ACL_HBM_MEM_HUGE);
	aclrtDrvMemHandle h = NULL;
	size_t f0, f1, t;
	char rd[8];
	void *va = NULL;
	pid_t pid;

	ASSERT_ACL_OK(aclInit(NULL)) TH_LOG("parent: aclInit");
	ASSERT_ACL_OK(aclrtSetDevice(0)) TH_LOG("parent: SetDevice(0)");
	EXPECT_ACL_OK(aclrtGetMemInfo(ACL_HBM_MEM, &f0, &t)) TH_LOG("parent: GetMemInfo");
	EXPECT_ACL_OK(aclrtMallocPhysical(&h, G, &prop, 0)) TH_LOG("parent: MallocPhysical");
	EXPECT_ACL_OK(aclrtReserveMemAddress(&va, G, 0, NULL, 0)) TH_LOG("parent: ReserveMemAddress");
	EXPECT_ACL_OK(aclrtMapMem(va, G, 0, h, 0)) TH_LOG("parent: MapMem");
	EXPECT_ACL_OK(aclrtMemset(va, G, 'P', 8)) TH_LOG("parent: Memset");

	pid = fork();
	if (pid == 0)
		_exit(child(_metadata, h, va));
	EXPECT_EQ(0, wait_child(pid)) TH_LOG("child exited cleanly");
	EXPECT_ACL_OK(aclrtMemcpy(rd, 8, va, 8, ACL_MEMCPY_DEVICE_TO_HOST))
		TH_LOG("parent: Memcpy D2H after the fork");
	EXPECT_EQ(0, memcmp(rd, "PPPPPPPP", 8)) TH_LOG("parent: its memory is intact");
	use_acl(_metadata, "parent");
	EXPECT_ACL_OK(aclrtUnmapMem(va)) TH_LOG("parent: UnmapMem");
	EXPECT_ACL_OK(aclrtReleaseMemAddress(va)) TH_LOG("parent: ReleaseMemAddress");
	EXPECT_ACL_OK(aclrtFreePhysical(h)) TH_LOG("parent: FreePhysical");
	EXPECT_ACL_OK(aclrtGetMemInfo(ACL_HBM_MEM, &f1, &t)) TH_LOG("parent: GetMemInfo");
	EXPECT_EQ(f0, f1) TH_LOG("device free memory is back to its start value");
	EXPECT_ACL_OK(aclFinalize()) TH_LOG("parent: aclFinalize");
}

TEST_HARNESS_MAIN
