// SPDX-License-Identifier: GPL-2.0
// A CANN-style program for the packaging tests: allocate device memory, map it, copy a
// value through it and export it, with acl/acl.h and -lascendcl only.  Prints
// "SAMPLE OK" on success; otherwise the failing call, its aclError and message.
#include <cstdio>

#include "acl/acl.h"

#define CHECK(call) do {							\
	aclError err_ = (call);							\
	if (err_ != ACL_SUCCESS) {						\
		const char *msg_ = aclGetRecentErrMsg();			\
		std::printf("SAMPLE FAILED: %s: aclError %d (%s)\n", #call,	\
			    static_cast<int>(err_), msg_ ? msg_ : "no message");	\
		return 1;							\
	}									\
} while (0)

int main()
{
	aclrtPhysicalMemProp prop = {};
	aclrtDrvMemHandle handle;
	uint64_t shareable;
	uint32_t count;
	size_t gran;
	int in = 123, out = 0;
	void *va;

	prop.handleType = ACL_MEM_HANDLE_TYPE_NONE;
	prop.allocationType = ACL_MEM_ALLOCATION_TYPE_PINNED;
	prop.memAttr = ACL_HBM_MEM_HUGE;
	prop.location.id = 0;
	prop.location.type = ACL_MEM_LOCATION_TYPE_DEVICE;

	CHECK(aclInit(nullptr));
	CHECK(aclrtGetDeviceCount(&count));
	CHECK(aclrtSetDevice(0));
	CHECK(aclrtMemGetAllocationGranularity(&prop, ACL_RT_MEM_ALLOC_GRANULARITY_MINIMUM, &gran));
	CHECK(aclrtMallocPhysical(&handle, gran, &prop, 0));
	CHECK(aclrtReserveMemAddress(&va, gran, 0, nullptr, 0));
	CHECK(aclrtMapMem(va, gran, 0, handle, 0));
	CHECK(aclrtMemcpy(va, sizeof(in), &in, sizeof(in), ACL_MEMCPY_HOST_TO_DEVICE));
	CHECK(aclrtMemcpy(&out, sizeof(out), va, sizeof(out), ACL_MEMCPY_DEVICE_TO_HOST));
	CHECK(aclrtMemExportToShareableHandle(handle, ACL_MEM_HANDLE_TYPE_NONE,
					      ACL_RT_VMM_EXPORT_FLAG_DEFAULT, &shareable));
	CHECK(aclrtUnmapMem(va));
	CHECK(aclrtReleaseMemAddress(va));
	CHECK(aclrtFreePhysical(handle));
	CHECK(aclrtResetDevice(0));
	CHECK(aclFinalize());
	std::printf("%s: %u devices, %zu MiB granularity, value %d back from device 0, "
		    "exported as 0x%llx\n", out == in ? "SAMPLE OK" : "SAMPLE FAILED", count,
		    gran >> 20, out, static_cast<unsigned long long>(shareable));
	return out == in ? 0 : 1;
}
