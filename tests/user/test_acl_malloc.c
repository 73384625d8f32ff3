// SPDX-License-Identifier: GPL-2.0
/*
 * aclrtMalloc / aclrtMallocAlign32 / aclrtMallocCached / aclrtFree: what each
 * size and policy costs on the device (aclrtGetMemInfo), the page kind npu-mem
 * lists for it, data through aclrtMemcpy and aclrtMemset, the memory coming
 * back at aclrtFree, aclFinalize and process death, and every refusal with
 * its exact aclError.
 */
#include <signal.h>
#include <stdio.h>

#include "harness.h"
#include "acl_util.h"

static const size_t HUGE1G = 1024 * MIB;

FIXTURE(acl_malloc) {
	size_t f0;		/* device 0's free bytes at the start */
	size_t total;
	size_t gran;		/* NORMAL and HUGE granularity of device 0 */
	int32_t tgid;
};

FIXTURE_SETUP(acl_malloc)
{
	aclrtPhysicalMemProp p = acl_dev_prop(0, ACL_HBM_MEM_HUGE);

	setvbuf(stdout, NULL, _IOLBF, 0);
	ASSERT_ACL_OK(aclInit(NULL));
	ASSERT_ACL_OK(aclrtSetDevice(0));
	ASSERT_ACL_OK(aclrtGetMemInfo(ACL_HBM_MEM, &self->f0, &self->total));
	ASSERT_ACL_OK(aclrtMemGetAllocationGranularity(&p, ACL_RT_MEM_ALLOC_GRANULARITY_MINIMUM, &self->gran));
	ASSERT_ACL_OK(aclrtDeviceGetBareTgid(&self->tgid));
}

FIXTURE_TEARDOWN(acl_malloc)
{
	size_t f;

	/* aclFinalize frees whatever a failed test left: the check is that nothing else holds memory */
	aclFinalize();
	f = acl_free_bytes(0);
	EXPECT_EQ(self->f0, f) TH_LOG("device 0's free memory is back to its start value");
}

static size_t round_up(size_t v, size_t a)
{
	return (v + a - 1) / a * a;
}

/* What one aclrtMalloc of @size costs: 32-byte aligned, 32 bytes of padding, granules. */
static size_t malloc_cost(size_t size, size_t gran, bool pad)
{
	return round_up(round_up(size, 32) + (pad ? 32 : 0), gran);
}

/* Fill [p, p + n) from the host with a pattern seeded by @seed and read it back. */
static int write_read(struct __test_metadata *_metadata, void *p, size_t n, unsigned int seed)
{
	unsigned char *w = malloc(n), *r = malloc(n);
	size_t i;
	int ok = 0;

	if (!w || !r) {
		free(w);
		free(r);
		return 0;
	}
	for (i = 0; i < n; i++)
		w[i] = (unsigned char)(i * 131 + seed);
	EXPECT_ACL_OK(aclrtMemcpy(p, n, w, n, ACL_MEMCPY_HOST_TO_DEVICE));
	memset(r, 0, n);
	EXPECT_ACL_OK(aclrtMemcpy(r, n, p, n, ACL_MEMCPY_DEVICE_TO_HOST));
	ok = !memcmp(w, r, n);
	free(w);
	free(r);
	return ok;
}

/* Sizes around the 32-byte alignment, the padding and the granule: each costs what CANN's would. */
TEST_F(acl_malloc, sizes)
{
	const size_t G = self->gran;
	const size_t sizes[] = { 1, 31, 32, 33, 4096, G - 64, G - 63, G - 32, G - 31, G, G + 1, 3 * G + 5 };
	static const struct {
		const char *name;
		aclError (*fn)(void **, size_t, aclrtMemMallocPolicy);
		bool pad;
	} calls[] = {
		{ "aclrtMalloc", aclrtMalloc, true },
		{ "aclrtMallocAlign32", aclrtMallocAlign32, false },
		{ "aclrtMallocCached", aclrtMallocCached, true },
	};
	size_t i, c, f1, f2, want;
	void *p;

	for (c = 0; c < sizeof(calls) / sizeof(calls[0]); c++) {
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			p = NULL;
			want = malloc_cost(sizes[i], G, calls[c].pad);
			ASSERT_ACL_OK(calls[c].fn(&p, sizes[i], ACL_MEM_MALLOC_HUGE_FIRST))
				TH_LOG("%s(%zu)", calls[c].name, sizes[i]);
			f1 = acl_cur_free();
			EXPECT_EQ(self->f0 - want, f1)
				TH_LOG("%s(%zu) costs %zu bytes (32-aligned%s, granule %zu)", calls[c].name,
				       sizes[i], want, calls[c].pad ? ", +32 padding" : "", G);
			EXPECT_EQ(0, (uintptr_t)p % G) TH_LOG("%s(%zu): %p is granule-aligned", calls[c].name,
							     sizes[i], p);
			EXPECT_TRUE(write_read(_metadata, p, sizes[i], (unsigned int)i))
				TH_LOG("%s(%zu): all bytes written and read back", calls[c].name, sizes[i]);
			EXPECT_ACL_OK(aclrtFree(p)) TH_LOG("%s(%zu): aclrtFree", calls[c].name, sizes[i]);
			f2 = acl_cur_free();
			EXPECT_EQ(self->f0, f2) TH_LOG("%s(%zu): aclrtFree gives it all back", calls[c].name,
						       sizes[i]);
		}
	}
}

/* Is an object of @size and @kind, owned by @tgid, in npu-mem's objects? */
static int listed(int32_t tgid, size_t size, const char *kind)
{
	static char out[1 << 16];
	char needle[128];

	if (acl_objects_json(tgid, out, sizeof(out)))
		return -1;
	snprintf(needle, sizeof(needle), "\"size\":%zu,\"page_kind\":\"%s\",", size, kind);
	return count_occ(out, needle);
}

/*
 * Each policy's page kind, as CANN's runtime maps them: NORMAL_ONLY(_P2P)
 * normal pages, HUGE1G_ONLY(_P2P) 1 GiB pages, everything else (the memory
 * type bits, values it does not know) huge pages first.
 */
TEST_F(acl_malloc, policies)
{
	static const struct {
		unsigned int policy;
		const char *kind;
	} cases[] = {
		{ ACL_MEM_MALLOC_HUGE_FIRST, "huge" },
		{ ACL_MEM_MALLOC_HUGE_ONLY, "huge" },
		{ ACL_MEM_MALLOC_NORMAL_ONLY, "normal" },
		{ ACL_MEM_MALLOC_HUGE_FIRST_P2P, "huge" },
		{ ACL_MEM_MALLOC_HUGE_ONLY_P2P, "huge" },
		{ ACL_MEM_MALLOC_NORMAL_ONLY_P2P, "normal" },
		{ ACL_MEM_TYPE_LOW_BAND_WIDTH, "huge" },
		{ ACL_MEM_TYPE_HIGH_BAND_WIDTH, "huge" },
		{ ACL_MEM_ACCESS_USER_SPACE_READONLY, "huge" },
		{ 8, "huge" },
		{ 99, "huge" },
		{ 0x7fffffff, "huge" },
	};
	/* A size of its own (5 granules after padding), so that npu-mem's list names this one */
	size_t size = 5 * self->gran - 100, cost = malloc_cost(size, self->gran, true);
	size_t i, f1;
	void *p;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = NULL;
		ASSERT_ACL_OK(aclrtMalloc(&p, size, (aclrtMemMallocPolicy)cases[i].policy))
			TH_LOG("policy 0x%x", cases[i].policy);
		f1 = acl_cur_free();
		EXPECT_EQ(self->f0 - cost, f1) TH_LOG("policy 0x%x costs %zu bytes", cases[i].policy, cost);
		EXPECT_EQ(1, listed(self->tgid, cost, cases[i].kind))
			TH_LOG("policy 0x%x: npu-mem objects lists one %s object of %zu bytes", cases[i].policy,
			       cases[i].kind, cost);
		EXPECT_TRUE(write_read(_metadata, p, size, (unsigned int)i)) TH_LOG("policy 0x%x: data", cases[i].policy);
		EXPECT_ACL_OK(aclrtFree(p));
		EXPECT_EQ(0, listed(self->tgid, cost, cases[i].kind))
			TH_LOG("policy 0x%x: gone from npu-mem objects after aclrtFree", cases[i].policy);
		f1 = acl_cur_free();
		EXPECT_EQ(self->f0, f1);
	}
}

/*
 * HUGE1G_ONLY(_P2P): 1 GiB granules and no padding (1 GiB costs one
 * granule, not two).  On a device smaller than that, out of memory (207001).
 */
TEST_F(acl_malloc, huge1g)
{
	const unsigned int pol[] = { ACL_MEM_MALLOC_HUGE1G_ONLY, ACL_MEM_MALLOC_HUGE1G_ONLY_P2P };
	size_t i, f1;
	void *p;

	for (i = 0; i < 2; i++) {
		p = NULL;
		if (self->total < HUGE1G) {
			EXPECT_ACL(ACL_ERROR_RT_MEMORY_ALLOCATION, aclrtMalloc(&p, 4096, (aclrtMemMallocPolicy)pol[i]))
				TH_LOG("policy %u on a %zu-byte device: a 1 GiB granule does not fit", pol[i],
				       self->total);
			f1 = acl_cur_free();
			EXPECT_EQ(self->f0, f1);
			continue;
		}
		ASSERT_ACL_OK(aclrtMalloc(&p, HUGE1G, (aclrtMemMallocPolicy)pol[i])) TH_LOG("policy %u", pol[i]);
		f1 = acl_cur_free();
		EXPECT_EQ(self->f0 - HUGE1G, f1) TH_LOG("policy %u: 1 GiB costs one 1 GiB granule (no padding)", pol[i]);
		EXPECT_EQ(0, (uintptr_t)p % HUGE1G) TH_LOG("policy %u: %p is 1 GiB aligned", pol[i], p);
		EXPECT_EQ(1, listed(self->tgid, HUGE1G, "huge1g")) TH_LOG("policy %u: npu-mem lists it as huge1g", pol[i]);
		EXPECT_ACL_OK(aclrtMemset(p, HUGE1G, 0x3c, 4096));
		EXPECT_TRUE(write_read(_metadata, (char *)p + HUGE1G - 8192, 8192, 7)) TH_LOG("policy %u: last bytes", pol[i]);
		EXPECT_ACL_OK(aclrtFree(p));
		f1 = acl_cur_free();
		EXPECT_EQ(self->f0, f1);
	}
	if (self->total < HUGE1G)
		ksft_print_msg("device 0 has %zu bytes: the 1 GiB success path needs mem_mb >= 1024\n", self->total);
	else
		ksft_print_msg("huge1g: 1 GiB allocations on a %zu-byte device\n", self->total);
}

/* aclrtMemset and aclrtMemcpy (H2D, D2H, D2D) on aclrtMalloc memory, at its edges too. */
TEST_F(acl_malloc, copy_and_memset)
{
	const size_t n = 3 * MIB + 5;
	unsigned char *h = malloc(n), *r = malloc(n);
	void *a = NULL, *b = NULL;
	size_t i;
	int bad = 0;

	ASSERT_TRUE(h && r);
	ASSERT_ACL_OK(aclrtMalloc(&a, n, ACL_MEM_MALLOC_HUGE_FIRST));
	ASSERT_ACL_OK(aclrtMalloc(&b, n, ACL_MEM_MALLOC_NORMAL_ONLY));
	EXPECT_ACL_OK(aclrtMemset(a, n, 0xa5, n));
	EXPECT_ACL_OK(aclrtMemcpy(r, n, a, n, ACL_MEMCPY_DEVICE_TO_HOST));
	for (i = 0; i < n; i++)
		bad += r[i] != 0xa5;
	EXPECT_EQ(0, bad) TH_LOG("aclrtMemset 0xa5 reaches every byte");
	for (i = 0; i < n; i++)
		h[i] = (unsigned char)(i ^ (i >> 8));
	EXPECT_ACL_OK(aclrtMemcpy(a, n, h, n, ACL_MEMCPY_HOST_TO_DEVICE));
	EXPECT_ACL_OK(aclrtMemcpy(b, n, a, n, ACL_MEMCPY_DEVICE_TO_DEVICE));
	memset(r, 0, n);
	EXPECT_ACL_OK(aclrtMemcpy(r, n, b, n, ACL_MEMCPY_DEVICE_TO_HOST));
	EXPECT_TRUE(!memcmp(h, r, n)) TH_LOG("H2D into one allocation, D2D into another, D2H back");
	/* the last byte of the request, and a memset in the middle */
	EXPECT_ACL_OK(aclrtMemset((char *)a + n - 1, 1, 0x11, 1));
	EXPECT_ACL_OK(aclrtMemset((char *)b + 1000, n - 1000, 0, 24));
	EXPECT_ACL_OK(aclrtMemcpy(r, 1, (char *)a + n - 1, 1, ACL_MEMCPY_DEVICE_TO_HOST));
	EXPECT_EQ(0x11, r[0]);
	EXPECT_ACL_OK(aclrtMemcpy(r, 1100, b, 1100, ACL_MEMCPY_DEVICE_TO_HOST));
	EXPECT_TRUE(!memcmp(r, h, 1000) && r[1000] == 0 && r[1023] == 0 && r[1024] == h[1024])
		TH_LOG("memset of 24 bytes at offset 1000 only");
	EXPECT_ACL_OK(aclrtFree(a));
	EXPECT_ACL_OK(aclrtFree(b));
	free(h);
	free(r);
}

/* A second device: the thread's current device is where the memory goes. */
TEST_F(acl_malloc, current_device)
{
	uint32_t ndev = 0;
	size_t f1_0, f1_1, g1;
	void *p = NULL;

	ASSERT_ACL_OK(aclrtGetDeviceCount(&ndev));
	if (ndev < 2)
		SKIP(return, "one device");
	ASSERT_ACL_OK(aclrtSetDevice(1));
	g1 = acl_cur_free();
	ASSERT_ACL_OK(aclrtMalloc(&p, 4 * MIB, ACL_MEM_MALLOC_HUGE_FIRST));
	f1_1 = acl_cur_free();
	EXPECT_EQ(g1 - malloc_cost(4 * MIB, self->gran, true), f1_1) TH_LOG("device 1 pays");
	ASSERT_ACL_OK(aclrtSetDevice(0));
	f1_0 = acl_cur_free();
	EXPECT_EQ(self->f0, f1_0) TH_LOG("device 0 does not");
	EXPECT_TRUE(write_read(_metadata, p, 4 * MIB, 3));
	/* freed from a thread whose current device is another one */
	EXPECT_ACL_OK(aclrtFree(p));
	ASSERT_ACL_OK(aclrtSetDevice(1));
	f1_1 = acl_cur_free();
	EXPECT_EQ(g1, f1_1) TH_LOG("device 1's memory back");
	aclrtResetDevice(1);
	aclrtResetDevice(1);
}

/* aclFinalize frees every allocation; the pointers are dead afterwards. */
TEST_F(acl_malloc, finalize_frees)
{
	void *p[5] = { NULL };
	size_t i, f1;

	for (i = 0; i < 5; i++)
		ASSERT_ACL_OK(aclrtMalloc(&p[i], (i + 1) * MIB, i % 2 ? ACL_MEM_MALLOC_NORMAL_ONLY : ACL_MEM_MALLOC_HUGE_FIRST));
	f1 = acl_cur_free();
	EXPECT_TRUE(f1 < self->f0);
	EXPECT_ACL_OK(aclFinalize());
	f1 = acl_free_bytes(0);
	EXPECT_EQ(self->f0, f1) TH_LOG("aclFinalize gave back every allocation");
	EXPECT_EQ(0, listed(self->tgid, malloc_cost(MIB, self->gran, true), "huge"))
		TH_LOG("npu-mem lists none of them");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtFree(p[0])) TH_LOG("aclrtFree after aclFinalize");
	ASSERT_ACL_OK(aclInit(NULL));
}

/* A process killed while it holds aclrtMalloc memory (mapped, written) gives it back. */
TEST_F(acl_malloc, process_death)
{
	size_t cost = malloc_cost(16 * MIB, self->gran, true), f1;
	int ready[2];
	pid_t child;
	char c = 0;

	ASSERT_EQ(0, pipe(ready));
	child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		void *p = NULL, *q = NULL;

		close(ready[0]);
		EXPECT_ACL_OK(aclrtSetDevice(0)) TH_LOG("child: SetDevice");
		EXPECT_ACL_OK(aclrtMalloc(&p, 16 * MIB, ACL_MEM_MALLOC_HUGE_FIRST)) TH_LOG("child: Malloc");
		EXPECT_ACL_OK(aclrtMalloc(&q, 1, ACL_MEM_MALLOC_NORMAL_ONLY)) TH_LOG("child: Malloc");
		EXPECT_ACL_OK(aclrtMemset(p, 16 * MIB, 0x77, 16 * MIB)) TH_LOG("child: Memset");
		c = _metadata->exit_code ? 'F' : 'R';
		if (write_full(ready[1], &c, 1))
			_exit(2);
		for (;;)
			pause();
	}
	close(ready[1]);
	ASSERT_EQ(0, read_full(ready[0], &c, 1));
	EXPECT_EQ('R', c) TH_LOG("child allocated");
	f1 = acl_cur_free();
	EXPECT_EQ(self->f0 - cost - self->gran, f1) TH_LOG("the child's two allocations count");
	EXPECT_EQ(1, listed((int32_t)child, cost, "huge")) TH_LOG("npu-mem lists the child's allocation");
	kill(child, SIGKILL);
	EXPECT_EQ(128 + SIGKILL, wait_child(child));
	f1 = acl_wait_free(self->f0, 2000);
	EXPECT_EQ(self->f0, f1) TH_LOG("device memory back after SIGKILL");
	EXPECT_EQ(0, listed((int32_t)child, cost, "huge")) TH_LOG("npu-mem no longer lists it");
	close(ready[0]);
}

static void *malloc_no_device(void *arg)
{
	return (void *)(intptr_t)aclrtMalloc((void **)arg, MIB, ACL_MEM_MALLOC_HUGE_FIRST);
}

/* Each refusal of aclrtMalloc* with its code; none costs memory. */
TEST_F(acl_malloc, malloc_refusals)
{
	void *p = (void *)0x1, *ret;
	pthread_t th;
	size_t f1;

	EXPECT_ACL(ACL_ERROR_INVALID_PARAM, aclrtMalloc(NULL, MIB, ACL_MEM_MALLOC_HUGE_FIRST));
	EXPECT_ACL(ACL_ERROR_INVALID_PARAM, aclrtMallocAlign32(NULL, MIB, ACL_MEM_MALLOC_HUGE_FIRST));
	EXPECT_ACL(ACL_ERROR_INVALID_PARAM, aclrtMallocCached(NULL, MIB, ACL_MEM_MALLOC_HUGE_FIRST));
	EXPECT_ACL(ACL_ERROR_INVALID_PARAM, aclrtMalloc(&p, 0, ACL_MEM_MALLOC_HUGE_FIRST));
	EXPECT_ACL(ACL_ERROR_INVALID_PARAM, aclrtMallocAlign32(&p, 0, ACL_MEM_MALLOC_NORMAL_ONLY));
	EXPECT_ACL(ACL_ERROR_INVALID_PARAM, aclrtMallocCached(&p, 0, ACL_MEM_MALLOC_NORMAL_ONLY));
	EXPECT_ACL(ACL_ERROR_RT_MEMORY_ALLOCATION, aclrtMalloc(&p, SIZE_MAX, ACL_MEM_MALLOC_HUGE_FIRST))
		TH_LOG("SIZE_MAX");
	EXPECT_ACL(ACL_ERROR_RT_MEMORY_ALLOCATION, aclrtMalloc(&p, SIZE_MAX - 40, ACL_MEM_MALLOC_HUGE_FIRST))
		TH_LOG("SIZE_MAX - 40 (overflows when padded)");
	EXPECT_ACL(ACL_ERROR_RT_MEMORY_ALLOCATION, aclrtMalloc(&p, self->total + 1, ACL_MEM_MALLOC_HUGE_FIRST))
		TH_LOG("more than the device has");
	EXPECT_ACL(ACL_ERROR_RT_MEMORY_ALLOCATION, aclrtMalloc(&p, self->total, ACL_MEM_MALLOC_HUGE_FIRST))
		TH_LOG("the whole device: the padding makes it one granule too many");
	EXPECT_TRUE(p == (void *)0x1) TH_LOG("a refused call leaves *devPtr alone");
	/* a thread without aclrtSetDevice */
	p = NULL;
	pthread_create(&th, NULL, malloc_no_device, &p);
	pthread_join(th, &ret);
	EXPECT_EQ(ACL_ERROR_RT_CONTEXT_NULL, (int)(intptr_t)ret) TH_LOG("aclrtMalloc without a current device");
	EXPECT_TRUE(p == NULL);
	/* after aclrtResetDevice the thread has none either */
	EXPECT_ACL_OK(aclrtResetDevice(0));
	EXPECT_ACL(ACL_ERROR_RT_CONTEXT_NULL, aclrtMalloc(&p, MIB, ACL_MEM_MALLOC_HUGE_FIRST))
		TH_LOG("aclrtMalloc after aclrtResetDevice");
	ASSERT_ACL_OK(aclrtSetDevice(0));
	f1 = acl_cur_free();
	EXPECT_EQ(self->f0, f1) TH_LOG("no refused call cost memory");
}

/* aclrtFree takes only the start of a live aclrtMalloc allocation; the VMM calls refuse it. */
TEST_F(acl_malloc, free_refusals)
{
	aclrtPhysicalMemProp prop = acl_dev_prop(0, ACL_HBM_MEM_HUGE);
	const size_t G = self->gran;
	aclrtDrvMemHandle h = NULL, hx = NULL;
	void *p = NULL, *q = NULL, *va = NULL;
	char host[64];

	ASSERT_ACL_OK(aclrtMalloc(&p, 2 * G, ACL_MEM_MALLOC_HUGE_FIRST));
	ASSERT_ACL_OK(aclrtMalloc(&q, 100, ACL_MEM_MALLOC_NORMAL_ONLY));
	EXPECT_ACL(ACL_ERROR_INVALID_PARAM, aclrtFree(NULL));
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "not the start", aclrtFree((char *)p + 32)) TH_LOG("p + 32");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtFree((char *)p + G)) TH_LOG("p + one granule");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtFree((char *)p + 3 * G - 1)) TH_LOG("its last byte");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtFree(host)) TH_LOG("a host stack address");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtFree((void *)0x1000)) TH_LOG("an unmapped address");
	/* a VMM mapping is not aclrtFree's */
	ASSERT_ACL_OK(aclrtMallocPhysical(&h, G, &prop, 0));
	ASSERT_ACL_OK(aclrtReserveMemAddress(&va, G, 0, NULL, 0));
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtFree(va)) TH_LOG("a reservation without mapping");
	ASSERT_ACL_OK(aclrtMapMem(va, G, 0, h, 0));
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtFree(va)) TH_LOG("a VMM mapping");
	EXPECT_TRUE(write_read(_metadata, va, 4096, 1)) TH_LOG("the VMM mapping still works");
	/* the VMM calls on aclrtMalloc memory */
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "aclrtFree it", aclrtUnmapMem(p)) TH_LOG("UnmapMem");
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtUnmapMem((char *)p + G)) TH_LOG("UnmapMem inside");
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "aclrtFree it", aclrtReleaseMemAddress(p)) TH_LOG("ReleaseMemAddress");
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "aclrtFree it", aclrtMemRetainAllocationHandle(p, &hx))
		TH_LOG("RetainAllocationHandle");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtMemRetainAllocationHandle((char *)p + 100, &hx))
		TH_LOG("RetainAllocationHandle inside");
	EXPECT_TRUE(hx == NULL);
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtMapMem((char *)p + G, G, 0, h, 0))
		TH_LOG("MapMem over aclrtMalloc memory");
	/* after all that the allocations are intact */
	EXPECT_TRUE(write_read(_metadata, p, 2 * G, 2)) TH_LOG("p survives every refusal");
	EXPECT_TRUE(write_read(_metadata, q, 100, 3)) TH_LOG("q survives every refusal");
	EXPECT_ACL_OK(aclrtFree(p));
	EXPECT_ACL_MSG(ACL_ERROR_RT_PARAM_INVALID, "not the start", aclrtFree(p)) TH_LOG("twice freed");
	EXPECT_ACL_OK(aclrtFree(q));
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtFree(q)) TH_LOG("twice freed");
	EXPECT_ACL_OK(aclrtUnmapMem(va));
	EXPECT_ACL_OK(aclrtReleaseMemAddress(va));
	EXPECT_ACL_OK(aclrtFreePhysical(h));
}

/* An address of another process's allocation names nothing here. */
TEST_F(acl_malloc, foreign_pointer)
{
	int to_parent[2];
	uint64_t addr = 0;
	pid_t child;
	void *mine = NULL;

	ASSERT_EQ(0, pipe(to_parent));
	child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		void *p = NULL;

		EXPECT_ACL_OK(aclrtSetDevice(0));
		EXPECT_ACL_OK(aclrtMalloc(&p, MIB, ACL_MEM_MALLOC_HUGE_FIRST));
		addr = (uintptr_t)p;
		if (write_full(to_parent[1], &addr, sizeof(addr)))
			_exit(2);
		EXPECT_ACL_OK(aclrtFree(p));
		_exit(_metadata->exit_code);
	}
	ASSERT_EQ(0, read_full(to_parent[0], &addr, sizeof(addr)));
	EXPECT_EQ(0, wait_child(child));
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtFree((void *)(uintptr_t)addr))
		TH_LOG("the child's pointer %#llx", (unsigned long long)addr);
	/* the same address in this process, if it is an allocation here, is ours to free once */
	ASSERT_ACL_OK(aclrtMalloc(&mine, MIB, ACL_MEM_MALLOC_HUGE_FIRST));
	EXPECT_ACL_OK(aclrtFree(mine));
	close(to_parent[0]);
	close(to_parent[1]);
}

TEST_HARNESS_MAIN
