// SPDX-License-Identifier: GPL-2.0
/*
 * npu_mem: shareable values, a keyed permutation of the export index.
 *
 * Every export takes the next index of a 64-bit counter that is never
 * rewound, and hands out E(index), where E is a permutation of the 64-bit
 * numbers keyed at random when the machine is built: an 8-round balanced
 * Feistel network whose round function is SipHash-2-4 of the half-block and
 * the round number.  So values never repeat while the module is loaded (E
 * is a bijection and indexes never repeat), import finds the record by
 * D(value) in an xarray (O(1), under RCU), and without the key a value
 * says nothing about the index, the next value or any other value: all 64
 * bits are unpredictable.  (A Feistel network over a pseudo-random
 * function is a pseudo-random permutation, Luby and Rackoff; more rounds
 * than the four of their proof keep it so for far more values than a
 * machine hands out.)
 */
#include <linux/random.h>
#include <linux/siphash.h>

#include "npu_mem.h"

#define NPU_MEM_VALUE_ROUNDS	8

void npu_mem_value_key_init(struct npu_mem_sys *sys)
{
	get_random_bytes(&sys->value_key, sizeof(sys->value_key));
}

static u32 npu_mem_value_round(const struct npu_mem_sys *sys, u32 half, u32 round)
{
	return (u32)siphash_2u32(half, round, &sys->value_key);
}

/* Return: the shareable value of export index @index. */
u64 npu_mem_value_encode(const struct npu_mem_sys *sys, u64 index)
{
	u32 l = upper_32_bits(index), r = lower_32_bits(index), t;
	u32 i;

	for (i = 0; i < NPU_MEM_VALUE_ROUNDS; i++) {
		t = l ^ npu_mem_value_round(sys, r, i);
		l = r;
		r = t;
	}
	return (u64)l << 32 | r;
}

/* Return: the export index whose value is @value (any @value has one). */
u64 npu_mem_value_decode(const struct npu_mem_sys *sys, u64 value)
{
	u32 l = upper_32_bits(value), r = lower_32_bits(value), t;
	u32 i = NPU_MEM_VALUE_ROUNDS;

	while (i--) {
		t = r ^ npu_mem_value_round(sys, l, i);
		r = l;
		l = t;
	}
	return (u64)l << 32 | r;
}
