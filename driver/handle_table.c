// SPDX-License-Identifier: GPL-2.0
/*
 * npu_mem: a context's table of handles, id -> struct npu_mem_handle.
 *
 * Handle ids are small, dense and private to one open file, like file
 * descriptors, and this is the file table's design: an array of slots and a
 * bitmap of the used ones, the lowest free id handed out first, the arrays
 * doubled when full.  Every access is under the context's lock, so nothing
 * here locks.  (An xarray did the same job for ~440 ns per alloc + erase
 * under TCG, a fifth of an import: its stores take a lock and update marks.)
 *
 * Id N lives in slot N - 1: id 0 is never a handle.
 */
#include <linux/bitmap.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <kunit/visibility.h>

#include "npu_mem.h"

#define NPU_MEM_HTAB_MIN	64

void npu_mem_htab_init(struct npu_mem_htab *t)
{
	t->slots = NULL;
	t->used = NULL;
	t->size = 0;
	t->next = 0;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_htab_init);

/* The table must be empty. */
void npu_mem_htab_destroy(struct npu_mem_htab *t)
{
	WARN_ON(t->used && !bitmap_empty(t->used, t->size));
	kvfree(t->slots);
	kvfree(t->used);
	npu_mem_htab_init(t);
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_htab_destroy);

static int npu_mem_htab_grow(struct npu_mem_htab *t)
{
	u32 size = t->size ? t->size * 2 : NPU_MEM_HTAB_MIN;
	struct npu_mem_handle **slots;
	unsigned long *used;

	if (t->size >= NPU_MEM_MAX_HANDLES)
		return -ENOMEM;
	slots = kvcalloc(size, sizeof(*slots), GFP_KERNEL_ACCOUNT);
	used = kvcalloc(BITS_TO_LONGS(size), sizeof(*used), GFP_KERNEL_ACCOUNT);
	if (!slots || !used) {
		kvfree(slots);
		kvfree(used);
		return -ENOMEM;
	}
	if (t->size) {
		memcpy(slots, t->slots, t->size * sizeof(*slots));
		bitmap_copy(used, t->used, t->size);
	}
	kvfree(t->slots);
	kvfree(t->used);
	t->slots = slots;
	t->used = used;
	t->size = size;
	return 0;
}

/**
 * npu_mem_htab_add - give @h the lowest free id in @t
 * @t: the table
 * @h: the handle; its @id is set
 *
 * Return: 0 or -ENOMEM (also when @t holds NPU_MEM_MAX_HANDLES handles).
 */
int npu_mem_htab_add(struct npu_mem_htab *t, struct npu_mem_handle *h)
{
	u32 slot = find_next_zero_bit(t->used, t->size, t->next);
	int ret;

	if (slot >= t->size) {
		ret = npu_mem_htab_grow(t);
		if (ret)
			return ret;
	}
	__set_bit(slot, t->used);
	t->slots[slot] = h;
	t->next = slot + 1;
	h->id = slot + 1;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_htab_add);

/* Return: the handle with id @id, or NULL. */
struct npu_mem_handle *npu_mem_htab_get(struct npu_mem_htab *t, u64 id)
{
	if (!id || id > t->size)
		return NULL;
	return t->slots[id - 1];
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_htab_get);

/* Take the handle with id @id out of @t.  Return: it, or NULL. */
struct npu_mem_handle *npu_mem_htab_remove(struct npu_mem_htab *t, u64 id)
{
	struct npu_mem_handle *h = npu_mem_htab_get(t, id);

	if (h) {
		t->slots[id - 1] = NULL;
		__clear_bit(id - 1, t->used);
		t->next = min_t(u32, t->next, id - 1);
	}
	return h;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_htab_remove);

/* Return: the handle with the lowest id >= *@id (stored in *@id), or NULL. */
struct npu_mem_handle *npu_mem_htab_next(struct npu_mem_htab *t, u32 *id)
{
	u32 slot;

	if (!*id)
		*id = 1;
	if (*id > t->size)
		return NULL;
	slot = find_next_bit(t->used, t->size, *id - 1);
	if (slot >= t->size)
		return NULL;
	*id = slot + 1;
	return t->slots[slot];
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_htab_next);
