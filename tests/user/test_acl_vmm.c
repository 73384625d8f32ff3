// SPDX-License-Identifier: GPL-2.0
/*
 * libascendcl in one process: physical memory, reservations, mappings,
 * access, reference counting, copies, streams, and the exact error of each
 * misuse.  Device free memory is back to its start value at the end.
 */
#include "acl_util.h"

static const size_t G = 2 * MIB;

int main(void)
{
	aclrtPhysicalMemProp prop = acl_dev_prop(0, ACL_HBM_MEM_HUGE), got;
	aclrtDrvMemHandle h = NULL, h2 = NULL, hr = NULL, hbig = NULL;
	aclrtMemAccessDesc desc;
	aclrtMemLocation loc;
	aclrtStream s = NULL;
	uint32_t ndev = 0;
	size_t f0, f1, t, fr, size = 0;
	void *va = NULL, *va2 = NULL, *base = NULL, *host = NULL;
	uint64_t flag = 99;
	int32_t dev = -1, tgid = 0;
	char buf[64], rd[64];

	ACL_OK("aclInit", aclInit(NULL));
	ACL_IS("aclInit again is REPEAT_INITIALIZE", aclInit(NULL), ACL_ERROR_REPEAT_INITIALIZE);
	ACL_OK("GetDeviceCount", aclrtGetDeviceCount(&ndev));
	TAP_CHECK("at least one device", ndev >= 1);
	ACL_IS("GetDevice before SetDevice is CONTEXT_NULL", aclrtGetDevice(&dev), ACL_ERROR_RT_CONTEXT_NULL);
	ACL_IS("GetMemInfo before SetDevice is CONTEXT_NULL", aclrtGetMemInfo(ACL_HBM_MEM, &f0, &t),
	       ACL_ERROR_RT_CONTEXT_NULL);
	ACL_IS("SetDevice(ndev) is INVALID_DEVICEID", aclrtSetDevice((int32_t)ndev), ACL_ERROR_RT_INVALID_DEVICEID);
	ACL_OK("SetDevice(0)", aclrtSetDevice(0));
	ACL_OK("GetDevice", aclrtGetDevice(&dev));
	TAP_CHECK("current device is 0", dev == 0);
	ACL_OK("GetMemInfo(HBM)", aclrtGetMemInfo(ACL_HBM_MEM, &f0, &t));
	TAP_CHECK("free <= total, total > 0", t > 0 && f0 <= t);
	ACL_OK("GetMemInfo(DDR)", aclrtGetMemInfo(ACL_DDR_MEM, &f1, &fr));
	TAP_CHECK("DDR on a device reports 0/0", f1 == 0 && fr == 0);
	ACL_OK("DeviceGetBareTgid", aclrtDeviceGetBareTgid(&tgid));
	TAP_CHECK("bare tgid is our pid (init namespace)", tgid == getpid());

	/* allocate, map, copy */
	ACL_IS("MallocPhysical on device ndev is INVALID_DEVICEID",
	       aclrtMallocPhysical(&h, G, (prop.location.id = ndev, &prop), 0), ACL_ERROR_RT_INVALID_DEVICEID);
	prop.location.id = 0;
	ACL_IS_MSG("MallocPhysical larger than the device is MEMORY_ALLOCATION",
		   aclrtMallocPhysical(&hbig, (t / G + 1) * G, &prop, 0), ACL_ERROR_RT_MEMORY_ALLOCATION,
		   "out of memory on device 0");
	ACL_OK("MallocPhysical 2 MiB", aclrtMallocPhysical(&h, G, &prop, 0));
	ACL_OK("GetMemInfo after alloc", aclrtGetMemInfo(ACL_HBM_MEM, &f1, &t));
	TAP_CHECK("free dropped by 2 MiB", f1 == f0 - G);
	ACL_OK("GetAllocationPropertiesFromHandle", aclrtMemGetAllocationPropertiesFromHandle(h, &got));
	TAP_CHECK("properties are the creation properties", !memcmp(&got, &prop, sizeof(got)));
	ACL_OK("ReserveMemAddress 4 MiB", aclrtReserveMemAddress(&va, 2 * G, 0, NULL, 0));
	TAP_CHECK("reservation is 2 MiB aligned", va && ((uintptr_t)va % G) == 0);
	ACL_IS_MSG("MapMem unaligned VA is DRV_INTERNAL_ERROR", aclrtMapMem((char *)va + 4096, G, 0, h, 0),
		   ACL_ERROR_RT_DRV_INTERNAL_ERROR, "not aligned");
	ACL_IS_MSG("MapMem outside a reservation is DRV_INTERNAL_ERROR",
		   aclrtMapMem((char *)va + 2 * G, G, 0, h, 0), ACL_ERROR_RT_DRV_INTERNAL_ERROR,
		   "not inside one range");
	ACL_IS_MSG("MapMem with a wrong size is DRV_INTERNAL_ERROR", aclrtMapMem(va, 2 * G, 0, h, 0),
		   ACL_ERROR_RT_DRV_INTERNAL_ERROR, "not the handle's size");
	ACL_OK("MapMem", aclrtMapMem(va, G, 0, h, 0));
	ACL_IS_MSG("MapMem over a mapping is DRV_INTERNAL_ERROR", aclrtMapMem(va, G, 0, h, 0),
		   ACL_ERROR_RT_DRV_INTERNAL_ERROR, "overlaps");
	ACL_OK("GetAccess(device 0)",
	       aclrtMemGetAccess(va, (loc.type = ACL_MEM_LOCATION_TYPE_DEVICE, loc.id = 0, &loc), &flag));
	TAP_CHECK("owner device has READWRITE after MapMem", flag == ACL_RT_MEM_ACCESS_FLAGS_READWRITE);
	memset(buf, 0x5a, sizeof(buf));
	ACL_OK("Memcpy H2D", aclrtMemcpy((char *)va + 100, sizeof(buf), buf, sizeof(buf), ACL_MEMCPY_HOST_TO_DEVICE));
	ACL_OK("Memset device", aclrtMemset((char *)va + G - 64, 64, 0x11, 64));
	ACL_OK("Memcpy D2H", aclrtMemcpy(rd, sizeof(rd), (char *)va + 100, sizeof(rd), ACL_MEMCPY_DEVICE_TO_HOST));
	TAP_CHECK("D2H reads what H2D wrote", !memcmp(rd, buf, sizeof(rd)));
	ACL_OK("Memcpy D2H of memset bytes", aclrtMemcpy(rd, sizeof(rd), (char *)va + G - 64, 64,
							 ACL_MEMCPY_DEVICE_TO_HOST));
	TAP_CHECK("memset wrote 0x11", rd[0] == 0x11 && rd[63] == 0x11);
	ACL_IS_MSG("Memcpy D2H from the unmapped half is PARAM_INVALID",
		   aclrtMemcpy(rd, sizeof(rd), (char *)va + G, 8, ACL_MEMCPY_DEVICE_TO_HOST),
		   ACL_ERROR_RT_PARAM_INVALID, "not inside one mapped device range");
	ACL_IS("Memcpy D2H across the mapping end is PARAM_INVALID",
	       aclrtMemcpy(rd, sizeof(rd), (char *)va + G - 8, 16, ACL_MEMCPY_DEVICE_TO_HOST),
	       ACL_ERROR_RT_PARAM_INVALID);
	ACL_OK("GetAddressRange", aclrtMemGetAddressRange((char *)va + 4096, &base, &size));
	TAP_CHECK("address range is the mapping", base == va && size == G);

	/* access control */
	memset(&desc, 0, sizeof(desc));
	desc.flags = ACL_RT_MEM_ACCESS_FLAGS_READ;
	desc.location.type = ACL_MEM_LOCATION_TYPE_DEVICE;
	ACL_OK("SetAccess(READ) for device 0", aclrtMemSetAccess(va, G, &desc, 1));
	ACL_IS("Memcpy H2D into a read-only mapping is PARAM_INVALID",
	       aclrtMemcpy(va, 8, buf, 8, ACL_MEMCPY_HOST_TO_DEVICE), ACL_ERROR_RT_PARAM_INVALID);
	ACL_OK("Memcpy D2H from a read-only mapping", aclrtMemcpy(rd, 8, va, 8, ACL_MEMCPY_DEVICE_TO_HOST));
	desc.flags = ACL_RT_MEM_ACCESS_FLAGS_READWRITE;
	ACL_OK("SetAccess(READWRITE) again", aclrtMemSetAccess(va, G, &desc, 1));
	ACL_IS("SetAccess on a size that is not the mapping's is DRV_INTERNAL_ERROR",
	       aclrtMemSetAccess(va, 2 * G, &desc, 1), ACL_ERROR_RT_DRV_INTERNAL_ERROR);
	desc.location.id = ndev;
	ACL_IS("SetAccess for device ndev is INVALID_DEVICEID", aclrtMemSetAccess(va, G, &desc, 1),
	       ACL_ERROR_RT_INVALID_DEVICEID);

	/* reference counting (acl-api.md 5.2) */
	ACL_OK("RetainAllocationHandle", aclrtMemRetainAllocationHandle((char *)va + 8, &hr));
	TAP_CHECK("retain returns the mapped handle", hr == h);
	ACL_OK("FreePhysical drops the retain reference", aclrtFreePhysical(hr));
	ACL_OK("FreePhysical while mapped is legal", aclrtFreePhysical(h));
	ACL_IS_MSG("FreePhysical once more is PARAM_INVALID", aclrtFreePhysical(h), ACL_ERROR_RT_PARAM_INVALID,
		   "live mappings");
	ACL_OK("memory is still readable after FreePhysical",
	       aclrtMemcpy(rd, sizeof(rd), (char *)va + 100, sizeof(rd), ACL_MEMCPY_DEVICE_TO_HOST));
	TAP_CHECK("... and still holds the data", !memcmp(rd, buf, sizeof(rd)));
	ACL_IS_MSG("ReleaseMemAddress while mapped is DRV_INTERNAL_ERROR", aclrtReleaseMemAddress(va),
		   ACL_ERROR_RT_DRV_INTERNAL_ERROR, "still has 1 mapping");
	ACL_IS_MSG("UnmapMem not at the mapping start is DRV_INTERNAL_ERROR", aclrtUnmapMem((char *)va + 4096),
		   ACL_ERROR_RT_DRV_INTERNAL_ERROR, "not its start");
	ACL_OK("UnmapMem (last reference: frees)", aclrtUnmapMem(va));
	ACL_IS("the handle is gone after the last unmap", aclrtFreePhysical(h), ACL_ERROR_RT_PARAM_INVALID);
	ACL_IS("UnmapMem again is DRV_INTERNAL_ERROR", aclrtUnmapMem(va), ACL_ERROR_RT_DRV_INTERNAL_ERROR);
	ACL_OK("GetMemInfo after the last unmap", aclrtGetMemInfo(ACL_HBM_MEM, &f1, &t));
	TAP_CHECK("free memory is back", f1 == f0);

	/* the reservation survived the unmap: map again at the same VA */
	ACL_OK("MallocPhysical again", aclrtMallocPhysical(&h2, G, &prop, 0));
	ACL_OK("MemMapNoAccess at the same VA", aclrtMemMapNoAccess((char *)va + G, G, 0, h2, 0));
	ACL_OK("GetAccess after MapNoAccess",
	       aclrtMemGetAccess((char *)va + G, (loc.type = ACL_MEM_LOCATION_TYPE_DEVICE, loc.id = 0, &loc), &flag));
	TAP_CHECK("no access after MemMapNoAccess", flag == ACL_RT_MEM_ACCESS_FLAGS_NONE);
	ACL_IS("Memcpy into a no-access mapping is PARAM_INVALID",
	       aclrtMemcpy((char *)va + G, 8, buf, 8, ACL_MEMCPY_HOST_TO_DEVICE), ACL_ERROR_RT_PARAM_INVALID);
	desc.location.id = 0;
	ACL_OK("SetAccess(READWRITE) after MapNoAccess", aclrtMemSetAccess((char *)va + G, G, &desc, 1));
	ACL_OK("Memcpy works after SetAccess",
	       aclrtMemcpy((char *)va + G, 8, buf, 8, ACL_MEMCPY_HOST_TO_DEVICE));
	TAP_CHECK("a new allocation reads as zero past the copy", ((char *)va)[G + 8] == 0);

	/* streams and host memory */
	ACL_OK("CreateStream", aclrtCreateStream(&s));
	ACL_OK("MallocHost", aclrtMallocHost(&host, 4096));
	ACL_OK("MemcpyAsync D2H", aclrtMemcpyAsync(host, 4096, (char *)va + G, 8, ACL_MEMCPY_DEVICE_TO_HOST, s));
	ACL_OK("SynchronizeStream", aclrtSynchronizeStream(s));
	TAP_CHECK("async copy is complete after synchronize", !memcmp(host, buf, 8));
	ACL_OK("DestroyStream", aclrtDestroyStream(s));
	ACL_IS("DestroyStream twice is PARAM_INVALID", aclrtDestroyStream(s), ACL_ERROR_RT_PARAM_INVALID);
	ACL_OK("FreeHost", aclrtFreeHost(host));
	ACL_IS("FreeHost twice is PARAM_INVALID", aclrtFreeHost(host), ACL_ERROR_RT_PARAM_INVALID);

	/* teardown: a second reservation is released, the first after unmapping */
	ACL_OK("ReserveMemAddress 1 byte (rounded up)", aclrtReserveMemAddress(&va2, 1, 0, NULL, 1));
	ACL_OK("ReleaseMemAddress of an empty range", aclrtReleaseMemAddress(va2));
	ACL_IS("ReleaseMemAddress twice is PARAM_INVALID", aclrtReleaseMemAddress(va2), ACL_ERROR_RT_PARAM_INVALID);
	ACL_OK("UnmapMem", aclrtUnmapMem((char *)va + G));
	ACL_OK("FreePhysical", aclrtFreePhysical(h2));
	ACL_OK("ReleaseMemAddress", aclrtReleaseMemAddress(va));
	ACL_OK("GetMemInfo at the end", aclrtGetMemInfo(ACL_HBM_MEM, &f1, &t));
	TAP_CHECK("device free memory is back to its start value", f1 == f0);

	/* aclFinalize releases what the program forgot */
	ACL_OK("MallocPhysical, then forget it", aclrtMallocPhysical(&h, G, &prop, 0));
	ACL_OK("ResetDevice", aclrtResetDevice(0));
	ACL_IS("GetDevice after the last ResetDevice is CONTEXT_NULL", aclrtGetDevice(&dev),
	       ACL_ERROR_RT_CONTEXT_NULL);
	ACL_OK("aclFinalize", aclFinalize());
	ACL_IS("aclFinalize twice is REPEAT_FINALIZE", aclFinalize(), ACL_ERROR_REPEAT_FINALIZE);
	ACL_OK("aclInit after aclFinalize", aclInit(NULL));
	TAP_CHECK("aclFinalize freed the forgotten allocation", acl_free_bytes(0) == f0);
	ACL_OK("aclFinalize", aclFinalize());
	return tap_done();
}
