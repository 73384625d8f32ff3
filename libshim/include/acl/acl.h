/* SPDX-License-Identifier: MIT */
/*
 * npu_mem libshim: the umbrella ACL header (acl/acl.h).  Only the runtime part
 * is implemented; CANN's acl_op.h / acl_mdl.h have no counterpart here.
 */
#ifndef NPU_MEM_ACL_H
#define NPU_MEM_ACL_H

#include "acl_rt.h"

#ifdef __cplusplus
extern "C" {
#endif

ACL_FUNC_VISIBILITY aclError aclInit(const char *configPath);
ACL_FUNC_VISIBILITY aclError aclFinalize(void);
ACL_FUNC_VISIBILITY const char *aclGetRecentErrMsg(void);

#ifdef __cplusplus
}
#endif

#endif /* NPU_MEM_ACL_H */
