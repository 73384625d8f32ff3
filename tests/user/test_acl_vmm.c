// SPDX-License-Identifier: GPL-2.0
/*
 * libascendcl in one process: physical memory, reservations, mappings,
 * access, reference counting, copies, streams, and the exact error of each
 * misuse.  Device free memory is back to its start value after each test.
 *
 * The fixture "vmm" holds a 2 MiB allocation on device 0 and a 4 MiB
 * reservation; each test maps what it needs, and the fixture checks that
 * everything is released in the end.
 */
#include "harness.h"
#include "acl_util.h"

static const size_t G = 2 * MIB;

TEST(init_and_device_queries)
{
	uint32_t ndev = 0;
	size_t f0, f1, t, fr;
	int32_t dev = -1, tgid = 0;

	ASSERT_ACL_OK(aclInit(NULL));
	EXPECT_ACL(ACL_ERROR_REPEAT_INITIALIZE, aclInit(NULL))
		TH_LOG("aclInit again is REPEAT_INITIALIZE");
	EXPECT_ACL_OK(aclrtGetDeviceCount(&ndev));
	EXPECT_LE(1, ndev) TH_LOG("at least one device");
	EXPECT_ACL(ACL_ERROR_RT_CONTEXT_NULL, aclrtGetDevice(&dev))
		TH_LOG("GetDevice before SetDevice is CONTEXT_NULL");
	EXPECT_ACL(ACL_ERROR_RT_CONTEXT_NULL, aclrtGetMemInfo(ACL_HBM_MEM, &f0, &t))
		TH_LOG("GetMemInfo before SetDevice is CONTEXT_NULL");
	EXPECT_ACL(ACL_ERROR_RT_INVALID_DEVICEID, aclrtSetDevice((int32_t)ndev))
		TH_LOG("SetDevice(ndev) is INVALID_DEVICEID");
	EXPECT_ACL_OK(aclrtSetDevice(0));
	EXPECT_ACL_OK(aclrtGetDevice(&dev));
	EXPECT_EQ(0, dev) TH_LOG("current device is 0");
	EXPECT_ACL_OK(aclrtGetMemInfo(ACL_HBM_MEM, &f0, &t)) TH_LOG("GetMemInfo(HBM)");
	EXPECT_TRUE(t > 0 && f0 <= t) TH_LOG("free <= total, total > 0");
	EXPECT_ACL_OK(aclrtGetMemInfo(ACL_DDR_MEM, &f1, &fr)) TH_LOG("GetMemInfo(DDR)");
	EXPECT_TRUE(f1 == 0 && fr == 0) TH_LOG("DDR on a device reports 0/0");
	EXPECT_ACL_OK(aclrtDeviceGetBareTgid(&tgid));
	EXPECT_EQ(getpid(), tgid) TH_LOG("bare tgid is our pid (init namespace)");
	EXPECT_ACL_OK(aclFinalize());
}

FIXTURE(vmm) {
	aclrtPhysicalMemProp prop;
	aclrtDrvMemHandle h;	/* 2 MiB on device 0; NULL once freed */
	void *va;		/* 4 MiB reserved; NULL once released */
	bool mapped;		/* h is mapped at va */
	uint32_t ndev;
	size_t f0, t;		/* device 0's free and total memory before the allocation */
};

FIXTURE_SETUP(vmm)
{
	self->prop = acl_dev_prop(0, ACL_HBM_MEM_HUGE);
	ASSERT_ACL_OK(aclInit(NULL));
	ASSERT_ACL_OK(aclrtGetDeviceCount(&self->ndev));
	ASSERT_ACL_OK(aclrtSetDevice(0));
	ASSERT_ACL_OK(aclrtGetMemInfo(ACL_HBM_MEM, &self->f0, &self->t));
	ASSERT_ACL_OK(aclrtMallocPhysical(&self->h, G, &self->prop, 0))
		TH_LOG("MallocPhysical 2 MiB");
	ASSERT_ACL_OK(aclrtReserveMemAddress(&self->va, 2 * G, 0, NULL, 0))
		TH_LOG("ReserveMemAddress 4 MiB");
}

FIXTURE_TEARDOWN(vmm)
{
	size_t f1 = 0, t;

	if (self->mapped)
		EXPECT_ACL_OK(aclrtUnmapMem(self->va));
	if (self->h)
		EXPECT_ACL_OK(aclrtFreePhysical(self->h));
	if (self->va)
		EXPECT_ACL_OK(aclrtReleaseMemAddress(self->va));
	EXPECT_ACL_OK(aclrtGetMemInfo(ACL_HBM_MEM, &f1, &t)) TH_LOG("GetMemInfo at the end");
	EXPECT_EQ(self->f0, f1) TH_LOG("device free memory is back to its start value");
	EXPECT_ACL_OK(aclFinalize());
}

/* Map the fixture's handle at the start of its reservation. */
static void map(struct __test_metadata *_metadata, FIXTURE_DATA(vmm) *self)
{
	ASSERT_ACL_OK(aclrtMapMem(self->va, G, 0, self->h, 0)) TH_LOG("MapMem");
	self->mapped = true;
}

TEST_F(vmm, allocate_reserve_and_map)
{
	aclrtPhysicalMemProp prop = self->prop, got;
	aclrtDrvMemHandle h = NULL, hbig = NULL;
	aclrtMemLocation loc = { .id = 0, .type = ACL_MEM_LOCATION_TYPE_DEVICE };
	uint64_t flag = 99;
	size_t f1, t;
	char *va = self->va;

	prop.location.id = self->ndev;
	EXPECT_ACL(ACL_ERROR_RT_INVALID_DEVICEID, aclrtMallocPhysical(&h, G, &prop, 0))
		TH_LOG("MallocPhysical on device ndev is INVALID_DEVICEID");
	prop.location.id = 0;
	EXPECT_ACL_MSG(ACL_ERROR_RT_MEMORY_ALLOCATION, "out of memory on device 0",
		       aclrtMallocPhysical(&hbig, (self->t / G + 1) * G, &prop, 0))
		TH_LOG("MallocPhysical larger than the device is MEMORY_ALLOCATION");
	EXPECT_ACL_OK(aclrtGetMemInfo(ACL_HBM_MEM, &f1, &t)) TH_LOG("GetMemInfo after alloc");
	EXPECT_EQ(self->f0 - G, f1) TH_LOG("free dropped by 2 MiB");
	EXPECT_ACL_OK(aclrtMemGetAllocationPropertiesFromHandle(self->h, &got));
	EXPECT_EQ(0, memcmp(&got, &prop, sizeof(got)))
		TH_LOG("properties are the creation properties");
	EXPECT_TRUE(va && ((uintptr_t)va % G) == 0) TH_LOG("reservation is 2 MiB aligned");
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "not aligned",
		       aclrtMapMem(va + 4096, G, 0, self->h, 0))
			TH_LOG("MapMem unaligned VA is DRV_INTERNAL_ERROR");
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "not inside one range",
		       aclrtMapMem(va + 2 * G, G, 0, self->h, 0))
		TH_LOG("MapMem outside a reservation is DRV_INTERNAL_ERROR");
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "not the handle's size",
		       aclrtMapMem(va, 2 * G, 0, self->h, 0))
		TH_LOG("MapMem with a wrong size is DRV_INTERNAL_ERROR");
	map(_metadata, self);
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "overlaps",
		       aclrtMapMem(va, G, 0, self->h, 0))
		TH_LOG("MapMem over a mapping is DRV_INTERNAL_ERROR");
	EXPECT_ACL_OK(aclrtMemGetAccess(va, &loc, &flag)) TH_LOG("GetAccess(device 0)");
	EXPECT_EQ(ACL_RT_MEM_ACCESS_FLAGS_READWRITE, flag)
		TH_LOG("owner device has READWRITE after MapMem");
}

TEST_F(vmm, copies_and_address_ranges)
{
	char buf[64], rd[64], *va = self->va;
	void *base = NULL;
	size_t size = 0;

	map(_metadata, self);
	memset(buf, 0x5a, sizeof(buf));
	EXPECT_ACL_OK(aclrtMemcpy(va + 100, sizeof(buf), buf, sizeof(buf), ACL_MEMCPY_HOST_TO_DEVICE))
		TH_LOG("Memcpy H2D");
	EXPECT_ACL_OK(aclrtMemset(va + G - 64, 64, 0x11, 64)) TH_LOG("Memset device");
	EXPECT_ACL_OK(aclrtMemcpy(rd, sizeof(rd), va + 100, sizeof(rd), ACL_MEMCPY_DEVICE_TO_HOST))
		TH_LOG("Memcpy D2H");
	EXPECT_EQ(0, memcmp(rd, buf, sizeof(rd))) TH_LOG("D2H reads what H2D wrote");
	EXPECT_ACL_OK(aclrtMemcpy(rd, sizeof(rd), va + G - 64, 64, ACL_MEMCPY_DEVICE_TO_HOST))
		TH_LOG("Memcpy D2H of memset bytes");
	EXPECT_TRUE(rd[0] == 0x11 && rd[63] == 0x11) TH_LOG("memset wrote 0x11");
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "not inside one mapped device range",
		       aclrtMemcpy(rd, sizeof(rd), va + G, 8, ACL_MEMCPY_DEVICE_TO_HOST))
		TH_LOG("Memcpy D2H from the unmapped half is PARAM_INVALID");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID,
		   aclrtMemcpy(rd, sizeof(rd), va + G - 8, 16, ACL_MEMCPY_DEVICE_TO_HOST))
		TH_LOG("Memcpy D2H across the mapping end is PARAM_INVALID");
	EXPECT_ACL_OK(aclrtMemGetAddressRange(va + 4096, &base, &size));
	EXPECT_TRUE(base == va && size == G) TH_LOG("address range is the mapping");
}

TEST_F(vmm, access_control)
{
	aclrtMemAccessDesc desc;
	char buf[8] = "abcdefg", rd[8], *va = self->va;

	map(_metadata, self);
	memset(&desc, 0, sizeof(desc));
	desc.flags = ACL_RT_MEM_ACCESS_FLAGS_READ;
	desc.location.type = ACL_MEM_LOCATION_TYPE_DEVICE;
	EXPECT_ACL_OK(aclrtMemSetAccess(va, G, &desc, 1)) TH_LOG("SetAccess(READ) for device 0");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID,
		   aclrtMemcpy(va, 8, buf, 8, ACL_MEMCPY_HOST_TO_DEVICE))
		TH_LOG("Memcpy H2D into a read-only mapping is PARAM_INVALID");
	EXPECT_ACL_OK(aclrtMemcpy(rd, 8, va, 8, ACL_MEMCPY_DEVICE_TO_HOST))
		TH_LOG("Memcpy D2H from a read-only mapping");
	desc.flags = ACL_RT_MEM_ACCESS_FLAGS_READWRITE;
	EXPECT_ACL_OK(aclrtMemSetAccess(va, G, &desc, 1)) TH_LOG("SetAccess(READWRITE) again");
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtMemSetAccess(va, 2 * G, &desc, 1))
		TH_LOG("SetAccess on a size that is not the mapping's is DRV_INTERNAL_ERROR");
	desc.location.id = self->ndev;
	EXPECT_ACL(ACL_ERROR_RT_INVALID_DEVICEID, aclrtMemSetAccess(va, G, &desc, 1))
		TH_LOG("SetAccess for device ndev is INVALID_DEVICEID");
}

/* acl-api.md 5.2 */
TEST_F(vmm, reference_counting)
{
	aclrtDrvMemHandle h = self->h, hr = NULL;
	char buf[64], rd[64], *va = self->va;
	size_t f1, t;

	map(_metadata, self);
	memset(buf, 0x5a, sizeof(buf));
	EXPECT_ACL_OK(aclrtMemcpy(va + 100, sizeof(buf), buf, sizeof(buf), ACL_MEMCPY_HOST_TO_DEVICE))
		TH_LOG("Memcpy H2D");
	EXPECT_ACL_OK(aclrtMemRetainAllocationHandle(va + 8, &hr)) TH_LOG("RetainAllocationHandle");
	EXPECT_EQ(h, hr) TH_LOG("retain returns the mapped handle");
	EXPECT_ACL_OK(aclrtFreePhysical(hr)) TH_LOG("FreePhysical drops the retain reference");
	EXPECT_ACL_OK(aclrtFreePhysical(h)) TH_LOG("FreePhysical while mapped is legal");
	self->h = NULL;
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "live mappings", aclrtFreePhysical(h))
		TH_LOG("FreePhysical once more is PARAM_INVALID");
	EXPECT_ACL_OK(aclrtMemcpy(rd, sizeof(rd), va + 100, sizeof(rd), ACL_MEMCPY_DEVICE_TO_HOST))
		TH_LOG("memory is still readable after FreePhysical");
	EXPECT_EQ(0, memcmp(rd, buf, sizeof(rd))) TH_LOG("... and still holds the data");
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "still has 1 mapping",
		       aclrtReleaseMemAddress(va))
		TH_LOG("ReleaseMemAddress while mapped is DRV_INTERNAL_ERROR");
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "not its start", aclrtUnmapMem(va + 4096))
		TH_LOG("UnmapMem not at the mapping start is DRV_INTERNAL_ERROR");
	EXPECT_ACL_OK(aclrtUnmapMem(va)) TH_LOG("UnmapMem (last reference: frees)");
	self->mapped = false;
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtFreePhysical(h))
		TH_LOG("the handle is gone after the last unmap");
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtUnmapMem(va))
		TH_LOG("UnmapMem again is DRV_INTERNAL_ERROR");
	EXPECT_ACL_OK(aclrtGetMemInfo(ACL_HBM_MEM, &f1, &t))
		TH_LOG("GetMemInfo after the last unmap");
	EXPECT_EQ(self->f0, f1) TH_LOG("free memory is back");
}

/* The reservation survives an unmap: map a new allocation at the same VA, without access. */
TEST_F(vmm, map_no_access_then_grant_access)
{
	aclrtMemLocation loc = { .id = 0, .type = ACL_MEM_LOCATION_TYPE_DEVICE };
	aclrtDrvMemHandle h2 = NULL;
	aclrtMemAccessDesc desc;
	char buf[8] = "abcdefg", *va = self->va;
	uint64_t flag = 99;

	map(_metadata, self);
	EXPECT_ACL_OK(aclrtUnmapMem(va)) TH_LOG("UnmapMem");
	self->mapped = false;
	EXPECT_ACL_OK(aclrtMallocPhysical(&h2, G, &self->prop, 0)) TH_LOG("MallocPhysical again");
	EXPECT_ACL_OK(aclrtMemMapNoAccess(va + G, G, 0, h2, 0))
		TH_LOG("MemMapNoAccess at the same VA");
	EXPECT_ACL_OK(aclrtMemGetAccess(va + G, &loc, &flag)) TH_LOG("GetAccess after MapNoAccess");
	EXPECT_EQ(ACL_RT_MEM_ACCESS_FLAGS_NONE, flag) TH_LOG("no access after MemMapNoAccess");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID,
		   aclrtMemcpy(va + G, 8, buf, 8, ACL_MEMCPY_HOST_TO_DEVICE))
		TH_LOG("Memcpy into a no-access mapping is PARAM_INVALID");
	memset(&desc, 0, sizeof(desc));
	desc.flags = ACL_RT_MEM_ACCESS_FLAGS_READWRITE;
	desc.location.type = ACL_MEM_LOCATION_TYPE_DEVICE;
	EXPECT_ACL_OK(aclrtMemSetAccess(va + G, G, &desc, 1))
		TH_LOG("SetAccess(READWRITE) after MapNoAccess");
	EXPECT_ACL_OK(aclrtMemcpy(va + G, 8, buf, 8, ACL_MEMCPY_HOST_TO_DEVICE))
		TH_LOG("Memcpy works after SetAccess");
	EXPECT_EQ(0, va[G + 8]) TH_LOG("a new allocation reads as zero past the copy");
	EXPECT_ACL_OK(aclrtUnmapMem(va + G)) TH_LOG("UnmapMem");
	EXPECT_ACL_OK(aclrtFreePhysical(h2)) TH_LOG("FreePhysical");
}

TEST_F(vmm, streams_and_host_memory)
{
	char buf[8] = "abcdefg", *va = self->va;
	aclrtStream s = NULL;
	void *host = NULL;

	map(_metadata, self);
	EXPECT_ACL_OK(aclrtMemcpy(va, 8, buf, 8, ACL_MEMCPY_HOST_TO_DEVICE)) TH_LOG("Memcpy H2D");
	EXPECT_ACL_OK(aclrtCreateStream(&s));
	ASSERT_ACL_OK(aclrtMallocHost(&host, 4096));
	EXPECT_ACL_OK(aclrtMemcpyAsync(host, 4096, va, 8, ACL_MEMCPY_DEVICE_TO_HOST, s))
		TH_LOG("MemcpyAsync D2H");
	EXPECT_ACL_OK(aclrtSynchronizeStream(s));
	EXPECT_EQ(0, memcmp(host, buf, 8)) TH_LOG("async copy is complete after synchronize");
	EXPECT_ACL_OK(aclrtDestroyStream(s));
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtDestroyStream(s))
		TH_LOG("DestroyStream twice is PARAM_INVALID");
	EXPECT_ACL_OK(aclrtFreeHost(host));
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtFreeHost(host))
		TH_LOG("FreeHost twice is PARAM_INVALID");
}

TEST_F(vmm, reservations)
{
	void *va2 = NULL;

	EXPECT_ACL_OK(aclrtReserveMemAddress(&va2, 1, 0, NULL, 1))
		TH_LOG("ReserveMemAddress 1 byte (rounded up)");
	EXPECT_ACL_OK(aclrtReleaseMemAddress(va2)) TH_LOG("ReleaseMemAddress of an empty range");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtReleaseMemAddress(va2))
		TH_LOG("ReleaseMemAddress twice is PARAM_INVALID");
}

TEST(finalize_releases_what_the_program_forgot)
{
	aclrtPhysicalMemProp prop = acl_dev_prop(0, ACL_HBM_MEM_HUGE);
	aclrtDrvMemHandle h = NULL;
	int32_t dev = -1;
	size_t f0, t;

	ASSERT_ACL_OK(aclInit(NULL));
	ASSERT_ACL_OK(aclrtSetDevice(0));
	ASSERT_ACL_OK(aclrtGetMemInfo(ACL_HBM_MEM, &f0, &t));
	EXPECT_ACL_OK(aclrtMallocPhysical(&h, G, &prop, 0))
		TH_LOG("MallocPhysical, then forget it");
	EXPECT_ACL_OK(aclrtResetDevice(0));
	EXPECT_ACL(ACL_ERROR_RT_CONTEXT_NULL, aclrtGetDevice(&dev))
		TH_LOG("GetDevice after the last ResetDevice is CONTEXT_NULL");
	EXPECT_ACL_OK(aclFinalize());
	EXPECT_ACL(ACL_ERROR_REPEAT_FINALIZE, aclFinalize())
		TH_LOG("aclFinalize twice is REPEAT_FINALIZE");
	EXPECT_ACL_OK(aclInit(NULL)) TH_LOG("aclInit after aclFinalize");
	EXPECT_EQ(f0, acl_free_bytes(0)) TH_LOG("aclFinalize freed the forgotten allocation");
	EXPECT_ACL_OK(aclFinalize());
}

TEST_HARNESS_MAIN
