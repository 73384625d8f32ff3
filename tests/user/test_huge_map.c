// SPDX-License-Identifier: GPL-2.0
/*
 * Mappings are lazy and use the largest page-table entry the backing allows.
 *
 * mmap() maps nothing (no page-table growth, no fault); a first touch of
 * every page then faults once per 2 MiB window.  Where the kernel gives PFN
 * maps huge faults (Linux 6.12: CONFIG_ARCH_SUPPORTS_HUGE_PFNMAP, which the
 * test kernel has) each 2 MiB chunk is one PMD, so the page tables do not
 * grow by a 4 KiB table per 2 MiB; elsewhere (6.1) the fault fills the
 * window's 4 KiB entries at once, and they do.  Every lifetime rule holds
 * with faulted entries: free while mapped, refused partial munmap, mprotect
 * and mremap, whole-VMA mprotect, nothing inherited by fork, release on
 * SIGKILL.  A mapping that is not 2 MiB aligned, and (under the 64 KiB test
 * granularity) objects of mixed chunk sizes, read the right bytes.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include "harness.h"
#include "npu.h"
#include "npu_tool.h"

#define SZ		(64 * MIB)
#define WIN		(2 * MIB)
#define PAGE		4096UL

/* Does this kernel give PFN maps huge faults?  Linux 6.12 and later (x86_64, THP). */
static int huge_pfnmap(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return 0;
	return major > 6 || (major == 6 && minor >= 12);
}

static long minflt(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) ? -1 : ru.ru_minflt;
}

/*
 * Map handle @off (@size bytes) at an address @skew bytes past a 2 MiB
 * boundary, in a reservation of its own; NULL on failure.
 */
static char *map_at_skew(int fd, uint64_t off, size_t size, size_t skew, int prot)
{
	char *r = mmap(NULL, size + 2 * WIN, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *va;

	if (r == MAP_FAILED)
		return NULL;
	va = (char *)(((uintptr_t)r + WIN - 1) & ~(uintptr_t)(WIN - 1)) + skew;
	if (mmap(va, size, prot, MAP_SHARED | MAP_FIXED, fd, off) == MAP_FAILED)
		return NULL;
	return va;
}

/* Write one word in every page; return the faults it took, or -1. */
static long touch_all(char *va, size_t size)
{
	long before = minflt();

	for (size_t i = 0; i < size; i += PAGE)
		*(volatile uint32_t *)(va + i) = (uint32_t)(i / PAGE) ^ 0x5a5a0000u;
	return minflt() - before;
}

static int untouched_check(const char *va, size_t size)
{
	for (size_t i = 0; i < size; i += PAGE)
		if (*(const volatile uint32_t *)(va + i) != ((uint32_t)(i / PAGE) ^ 0x5a5a0000u))
			return 0;
	return 1;
}

/* Does `npu-mem --json objects` list an object of @size with @pmd_bytes in 2 MiB chunks? */
static int listed_with_backing(uint64_t size, uint64_t pmd_bytes)
{
	static char out[1 << 16];
	char cmd[256], needle[128];
	size_t n;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s --json objects", npu_mem_bin());
	p = popen(cmd, "r");
	if (!p)
		return 0;
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	if (pclose(p))
		return 0;
	snprintf(needle, sizeof(needle), "\"size\":%llu,\"page_kind\":\"huge\",\"pmd_bytes\":%llu,",
		 (unsigned long long)size, (unsigned long long)pmd_bytes);
	if (!strstr(out, needle)) {
		printf("# not in npu-mem's objects: %s\n", needle);
		return 0;
	}
	return 1;
}

FIXTURE(huge) {
	int fd;
	uint32_t h;
	uint64_t off;
	uint64_t free0;
};

FIXTURE_SETUP(huge)
{
	self->fd = npu_open();
	ASSERT_LE(0, self->fd);
	self->free0 = npu_dev_free(0);
	ASSERT_EQ(0, npu_alloc(self->fd, 0, SZ, &self->h, &self->off));
}

FIXTURE_TEARDOWN(huge)
{
	close(self->fd);
	EXPECT_EQ(self->free0, npu_dev_free(0));
}

/* mmap does no page-table work; the first touch faults once per 2 MiB. */
TEST_F(huge, lazy_mapping_faults_once_per_2mib)
{
	long pte0, pte1, pte2, faults;
	char *va;

	/*
	 * (Not the faults around mmap: the program's own text may fault in
	 * then.  No fault before the touch shows in the touch's count.)
	 */
	pte0 = vm_pte_kb();
	va = map_at_skew(self->fd, self->off, SZ, 0, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, va);
	pte1 = vm_pte_kb();
	/* The reservation itself may need a table or two; not one per 2 MiB. */
	EXPECT_GE(pte0 + 8, pte1) TH_LOG("VmPTE %ld -> %ld kB at mmap", pte0, pte1);

	faults = touch_all(va, SZ);
	pte2 = vm_pte_kb();
	TH_LOG("first touch of %llu MiB: %ld faults, VmPTE +%ld kB", SZ / MIB, faults,
	       pte2 - pte1);
	EXPECT_LE(SZ / WIN, faults);
	EXPECT_GE(SZ / WIN + 2, faults) TH_LOG("more than one fault per 2 MiB");
	if (huge_pfnmap()) {
		/* PMDs: at most a PMD table or two, never a PTE table per 2 MiB. */
		EXPECT_GE(8, pte2 - pte1) TH_LOG("4 KiB entries were used");
	} else {
		EXPECT_LE((long)(SZ / WIN * 4), pte2 - pte1) TH_LOG("expected 4 KiB entries");
	}
	EXPECT_TRUE(untouched_check(va, SZ));
	/* Touched again: no fault at all. */
	EXPECT_EQ(0, touch_all(va, SZ));
	EXPECT_EQ(0, munmap(va, SZ));
}

/* npu-mem shows the backing: all of a fresh object is in 2 MiB chunks. */
TEST_F(huge, backing_is_listed)
{
	EXPECT_TRUE(listed_with_backing(SZ, SZ));
}

/* mmap(NULL) puts a mapping of 2 MiB or more at a 2 MiB boundary. */
TEST_F(huge, unplaced_mapping_is_2mib_aligned)
{
	char *va = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, self->off);

	ASSERT_NE(MAP_FAILED, va);
	/* (The driver aligns through the THP code, which the test kernels have.) */
	EXPECT_EQ(0, (uintptr_t)va % WIN) TH_LOG("mapped at %p", va);
	EXPECT_EQ(SZ / WIN, touch_all(va, SZ));
	EXPECT_EQ(0, munmap(va, SZ));
}

/*
 * Two mappings of one object, one 2 MiB aligned and one 4 KiB past a
 * boundary (no PMD fits it): both see the same bytes at the same offsets.
 */
TEST_F(huge, misaligned_mapping_reads_the_same_bytes)
{
	char *a = map_at_skew(self->fd, self->off, SZ, 0, PROT_READ | PROT_WRITE);
	char *b = map_at_skew(self->fd, self->off, SZ, PAGE, PROT_READ);
	long faults;

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	fill(a, SZ, 0x1234);
	faults = minflt();
	EXPECT_TRUE(check(b, SZ, 0x1234));
	faults = minflt() - faults;
	/* Windows are 2 MiB of address space: b spans one more than a. */
	EXPECT_GE(SZ / WIN + 1 + 2, faults);
	EXPECT_EQ(0, munmap(a, SZ));
	EXPECT_EQ(0, munmap(b, SZ));
}

/* Every rule with faulted (huge) entries in place. */
TEST_F(huge, rules_hold_with_faulted_entries)
{
	char *va = map_at_skew(self->fd, self->off, SZ, 0, PROT_READ | PROT_WRITE);
	int st;
	pid_t pid;

	ASSERT_NE(NULL, va);
	fill(va, SZ, 77);
	/* Partial munmap, partial mprotect and mremap are refused... */
	EXPECT_EQ(-EINVAL, neg_errno(munmap(va + WIN, WIN)));
	EXPECT_EQ(-EINVAL, neg_errno(mprotect(va, WIN, PROT_READ)));
	EXPECT_EQ(MAP_FAILED, mremap(va, SZ, 2 * SZ, MREMAP_MAYMOVE));
	/* ...a whole-VMA mprotect is not, and writes work again after it. */
	EXPECT_EQ(0, mprotect(va, SZ, PROT_READ));
	EXPECT_TRUE(check(va, SZ, 77));
	EXPECT_EQ(0, mprotect(va, SZ, PROT_READ | PROT_WRITE));
	fill(va, SZ, 78);
	/* A child inherits nothing, even after MADV_DOFORK. */
	madvise(va, SZ, MADV_DOFORK);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		(void)*(volatile char *)va;
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV) TH_LOG("the child could read");
	/* Free while mapped: the mapping keeps the memory and its bytes. */
	EXPECT_EQ(0, npu_free(self->fd, self->h));
	EXPECT_EQ(self->free0 - SZ, npu_dev_free(0));
	EXPECT_TRUE(check(va, SZ, 78));
	EXPECT_EQ(0, munmap(va, SZ));
	EXPECT_EQ(self->free0, npu_dev_free(0));
}

/* A process SIGKILLed with huge entries in place releases the memory. */
TEST_F(huge, sigkill_releases_faulted_mapping)
{
	int ready[2];
	pid_t pid;

	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = npu_open();
		uint32_t h;
		uint64_t off;
		char *va;

		if (fd < 0 || npu_alloc(fd, 0, SZ, &h, &off))
			_exit(2);
		va = map_at_skew(fd, off, SZ, 0, PROT_READ | PROT_WRITE);
		if (!va)
			_exit(2);
		fill(va, SZ, 9);
		put64(ready[1], 1);
		pause();
		_exit(0);
	}
	EXPECT_EQ(1, get64(ready[0]));
	EXPECT_EQ(self->free0 - 2 * SZ, npu_dev_free(0));
	kill(pid, SIGKILL);
	EXPECT_EQ(128 + SIGKILL, reap(pid));
	EXPECT_EQ(self->free0 - SZ, npu_dev_free(0));
	close(ready[0]);
	close(ready[1]);
}

/*
 * Under a granularity below 2 MiB (npu_mem.ko test_granularity_kb=64), sizes
 * mix 2 MiB and smaller chunks: every byte is where it should be, through an
 * aligned and a misaligned mapping.
 */
TEST(mixed_chunks_map_right)
{
	struct npu_mem_device_info info = { .device = 0 };
	int fd = npu_open();
	uint64_t sizes[3], off;
	uint32_t h;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, NPU_MEM_IOCTL_DEVICE_INFO, &info));
	if (info.granularity >= WIN)
		SKIP(return, "granularity %llu: no object has chunks under 2 MiB",
		     (unsigned long long)info.granularity);
	sizes[0] = info.granularity;
	sizes[1] = WIN + 3 * info.granularity;
	sizes[2] = 3 * WIN + 5 * info.granularity;
	for (int i = 0; i < 3; i++) {
		char *a, *b;

		ASSERT_EQ(0, npu_alloc(fd, 0, sizes[i], &h, &off));
		EXPECT_TRUE(listed_with_backing(sizes[i], sizes[i] / WIN * WIN));
		a = map_at_skew(fd, off, sizes[i], 0, PROT_READ | PROT_WRITE);
		b = map_at_skew(fd, off, sizes[i], info.granularity, PROT_READ);
		ASSERT_NE(NULL, a);
		ASSERT_NE(NULL, b);
		fill(a, sizes[i], i + 100);
		EXPECT_TRUE(check(b, sizes[i], i + 100)) TH_LOG("size %llu",
								(unsigned long long)sizes[i]);
		EXPECT_EQ(0, munmap(a, sizes[i]));
		EXPECT_EQ(0, munmap(b, sizes[i]));
		EXPECT_EQ(0, npu_free(fd, h));
	}
	close(fd);
}

TEST_HARNESS_MAIN
