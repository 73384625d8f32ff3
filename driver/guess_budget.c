// SPDX-License-Identifier: GPL-2.0
/*
 * npu_mem: a budget of failed value lookups per user.
 *
 * A shareable value is 64 unpredictable bits (value.c), so hitting a given
 * live one takes 2^63 tries on average; this keeps a user from trying fast.
 * Each user (real uid: what RLIMIT_NPROC counts) may fail
 * npu_mem_guess_budget lookups a second - IMPORT and SET_PIDS of values that
 * are not live - with a burst of one second's worth.  Once the budget is
 * spent, every lookup by that user fails with -EAGAIN, without looking, until
 * it has refilled.  The user's budget is allocated (charged to the caller) at
 * its first lookup, before anything is looked up, so a user whose memory
 * cgroup is full cannot look up unmetered; budgets stay until the machine
 * goes: one small struct per uid that ever imported.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/jiffies.h>
#include <linux/slab.h>

#include "npu_mem.h"

/**
 * struct npu_mem_guess_budget - one user's failed lookups
 * @lock: protects @tokens and @stamp
 * @tokens: failures the user may still make now
 * @stamp: jiffies at which @tokens was last refilled
 */
struct npu_mem_guess_budget {
	spinlock_t lock;	/* protects tokens, stamp */
	unsigned int tokens;
	unsigned long stamp;
};

/* Give @b what @rate a second has earned it since its stamp; under b->lock. */
static void npu_mem_guess_refill(struct npu_mem_guess_budget *b, unsigned int rate)
{
	unsigned long elapsed = min(jiffies - b->stamp, (unsigned long)HZ);
	u64 earned = div_u64((u64)elapsed * rate, HZ);

	/* A full budget earns nothing: it is full from now. */
	if (b->tokens >= rate) {
		b->tokens = rate;
		b->stamp = jiffies;
		return;
	}
	/* Nothing earned yet: keep the stamp, so that the time adds up. */
	if (!earned)
		return;
	b->tokens = min_t(u64, (u64)b->tokens + earned, rate);
	b->stamp = jiffies;
}

/**
 * npu_mem_guess_check - may the calling user look a value up?
 * @sys: the machine
 *
 * Return: the user's budget, to be passed to npu_mem_guess_failed() if the
 * lookup fails; NULL when lookups are not limited (npu_mem_guess_budget is
 * 0); ERR_PTR(-EAGAIN) when the budget is spent, ERR_PTR(-ENOMEM).
 */
struct npu_mem_guess_budget *npu_mem_guess_check(struct npu_mem_sys *sys)
{
	unsigned int rate = READ_ONCE(npu_mem_guess_budget);
	unsigned long uid = __kuid_val(current_uid());
	struct npu_mem_guess_budget *b, *old;
	bool spent;

	if (!rate)
		return NULL;
	b = xa_load(&sys->guess_budgets, uid);
	if (!b) {
		b = kzalloc(sizeof(*b), GFP_KERNEL_ACCOUNT);
		if (!b)
			return ERR_PTR(-ENOMEM);
		spin_lock_init(&b->lock);
		b->tokens = rate;
		b->stamp = jiffies;
		old = xa_cmpxchg(&sys->guess_budgets, uid, NULL, b, GFP_KERNEL_ACCOUNT);
		if (old) {
			kfree(b);
			if (xa_is_err(old))
				return ERR_PTR(xa_err(old));
			b = old;
		}
	}
	spin_lock(&b->lock);
	npu_mem_guess_refill(b, rate);
	spent = !b->tokens;
	spin_unlock(&b->lock);
	return spent ? ERR_PTR(-EAGAIN) : b;
}

/* A lookup under @b (from npu_mem_guess_check()) found no live value. */
void npu_mem_guess_failed(struct npu_mem_guess_budget *b)
{
	bool spent;

	if (!b)
		return;
	spin_lock(&b->lock);
	if (b->tokens)
		b->tokens--;
	spent = !b->tokens;
	spin_unlock(&b->lock);
	if (spent)
		pr_notice_ratelimited("uid %u: too many lookups of shareable values that do not exist; lookups fail with EAGAIN for now (guess_budget=%u a second)\n",
				      from_kuid(&init_user_ns, current_uid()),
				      READ_ONCE(npu_mem_guess_budget));
}

void npu_mem_guess_budgets_destroy(struct npu_mem_sys *sys)
{
	struct npu_mem_guess_budget *b;
	unsigned long uid;

	xa_for_each(&sys->guess_budgets, uid, b)
		kfree(b);
	xa_destroy(&sys->guess_budgets);
}
