/* SPDX-License-Identifier: GPL-2.0 */
/*
 * npu-mem-stress: what its processes share.  The board is one MAP_SHARED
 * anonymous region made before the first fork: the published values, the
 * workers' table and the counters.  See npu_mem_stress.c for the model.
 */
#ifndef NPU_MEM_STRESS_H
#define NPU_MEM_STRESS_H

#include <stdint.h>
#include <sys/types.h>

#define MAX_WORKERS	64
#define NSLOTS		48	/* published values */
#define NDEAD		64	/* retracted values, for "dead" imports */
#define SLOT_PIDS	8	/* whitelist entries a slot remembers */
#define MAX_DEVICES	8
#define NNOTES		16

/*
 * A published value.  Only its owner (the exporter) writes it, and only while
 * @value is 0; readers copy it and accept the copy if @value read the same
 * before and after (a value is never handed out twice, so no ABA).
 */
struct slot {
	uint64_t value;		/* 0: empty or being written */
	int32_t owner;		/* exporter's pid, claimed with a CAS from 0 */
	int32_t worker;		/* exporter's worker index */
	uint32_t seed, device, validated, npids, overflow;
	uint32_t kind;		/* NPU_MEM_SHARE_* it was exported as */
	uint64_t size;
	int32_t pids[SLOT_PIDS];	/* what SET_PIDS was given (not 0) */
	uint64_t pids_ns[SLOT_PIDS];	/* CLOCK_MONOTONIC just before that SET_PIDS */
	int32_t importing;	/* pid importing it right now, for the killer */
	uint32_t gen;		/* changes when the whitelist changes */
};

/*
 * A value whose exporter let go of it: alive only while someone still holds
 * it, or, @withdrawn, an IPC key its exporter's UNEXPORT or FREE has killed.
 */
struct dead {
	uint64_t value;		/* written last, as in struct slot */
	uint64_t size;
	uint32_t seed, kind, withdrawn;
};

struct wslot {
	int32_t pid;
	int32_t dying;		/* the killer chose it: its values may vanish */
	uint64_t start_ns;	/* CLOCK_MONOTONIC read by the worker as it starts */
	int32_t gen;
};

/* Operation kinds, counted in struct board.ops. */
enum {
	OP_ALLOC, OP_ALLOC_BAD, OP_FREE, OP_EXPORT, OP_SET_PIDS, OP_IMPORT, OP_IMPORT_DUP,
	OP_IMPORT_SELF, OP_IMPORT_DEAD, OP_IMPORT_GUESS, OP_MMAP, OP_MUNMAP, OP_PARTIAL,
	OP_MADVISE, OP_FORK, OP_EXEC, OP_CLOSE, OP_CHECK, OP_INFO, OP_RACE, OP_UNEXPORT,
	OP_IMPORT_KIND, OP_CHECK_DEAD_KEY, NR_OPS
};

/* Outcomes that are allowed, counted for the report. */
enum {
	EX_ENOMEM, EX_BUDGET, EX_GONE, EX_EACCES, EX_EEXIST, EX_MADV_FAIL,
	EX_DEAD_REVIVED, NR_EX
};

struct board {
	int32_t stop;
	int32_t full;		/* device-full phase: ALLOC takes what is free */
	uint32_t ndev, nworkers;
	uint64_t total[MAX_DEVICES];
	uint64_t granule;
	uint8_t instance[16];	/* this module instance's fabric id */
	struct slot slots[NSLOTS];
	struct dead dead[NDEAD];
	uint32_t dead_next;
	struct wslot w[MAX_WORKERS];
	/* counters */
	uint64_t ops[NR_OPS];
	uint64_t ex[NR_EX];
	uint64_t checks, check_pages;
	uint64_t lost, violations, imports_ok;
	uint64_t dumps, dumps_failed;
	uint64_t hog_phases, hog_peak_mb;
	uint32_t nnotes;
	char notes[NNOTES][240];	/* the first failures, as said */
};

#endif
