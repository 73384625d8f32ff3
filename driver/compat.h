/* SPDX-License-Identifier: GPL-2.0 */
/*
 * npu_mem: the one place where kernel API differences between the supported
 * kernels (Debian 6.1 and 6.12) are absorbed.
 *
 * The code is written against the newest API; each shim below is keyed on a
 * NPU_MEM_HAVE_* macro from conftest.h, which scripts/conftest.sh generates by
 * compiling the probes in driver/conftest/ against the target kernel.  Version
 * numbers are never tested: distro kernels carry backports.
 */
#ifndef _NPU_MEM_COMPAT_H
#define _NPU_MEM_COMPAT_H

#include <linux/mm.h>

#include "conftest.h"

/* vm_flags_set() and a const vm_flags: Linux v6.3. */
#ifndef NPU_MEM_HAVE_VM_FLAGS_SET
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}

static inline void vm_flags_clear(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags &= ~flags;
}
#endif

#endif /* _NPU_MEM_COMPAT_H */
