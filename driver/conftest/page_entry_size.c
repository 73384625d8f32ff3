// SPDX-License-Identifier: GPL-2.0
/*
 * Probe: .huge_fault takes an enum page_entry_size (before Linux v6.6; later
 * kernels pass the page order instead).  Probed by the enum, not by the
 * callback's type: gcc treats the enum and unsigned int as compatible.
 */
#include <linux/mm.h>

enum page_entry_size npu_mem_conftest_pe_size = PE_SIZE_PMD;
