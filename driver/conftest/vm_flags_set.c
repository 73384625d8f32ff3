// SPDX-License-Identifier: GPL-2.0
/* Probe: vm_flags_set() exists (Linux v6.3). */
#include <linux/mm.h>

void npu_mem_conftest_vm_flags_set(struct vm_area_struct *vma);
void npu_mem_conftest_vm_flags_set(struct vm_area_struct *vma)
{
	vm_flags_set(vma, VM_IO);
}
