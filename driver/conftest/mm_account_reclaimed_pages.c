// SPDX-License-Identifier: GPL-2.0
/* Probe: mm_account_reclaimed_pages() exists (Linux v6.4). */
#include <linux/swap.h>

void npu_mem_conftest_mm_account_reclaimed_pages(void);
void npu_mem_conftest_mm_account_reclaimed_pages(void)
{
	mm_account_reclaimed_pages(1);
}
