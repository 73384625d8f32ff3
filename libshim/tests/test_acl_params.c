// SPDX-License-Identifier: MIT
/*
 * Parameter validation, on the host without a device: every bad argument
 * gets CANN's exact code and a message naming the call and the argument.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl/acl.h"
#include "tests/user/harness.h"

/* Run @call; want @code and a message "<func>: ...<needle>...". */
static void expect(struct __test_metadata *_metadata, const char *name, aclError got, aclError want,
		   const char *func, const char *needle)
{
	const char *m = aclGetRecentErrMsg();
	size_t fl = strlen(func);

	EXPECT_EQ(want, got) TH_LOG("%s: returned %d, want %d (message: %s)", name, got, want,
				    m ? m : "(none)");
	EXPECT_TRUE(m && !strncmp(m, func, fl) && !strncmp(m + fl, ": ", 2) && m[fl + 2])
		TH_LOG("%s: message \"%s\" does not start with \"%s: \"", name, m ? m : "(null)", func);
	EXPECT_TRUE(!needle || (m && strstr(m, needle)))
		TH_LOG("%s: message \"%s\" does not mention \"%s\"", name, m ? m : "(null)", needle);
}

#define E(name, call, want, func, needle) expect(_metadata, name, (call), (want), func, needle)
#define P(name, call, func, needle) E(name, call, ACL_ERROR_INVALID_PARAM, func, needle)

static aclrtPhysicalMemProp good_prop(void)
{
	aclrtPhysicalMemProp p;

	memset(&p, 0, sizeof(p));
	p.handleType = ACL_MEM_HANDLE_TYPE_NONE;
	p.allocationType = ACL_MEM_ALLOCATION_TYPE_PINNED;
	p.memAttr = ACL_HBM_MEM_HUGE;
	p.location.type = ACL_MEM_LOCATION_TYPE_DEVICE;
	p.location.id = 0;
	return p;
}

static void *other_thread(void *arg)
{
	(void)arg;
	return (void *)aclGetRecentErrMsg();
}

/* no message before any failure; a message is returned once, then cleared */
TEST(error_messages)
{
	aclrtPhysicalMemProp prop = good_prop();
	void *thr_msg;
	pthread_t th;

	EXPECT_TRUE(aclGetRecentErrMsg() == NULL) TH_LOG("no message before any failure");
	P("MallocPhysical: NULL handle", aclrtMallocPhysical(NULL, 1 << 21, &prop, 0), "aclrtMallocPhysical",
	  "handle is NULL");
	EXPECT_TRUE(aclGetRecentErrMsg() == NULL) TH_LOG("the message is cleared once read");
	aclrtMallocPhysical(NULL, 1 << 21, &prop, 0);
	pthread_create(&th, NULL, other_thread, NULL);
	pthread_join(th, &thr_msg);
	EXPECT_TRUE(thr_msg == NULL && aclGetRecentErrMsg() != NULL)
		TH_LOG("messages are per thread");
}

/* MallocPhysical */
TEST(malloc_physical)
{
	aclrtPhysicalMemProp prop = good_prop(), bad;
	aclrtDrvMemHandle h = (aclrtDrvMemHandle)&prop;	/* never dereferenced by the checks below */

	P("MallocPhysical: size 0", aclrtMallocPhysical(&h, 0, &prop, 0), "aclrtMallocPhysical", "size is 0");
	P("MallocPhysical: NULL prop", aclrtMallocPhysical(&h, 1 << 21, NULL, 0), "aclrtMallocPhysical",
	  "prop is NULL");
	P("MallocPhysical: flags 1", aclrtMallocPhysical(&h, 1 << 21, &prop, 1), "aclrtMallocPhysical", "flags");
	bad = prop;
	bad.handleType = ACL_MEM_HANDLE_TYPE_POSIX;
	P("MallocPhysical: handleType POSIX", aclrtMallocPhysical(&h, 1 << 21, &bad, 0), "aclrtMallocPhysical",
	  "handleType");
	bad = prop;
	bad.allocationType = (aclrtMemAllocationType)1;
	P("MallocPhysical: allocationType 1", aclrtMallocPhysical(&h, 1 << 21, &bad, 0), "aclrtMallocPhysical",
	  "allocationType");
	bad = prop;
	bad.location.type = ACL_MEM_LOCATION_TYPE_MANAGED;
	P("MallocPhysical: location MANAGED", aclrtMallocPhysical(&h, 1 << 21, &bad, 0), "aclrtMallocPhysical",
	  "location.type");
	bad.location.type = (aclrtMemLocationType)99;
	P("MallocPhysical: location type 99", aclrtMallocPhysical(&h, 1 << 21, &bad, 0), "aclrtMallocPhysical",
	  "location.type");
	bad = prop;
	bad.location.type = ACL_MEM_LOCATION_TYPE_HOST;
	E("MallocPhysical: host memory is not simulated (207000)", aclrtMallocPhysical(&h, 1 << 21, &bad, 0),
	  ACL_ERROR_RT_FEATURE_NOT_SUPPORT, "aclrtMallocPhysical", "device memory only");
	bad = prop;
	bad.memAttr = ACL_DDR_MEM_HUGE;
	P("MallocPhysical: DDR_MEM_HUGE on a device", aclrtMallocPhysical(&h, 1 << 21, &bad, 0),
	  "aclrtMallocPhysical", "memAttr 2");
	bad.memAttr = ACL_HBM_MEM_P2P_HUGE;
	P("MallocPhysical: HBM_MEM_P2P_HUGE (not accepted)", aclrtMallocPhysical(&h, 1 << 21, &bad, 0),
	  "aclrtMallocPhysical", "memAttr 8");
	bad.memAttr = (aclrtMemAttr)18;
	P("MallocPhysical: memAttr 18", aclrtMallocPhysical(&h, 1 << 21, &bad, 0), "aclrtMallocPhysical",
	  "memAttr 18");
}

/* Granularity: what is checked before the device (test_acl_compat checks the rest) */
TEST(granularity)
{
	aclrtPhysicalMemProp prop = good_prop();
	size_t g;

	P("Granularity: NULL prop", aclrtMemGetAllocationGranularity(NULL, ACL_RT_MEM_ALLOC_GRANULARITY_MINIMUM, &g),
	  "aclrtMemGetAllocationGranularity", "prop is NULL");
	P("Granularity: NULL out", aclrtMemGetAllocationGranularity(&prop, ACL_RT_MEM_ALLOC_GRANULARITY_MINIMUM, NULL),
	  "aclrtMemGetAllocationGranularity", "granularity is NULL");
	prop.memAttr = ACL_DDR_MEM_HUGE;
	P("Granularity: DDR_MEM_HUGE on a device", aclrtMemGetAllocationGranularity(&prop,
	  ACL_RT_MEM_ALLOC_GRANULARITY_MINIMUM, &g), "aclrtMemGetAllocationGranularity", "memAttr 2");
	prop = good_prop();
	prop.location.type = ACL_MEM_LOCATION_TYPE_HOST;
	E("Granularity: host memory is not simulated (207000)", aclrtMemGetAllocationGranularity(&prop,
	  ACL_RT_MEM_ALLOC_GRANULARITY_MINIMUM, &g), ACL_ERROR_RT_FEATURE_NOT_SUPPORT,
	  "aclrtMemGetAllocationGranularity", "device memory only");
	prop.location.type = ACL_MEM_LOCATION_TYPE_MANAGED;
	E("Granularity: location MANAGED (107000)", aclrtMemGetAllocationGranularity(&prop,
	  ACL_RT_MEM_ALLOC_GRANULARITY_MINIMUM, &g), ACL_ERROR_RT_PARAM_INVALID,
	  "aclrtMemGetAllocationGranularity", "location.type 3");
}

/* FreePhysical, props */
TEST(free_physical_and_properties)
{
	aclrtPhysicalMemProp prop = good_prop();
	aclrtDrvMemHandle h = (aclrtDrvMemHandle)&prop;	/* never dereferenced by the checks below */

	P("FreePhysical: NULL", aclrtFreePhysical(NULL), "aclrtFreePhysical", "handle is NULL");
	P("GetAllocationProperties: NULL handle", aclrtMemGetAllocationPropertiesFromHandle(NULL, &prop),
	  "aclrtMemGetAllocationPropertiesFromHandle", "handle is NULL");
	P("GetAllocationProperties: NULL prop", aclrtMemGetAllocationPropertiesFromHandle(h, NULL),
	  "aclrtMemGetAllocationPropertiesFromHandle", "prop is NULL");
}

/* Reserve / release / map / unmap */
TEST(reserve_release_map_unmap)
{
	aclrtPhysicalMemProp prop = good_prop();
	aclrtDrvMemHandle h = (aclrtDrvMemHandle)&prop;	/* never dereferenced by the checks below */
	void *va;

	P("Reserve: NULL virPtr", aclrtReserveMemAddress(NULL, 1 << 21, 0, NULL, 0), "aclrtReserveMemAddress",
	  "virPtr is NULL");
	P("Reserve: size 0", aclrtReserveMemAddress(&va, 0, 0, NULL, 0), "aclrtReserveMemAddress", "size is 0");
	P("Reserve: flags 2", aclrtReserveMemAddress(&va, 1 << 21, 0, NULL, 2), "aclrtReserveMemAddress", "flags");
	E("Reserve: alignment not 0 (107000)", aclrtReserveMemAddress(&va, 1 << 21, 1 << 21, NULL, 0),
	  ACL_ERROR_RT_PARAM_INVALID, "aclrtReserveMemAddress", "alignment");
	P("Release: NULL", aclrtReleaseMemAddress(NULL), "aclrtReleaseMemAddress", "virPtr is NULL");
	va = (void *)(uintptr_t)(1u << 21);
	P("MapMem: NULL virPtr", aclrtMapMem(NULL, 1 << 21, 0, h, 0), "aclrtMapMem", "virPtr is NULL");
	P("MapMem: size 0", aclrtMapMem(va, 0, 0, h, 0), "aclrtMapMem", "size is 0");
	P("MapMem: NULL handle", aclrtMapMem(va, 1 << 21, 0, NULL, 0), "aclrtMapMem", "handle is NULL");
	P("MapMem: flags 1", aclrtMapMem(va, 1 << 21, 0, h, 1), "aclrtMapMem", "flags");
	E("MapMem: offset not 0 (107000)", aclrtMapMem(va, 1 << 21, 4096, h, 0), ACL_ERROR_RT_PARAM_INVALID,
	  "aclrtMapMem", "offset");
	P("MemMapNoAccess: NULL handle", aclrtMemMapNoAccess(va, 1 << 21, 0, NULL, 0), "aclrtMemMapNoAccess",
	  "handle is NULL");
	P("UnmapMem: NULL", aclrtUnmapMem(NULL), "aclrtUnmapMem", "virPtr is NULL");
}

/* Access */
TEST(memory_access)
{
	aclrtMemAccessDesc desc;
	aclrtMemLocation loc = { 0, ACL_MEM_LOCATION_TYPE_HOST };
	uint64_t flag;
	void *va = (void *)(uintptr_t)(1u << 21);

	memset(&desc, 0, sizeof(desc));
	desc.flags = ACL_RT_MEM_ACCESS_FLAGS_READWRITE;
	desc.location.type = ACL_MEM_LOCATION_TYPE_DEVICE;
	P("SetAccess: NULL desc", aclrtMemSetAccess(va, 1 << 21, NULL, 1), "aclrtMemSetAccess", "desc is NULL");
	P("SetAccess: count 0", aclrtMemSetAccess(va, 1 << 21, &desc, 0), "aclrtMemSetAccess", "count is 0");
	desc.flags = (aclrtMemAccessFlags)2;
	P("SetAccess: flags 2", aclrtMemSetAccess(va, 1 << 21, &desc, 1), "aclrtMemSetAccess", "flags 0x2");
	desc.flags = ACL_RT_MEM_ACCESS_FLAGS_READWRITE;
	desc.rsv[3] = 1;
	P("SetAccess: rsv not 0", aclrtMemSetAccess(va, 1 << 21, &desc, 1), "aclrtMemSetAccess", "rsv[3]");
	desc.rsv[3] = 0;
	desc.location.type = ACL_MEM_LOCATION_TYPE_HOST;
	desc.location.id = 1;
	P("SetAccess: host id 1", aclrtMemSetAccess(va, 1 << 21, &desc, 1), "aclrtMemSetAccess", "must be 0");
	P("GetAccess: NULL flag", aclrtMemGetAccess(va, &loc, NULL), "aclrtMemGetAccess", "flag is NULL");
	loc.type = ACL_MEM_LOCATION_TYPE_MANAGED;
	P("GetAccess: MANAGED location", aclrtMemGetAccess(va, &loc, &flag), "aclrtMemGetAccess", "HOST or DEVICE");
	P("Retain: NULL out", aclrtMemRetainAllocationHandle(va, NULL), "aclrtMemRetainAllocationHandle",
	  "handle is NULL");
	P("GetAddressRange: both outs NULL", aclrtMemGetAddressRange(va, NULL, NULL), "aclrtMemGetAddressRange",
	  "both NULL");
}

/* Sharing */
TEST(sharing)
{
	aclrtPhysicalMemProp prop = good_prop();
	aclrtDrvMemHandle h = (aclrtDrvMemHandle)&prop;	/* never dereferenced by the checks below */
	uint64_t sh = 0x1234;
	int32_t pid = 1, pids0[2] = { 0, 0 };

	P("Export: NULL handle", aclrtMemExportToShareableHandle(NULL, ACL_MEM_HANDLE_TYPE_NONE, 0, &sh),
	  "aclrtMemExportToShareableHandle", "handle is NULL");
	P("Export: NULL out", aclrtMemExportToShareableHandle(h, ACL_MEM_HANDLE_TYPE_NONE, 0, NULL),
	  "aclrtMemExportToShareableHandle", "shareableHandle is NULL");
	P("Export: handleType POSIX", aclrtMemExportToShareableHandle(h, ACL_MEM_HANDLE_TYPE_POSIX, 0, &sh),
	  "aclrtMemExportToShareableHandle", "handleType");
	E("Export: flags 2 (107000)", aclrtMemExportToShareableHandle(h, ACL_MEM_HANDLE_TYPE_NONE, 2, &sh),
	  ACL_ERROR_RT_PARAM_INVALID, "aclrtMemExportToShareableHandle", "flags is 0x2");
	E("ExportV2: shareType 7 (107000)",
	  aclrtMemExportToShareableHandleV2(h, 0, (aclrtMemSharedHandleType)7, &sh), ACL_ERROR_RT_PARAM_INVALID,
	  "aclrtMemExportToShareableHandleV2", "shareType 7");
	P("ExportV2: NULL out", aclrtMemExportToShareableHandleV2(h, 0, ACL_MEM_SHARE_HANDLE_TYPE_DEFAULT, NULL),
	  "aclrtMemExportToShareableHandleV2", "shareableHandle is NULL");
	E("ExportV2: flags 2 (107000)",
	  aclrtMemExportToShareableHandleV2(h, 2, ACL_MEM_SHARE_HANDLE_TYPE_DEFAULT, &sh),
	  ACL_ERROR_RT_PARAM_INVALID, "aclrtMemExportToShareableHandleV2", "flags is 0x2");
	P("SetPid: NULL pid", aclrtMemSetPidToShareableHandle(sh, NULL, 1), "aclrtMemSetPidToShareableHandle",
	  "pid is NULL");
	P("SetPid: pidNum 0", aclrtMemSetPidToShareableHandle(sh, &pid, 0), "aclrtMemSetPidToShareableHandle",
	  "pidNum is 0");
	{
		int32_t *many = (int32_t *)calloc(65536, sizeof(int32_t));

		many[0] = 1;
		E("SetPid: pidNum 65536 (107000)", aclrtMemSetPidToShareableHandle(sh, many, 65536),
		  ACL_ERROR_RT_PARAM_INVALID, "aclrtMemSetPidToShareableHandle", "65535");
		free(many);
	}
	E("SetPid: only zero pids (507899)", aclrtMemSetPidToShareableHandle(sh, pids0, 2),
	  ACL_ERROR_RT_DRV_INTERNAL_ERROR, "aclrtMemSetPidToShareableHandle", "every pid in the list is 0");
	pids0[1] = -5;
	E("SetPid: negative pid (507899)", aclrtMemSetPidToShareableHandle(sh, pids0, 2),
	  ACL_ERROR_RT_DRV_INTERNAL_ERROR, "aclrtMemSetPidToShareableHandle", "pid[1] is -5");
	P("SetPidV2: NULL handle",
	  aclrtMemSetPidToShareableHandleV2(NULL, ACL_MEM_SHARE_HANDLE_TYPE_DEFAULT, &pid, 1),
	  "aclrtMemSetPidToShareableHandleV2", "shareableHandle is NULL");
	P("Import: NULL out", aclrtMemImportFromShareableHandle(sh, 0, NULL), "aclrtMemImportFromShareableHandle",
	  "handle is NULL");
	E("Import: device -1 (107001)", aclrtMemImportFromShareableHandle(sh, -1, &h), ACL_ERROR_RT_INVALID_DEVICEID,
	  "aclrtMemImportFromShareableHandle", "device -1");
	P("ImportV2: flags 1", aclrtMemImportFromShareableHandleV2(&sh, ACL_MEM_SHARE_HANDLE_TYPE_DEFAULT, 1, &h),
	  "aclrtMemImportFromShareableHandleV2", "flags");
	P("ImportV2: NULL out", aclrtMemImportFromShareableHandleV2(&sh, ACL_MEM_SHARE_HANDLE_TYPE_DEFAULT, 0, NULL),
	  "aclrtMemImportFromShareableHandleV2", "handle is NULL");
}

/* Devices, streams, copies */
TEST(devices_streams_copies)
{
	size_t f, t;
	void *va;
	char buf[8];

	P("GetDeviceCount: NULL", aclrtGetDeviceCount(NULL), "aclrtGetDeviceCount", "count is NULL");
	P("GetDevice: NULL", aclrtGetDevice(NULL), "aclrtGetDevice", "deviceId is NULL");
	P("GetMemInfo: NULL free", aclrtGetMemInfo(ACL_HBM_MEM, NULL, &t), "aclrtGetMemInfo", "free is NULL");
	P("GetMemInfo: attr 99", aclrtGetMemInfo((aclrtMemAttr)99, &f, &t), "aclrtGetMemInfo", "attr 99");
	P("GetBareTgid: NULL", aclrtDeviceGetBareTgid(NULL), "aclrtDeviceGetBareTgid", "pid is NULL");
	P("CanAccessPeer: NULL", aclrtDeviceCanAccessPeer(NULL, 0, 1), "aclrtDeviceCanAccessPeer", "NULL");
	P("EnablePeerAccess: flags 1", aclrtDeviceEnablePeerAccess(1, 1), "aclrtDeviceEnablePeerAccess", "flags");
	P("CreateStream: NULL", aclrtCreateStream(NULL), "aclrtCreateStream", "stream is NULL");
	P("DestroyStream: NULL", aclrtDestroyStream(NULL), "aclrtDestroyStream", "stream is NULL");
	P("MallocHost: NULL", aclrtMallocHost(NULL, 16), "aclrtMallocHost", "hostPtr is NULL");
	P("MallocHost: size 0", aclrtMallocHost(&va, 0), "aclrtMallocHost", "size is 0");
	P("FreeHost: NULL", aclrtFreeHost(NULL), "aclrtFreeHost", "hostPtr is NULL");
	P("Memcpy: NULL dst", aclrtMemcpy(NULL, 8, buf, 8, ACL_MEMCPY_HOST_TO_HOST), "aclrtMemcpy", "dst is NULL");
	E("Memcpy: count > destMax (107000)", aclrtMemcpy(buf, 4, buf + 4, 8, ACL_MEMCPY_HOST_TO_HOST),
	  ACL_ERROR_RT_PARAM_INVALID, "aclrtMemcpy", "larger than destMax");
	P("Memcpy: kind 9", aclrtMemcpy(buf, 8, buf, 8, (aclrtMemcpyKind)9), "aclrtMemcpy", "kind 9");
	P("MemcpyAsync: NULL src", aclrtMemcpyAsync(buf, 8, NULL, 8, ACL_MEMCPY_HOST_TO_HOST, NULL),
	  "aclrtMemcpyAsync", "src is NULL");
	E("Memset: count > maxCount (107000)", aclrtMemset(buf, 4, 0, 8), ACL_ERROR_RT_PARAM_INVALID, "aclrtMemset",
	  "larger than maxCount");
}

/*
 * Valid arguments without aclInit: as in CANN, no call needs it; each opens
 * the device itself, here without one: 207004.
 */
TEST(valid_arguments_before_aclinit)
{
	aclrtPhysicalMemProp prop = good_prop();
	aclrtDrvMemHandle h = (aclrtDrvMemHandle)&prop;	/* never dereferenced by the checks below */
	uint32_t cnt;

	E("aclFinalize before aclInit (100037)", aclFinalize(), ACL_ERROR_REPEAT_FINALIZE, "aclFinalize", NULL);
	E("aclInit with a missing config file (100003)", aclInit("/nonexistent/acl.json"), ACL_ERROR_INVALID_FILE,
	  "aclInit", "/nonexistent/acl.json");
	if (access("/dev/npu_mem", F_OK) == 0) {
		printf("# /dev/npu_mem exists here: skipping the no-device checks\n");
		return;
	}
	E("GetDeviceCount without /dev/npu_mem (207004)", aclrtGetDeviceCount(&cnt), ACL_ERROR_RT_NO_DEVICE,
	  "aclrtGetDeviceCount", "/dev/npu_mem");
	E("MallocPhysical without /dev/npu_mem (207004)", aclrtMallocPhysical(&h, 1 << 21, &prop, 0),
	  ACL_ERROR_RT_NO_DEVICE, "aclrtMallocPhysical", "/dev/npu_mem");
	E("SetDevice without /dev/npu_mem (207004)", aclrtSetDevice(0), ACL_ERROR_RT_NO_DEVICE, "aclrtSetDevice",
	  "/dev/npu_mem");
	E("aclInit without /dev/npu_mem (207004)", aclInit(NULL), ACL_ERROR_RT_NO_DEVICE, "aclInit",
	  "/dev/npu_mem");
}

TEST_HARNESS_MAIN
