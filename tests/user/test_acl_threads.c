// SPDX-License-Identifier: GPL-2.0
/*
 * 8 threads allocate, map, copy, unmap and free at once, each on its own
 * device binding; one more thread keeps querying.  Every call must succeed,
 * every thread must read back its own data, and device free memory must be
 * back to its start value.
 */
#include <stdatomic.h>

#include "harness.h"
#include "acl_util.h"

#define THREADS 8
#define ROUNDS 40

static const size_t G = 2 * MIB;
static uint32_t ndev;
static atomic_int failures, stop;

struct worker {
	int id;
	char why[200];
};

#define STEP_OK(call) do {								\
	aclError r_ = (call);							\
	if (r_ != ACL_SUCCESS) {						\
		const char *m_ = aclGetRecentErrMsg();				\
		snprintf(w->why, sizeof(w->why), "round %d: %s = %d (%s)", i, #call, r_, \
			 m_ ? m_ : "");						\
		atomic_fetch_add(&failures, 1);					\
		return NULL;							\
	}									\
} while (0)

static void *worker(void *arg)
{
	struct worker *w = arg;
	int32_t dev = (int32_t)(w->id % ndev);
	aclrtPhysicalMemProp prop = acl_dev_prop((uint32_t)dev, ACL_HBM_MEM_HUGE);
	aclrtDrvMemHandle h, h2;
	char wr[512], rd[512];
	void *va;
	int i = 0;

	STEP_OK(aclrtSetDevice(dev));
	for (i = 0; i < ROUNDS; i++) {
		memset(wr, 'a' + (w->id + i) % 26, sizeof(wr));
		STEP_OK(aclrtMallocPhysical(&h, G, &prop, 0));
		STEP_OK(aclrtReserveMemAddress(&va, 2 * G, 0, NULL, 0));
		STEP_OK(aclrtMapMem((char *)va + G, G, 0, h, 0));
		STEP_OK(aclrtMemcpy((char *)va + G + 4096, sizeof(wr), wr, sizeof(wr), ACL_MEMCPY_HOST_TO_DEVICE));
		STEP_OK(aclrtMemRetainAllocationHandle((char *)va + G, &h2));
		STEP_OK(aclrtMemcpy(rd, sizeof(rd), (char *)va + G + 4096, sizeof(rd), ACL_MEMCPY_DEVICE_TO_HOST));
		if (memcmp(rd, wr, sizeof(rd)) || h2 != h) {
			snprintf(w->why, sizeof(w->why), "round %d: read back other data or handle", i);
			atomic_fetch_add(&failures, 1);
			return NULL;
		}
		STEP_OK(aclrtFreePhysical(h2));
		STEP_OK(aclrtFreePhysical(h));
		STEP_OK(aclrtUnmapMem((char *)va + G));
		STEP_OK(aclrtReleaseMemAddress(va));
	}
	STEP_OK(aclrtResetDevice(dev));
	return NULL;
}

static void *querier(void *arg)
{
	size_t f, t;
	int32_t d;

	(void)arg;
	aclrtSetDevice(0);
	while (!atomic_load(&stop)) {
		if (aclrtGetMemInfo(ACL_HBM_MEM, &f, &t) != ACL_SUCCESS || f > t ||
		    aclrtGetDevice(&d) != ACL_SUCCESS || d != 0)
			atomic_fetch_add(&failures, 1);
	}
	aclrtResetDevice(0);
	return NULL;
}

TEST(threads_allocate_map_and_copy_at_once)
{
	struct worker w[THREADS];
	pthread_t th[THREADS], q;
	size_t f0[2] = { 0, 0 }, f1;
	uint32_t d;
	int i;

	ASSERT_ACL_OK(aclInit(NULL));
	ASSERT_ACL_OK(aclrtGetDeviceCount(&ndev));
	ASSERT_LT(0, ndev);
	for (d = 0; d < 2 && d < ndev; d++)
		f0[d] = acl_free_bytes((int32_t)d);
	pthread_create(&q, NULL, querier, NULL);
	for (i = 0; i < THREADS; i++) {
		w[i].id = i;
		w[i].why[0] = '\0';
		pthread_create(&th[i], NULL, worker, &w[i]);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		EXPECT_EQ('\0', w[i].why[0])
			TH_LOG("thread %d: %d rounds of malloc/map/copy/free: %s", i, ROUNDS, w[i].why);
	}
	atomic_store(&stop, 1);
	pthread_join(q, NULL);
	EXPECT_EQ(0, atomic_load(&failures))
		TH_LOG("no failure anywhere, including the querying thread");
	for (d = 0; d < 2 && d < ndev; d++) {
		f1 = acl_free_bytes((int32_t)d);
		EXPECT_EQ(f0[d], f1) TH_LOG("device %u free memory is back to its start value", d);
	}
	EXPECT_ACL_OK(aclFinalize()) TH_LOG("aclFinalize");
}

TEST_HARNESS_MAIN
