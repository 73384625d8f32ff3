// SPDX-License-Identifier: GPL-2.0
/* Probe: shrinker_alloc() exists (Linux v6.7). */
#include <linux/shrinker.h>

struct shrinker *npu_mem_conftest_shrinker_alloc(void);
struct shrinker *npu_mem_conftest_shrinker_alloc(void)
{
	return shrinker_alloc(0, "npu_mem_conftest");
}
