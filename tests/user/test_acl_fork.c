// SPDX-License-Identifier: GPL-2.0
/*
 * fork(): the child does not inherit the parent's ACL state.  Before its own
 * aclInit every call is UNINITIALIZE; after it the parent's handles, mappings
 * and reservations mean nothing (PARAM_INVALID / DRV_INTERNAL_ERROR), and the
 * child uses ACL normally.  The parent is unaffected.
 */
#include "acl_util.h"

static const size_t G = 2 * MIB;

static void use_acl(const char *who)
{
	aclrtPhysicalMemProp prop = acl_dev_prop(0, ACL_HBM_MEM_HUGE);
	aclrtDrvMemHandle h = NULL;
	char name[96], buf[16] = "hello, device", rd[16];
	void *va = NULL;

#define N(s) (snprintf(name, sizeof(name), "%s: %s", who, s), name)
	ACL_OK(N("MallocPhysical"), aclrtMallocPhysical(&h, G, &prop, 0));
	ACL_OK(N("ReserveMemAddress"), aclrtReserveMemAddress(&va, G, 0, NULL, 0));
	ACL_OK(N("MapMem"), aclrtMapMem(va, G, 0, h, 0));
	ACL_OK(N("Memcpy H2D"), aclrtMemcpy(va, G, buf, sizeof(buf), ACL_MEMCPY_HOST_TO_DEVICE));
	ACL_OK(N("Memcpy D2H"), aclrtMemcpy(rd, sizeof(rd), va, sizeof(rd), ACL_MEMCPY_DEVICE_TO_HOST));
	TAP_CHECK(N("round trip"), !memcmp(rd, buf, sizeof(rd)));
	ACL_OK(N("UnmapMem"), aclrtUnmapMem(va));
	ACL_OK(N("ReleaseMemAddress"), aclrtReleaseMemAddress(va));
	ACL_OK(N("FreePhysical"), aclrtFreePhysical(h));
#undef N
}

int main(void)
{
	aclrtPhysicalMemProp prop = acl_dev_prop(0, ACL_HBM_MEM_HUGE);
	aclrtDrvMemHandle h = NULL, hr;
	size_t f0, f1, t;
	uint64_t sh = 0;
	char rd[8];
	void *va = NULL;
	pid_t child;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ACL_OK("parent: aclInit", aclInit(NULL));
	ACL_OK("parent: SetDevice(0)", aclrtSetDevice(0));
	ACL_OK("parent: GetMemInfo", aclrtGetMemInfo(ACL_HBM_MEM, &f0, &t));
	ACL_OK("parent: MallocPhysical", aclrtMallocPhysical(&h, G, &prop, 0));
	ACL_OK("parent: ReserveMemAddress", aclrtReserveMemAddress(&va, G, 0, NULL, 0));
	ACL_OK("parent: MapMem", aclrtMapMem(va, G, 0, h, 0));
	ACL_OK("parent: Memset", aclrtMemset(va, G, 'P', 8));

	child = fork();
	if (child == 0) {
		ACL_IS_MSG("child: calls before aclInit are UNINITIALIZE (100001)", aclrtFreePhysical(h),
			   ACL_ERROR_UNINITIALIZE, "fork");
		ACL_IS("child: SetDevice before aclInit is UNINITIALIZE", aclrtSetDevice(0), ACL_ERROR_UNINITIALIZE);
		ACL_OK("child: aclInit (reopens the device)", aclInit(NULL));
		ACL_OK("child: SetDevice(0)", aclrtSetDevice(0));
		ACL_IS_MSG("child: the parent's handle is PARAM_INVALID", aclrtFreePhysical(h),
			   ACL_ERROR_RT_PARAM_INVALID, "not a live handle");
		ACL_IS("child: exporting the parent's handle is PARAM_INVALID",
		       aclrtMemExportToShareableHandle(h, ACL_MEM_HANDLE_TYPE_NONE, 1, &sh), ACL_ERROR_RT_PARAM_INVALID);
		ACL_IS("child: the parent's mapping is not mapped here", aclrtUnmapMem(va),
		       ACL_ERROR_RT_DRV_INTERNAL_ERROR);
		ACL_IS("child: Retain on the parent's mapping is PARAM_INVALID",
		       aclrtMemRetainAllocationHandle(va, &hr), ACL_ERROR_RT_PARAM_INVALID);
		ACL_IS("child: the parent's reservation is not ours", aclrtReleaseMemAddress(va),
		       ACL_ERROR_RT_PARAM_INVALID);
		ACL_IS("child: Memcpy from the parent's device address is PARAM_INVALID",
		       aclrtMemcpy(rd, 8, va, 8, ACL_MEMCPY_DEVICE_TO_HOST), ACL_ERROR_RT_PARAM_INVALID);
		use_acl("child");
		ACL_OK("child: aclFinalize", aclFinalize());
		exit(tap_done());
	}
	TAP_CHECK("child exited cleanly", wait_child(child) == 0);
	ACL_OK("parent: Memcpy D2H after the fork", aclrtMemcpy(rd, 8, va, 8, ACL_MEMCPY_DEVICE_TO_HOST));
	TAP_CHECK("parent: its memory is intact", !memcmp(rd, "PPPPPPPP", 8));
	use_acl("parent");
	ACL_OK("parent: UnmapMem", aclrtUnmapMem(va));
	ACL_OK("parent: ReleaseMemAddress", aclrtReleaseMemAddress(va));
	ACL_OK("parent: FreePhysical", aclrtFreePhysical(h));
	ACL_OK("parent: GetMemInfo", aclrtGetMemInfo(ACL_HBM_MEM, &f1, &t));
	TAP_CHECK("device free memory is back to its start value", f1 == f0);
	ACL_OK("parent: aclFinalize", aclFinalize());
	return tap_done();
}
