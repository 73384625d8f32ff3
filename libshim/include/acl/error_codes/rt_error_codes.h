/* SPDX-License-Identifier: MIT */
/*
 * npu_mem libshim: runtime error codes (the ACL_ERROR_RT_* values of CANN's
 * acl/error_codes/rt_error_codes.h).  Only the codes libascendcl can return,
 * plus the few that callers commonly test for, are declared.
 */
#ifndef NPU_MEM_ACL_RT_ERROR_CODES_H
#define NPU_MEM_ACL_RT_ERROR_CODES_H

#define ACL_RT_SUCCESS                        0

#define ACL_ERROR_RT_PARAM_INVALID            107000
#define ACL_ERROR_RT_INVALID_DEVICEID         107001
#define ACL_ERROR_RT_CONTEXT_NULL             107002
#define ACL_ERROR_RT_STREAM_CONTEXT           107003
#define ACL_ERROR_RT_ADDR_UNALIGNED           107008
#define ACL_ERROR_RT_INVALID_MEMORY_TYPE      107016
#define ACL_ERROR_RT_INVALID_HANDLE           107017
#define ACL_ERROR_RT_INVALID_MALLOC_TYPE      107018

#define ACL_ERROR_RT_FEATURE_NOT_SUPPORT      207000
#define ACL_ERROR_RT_MEMORY_ALLOCATION        207001
#define ACL_ERROR_RT_MEMORY_FREE              207002
#define ACL_ERROR_RT_NO_DEVICE                207004
#define ACL_ERROR_RT_RESOURCE_ALLOC_FAIL      207005
#define ACL_ERROR_RT_NO_PERMISSION            207006
#define ACL_ERROR_RT_OVER_LIMIT               207012
#define ACL_ERROR_RT_DEVICE_OOM               207018

#define ACL_ERROR_RT_INTERNAL_ERROR           507000
#define ACL_ERROR_RT_IPC_ERROR                507022
#define ACL_ERROR_RT_COPY_DATA                507052
#define ACL_ERROR_RT_DRV_INTERNAL_ERROR       507899

#endif /* NPU_MEM_ACL_RT_ERROR_CODES_H */
