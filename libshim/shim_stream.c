// SPDX-License-Identifier: MIT
/*
 * libshim streams that wait: aclrtValueWait / aclrtValueWrite, and the
 * synchronize calls that wait for them.
 *
 * A simulated device finishes work at once, in the caller: a copy is done
 * when aclrtMemcpyAsync returns.  aclrtValueWait is the exception: while its
 * condition does not hold, it and everything later on its stream are queued.
 * One worker thread per process, started with the first queued task and gone
 * when no queue is left, polls the queued waits (a short sleep, backing off
 * to 1 ms: device memory changes without a signal, from another process as
 * well) and runs the tasks behind them in order.  Synchronize calls poll
 * until their streams' queues are empty.
 *
 * Locking: queues change under the shared lock and stream_mu, or under the
 * exclusive lock (stream destroy, device reset, aclFinalize), so code that
 * holds the shared lock and stream_mu sees them stable.  stream_mu is taken
 * only with the lock held, so fork (its prepare handler takes the lock
 * exclusively) never finds it held.  Device memory is read and written
 * under the shared lock, as the copies do; a queued copy runs without it,
 * through aclrtMemcpy, which takes it as any copy does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shim.h"

/* Polling interval: from 20 us, doubled while nothing changes, up to 1 ms. */
#define POLL_MIN_NS 20000L
#define POLL_MAX_NS 1000000L

static pthread_mutex_t stream_mu = PTHREAD_MUTEX_INITIALIZER;
static bool worker_on;				/* under stream_mu */
/* The default stream (aclrtStream NULL) of each device; never on shim.streams. */
static struct shim_stream dflt[SHIM_MAX_DEV];

/* ---- records ---- */

static void free_task(struct shim_task *t)
{
	free(t->buf);
	free(t);
}

/* Drop a stream's queue; a running copy finishes but reports to no one. */
static void drop_queue(struct shim_stream *s)
{
	struct shim_task *t, *tn;

	for (t = s->head; t; t = tn) {
		tn = t->next;
		free_task(t);
	}
	if (s->running)
		s->running->s = NULL;
	s->head = s->tail = s->running = NULL;
	s->err = 0;
}

void shim_stream_free(struct shim_stream *s)
{
	drop_queue(s);
	free(s);
}

void shim_stream_reset_default(int32_t dev)
{
	int32_t d;

	for (d = 0; d < SHIM_MAX_DEV; d++)
		if (dev < 0 || d == dev)
			drop_queue(&dflt[d]);
}

void shim_stream_atfork_child(void)
{
	static const pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

	/* The parent's worker does not exist here; nobody holds the mutex. */
	memcpy(&stream_mu, &fresh, sizeof(fresh));
	worker_on = false;
}

static bool idle(const struct shim_stream *s)
{
	return !s->head && !s->running;
}

static void append(struct shim_stream *s, struct shim_task *t)
{
	if (s->tail)
		s->tail->next = t;
	else
		s->head = t;
	s->tail = t;
}

static void pop(struct shim_stream *s)
{
	s->head = s->head->next;
	if (!s->head)
		s->tail = NULL;
}

/* Keep the first failure of queued work (@msg: what it reported) for the next sync. */
static void record(struct shim_stream *s, aclError e, const char *msg)
{
	if (s->err)
		return;
	s->err = e;
	snprintf(s->errmsg, sizeof(s->errmsg), "%s", msg ? msg : "(no message)");
}

/*
 * The stream @p names (NULL: the current device's default).  @same_dev: it
 * must belong to the current device (107003), as CANN's ApiImpl::MemWaitValue
 * requires (api_impl.cc:9012).  Caller holds the lock.
 */
static aclError resolve(const char *func, aclrtStream p, bool same_dev, struct shim_stream **sp)
{
	int32_t dev = -1;
	aclError e;

	if (!p || same_dev) {
		e = shim_need_device(func, &dev);
		if (e)
			return e;
	}
	if (!p) {
		*sp = &dflt[dev];
		return ACL_SUCCESS;
	}
	e = shim_lookup_stream(func, p, sp);
	if (e)
		return e;
	if (same_dev && (*sp)->dev != dev)
		return shim_fail(func, ACL_ERROR_RT_STREAM_CONTEXT,
				 "stream %p belongs to device %d, the current device is %d",
				 p, (int)(*sp)->dev, (int)dev);
	return ACL_SUCCESS;
}

/* ---- the value a wait reads ---- */

/*
 * 8 bytes of device memory, readable, and for a write writable; 8-byte
 * aligned.  CANN's api_ref/11-09_stream_memory_operation.md asks alignment of
 * aclrtValueWrite ("devAddr要求8字节对齐") and a 64-bit width of both; its
 * runtime checks neither.  Here both are aligned: an aligned 64-bit load or
 * store is atomic, so a wait never sees half a write.  Caller holds the lock.
 */
static aclError check_value_addr(const char *func, void *addr, bool write)
{
	aclError e = shim_check_dev_range(func, "devAddr", addr, sizeof(uint64_t), write);

	if (e)
		return e;
	if ((uintptr_t)addr % sizeof(uint64_t))
		return shim_fail(func, ACL_ERROR_RT_PARAM_INVALID, "devAddr %p is not 8-byte aligned", addr);
	return ACL_SUCCESS;
}

/*
 * The conditions of CANN's api_ref/11-09_stream_memory_operation.md (aclrtValueWait):
 * GEQ (int64_t)(*devAddr - value) >= 0, EQ *devAddr == value,
 * AND (*devAddr & value) != 0, NOR ~(*devAddr | value) != 0.
 */
static bool wait_met(const void *addr, uint64_t value, uint32_t flag)
{
	uint64_t v = __atomic_load_n((const uint64_t *)addr, __ATOMIC_ACQUIRE);

	switch (flag) {
	case ACL_STREAM_WAIT_VALUE_GEQ:
		return (int64_t)(v - value) >= 0;
	case ACL_STREAM_WAIT_VALUE_EQ:
		return v == value;
	case ACL_STREAM_WAIT_VALUE_AND:
		return (v & value) != 0;
	default:	/* ACL_STREAM_WAIT_VALUE_NOR */
		return ~(v | value) != 0;
	}
}

/* ---- the worker ---- */

static void nap(long ns)
{
	struct timespec ts = { 0, ns };

	nanosleep(&ts, NULL);
}

/*
 * Run what is ready at the head of @s: satisfied waits and writes here; a
 * copy is handed back in *copy (it runs without the lock).  *pending: @s
 * still has a wait that waits.  Caller holds the shared lock and stream_mu.
 */
static void run_ready(struct shim_stream *s, struct shim_task **copy, bool *pending, bool *progress)
{
	struct shim_task *t;
	aclError e;

	while ((t = s->head)) {
		if (t->op == SHIM_TASK_COPY) {
			pop(s);
			t->s = s;
			s->running = t;
			*copy = t;
			return;
		}
		/* The mapping may be gone since the call: then the task fails. */
		e = check_value_addr(t->op == SHIM_TASK_WAIT ? "aclrtValueWait" : "aclrtValueWrite",
				     t->addr, t->op == SHIM_TASK_WRITE);
		if (!e && t->op == SHIM_TASK_WAIT && !wait_met(t->addr, t->value, t->flag)) {
			*pending = true;
			return;
		}
		if (e)
			record(s, e, aclGetRecentErrMsg());
		else if (t->op == SHIM_TASK_WRITE)
			__atomic_store_n((uint64_t *)t->addr, t->value, __ATOMIC_RELEASE);
		pop(s);
		free_task(t);
		*progress = true;
	}
}

/* A queued copy, without the lock; then the stream hears how it went. */
static void run_copy(struct shim_task *t)
{
	char msg[sizeof(((struct shim_stream *)0)->errmsg)] = "";
	aclError e = aclrtMemcpy(t->addr, t->destMax, t->src, t->count, t->kind);
	const char *m = e ? aclGetRecentErrMsg() : NULL;

	if (m)
		snprintf(msg, sizeof(msg), "queued aclrtMemcpyAsync: %s", m);
	shim_lock_nocheck(false);
	pthread_mutex_lock(&stream_mu);
	if (t->s) {
		t->s->running = NULL;
		if (e)
			record(t->s, e, msg);
	}
	pthread_mutex_unlock(&stream_mu);
	shim_unlock();
	free_task(t);
}

static void *worker(void *arg)
{
	long delay = POLL_MIN_NS;
	struct shim_stream *s;
	int32_t d;

	(void)arg;
	for (;;) {
		struct shim_task *copy = NULL;
		bool pending = false, progress = false;

		shim_lock_nocheck(false);
		pthread_mutex_lock(&stream_mu);
		for (s = shim.streams; s && !copy; s = s->next)
			run_ready(s, &copy, &pending, &progress);
		for (d = 0; d < SHIM_MAX_DEV && !copy; d++)
			run_ready(&dflt[d], &copy, &pending, &progress);
		if (!copy && !pending)
			worker_on = false;	/* a queue that starts later starts a new worker */
		pthread_mutex_unlock(&stream_mu);
		shim_unlock();
		if (copy) {
			run_copy(copy);
			delay = POLL_MIN_NS;
		} else if (!pending) {
			return NULL;
		} else if (progress) {
			delay = POLL_MIN_NS;
		} else {
			nap(delay);
			delay = delay * 2 > POLL_MAX_NS ? POLL_MAX_NS : delay * 2;
		}
	}
}

/* Start the worker unless it runs (caller holds the lock and stream_mu). */
static aclError start_worker(const char *func)
{
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t tid;
	int err;

	if (worker_on)
		return ACL_SUCCESS;
	/* Signals are the program's threads' business, not the worker's. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = pthread_create(&tid, &attr, worker, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return shim_fail(func, ACL_ERROR_RT_RESOURCE_ALLOC_FAIL,
				 "cannot start the stream worker thread: %s", strerror(err));
	worker_on = true;
	return ACL_SUCCESS;
}

/* ---- queueing ---- */

aclError shim_stream_queue_copy(const char *func, aclrtStream stream, void *dst, size_t destMax,
				const void *src, size_t count, aclrtMemcpyKind kind, void *buf,
				bool *queued)
{
	struct shim_stream *s;
	struct shim_task *t;
	aclError e;

	*queued = false;
	e = resolve(func, stream, false, &s);
	if (e)
		return e;
	pthread_mutex_lock(&stream_mu);
	if (idle(s))
		goto out;
	t = calloc(1, sizeof(*t));
	if (!t) {
		e = shim_no_host_memory(func);
		goto out;
	}
	t->op = SHIM_TASK_COPY;
	t->addr = dst;
	t->destMax = destMax;
	t->src = src;
	t->count = count;
	t->kind = kind;
	t->buf = buf;
	append(s, t);	/* a busy queue has a worker */
	*queued = true;
out:
	pthread_mutex_unlock(&stream_mu);
	return e;
}

static aclError value_op(const char *func, enum shim_task_op op, void *addr, uint64_t value,
			 uint32_t flag, aclrtStream stream)
{
	struct shim_stream *s;
	struct shim_task *t;
	aclError e;

	e = shim_lock(func, false);
	if (e)
		return e;
	e = check_value_addr(func, addr, op == SHIM_TASK_WRITE);
	if (!e)
		e = resolve(func, stream, true, &s);
	if (e)
		goto out;
	pthread_mutex_lock(&stream_mu);
	if (idle(s) && op == SHIM_TASK_WRITE) {
		__atomic_store_n((uint64_t *)addr, value, __ATOMIC_RELEASE);
		goto unlock;
	}
	if (idle(s) && wait_met(addr, value, flag))
		goto unlock;
	t = calloc(1, sizeof(*t));
	if (!t) {
		e = shim_no_host_memory(func);
		goto unlock;
	}
	e = start_worker(func);
	if (e) {
		free(t);
		goto unlock;
	}
	t->op = op;
	t->addr = addr;
	t->value = value;
	t->flag = flag;
	append(s, t);
unlock:
	pthread_mutex_unlock(&stream_mu);
out:
	shim_unlock();
	return e;
}

/* CANN's ApiErrorDecorator::MemWriteValue (api_error.cc:7249): flag must be 0. */
aclError aclrtValueWrite(void *devAddr, uint64_t value, uint32_t flag, aclrtStream stream)
{
	if (!devAddr)
		return shim_arg_null(__func__, "devAddr");
	if (flag)
		return shim_fail(__func__, ACL_ERROR_RT_PARAM_INVALID, "flag is %u, must be 0", flag);
	return value_op(__func__, SHIM_TASK_WRITE, devAddr, value, 0, stream);
}

/* CANN's ApiErrorDecorator::MemWaitValue (api_error.cc:7271): flag < MEM_WAIT_VALUE_TYPE_MAX. */
aclError aclrtValueWait(void *devAddr, uint64_t value, uint32_t flag, aclrtStream stream)
{
	if (!devAddr)
		return shim_arg_null(__func__, "devAddr");
	if (flag > ACL_STREAM_WAIT_VALUE_NOR)
		return shim_fail(__func__, ACL_ERROR_RT_PARAM_INVALID,
				 "flag is %u, must be an ACL_STREAM_WAIT_VALUE_* (0-3)", flag);
	return value_op(__func__, SHIM_TASK_WAIT, devAddr, value, flag, stream);
}

/* ---- synchronize ---- */

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000L + (t.tv_nsec - t0->tv_nsec) / 1000000L;
}

/* Take @s's failure, if any and if *e has none yet, into *e and @msg (under stream_mu). */
static void take_err(struct shim_stream *s, aclError *e, char *msg, size_t len)
{
	if (!s->err || *e)
		return;
	*e = s->err;
	snprintf(msg, len, "%s", s->errmsg);
	s->err = 0;
}

/*
 * Poll until @stream (device: every stream of the current device, its
 * default one too) is idle; @timeout_ms -1 waits for ever, 0 looks once
 * (CANN's acl_rt.h, aclrtSynchronizeStreamWithTimeout).
 */
static aclError sync_poll(const char *func, aclrtStream stream, bool device, int32_t timeout_ms)
{
	char msg[sizeof(dflt[0].errmsg)];
	long delay = POLL_MIN_NS;
	struct shim_stream *s, *o;
	struct timespec t0;
	aclError e, failed;
	int32_t dev = -1;
	bool done;

	if (timeout_ms < -1)
		return shim_fail(func, ACL_ERROR_RT_PARAM_INVALID,
				 "timeout is %d ms, must be -1 (no limit) or at least 0", (int)timeout_ms);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		failed = 0;
		e = shim_lock(func, false);
		if (e)
			return e;
		if (device) {
			e = shim_need_device(func, &dev);
			s = &dflt[dev >= 0 ? dev : 0];
		} else {
			e = resolve(func, stream, false, &s);
		}
		if (e) {
			shim_unlock();
			return e;
		}
		pthread_mutex_lock(&stream_mu);
		done = idle(s);
		for (o = device ? shim.streams : NULL; o; o = o->next)
			done = done && (o->dev != dev || idle(o));
		/* Once all is done, the first failure (a device's default stream's first). */
		if (done)
			take_err(s, &failed, msg, sizeof(msg));
		for (o = device && done ? shim.streams : NULL; o; o = o->next)
			if (o->dev == dev)
				take_err(o, &failed, msg, sizeof(msg));
		pthread_mutex_unlock(&stream_mu);
		shim_unlock();
		if (failed)
			return shim_fail(func, failed, "work queued on the stream failed: %s", msg);
		if (done)
			return ACL_SUCCESS;
		if (timeout_ms >= 0 && elapsed_ms(&t0) >= timeout_ms)
			return shim_fail(func, ACL_ERROR_RT_STREAM_SYNC_TIMEOUT,
					 "%s still waits after %d ms (an aclrtValueWait whose condition does not hold)",
					 device ? "a stream of the current device" : "the stream", (int)timeout_ms);
		nap(delay);
		delay = delay * 2 > POLL_MAX_NS ? POLL_MAX_NS : delay * 2;
	}
}

aclError shim_stream_sync(const char *func, aclrtStream stream, int32_t timeout_ms)
{
	return sync_poll(func, stream, false, timeout_ms);
}

/* CANN's aclrtSynchronizeStreamWithTimeoutImpl (aclrt_impl/stream.cpp:137): timeout >= -1. */
aclError aclrtSynchronizeStreamWithTimeout(aclrtStream stream, int32_t timeout)
{
	return sync_poll(__func__, stream, false, timeout);
}

aclError aclrtSynchronizeDevice(void)
{
	return sync_poll(__func__, NULL, true, -1);
}

/* CANN's aclrtSynchronizeDeviceWithTimeoutImpl (aclrt_impl/device.cpp:168): timeout >= -1. */
aclError aclrtSynchronizeDeviceWithTimeout(int32_t timeout)
{
	return sync_poll(__func__, NULL, true, timeout);
}
