/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * npu_mem: the ioctl ABI of /dev/npu_mem.
 *
 * /dev/npu_mem simulates NPU device memory and implements the kernel side of
 * the ACL cross-process sharing API (aclrtMallocPhysical, aclrtFreePhysical,
 * aclrtMemExportToShareableHandle, aclrtMemSetPidToShareableHandle,
 * aclrtMemImportFromShareableHandle, aclrtMapMem).
 *
 * Every open of /dev/npu_mem is a context owned by the opening process: its
 * handles (small per-file integers, never valid in another file) and the
 * mappings made from it.  Only the opening process may use the file; closing
 * it, or the death of the process, frees everything it held.
 *
 * Rules that hold for every ioctl:
 *  - each argument is a struct with explicit padding that grows only at its
 *    end, the way openat2()'s and clone3()'s do.  The ioctl's type, number
 *    and direction select it; its size field is the size of the struct the
 *    caller was built with.  A shorter struct (an older minor version, but
 *    never below the ioctl's NPU_MEM_*_SIZE_VER0) reads as if its missing
 *    fields were zero; a longer one (a newer header) is accepted only if the
 *    bytes this module does not know are zero, else E2BIG.  Results are
 *    written back at the smaller of the two sizes;
 *  - @flags bits not defined for that ioctl, and non-zero reserved/padding
 *    fields, are rejected with EINVAL; "out" fields are ignored on input;
 *  - ENOTTY: the ioctl type, number or direction is unknown;
 *  - EINVAL: the struct is shorter than the ioctl's NPU_MEM_*_SIZE_VER0;
 *  - E2BIG: the struct is longer than this module's and its tail is not zero;
 *  - EFAULT: the argument (or a pointer inside it) could not be read or written;
 *  - EBADFD: the file was opened by another process (an fd inherited over
 *    fork() or passed over a socket), or its owner's address space has gone
 *    (the owner called execve()).
 */
#ifndef _UAPI_NPU_MEM_H
#define _UAPI_NPU_MEM_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define NPU_MEM_DEVICE_NAME	"npu_mem"

/*
 * ABI version: the major number changes when an existing ioctl changes
 * meaning (binaries built for another major must not run); the minor number
 * when ioctls, flags or struct fields are added, which old binaries never
 * notice.  2.0 moved the ioctls to their own type (1.x used 'N' 0x00-0x08,
 * which drivers/usb/scanner.h registered first) and made structs extensible.
 */
#define NPU_MEM_ABI_MAJOR	2
#define NPU_MEM_ABI_MINOR	1	/* 2.1: value kinds, fabric handles, UNEXPORT */

/*
 * Ioctl type 0xBA, numbers 0x00-0x1F: a range no entry of the kernel's
 * Documentation/userspace-api/ioctl/ioctl-number.rst uses.
 */
#define NPU_MEM_IOCTL_BASE	0xBA

/* Allocation granularity: 2 MiB, or 1 GiB for NPU_MEM_PAGE_HUGE1G. */
#define NPU_MEM_GRANULARITY		(1ULL << 21)
#define NPU_MEM_GRANULARITY_HUGE1G	(1ULL << 30)

/*
 * Page kinds (struct npu_mem_alloc.page_kind).  libshim translates ACL's
 * aclrtMemAttr: 0, 1, 5, 12, 15 -> NORMAL; 4, 13, 16 -> HUGE; 10, 14, 17 ->
 * HUGE1G.  NORMAL and HUGE both use 2 MiB granularity (as the real driver
 * serves "normal" device memory with huge pages); HUGE1G uses 1 GiB.
 */
#define NPU_MEM_PAGE_NORMAL	0
#define NPU_MEM_PAGE_HUGE	1
#define NPU_MEM_PAGE_HUGE1G	2

/* At most this many pids per SET_PIDS call and per shareable value. */
#define NPU_MEM_MAX_PIDS	65535

/*
 * Pids from this one up are refused: no 64-bit kernel runs them (it is the
 * largest PID_MAX_LIMIT, the most pid_max can ever be set to).
 */
#define NPU_MEM_PID_LIMIT	(4 * 1024 * 1024)

/**
 * struct npu_mem_version - NPU_MEM_IOCTL_VERSION argument
 * @abi_major: out: NPU_MEM_ABI_MAJOR of the loaded module
 * @abi_minor: out: NPU_MEM_ABI_MINOR of the loaded module
 * @num_devices: out: number of simulated devices (ids 0 .. num_devices - 1)
 * @flags: in: must be 0
 *
 * Errors: EINVAL if @flags is not 0.
 */
struct npu_mem_version {
	__u32 abi_major;
	__u32 abi_minor;
	__u32 num_devices;
	__u32 flags;
};

#define NPU_MEM_VERSION_SIZE_VER0	16	/* ABI 2.0: the first version */

/**
 * struct npu_mem_device_info - NPU_MEM_IOCTL_DEVICE_INFO argument
 * @device: in: device id
 * @flags: in: must be 0
 * @total: out: device memory size in bytes
 * @free: out: bytes not allocated to any physical object
 * @granularity: out: NPU_MEM_GRANULARITY (NORMAL and HUGE page kinds)
 * @granularity_huge1g: out: NPU_MEM_GRANULARITY_HUGE1G
 *
 * Errors: EINVAL @flags not 0; ENODEV no device @device.
 */
struct npu_mem_device_info {
	__u32 device;
	__u32 flags;
	__u64 total;
	__u64 free;
	__u64 granularity;
	__u64 granularity_huge1g;
};

#define NPU_MEM_DEVICE_INFO_SIZE_VER0	40	/* ABI 2.0: the first version */

/**
 * struct npu_mem_alloc - NPU_MEM_IOCTL_ALLOC argument (aclrtMallocPhysical)
 * @device: in: device id
 * @page_kind: in: NPU_MEM_PAGE_*
 * @size: in: bytes, a non-zero multiple of the page kind's granularity
 * @flags: in: must be 0
 * @handle: out: new handle, local to this file (never 0)
 * @mmap_offset: out: the mmap() offset that maps this object
 *
 * The memory is zeroed and charged to the caller's memory cgroup.
 *
 * Errors: EINVAL @flags not 0, unknown @page_kind, @size 0 or not a multiple
 * of the granularity; ENODEV no device @device; ENOMEM the device has not
 * @size bytes free, or host memory (or the caller's memory cgroup) ran out:
 * nothing is changed, and no process is OOM-killed for it.
 */
struct npu_mem_alloc {
	__u32 device;
	__u32 page_kind;
	__u64 size;
	__u32 flags;
	__u32 handle;
	__u64 mmap_offset;
};

#define NPU_MEM_ALLOC_SIZE_VER0	32	/* ABI 2.0: the first version */

/**
 * struct npu_mem_free - NPU_MEM_IOCTL_FREE argument (aclrtFreePhysical)
 * @handle: in: a handle of this file
 * @flags: in: must be 0
 *
 * Drops the handle.  The memory lives on while other holders remain (other
 * processes' handles, mappings); the last holder returns it to its device.
 *
 * Errors: EINVAL @flags not 0; ENOENT no handle @handle in this file.
 */
struct npu_mem_free {
	__u32 handle;
	__u32 flags;
};

#define NPU_MEM_FREE_SIZE_VER0	8	/* ABI 2.0: the first version */

/* Import is not checked against a pid whitelist (ACL's 0x1). */
#define NPU_MEM_EXPORT_DISABLE_PID_VALIDATION	(1U << 0)

/*
 * The kind of a shareable value, chosen at EXPORT and named again by
 * SET_PIDS and IMPORT in their flags: a value is found only as its own kind
 * (any other answers ENOENT, as a value that does not exist).  No kind bit:
 * a VMM value (aclrtMemExportToShareableHandle).
 *
 * NPU_MEM_SHARE_IPC_KEY: an IPC memory key (aclrtIpcMemGetExportKey).  It dies
 * when its exporter lets go of the handle (FREE, exit) or withdraws it
 * (UNEXPORT), not when the memory's last holder does; importers keep their
 * memory either way.
 * NPU_MEM_SHARE_FABRIC: a fabric handle (ACL_MEM_SHARE_HANDLE_TYPE_FABRIC):
 * the value travels inside a struct npu_mem_fabric_handle that names this
 * module instance, and only this instance takes it.
 */
#define NPU_MEM_SHARE_IPC_KEY	(1U << 1)
#define NPU_MEM_SHARE_FABRIC	(1U << 2)

/**
 * struct npu_mem_fabric_handle - a fabric value as ACL's aclrtMemFabricHandle
 * @magic: NPU_MEM_FABRIC_MAGIC
 * @instance: random bytes drawn when the module was loaded: which npu_mem
 *	(host) exported it
 * @shareable: the value (kind NPU_MEM_SHARE_FABRIC)
 * @reserved: zero
 *
 * Nothing in it is derived from the memory, the process or a counter: the
 * value is as unguessable as any, the rest is constant per host.
 */
struct npu_mem_fabric_handle {
	__u8 magic[8];
	__u8 instance[16];
	__u64 shareable;
	__u8 reserved[96];
};

#define NPU_MEM_FABRIC_MAGIC	"NPUMEMFH"	/* 8 bytes, no NUL */

/**
 * struct npu_mem_export - NPU_MEM_IOCTL_EXPORT argument
 *                         (aclrtMemExportToShareableHandle, aclrtIpcMemGetExportKey)
 * @handle: in: a handle this file allocated (not an imported one)
 * @flags: in: NPU_MEM_EXPORT_DISABLE_PID_VALIDATION, at most one
 *	NPU_MEM_SHARE_* kind
 * @shareable: out: the shareable value: an opaque, unguessable 64-bit number,
 *	never handed out twice while the module is loaded.  It stays valid until
 *	the memory's last holder lets go (an IPC key: see NPU_MEM_SHARE_IPC_KEY),
 *	then is dead for ever.
 * @fabric: out, with NPU_MEM_SHARE_FABRIC: the handle that carries @shareable
 *	(ABI 2.1)
 *
 * Errors: EINVAL unknown @flags, or two kinds; ENOENT no handle @handle in
 * this file; EPERM @handle was imported (only local allocations can be
 * exported); EEXIST @handle has already been exported (an IPC key counts
 * until UNEXPORT); ENOMEM out of kernel memory.
 */
struct npu_mem_export {
	__u32 handle;
	__u32 flags;
	__u64 shareable;
	struct npu_mem_fabric_handle fabric;
};

#define NPU_MEM_EXPORT_SIZE_VER0	16	/* ABI 2.0: the first version */
#define NPU_MEM_EXPORT_SIZE_VER1	144	/* ABI 2.1: @fabric */

/**
 * struct npu_mem_set_pids - NPU_MEM_IOCTL_SET_PIDS argument
 *                           (aclrtMemSetPidToShareableHandle)
 * @shareable: in: a value exported by this process (0 with NPU_MEM_SHARE_FABRIC)
 * @pids: in: user pointer to @count __s32 bare tgids (init pid namespace)
 * @count: in: 1 .. NPU_MEM_MAX_PIDS
 * @flags: in: the value's NPU_MEM_SHARE_* kind, or 0
 * @fabric: in, with NPU_MEM_SHARE_FABRIC: the handle EXPORT gave; zero
 *	without it (ABI 2.1)
 *
 * Adds the pids to the value's whitelist; pid 0 entries are skipped; adding a
 * pid again refreshes its entry.  An entry authorizes only a process that was
 * already running when the entry was set: a later process reusing the pid is
 * refused.  Entries that can authorize nobody (their pid is not running, or
 * runs a process started after the entry was set) are dropped when room is
 * needed.  All or nothing: on error the whitelist is unchanged.
 *
 * Errors: EINVAL unknown @flags or two kinds, @count 0, a pid below 0 or
 * from NPU_MEM_PID_LIMIT up, or only zero pids, or a malformed @fabric;
 * EXDEV @fabric names another npu_mem instance; E2BIG @count
 * above NPU_MEM_MAX_PIDS, or the whitelist would exceed NPU_MEM_MAX_PIDS
 * entries that can still authorize someone; ENOENT no live value
 * @shareable; EAGAIN the caller's user has spent its budget of lookups of
 * values that do not exist (module parameter guess_budget); EACCES the caller
 * is not the process that exported @shareable; EPERM @shareable was exported
 * with NPU_MEM_EXPORT_DISABLE_PID_VALIDATION; ENOMEM out of kernel memory.
 */
struct npu_mem_set_pids {
	__u64 shareable;
	__u64 pids;
	__u32 count;
	__u32 flags;
	struct npu_mem_fabric_handle fabric;
};

#define NPU_MEM_SET_PIDS_SIZE_VER0	24	/* ABI 2.0: the first version */
#define NPU_MEM_SET_PIDS_SIZE_VER1	152	/* ABI 2.1: @fabric */

/**
 * struct npu_mem_import - NPU_MEM_IOCTL_IMPORT argument
 *                         (aclrtMemImportFromShareableHandle)
 * @shareable: in: the value another process exported (0 with
 *	NPU_MEM_SHARE_FABRIC)
 * @device: in: the device the new handle is bound to (any device)
 * @flags: in: the value's NPU_MEM_SHARE_* kind, or 0
 * @handle: out: new handle, local to this file
 * @reserved: must be 0
 * @mmap_offset: out: the mmap() offset that maps this object
 * @fabric: in, with NPU_MEM_SHARE_FABRIC: the handle EXPORT gave; zero
 *	without it (ABI 2.1)
 *
 * Errors, in the order checked: EINVAL unknown @flags or two kinds, @reserved
 * not 0, @shareable not 0 with a fabric handle, or a malformed @fabric; EXDEV
 * @fabric names another npu_mem instance (no fabric link); ENODEV no device
 * @device; EAGAIN the caller's user has spent its budget of lookups of
 * values that do not exist (nothing is looked up: module parameter
 * guess_budget); ENOENT no live value @shareable (never exported, or its
 * memory's last holder has gone); ELOOP the caller exported @shareable itself;
 * EEXIST the caller (through any of its files) already holds a handle for
 * @shareable; EACCES the value has a whitelist and the caller is not on it, or
 * its entry was set before the caller started (pid reuse); ENOMEM out of
 * kernel memory.
 */
struct npu_mem_import {
	__u64 shareable;
	__u32 device;
	__u32 flags;
	__u32 handle;
	__u32 reserved;
	__u64 mmap_offset;
	struct npu_mem_fabric_handle fabric;
};

#define NPU_MEM_IMPORT_SIZE_VER0	32	/* ABI 2.0: the first version */
#define NPU_MEM_IMPORT_SIZE_VER1	160	/* ABI 2.1: @fabric */

/**
 * struct npu_mem_bare_tgid - NPU_MEM_IOCTL_BARE_TGID argument
 *                            (aclrtDeviceGetBareTgid)
 * @tgid: out: the caller's tgid in the initial pid namespace
 * @flags: in: must be 0
 *
 * Errors: EINVAL @flags not 0.
 */
struct npu_mem_bare_tgid {
	__s32 tgid;
	__u32 flags;
};

#define NPU_MEM_BARE_TGID_SIZE_VER0	8	/* ABI 2.0: the first version */

/* struct npu_mem_handle_info.info_flags */
#define NPU_MEM_INFO_IMPORTED	(1U << 0)	/* the handle came from IMPORT */
#define NPU_MEM_INFO_EXPORTED	(1U << 1)	/* the handle has been exported */

/**
 * struct npu_mem_handle_info - NPU_MEM_IOCTL_HANDLE_INFO argument
 * @handle: in: a handle of this file
 * @flags: in: must be 0
 * @device: out: the device the handle is bound to (import target for imports)
 * @page_kind: out: NPU_MEM_PAGE_*
 * @size: out: bytes
 * @origin_device: out: the device holding the memory (the exporter's device)
 * @info_flags: out: NPU_MEM_INFO_* bits
 * @shareable: out: the value this handle was exported as or imported from,
 *	else 0
 * @mmap_offset: out: the mmap() offset that maps this object
 *
 * Errors: EINVAL @flags not 0; ENOENT no handle @handle in this file.
 */
struct npu_mem_handle_info {
	__u32 handle;
	__u32 flags;
	__u32 device;
	__u32 page_kind;
	__u64 size;
	__u32 origin_device;
	__u32 info_flags;
	__u64 shareable;
	__u64 mmap_offset;
};

#define NPU_MEM_HANDLE_INFO_SIZE_VER0	48	/* ABI 2.0: the first version */

/**
 * struct npu_mem_unexport - NPU_MEM_IOCTL_UNEXPORT argument
 *                           (aclrtIpcMemClose by the exporter)
 * @handle: in: a handle of this file exported as an IPC key
 * @flags: in: must be 0
 *
 * Withdraws the key: from now on nobody can import it or add pids to it, and
 * the handle may be exported again.  Processes that imported it keep their
 * memory.  (ABI 2.1)
 *
 * Errors: EINVAL @flags not 0, or @handle's value is not an IPC key; ENOENT
 * no handle @handle in this file, or it is not exported; EPERM @handle was
 * imported.
 */
struct npu_mem_unexport {
	__u32 handle;
	__u32 flags;
};

#define NPU_MEM_UNEXPORT_SIZE_VER0	8	/* ABI 2.1: the first version */

/*
 * mmap protocol (aclrtMapMem): mmap(addr, size, prot, MAP_SHARED | MAP_FIXED,
 * fd, mmap_offset) with the @mmap_offset a handle reported, normally into a
 * range the caller reserved with PROT_NONE.  The whole object is mapped:
 * @size must equal its size.  The offset is only meaningful in the file that
 * issued it.  The mapping keeps the memory alive (FREE while mapped is legal;
 * the last munmap frees), is not inherited by fork() children, and cannot be
 * split, moved or grown.
 *
 * mmap errors: EBADFD file of another process; EINVAL not MAP_SHARED, or
 * @size differs from the object's size; ENOENT the offset names no handle of
 * this file; EAGAIN or ENOMEM the mapping could not be set up.  mmap() maps
 * nothing yet: page faults do, one per 2 MiB at most.
 * Partial munmap()/mprotect() fail with EINVAL, mremap() with EPERM.
 */

#define NPU_MEM_IOCTL_VERSION \
	_IOWR(NPU_MEM_IOCTL_BASE, 0x00, struct npu_mem_version)
#define NPU_MEM_IOCTL_DEVICE_INFO \
	_IOWR(NPU_MEM_IOCTL_BASE, 0x01, struct npu_mem_device_info)
#define NPU_MEM_IOCTL_ALLOC \
	_IOWR(NPU_MEM_IOCTL_BASE, 0x02, struct npu_mem_alloc)
#define NPU_MEM_IOCTL_FREE \
	_IOW(NPU_MEM_IOCTL_BASE, 0x03, struct npu_mem_free)
#define NPU_MEM_IOCTL_EXPORT \
	_IOWR(NPU_MEM_IOCTL_BASE, 0x04, struct npu_mem_export)
#define NPU_MEM_IOCTL_SET_PIDS \
	_IOW(NPU_MEM_IOCTL_BASE, 0x05, struct npu_mem_set_pids)
#define NPU_MEM_IOCTL_IMPORT \
	_IOWR(NPU_MEM_IOCTL_BASE, 0x06, struct npu_mem_import)
#define NPU_MEM_IOCTL_BARE_TGID \
	_IOWR(NPU_MEM_IOCTL_BASE, 0x07, struct npu_mem_bare_tgid)
#define NPU_MEM_IOCTL_HANDLE_INFO \
	_IOWR(NPU_MEM_IOCTL_BASE, 0x08, struct npu_mem_handle_info)
#define NPU_MEM_IOCTL_UNEXPORT \
	_IOW(NPU_MEM_IOCTL_BASE, 0x09, struct npu_mem_unexport)

#endif /* _UAPI_NPU_MEM_H */
