// SPDX-License-Identifier: GPL-2.0
/*
 * Probe: MODULE_IMPORT_NS() takes a bare identifier (before Linux v6.13;
 * later kernels take a string literal, and an identifier fails to compile).
 */
#include <linux/module.h>

MODULE_IMPORT_NS(NPU_MEM_CONFTEST_NS);
