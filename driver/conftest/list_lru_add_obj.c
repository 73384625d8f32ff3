// SPDX-License-Identifier: GPL-2.0
/* Probe: list_lru_add_obj() exists (Linux v6.8; list_lru_add() before). */
#include <linux/list_lru.h>

bool npu_mem_conftest_list_lru_add_obj(struct list_lru *lru, struct list_head *item);
bool npu_mem_conftest_list_lru_add_obj(struct list_lru *lru, struct list_head *item)
{
	return list_lru_add_obj(lru, item);
}
