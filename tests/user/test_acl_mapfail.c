// SPDX-License-Identifier: GPL-2.0
/*
 * A failed aclrtMapMem leaves no hole in its reservation.  The kernel's
 * allocations while mapping are failed one at a time (fail-nth: the Nth
 * should_fail() of this thread fails; failslab and fail_page_alloc count
 * every slab and page allocation), so somewhere in the sweep mmap() fails
 * with ENOMEM after MAP_FIXED removed the placeholder, as under memcg
 * pressure: the VMA, the maple tree's nodes (the driver itself maps lazily
 * and allocates nothing there).  After each failure /proc/self/maps must show
 * the placeholder over the range; then an unrelated mmap cannot land in the
 * reservation, and releasing it unmaps only the library's own ranges.
 * Needs root, CONFIG_FAULT_INJECTION_DEBUG_FS, CONFIG_FAILSLAB and
 * CONFIG_FAIL_PAGE_ALLOC.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>

#include "harness.h"
#include "acl_util.h"

#define G (2 * MIB)
#define SZ (2 * G)	/* the handle and each reservation */
#define FPA "/sys/kernel/debug/fail_page_alloc/"
#define FSL "/sys/kernel/debug/failslab/"

static int put(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f)
		return -1;
	ret = fputs(val, f) < 0 ? -1 : 0;
	if (fclose(f))
		ret = -1;
	if (ret)
		printf("# cannot write \"%s\" to %s: %s\n", val, path, strerror(errno));
	return ret;
}

/* failslab and fail_page_alloc settings: what the sweep needs, and the boot defaults. */
static int fault_attrs(bool on)
{
	return put(FPA "min-order", on ? "0" : "1") || put(FPA "ignore-gfp-wait", on ? "N" : "Y") ||
	       put(FPA "ignore-gfp-highmem", on ? "N" : "Y") || put(FPA "verbose", on ? "0" : "2") ||
	       put(FSL "ignore-gfp-wait", on ? "N" : "Y") || put(FSL "verbose", on ? "0" : "2");
}

/* This thread's fail-nth (kept open: opening it later would allocate). */
static int nth_fd = -1;

static void nth_set(unsigned int n)
{
	char b[16];
	int len = snprintf(b, sizeof(b), "%u", n);

	if (pwrite(nth_fd, b, (size_t)len, 0) != len)
		printf("# cannot set fail-nth to %u: %s\n", n, strerror(errno));
}

static unsigned int nth_get(void)
{
	char b[16] = "";

	return pread(nth_fd, b, sizeof(b) - 1, 0) > 0 ? (unsigned int)strtoul(b, NULL, 10) : 0;
}

/* aclrtMapMem with the @n-th allocation failing; *left: fail-nth not consumed. */
static aclError map_failing(unsigned int n, void *va, aclrtDrvMemHandle h, unsigned int *left)
{
	aclError r;

	nth_set(n);
	r = aclrtMapMem(va, SZ, 0, h, 0);
	*left = nth_get();
	nth_set(0);
	return r;
}

/* The /proc/self/maps line of the mapping that contains @va, in @line. */
static bool maps_line(const void *va, char *line, size_t len)
{
	unsigned long lo, hi;
	FILE *f = fopen("/proc/self/maps", "r");
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, (int)len, f))
		found = sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo <= (uintptr_t)va && (uintptr_t)va < hi;
	fclose(f);
	if (found)
		line[strcspn(line, "\n")] = '\0';
	return found;
}

/* Is [va, va + size) covered by one anonymous PROT_NONE mapping (a placeholder)? */
static bool placeholder(const void *va, size_t size)
{
	unsigned long lo, hi, off, inode;
	char line[512], perms[8], dev[16];
	int path = 0;

	if (!maps_line(va, line, sizeof(line))) {
		printf("# nothing is mapped at %p\n", va);
		return false;
	}
	printf("# %s\n", line);
	if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %n", &lo, &hi, perms, &off, dev, &inode, &path) < 6)
		return false;
	return !strcmp(perms, "---p") && inode == 0 && !line[path] && (uintptr_t)va + size <= hi;
}

/*
 * After a failed map over [va, va + SZ): an unrelated mmap(NULL, SZ) must not
 * land in the reservation, and releasing it must leave that mapping alone (the
 * review saw both).  Returns 0, or 1 if the mapping landed, 2 if it was unmapped.
 */
static int unrelated_mmap(void *va)
{
	unsigned char *other = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char line[512];
	int ret = 0;

	if (other == MAP_FAILED)
		return 0;
	if ((uintptr_t)other < (uintptr_t)va + SZ && (uintptr_t)va < (uintptr_t)other + SZ)
		ret = 1;
	memset(other, 0x5a, SZ);
	aclrtReleaseMemAddress(va);
	if (!maps_line(other, line, sizeof(line)) || other[0] != 0x5a || other[SZ - 1] != 0x5a)
		return 2;
	munmap(other, SZ);
	return ret;
}

TEST(a_failed_map_leaves_no_hole)
{
	aclrtPhysicalMemProp prop = acl_dev_prop(0, ACL_HBM_MEM_HUGE);
	unsigned int n, left, fails = 0, late = 0, holes = 0, taken = 0, clobbered = 0;
	aclrtDrvMemHandle h = NULL;
	size_t f0 = 0, f1 = 0, t;
	const char *msg;
	char buf[16] = "after failures", rd[16] = "";
	void *va = NULL;
	aclError r;

	ASSERT_ACL_OK(aclInit(NULL)) TH_LOG("aclInit");
	ASSERT_ACL_OK(aclrtSetDevice(0)) TH_LOG("SetDevice(0)");
	EXPECT_ACL_OK(aclrtGetMemInfo(ACL_HBM_MEM, &f0, &t)) TH_LOG("GetMemInfo");
	ASSERT_ACL_OK(aclrtMallocPhysical(&h, SZ, &prop, 0)) TH_LOG("MallocPhysical 4 MiB");
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	EXPECT_TRUE(nth_fd >= 0 && !fault_attrs(true))
		TH_LOG("fail-nth, failslab and fail_page_alloc are there");

	for (n = 1; n <= 64 && nth_fd >= 0; n++) {
		if (aclrtReserveMemAddress(&va, SZ, 0, NULL, 0))
			break;
		r = map_failing(n, va, h, &left);
		msg = aclGetRecentErrMsg();
		if (r == ACL_SUCCESS) {
			aclrtUnmapMem(va);
			aclrtReleaseMemAddress(va);
			if (left)	/* the whole map made fewer than n allocations */
				break;
			continue;
		}
		fails++;
		printf("# allocation %u failed the map: %d %s\n", n, r, msg ? msg : "(no message)");
		/* A failure before MAP_FIXED removed anything also breaks the reservation. */
		if (msg && strstr(msg, "broken")) {
			aclrtReleaseMemAddress(va);
			continue;
		}
		late++;
		holes += !placeholder(va, SZ);
		switch (unrelated_mmap(va)) {
		case 1:
			taken++;
			break;
		case 2:
			taken++;
			clobbered++;
			break;
		}
	}
	printf("# %u of %u allocations failed the map, %u after the placeholder was gone\n", fails, n - 1, late);
	fault_attrs(false);
	/*
	 * Sometimes no allocation that fail-nth reaches fails the map, and the
	 * sweep ends with MapMem succeeding every time (seen on 6.1, where the
	 * page tables the range needs may already exist): nothing to check then.
	 * Whenever some do, one of them must come after MAP_FIXED removed the
	 * placeholder.
	 */
	if (!fails && nth_fd >= 0 && _metadata->exit_code == KSFT_PASS)	/* SKIP hides a FAIL */
		SKIP(return, "no injected allocation failure reaches aclrtMapMem on this kernel");
	EXPECT_LT(0, late)
		TH_LOG("some injected failure failed MapMem after MAP_FIXED removed the placeholder");
	EXPECT_EQ(0, holes)
		TH_LOG("/proc/self/maps shows the placeholder again after each failed MapMem");
	EXPECT_EQ(0, taken)
		TH_LOG("no unrelated mmap(NULL, 4 MiB) lands in a reservation after a failed MapMem");
	EXPECT_EQ(0, clobbered) TH_LOG("ReleaseMemAddress never unmaps the unrelated mapping");

	ASSERT_ACL_OK(aclrtReserveMemAddress(&va, SZ, 0, NULL, 0))
		TH_LOG("ReserveMemAddress after the sweep");
	ASSERT_ACL_OK(aclrtMapMem(va, SZ, 0, h, 0)) TH_LOG("MapMem after the sweep");
	EXPECT_ACL_OK(aclrtMemcpy(va, sizeof(buf), buf, sizeof(buf), ACL_MEMCPY_HOST_TO_DEVICE))
		TH_LOG("Memcpy H2D");
	EXPECT_ACL_OK(aclrtMemcpy(rd, sizeof(rd), va, sizeof(rd), ACL_MEMCPY_DEVICE_TO_HOST))
		TH_LOG("Memcpy D2H");
	EXPECT_EQ(0, memcmp(buf, rd, sizeof(rd))) TH_LOG("the mapping holds the data");
	EXPECT_ACL_OK(aclrtUnmapMem(va)) TH_LOG("UnmapMem");
	EXPECT_ACL_OK(aclrtReleaseMemAddress(va)) TH_LOG("ReleaseMemAddress");
	EXPECT_ACL_OK(aclrtFreePhysical(h)) TH_LOG("FreePhysical");
	EXPECT_ACL_OK(aclrtGetMemInfo(ACL_HBM_MEM, &f1, &t)) TH_LOG("GetMemInfo at the end");
	EXPECT_EQ(f0, f1) TH_LOG("device free memory is back");
	EXPECT_ACL_OK(aclrtResetDeviceForce(0)) TH_LOG("ResetDeviceForce");
	EXPECT_ACL_OK(aclFinalize()) TH_LOG("aclFinalize");
}

TEST_HARNESS_MAIN
