// SPDX-License-Identifier: MIT
/*
 * The ACL headers declare CANN's layouts and values.  Built twice: as C
 * (linked against libascendcl.so, prototypes checked too) and as C++.
 * The kselftest harness is C only: this reports KTAP through kselftest.h.
 */
#include <stddef.h>

#include "acl/acl.h"
#include "kselftest.h"

#ifdef __cplusplus
#define SA(c) static_assert(c, #c)
#else
#define SA(c) _Static_assert(c, #c)
#endif

SA(sizeof(aclError) == sizeof(int));
SA(sizeof(aclrtDrvMemHandle) == sizeof(void *));
SA(sizeof(aclrtPhysicalMemProp) == 32);
SA(offsetof(aclrtPhysicalMemProp, handleType) == 0);
SA(offsetof(aclrtPhysicalMemProp, allocationType) == 4);
SA(offsetof(aclrtPhysicalMemProp, memAttr) == 8);
SA(offsetof(aclrtPhysicalMemProp, location) == 12);
SA(offsetof(aclrtPhysicalMemProp, reserve) == 24);
SA(sizeof(aclrtMemLocation) == 8);
SA(offsetof(aclrtMemLocation, id) == 0);
SA(offsetof(aclrtMemLocation, type) == 4);
SA(sizeof(aclrtMemAccessDesc) == 24);
SA(offsetof(aclrtMemAccessDesc, flags) == 0);
SA(offsetof(aclrtMemAccessDesc, location) == 4);
SA(offsetof(aclrtMemAccessDesc, rsv) == 12);
SA(sizeof(aclrtMemFabricHandle) == 128);

SA(ACL_MEM_HANDLE_TYPE_NONE == 0 && ACL_MEM_HANDLE_TYPE_POSIX == 2);
SA(ACL_MEM_SHARE_HANDLE_TYPE_DEFAULT == 1 && ACL_MEM_SHARE_HANDLE_TYPE_FABRIC == 2);
SA(ACL_MEM_ALLOCATION_TYPE_PINNED == 0);
SA(ACL_MEM_LOCATION_TYPE_HOST == 0 && ACL_MEM_LOCATION_TYPE_DEVICE == 1 &&
   ACL_MEM_LOCATION_TYPE_UNREGISTERED == 2 && ACL_MEM_LOCATION_TYPE_MANAGED == 3 &&
   ACL_MEM_LOCATION_TYPE_HOST_NUMA == 4);
SA(ACL_DDR_MEM == 0 && ACL_HBM_MEM == 1 && ACL_HBM_MEM_HUGE == 4 && ACL_HBM_MEM_NORMAL == 5 &&
   ACL_HBM_MEM_HUGE1G == 10 && ACL_HBM_MEM_P2P_HUGE1G == 11 && ACL_MEM_NORMAL == 12 &&
   ACL_MEM_P2P_HUGE1G == 17);
SA(ACL_RT_MEM_ALLOC_GRANULARITY_MINIMUM == 0 && ACL_RT_MEM_ALLOC_GRANULARITY_RECOMMENDED == 1 &&
   ACL_RT_MEM_ALLOC_GRANULARITY_UNDEF == 0xFFFF);
SA(ACL_RT_MEM_ACCESS_FLAGS_NONE == 0 && ACL_RT_MEM_ACCESS_FLAGS_READ == 1 &&
   ACL_RT_MEM_ACCESS_FLAGS_READWRITE == 3);
SA(ACL_MEMCPY_HOST_TO_HOST == 0 && ACL_MEMCPY_HOST_TO_DEVICE == 1 && ACL_MEMCPY_DEVICE_TO_HOST == 2 &&
   ACL_MEMCPY_DEVICE_TO_DEVICE == 3 && ACL_MEMCPY_DEFAULT == 4);
SA(ACL_RT_VMM_EXPORT_FLAG_DEFAULT == 0 && ACL_RT_VMM_EXPORT_FLAG_DISABLE_PID_VALIDATION == 1);
SA(ACL_RT_SUCCESS == 0);
SA(ACL_ERROR_RT_PARAM_INVALID == 107000 && ACL_ERROR_RT_INVALID_DEVICEID == 107001 &&
   ACL_ERROR_RT_CONTEXT_NULL == 107002 && ACL_ERROR_RT_INVALID_HANDLE == 107017);
SA(ACL_ERROR_RT_FEATURE_NOT_SUPPORT == 207000 && ACL_ERROR_RT_MEMORY_ALLOCATION == 207001 &&
   ACL_ERROR_RT_NO_DEVICE == 207004 && ACL_ERROR_RT_NO_PERMISSION == 207006);
SA(ACL_ERROR_RT_INTERNAL_ERROR == 507000 && ACL_ERROR_RT_DRV_INTERNAL_ERROR == 507899);

#ifndef __cplusplus
/* Prototypes: each assignment fails to compile if a signature differs from CANN's. */
static void check_prototypes(void)
{
	aclError (*init)(const char *) = aclInit;
	const char *(*msg)(void) = aclGetRecentErrMsg;
	aclError (*mp)(aclrtDrvMemHandle *, size_t, const aclrtPhysicalMemProp *, uint64_t) = aclrtMallocPhysical;
	aclError (*gr)(aclrtPhysicalMemProp *, aclrtMemGranularityOptions, size_t *) =
		aclrtMemGetAllocationGranularity;
	aclError (*rs)(void **, size_t, size_t, void *, uint64_t) = aclrtReserveMemAddress;
	aclError (*mm)(void *, size_t, size_t, aclrtDrvMemHandle, uint64_t) = aclrtMapMem;
	aclError (*ex)(aclrtDrvMemHandle, aclrtMemHandleType, uint64_t, uint64_t *) =
		aclrtMemExportToShareableHandle;
	aclError (*ex2)(aclrtDrvMemHandle, uint64_t, aclrtMemSharedHandleType, void *) =
		aclrtMemExportToShareableHandleV2;
	aclError (*sp)(uint64_t, int32_t *, size_t) = aclrtMemSetPidToShareableHandle;
	aclError (*sp2)(void *, aclrtMemSharedHandleType, int32_t *, size_t) = aclrtMemSetPidToShareableHandleV2;
	aclError (*im)(uint64_t, int32_t, aclrtDrvMemHandle *) = aclrtMemImportFromShareableHandle;
	aclError (*im2)(void *, aclrtMemSharedHandleType, uint64_t, aclrtDrvMemHandle *) =
		aclrtMemImportFromShareableHandleV2;
	aclError (*sa)(void *, size_t, aclrtMemAccessDesc *, size_t) = aclrtMemSetAccess;
	aclError (*ga)(void *, aclrtMemLocation *, uint64_t *) = aclrtMemGetAccess;
	aclError (*cp)(void *, size_t, const void *, size_t, aclrtMemcpyKind) = aclrtMemcpy;
	aclError (*pr)(aclrtDrvMemHandle, aclrtPhysicalMemProp *) = aclrtMemGetAllocationPropertiesFromHandle;

	ksft_test_result(init && msg && mp && gr && rs && mm && ex && ex2 && sp && sp2 && im && im2 &&
			 sa && ga && cp && pr, "C: every checked prototype resolves in libascendcl\n");
}
#endif

int main(void)
{
#ifdef __cplusplus
	const char *lang = "C++";

	ksft_print_header();
	ksft_set_plan(3);
#else
	const char *lang = "C";

	ksft_print_header();
	ksft_set_plan(4);
	check_prototypes();
#endif
	/* The generic codes are static const ints, usable at run time as in CANN. */
	ksft_test_result(ACL_SUCCESS == 0 && ACL_ERROR_NONE == 0,
			 "%s: ACL_SUCCESS and ACL_ERROR_NONE are 0\n", lang);
	ksft_test_result(ACL_ERROR_INVALID_PARAM == 100000 && ACL_ERROR_UNINITIALIZE == 100001 &&
			 ACL_ERROR_REPEAT_INITIALIZE == 100002 && ACL_ERROR_REPEAT_FINALIZE == 100037,
			 "%s: 1000xx generic codes have CANN's values\n", lang);
	ksft_test_result(ACL_ERROR_BAD_ALLOC == 200000 && ACL_ERROR_API_NOT_SUPPORT == 200001 &&
			 ACL_ERROR_INTERNAL_ERROR == 500000 && ACL_ERROR_RT_FAILURE == 500003,
			 "%s: 2xxxxx/5xxxxx generic codes have CANN's values\n", lang);
	ksft_print_msg("layout checks (sizes, offsets, enum values) passed at compile time as %s\n", lang);
	ksft_finished();
}
