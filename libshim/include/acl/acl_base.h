/* SPDX-License-Identifier: MIT */
/*
 * npu_mem libshim: acl/acl_base.h.  As CANN's, it gathers the base runtime
 * header and the runtime error codes (CANN's model and GE parts have no
 * counterpart here).  Include paths as in CANN: the directory above acl/
 * must be on the include path.
 */
#ifndef NPU_MEM_ACL_BASE_H
#define NPU_MEM_ACL_BASE_H

#include "acl/acl_base_rt.h"
#include "error_codes/rt_error_codes.h"

#endif /* NPU_MEM_ACL_BASE_H */
