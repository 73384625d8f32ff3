/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * npu_mem: the generic netlink family "npu_mem" (observability).
 *
 * Described by uapi/npu_mem.yaml; documented in Documentation/npu_mem-netlink.rst.
 *
 * Requests carry no attributes.  Replies and events may gain attributes in
 * later versions: readers must ignore attribute types they do not know.
 *
 * Permissions: GET_DEVICE and GET_INFO are open to everyone.  GET_OBJECT and
 * GET_PROC show a caller without CAP_SYS_ADMIN only the objects and files of
 * processes running with its effective uid, and of an object's holders only
 * those; only CAP_SYS_ADMIN sees everything, and only CAP_SYS_ADMIN is ever
 * shown a shareable value; of an object another user allocated it sees only
 * id, device, size, page kind, the exported flag and its own holders.
 * Joining the "events" group needs CAP_SYS_ADMIN.
 *
 * An object with more holders than one message holds comes in several
 * consecutive messages: the later ones have NPU_MEM_A_OBJ_CONTINUED and more
 * NPU_MEM_A_OBJ_HOLDER entries.  Every event has NPU_MEM_A_EV_SEQ, so that a
 * listener sees how many it missed (NPU_MEM_A_EV_SUPPRESSED of them withheld
 * by the module's rate limit on import-refused events).
 */
#ifndef _UAPI_NPU_MEM_NETLINK_H
#define _UAPI_NPU_MEM_NETLINK_H

#define NPU_MEM_GENL_NAME		"npu_mem"
#define NPU_MEM_GENL_VERSION		1
#define NPU_MEM_GENL_MCGRP_EVENTS	"events"

enum npu_mem_event_type {
	NPU_MEM_EVENT_ALLOCATED = 1,	/* an object was allocated */
	NPU_MEM_EVENT_FREED,		/* a handle was freed (FREE or close) */
	NPU_MEM_EVENT_EXPORTED,		/* an object got a shareable value */
	NPU_MEM_EVENT_PIDS_SET,		/* pids were added to a whitelist */
	NPU_MEM_EVENT_IMPORTED,		/* a process imported a value */
	NPU_MEM_EVENT_IMPORT_REFUSED,	/* an import failed; see REASON */
	NPU_MEM_EVENT_HOLDER_DIED,	/* a handle went with its process's death */
	NPU_MEM_EVENT_RELEASED,		/* the last holder let go: memory freed */
};

enum npu_mem_refusal {
	NPU_MEM_REFUSAL_NOT_WHITELISTED = 1,	/* EACCES: not on the whitelist */
	NPU_MEM_REFUSAL_PID_REUSED,		/* EACCES: entry predates caller */
	NPU_MEM_REFUSAL_SELF_IMPORT,		/* ELOOP: caller is the exporter */
	NPU_MEM_REFUSAL_DUPLICATE,		/* EEXIST: already imported */
	NPU_MEM_REFUSAL_DEAD_VALUE,		/* ENOENT: no live value */
};

enum {
	NPU_MEM_A_INFO_UNSPEC,
	NPU_MEM_A_INFO_PAD,
	NPU_MEM_A_INFO_ABI_MAJOR,	/* u32 */
	NPU_MEM_A_INFO_ABI_MINOR,	/* u32 */
	NPU_MEM_A_INFO_GENL_VERSION,	/* u32 */
	NPU_MEM_A_INFO_NUM_DEVICES,	/* u32 */
	NPU_MEM_A_INFO_ADMIN,		/* flag: the caller sees everything */

	__NPU_MEM_A_INFO_MAX,
	NPU_MEM_A_INFO_MAX = __NPU_MEM_A_INFO_MAX - 1
};

enum {
	NPU_MEM_A_DEV_UNSPEC,
	NPU_MEM_A_DEV_PAD,
	NPU_MEM_A_DEV_ID,		/* u32 */
	NPU_MEM_A_DEV_TOTAL,		/* u64: bytes */
	NPU_MEM_A_DEV_USED,		/* u64: bytes held by live objects */
	NPU_MEM_A_DEV_OBJECTS,		/* u32: live objects */
	NPU_MEM_A_DEV_EXPORTS,		/* u32: live shareable values */
	NPU_MEM_A_DEV_ZERO_RESERVE,	/* u64: bytes of zeroed chunks kept ready */

	__NPU_MEM_A_DEV_MAX,
	NPU_MEM_A_DEV_MAX = __NPU_MEM_A_DEV_MAX - 1
};

enum {
	NPU_MEM_A_HOLDER_UNSPEC,
	NPU_MEM_A_HOLDER_TGID,		/* u32: bare tgid of the handle's owner */
	NPU_MEM_A_HOLDER_DEVICE,	/* u32: device the handle is bound to */
	NPU_MEM_A_HOLDER_IMPORTED,	/* flag: the handle came from import */

	__NPU_MEM_A_HOLDER_MAX,
	NPU_MEM_A_HOLDER_MAX = __NPU_MEM_A_HOLDER_MAX - 1
};

enum {
	NPU_MEM_A_OBJ_UNSPEC,
	NPU_MEM_A_OBJ_PAD,
	NPU_MEM_A_OBJ_ID,		/* u32: global object id */
	NPU_MEM_A_OBJ_DEVICE,		/* u32: device holding the memory */
	NPU_MEM_A_OBJ_SIZE,		/* u64: bytes */
	NPU_MEM_A_OBJ_PAGE_KIND,	/* u32: NPU_MEM_PAGE_* */
	NPU_MEM_A_OBJ_OWNER_TGID,	/* u32: bare tgid of the allocator */
	NPU_MEM_A_OBJ_OWNER_COMM,	/* string: its comm */
	NPU_MEM_A_OBJ_EXPORTED,		/* flag: has a live shareable value */
	NPU_MEM_A_OBJ_SHAREABLE,	/* u64: the value (CAP_SYS_ADMIN only) */
	NPU_MEM_A_OBJ_WHITELIST,	/* u8: 1 pid whitelist checked, 0 not */
	NPU_MEM_A_OBJ_WHITELIST_SIZE,	/* u32: pids on the whitelist */
	NPU_MEM_A_OBJ_HOLDERS,		/* u32: holders (handles + mappings) */
	NPU_MEM_A_OBJ_MAPPINGS,		/* u32: mappings */
	NPU_MEM_A_OBJ_HOLDER,		/* nest, repeated: NPU_MEM_A_HOLDER_* */
	NPU_MEM_A_OBJ_CONTINUED,	/* flag: more holders of the previous object */
	NPU_MEM_A_OBJ_PMD_BYTES,	/* u64: bytes in 2 MiB chunks (one PMD each) */
	NPU_MEM_A_OBJ_SHARE_KIND,	/* u32: the value's NPU_MEM_SHARE_* kind, 0 VMM */

	__NPU_MEM_A_OBJ_MAX,
	NPU_MEM_A_OBJ_MAX = __NPU_MEM_A_OBJ_MAX - 1
};

enum {
	NPU_MEM_A_PROC_UNSPEC,
	NPU_MEM_A_PROC_PAD,
	NPU_MEM_A_PROC_FILE,		/* u32: id of the open file (context) */
	NPU_MEM_A_PROC_TGID,		/* u32: bare tgid */
	NPU_MEM_A_PROC_COMM,		/* string */
	NPU_MEM_A_PROC_ALLOCATED,	/* u64: bytes of objects it allocated */
	NPU_MEM_A_PROC_IMPORTED,	/* u64: bytes of objects it imported */
	NPU_MEM_A_PROC_HANDLES,		/* u32 */
	NPU_MEM_A_PROC_MAPPINGS,	/* u32 */

	__NPU_MEM_A_PROC_MAX,
	NPU_MEM_A_PROC_MAX = __NPU_MEM_A_PROC_MAX - 1
};

enum {
	NPU_MEM_A_EV_UNSPEC,
	NPU_MEM_A_EV_PAD,
	NPU_MEM_A_EV_TYPE,		/* u32: enum npu_mem_event_type */
	NPU_MEM_A_EV_TIME,		/* u64: CLOCK_REALTIME ns */
	NPU_MEM_A_EV_OBJ,		/* u32: object id (absent: none) */
	NPU_MEM_A_EV_DEVICE,		/* u32 */
	NPU_MEM_A_EV_SIZE,		/* u64: bytes */
	NPU_MEM_A_EV_TGID,		/* u32: bare tgid of the acting process */
	NPU_MEM_A_EV_COMM,		/* string: its comm */
	NPU_MEM_A_EV_REASON,		/* u32: enum npu_mem_refusal */
	NPU_MEM_A_EV_PIDS,		/* u32: pids passed to SET_PIDS */
	NPU_MEM_A_EV_SHAREABLE,		/* u64: the shareable value */
	NPU_MEM_A_EV_SEQ,		/* u64: event number, +1 per event */
	NPU_MEM_A_EV_SUPPRESSED,	/* u64: events withheld just before this one */

	__NPU_MEM_A_EV_MAX,
	NPU_MEM_A_EV_MAX = __NPU_MEM_A_EV_MAX - 1
};

enum {
	NPU_MEM_CMD_UNSPEC,
	NPU_MEM_CMD_GET_INFO,		/* do: NPU_MEM_A_INFO_* */
	NPU_MEM_CMD_GET_DEVICE,		/* dump: NPU_MEM_A_DEV_* */
	NPU_MEM_CMD_GET_OBJECT,		/* dump: NPU_MEM_A_OBJ_* */
	NPU_MEM_CMD_GET_PROC,		/* dump: NPU_MEM_A_PROC_*, one per file */
	NPU_MEM_CMD_EVENT,		/* multicast "events": NPU_MEM_A_EV_* */

	__NPU_MEM_CMD_MAX,
	NPU_MEM_CMD_MAX = __NPU_MEM_CMD_MAX - 1
};

#endif /* _UAPI_NPU_MEM_NETLINK_H */
