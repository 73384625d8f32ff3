// SPDX-License-Identifier: GPL-2.0
/*
 * npu-mem: show what npu_mem.ko holds and who holds it, through its generic
 * netlink family "npu_mem" (uapi/npu_mem_netlink.h, uapi/npu_mem.yaml).
 *
 * Attributes this program does not know are ignored, so an older npu-mem
 * works with a newer module.  Exit status: 0 success, 1 the request failed
 * (module not loaded, permission denied, ...), 2 bad usage.
 *
 * Each command is a row of commands[]; each row of output is written once,
 * field by field, through print.h, which writes text or JSON.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "uapi/npu_mem.h"
#include "uapi/npu_mem_netlink.h"
#include "print.h"

#define STR(x) #x
#define XSTR(x) STR(x)
/* The package may pass its own version (-DNPU_MEM_TOOL_VERSION='"2.0-1"'). */
#ifndef NPU_MEM_TOOL_VERSION
#define NPU_MEM_TOOL_VERSION XSTR(NPU_MEM_ABI_MAJOR) "." XSTR(NPU_MEM_ABI_MINOR)
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char *prog = "npu-mem";

static void __attribute__((format(printf, 1, 2))) errmsg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- attribute access: tolerant of unknown and short attributes */

static bool has(struct nlattr **tb, int i)
{
	return tb[i] != NULL;
}

static uint32_t get_u32(struct nlattr **tb, int i)
{
	return tb[i] && nla_len(tb[i]) >= 4 ? nla_get_u32(tb[i]) : 0;
}

static uint8_t get_u8(struct nlattr **tb, int i)
{
	return tb[i] && nla_len(tb[i]) >= 1 ? nla_get_u8(tb[i]) : 0;
}

static uint64_t get_u64(struct nlattr **tb, int i)
{
	return tb[i] && nla_len(tb[i]) >= 8 ? nla_get_u64(tb[i]) : 0;
}

/* A string attribute, or "" (also for one that is not NUL-terminated). */
static const char *get_str(struct nlattr **tb, int i)
{
	const char *s;
	int len;

	if (!tb[i])
		return "";
	s = nla_data(tb[i]);
	len = nla_len(tb[i]);
	return len > 0 && memchr(s, '\0', len) ? s : "";
}

/* @names[@v], or "unknown-@v" in @buf for values from a newer module. */
static const char *enum_name(const char *const *names, size_t n, uint32_t v,
			     char *buf, size_t len)
{
	if (v < n && names[v])
		return names[v];
	snprintf(buf, len, "unknown-%u", v);
	return buf;
}

/* ---- netlink plumbing (the shape of iw's) */

struct nm {
	struct nl_sock *sock;
	int family;
};

static int nm_open(struct nm *nm)
{
	int ret;

	nm->sock = nl_socket_alloc();
	if (!nm->sock) {
		errmsg("cannot allocate a netlink socket");
		return -1;
	}
	ret = genl_connect(nm->sock);
	if (ret) {
		errmsg("cannot connect to generic netlink: %s", nl_geterror(ret));
		goto err_free;
	}
	nm->family = genl_ctrl_resolve(nm->sock, NPU_MEM_GENL_NAME);
	if (nm->family < 0) {
		errmsg("generic netlink family \"%s\" not found (is npu_mem.ko loaded?)",
		       NPU_MEM_GENL_NAME);
		goto err_free;
	}
	return 0;

err_free:
	nl_socket_free(nm->sock);
	return -1;
}

static int error_handler(struct sockaddr_nl *nla, struct nlmsgerr *err, void *arg)
{
	(void)nla;
	*(int *)arg = err->error;
	return NL_STOP;
}

/* The end of a dump: it carries the dump's error, if it failed midway. */
static int finish_handler(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);

	*(int *)arg = 0;
	if (nlmsg_datalen(nlh) >= (int)sizeof(int) && *(int *)nlmsg_data(nlh) < 0)
		*(int *)arg = *(int *)nlmsg_data(nlh);
	return NL_SKIP;
}

static int ack_handler(struct nl_msg *msg, void *arg)
{
	(void)msg;
	*(int *)arg = 0;
	return NL_STOP;
}

typedef void (*nm_handler)(struct nlattr **tb, struct nlmsghdr *nlh, void *arg);

struct nm_parse {
	int maxattr;
	nm_handler fn;
	void *arg;
};

static int valid_handler(struct nl_msg *msg, void *arg)
{
	struct nm_parse *p = arg;
	struct nlattr *tb[p->maxattr + 1];

	/* No policy: attributes above maxattr (newer modules) are skipped. */
	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, p->maxattr, NULL) < 0)
		return NL_SKIP;
	p->fn(tb, nlmsg_hdr(msg), p->arg);
	return NL_OK;
}

/* Send @cmd (a dump if @dump) and feed each reply to @fn.  Return: 0 or -errno. */
static int nm_request(struct nm *nm, uint8_t cmd, bool dump, int maxattr,
		      nm_handler fn, void *arg)
{
	struct nm_parse p = { .maxattr = maxattr, .fn = fn, .arg = arg };
	struct nl_msg *msg;
	struct nl_cb *cb;
	int err = 1, ret;

	msg = nlmsg_alloc();
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!msg || !cb) {
		ret = -ENOMEM;
		goto out;
	}
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nm->family, 0,
			 dump ? NLM_F_DUMP : 0, cmd, NPU_MEM_GENL_VERSION)) {
		ret = -ENOMEM;
		goto out;
	}
	nl_cb_err(cb, NL_CB_CUSTOM, error_handler, &err);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, finish_handler, &err);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, ack_handler, &err);
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, valid_handler, &p);
	ret = nl_send_auto(nm->sock, msg);
	if (ret < 0) {
		ret = -EIO;
		goto out;
	}
	while (err > 0) {
		ret = nl_recvmsgs(nm->sock, cb);
		if (ret < 0 && err > 0) {
			ret = -EIO;
			goto out;
		}
	}
	ret = err;
out:
	nl_cb_put(cb);
	nlmsg_free(msg);
	return ret;
}

static int nm_fail(const char *what, int err)
{
	errmsg("%s: %s", what, strerror(-err));
	return 1;
}

/* The options given (struct args.given). */
enum {
	OPT_DEVICE = 1 << 0,
	OPT_PID = 1 << 1,
	OPT_COUNT = 1 << 2,
	OPT_QUIET = 1 << 3,
};

/* The command line, as the commands see it. */
struct args {
	uint64_t device;	/* objects --device */
	uint64_t pid;		/* objects --pid */
	uint64_t count;		/* watch --count, or 0: no limit */
	bool quiet;		/* watch --quiet */
	unsigned int given;	/* the OPT_* given */
};

/* Dump @cmd as a list, one row each by @row.  Return: exit status. */
static int dump_list(struct nm *nm, uint8_t cmd, int maxattr, nm_handler row,
		     void *arg, const char *what)
{
	int ret;

	open_json_array(NULL);
	ret = nm_request(nm, cmd, true, maxattr, row, arg);
	if (ret)
		return nm_fail(what, ret);
	close_json_array();
	return 0;
}

/* ---- devices */

static void device_row(struct nlattr **tb, struct nlmsghdr *nlh, void *arg)
{
	uint64_t total = get_u64(tb, NPU_MEM_A_DEV_TOTAL);
	uint64_t used = get_u64(tb, NPU_MEM_A_DEV_USED);

	(void)nlh;
	(void)arg;
	open_json_object(NULL);
	print_u32(PRINT_ANY, "id", "%-6u", get_u32(tb, NPU_MEM_A_DEV_ID));
	print_size(PRINT_ANY, "total", " %12s", total);
	print_size(PRINT_ANY, "used", " %12s", used);
	print_size(PRINT_ANY, "free", " %12s", total - used);
	print_u32(PRINT_ANY, "objects", " %8u", get_u32(tb, NPU_MEM_A_DEV_OBJECTS));
	print_u32(PRINT_ANY, "exports", " %8u", get_u32(tb, NPU_MEM_A_DEV_EXPORTS));
	print_size(PRINT_ANY, "zero_reserve", " %12s", get_u64(tb, NPU_MEM_A_DEV_ZERO_RESERVE));
	close_json_object();
	print_nl();
}

static int cmd_devices(struct nm *nm, struct args *a)
{
	(void)a;
	print_fp("%-6s %12s %12s %12s %8s %8s %12s\n", "DEVICE", "TOTAL", "USED",
		 "FREE", "OBJECTS", "EXPORTS", "ZEROED");
	return dump_list(nm, NPU_MEM_CMD_GET_DEVICE, NPU_MEM_A_DEV_MAX, device_row, NULL,
			 "cannot list devices");
}

/* ---- objects */

struct holder {
	uint32_t tgid, device;
	bool imported;
};

/* Call @fn for each NPU_MEM_A_OBJ_HOLDER of @nlh (a repeated attribute). */
static void for_each_holder(struct nlmsghdr *nlh,
			    void (*fn)(const struct holder *h, void *arg), void *arg)
{
	struct genlmsghdr *ghdr = nlmsg_data(nlh);
	struct nlattr *a, *htb[NPU_MEM_A_HOLDER_MAX + 1];
	struct holder h;
	int rem;

	nla_for_each_attr(a, genlmsg_attrdata(ghdr, 0), genlmsg_attrlen(ghdr, 0), rem) {
		if (nla_type(a) != NPU_MEM_A_OBJ_HOLDER ||
		    nla_parse_nested(htb, NPU_MEM_A_HOLDER_MAX, a, NULL) < 0)
			continue;
		h.tgid = get_u32(htb, NPU_MEM_A_HOLDER_TGID);
		h.device = get_u32(htb, NPU_MEM_A_HOLDER_DEVICE);
		h.imported = has(htb, NPU_MEM_A_HOLDER_IMPORTED);
		fn(&h, arg);
	}
}

/*
 * An object as the dump gives it: its first message, and the holders of
 * that message and of the ones that continue it (NPU_MEM_A_OBJ_CONTINUED).
 * It is printed when the next object starts, or the dump ends.
 */
struct object {
	struct nlmsghdr *nlh;	/* copy of its first message; NULL: none */
	uint32_t id;
	struct holder *holders;
	unsigned int n, cap;
	bool oom;
	const struct args *a;
	/* prints a gathered object: a row (objects), its importers (importers) */
	void (*print)(struct nlattr **tb, const struct object *o);
};

static void holder_add(const struct holder *h, void *arg)
{
	struct object *o = arg;

	if (o->n == o->cap) {
		unsigned int cap = o->cap ? 2 * o->cap : 16;
		struct holder *v = realloc(o->holders, cap * sizeof(*v));

		if (!v) {
			o->oom = true;
			return;
		}
		o->holders = v;
		o->cap = cap;
	}
	o->holders[o->n++] = *h;
}

/* Does the object pass the filters objects --device and --pid? */
static bool object_wanted(struct nlattr **tb, const struct object *o)
{
	const struct args *a = o->a;
	unsigned int i;

	if ((a->given & OPT_DEVICE) && get_u32(tb, NPU_MEM_A_OBJ_DEVICE) != a->device)
		return false;
	if (!(a->given & OPT_PID))
		return true;
	if (has(tb, NPU_MEM_A_OBJ_OWNER_TGID) && get_u32(tb, NPU_MEM_A_OBJ_OWNER_TGID) == a->pid)
		return true;
	for (i = 0; i < o->n; i++)
		if (o->holders[i].tgid == a->pid)
			return true;
	return false;
}

/* Text: the tgid, "(i)" if imported, a comma between; JSON: an object. */
static void holder_print(const struct holder *h, bool first)
{
	if (!first)
		print_fp(",");
	open_json_object(NULL);
	print_u32(PRINT_ANY, "tgid", "%u", h->tgid);
	print_u32(PRINT_JSON, "device", NULL, h->device);
	print_bool(PRINT_JSON, "imported", NULL, h->imported);
	print_string(PRINT_FP, NULL, "%s", h->imported ? "(i)" : "");
	close_json_object();
}

static const char *const page_kinds[] = { "normal", "huge", "huge1g" };

static const char *page_kind_name(uint32_t k)
{
	return k < ARRAY_SIZE(page_kinds) ? page_kinds[k] : "?";
}

/*
 * The text column WHITELST: "-" (not exported, or another user's object),
 * "off", or "N pids".
 */
static const char *whitelist_text(struct nlattr **tb, char *buf, size_t len)
{
	if (!has(tb, NPU_MEM_A_OBJ_EXPORTED) || !has(tb, NPU_MEM_A_OBJ_WHITELIST))
		return "-";
	if (!get_u8(tb, NPU_MEM_A_OBJ_WHITELIST))
		return "off";
	snprintf(buf, len, "%u pids", get_u32(tb, NPU_MEM_A_OBJ_WHITELIST_SIZE));
	return buf;
}

/* What kind of value an exported object has: "vmm", "ipc-key" or "fabric". */
static const char *share_kind_name(struct nlattr **tb)
{
	switch (has(tb, NPU_MEM_A_OBJ_SHARE_KIND) ? get_u32(tb, NPU_MEM_A_OBJ_SHARE_KIND) : 0) {
	case NPU_MEM_SHARE_IPC_KEY:
		return "ipc-key";
	case NPU_MEM_SHARE_FABRIC:
		return "fabric";
	default:
		return "vmm";
	}
}

/* Export state, value and whitelist: where JSON and the table want them. */
static void object_export(struct nlattr **tb)
{
	bool exported = has(tb, NPU_MEM_A_OBJ_EXPORTED);
	char wl[32];

	print_bool(PRINT_JSON, "exported", NULL, exported);
	print_string(PRINT_FP, NULL, " %-8s", exported ? share_kind_name(tb) : "no");
	if (has(tb, NPU_MEM_A_OBJ_SHAREABLE))
		print_0xhex(PRINT_JSON, "shareable", NULL, get_u64(tb, NPU_MEM_A_OBJ_SHAREABLE));
	if (exported && has(tb, NPU_MEM_A_OBJ_WHITELIST)) {
		print_bool(PRINT_JSON, "whitelist", NULL, get_u8(tb, NPU_MEM_A_OBJ_WHITELIST));
		print_u32(PRINT_JSON, "whitelist_size", NULL,
			  get_u32(tb, NPU_MEM_A_OBJ_WHITELIST_SIZE));
	}
	if (exported)
		print_string(PRINT_JSON, "share_kind", NULL, share_kind_name(tb));
	print_string(PRINT_FP, NULL, " %-8s", whitelist_text(tb, wl, sizeof(wl)));
}

/*
 * A u32 of an object that the module leaves out of another user's objects:
 * "-" in the table, no member in JSON.
 */
static void print_obj_u32(struct nlattr **tb, int i, const char *key, const char *fmt,
			  const char *dash)
{
	if (has(tb, i))
		print_u32(PRINT_ANY, key, fmt, get_u32(tb, i));
	else
		print_string(PRINT_FP, NULL, dash, "-");
}

static void object_row(struct nlattr **tb, const struct object *o)
{
	unsigned int i;

	open_json_object(NULL);
	print_u32(PRINT_ANY, "id", "%-6u", get_u32(tb, NPU_MEM_A_OBJ_ID));
	print_u32(PRINT_ANY, "device", " %-4u", get_u32(tb, NPU_MEM_A_OBJ_DEVICE));
	print_size(PRINT_ANY, "size", " %10s", get_u64(tb, NPU_MEM_A_OBJ_SIZE));
	print_string(PRINT_ANY, "page_kind", " %-7s",
		     page_kind_name(get_u32(tb, NPU_MEM_A_OBJ_PAGE_KIND)));
	print_size(PRINT_ANY, "pmd_bytes", " %8s", get_u64(tb, NPU_MEM_A_OBJ_PMD_BYTES));
	print_obj_u32(tb, NPU_MEM_A_OBJ_OWNER_TGID, "owner_tgid", " %-7u", " %-7s");
	if (has(tb, NPU_MEM_A_OBJ_OWNER_COMM))
		print_string(PRINT_ANY, "owner_comm", " %-15s",
			     get_str(tb, NPU_MEM_A_OBJ_OWNER_COMM));
	else
		print_string(PRINT_FP, NULL, " %-15s", "-");
	object_export(tb);
	print_obj_u32(tb, NPU_MEM_A_OBJ_HOLDERS, "holders", " %4u", " %4s");
	print_obj_u32(tb, NPU_MEM_A_OBJ_MAPPINGS, "mappings", " %4u", " %4s");
	print_fp("  ");
	open_json_array("holder_list");
	for (i = 0; i < o->n; i++)
		holder_print(&o->holders[i], !i);
	close_json_array();
	if (!o->n)
		print_fp("-");
	if (has(tb, NPU_MEM_A_OBJ_SHAREABLE))
		print_0xhex(PRINT_FP, NULL, "  0x%016" PRIx64, get_u64(tb, NPU_MEM_A_OBJ_SHAREABLE));
	close_json_object();
	print_nl();
}

/* Print the object gathered so far, if any and if wanted, and forget it. */
static void object_flush(struct object *o)
{
	struct nlattr *tb[NPU_MEM_A_OBJ_MAX + 1] = { NULL };

	if (!o->nlh)
		return;
	if (genlmsg_parse(o->nlh, 0, tb, NPU_MEM_A_OBJ_MAX, NULL) >= 0 &&
	    object_wanted(tb, o))
		o->print(tb, o);
	free(o->nlh);
	o->nlh = NULL;
	o->n = 0;
}

/* A GET_OBJECT message: a new object, or more holders of the current one. */
static void object_msg(struct nlattr **tb, struct nlmsghdr *nlh, void *arg)
{
	struct object *o = arg;
	uint32_t id = get_u32(tb, NPU_MEM_A_OBJ_ID);

	if (!o->nlh || !has(tb, NPU_MEM_A_OBJ_CONTINUED) || id != o->id) {
		object_flush(o);
		o->nlh = malloc(nlh->nlmsg_len);
		if (!o->nlh) {
			o->oom = true;
			return;
		}
		memcpy(o->nlh, nlh, nlh->nlmsg_len);
		o->id = id;
	}
	for_each_holder(nlh, holder_add, o);
}

/* Dump the objects, gathering each one's holders, and print each with @print. */
static int objects_dump(struct nm *nm, struct args *a,
			void (*print)(struct nlattr **tb, const struct object *o))
{
	struct object o = { .a = a, .print = print };
	int ret;

	open_json_array(NULL);
	ret = nm_request(nm, NPU_MEM_CMD_GET_OBJECT, true, NPU_MEM_A_OBJ_MAX,
			 object_msg, &o);
	if (!ret)
		object_flush(&o);
	free(o.nlh);
	free(o.holders);
	if (!ret && o.oom)
		ret = -ENOMEM;
	if (ret)
		return nm_fail("cannot list objects", ret);
	close_json_array();
	return 0;
}

static int cmd_objects(struct nm *nm, struct args *a)
{
	print_fp("%-6s %-4s %10s %-7s %8s %-7s %-15s %-8s %-8s %4s %4s  %s\n", "OBJECT",
		 "DEV", "SIZE", "PAGES", "IN-2M", "OWNER", "COMM", "EXPORTED", "WHITELST",
		 "HOLD", "MAPS", "HOLDER TGIDS ((i): imported)  [SHAREABLE]");
	return objects_dump(nm, a, object_row);
}

/*
 * importers: one row per import of an object, with its exporter (the
 * allocating process, "-" when it is another user's) and the device the
 * import is bound to.  --pid keeps the rows whose importer or exporter it is.
 */
static void importer_rows(struct nlattr **tb, const struct object *o)
{
	bool owner = has(tb, NPU_MEM_A_OBJ_OWNER_TGID);
	uint32_t exporter = get_u32(tb, NPU_MEM_A_OBJ_OWNER_TGID);
	unsigned int i;

	for (i = 0; i < o->n; i++) {
		const struct holder *h = &o->holders[i];

		if (!h->imported)
			continue;
		if ((o->a->given & OPT_PID) && h->tgid != o->a->pid &&
		    !(owner && exporter == o->a->pid))
			continue;
		open_json_object(NULL);
		print_u32(PRINT_ANY, "object", "%-6u", get_u32(tb, NPU_MEM_A_OBJ_ID));
		print_u32(PRINT_ANY, "device", " %-4u", get_u32(tb, NPU_MEM_A_OBJ_DEVICE));
		print_size(PRINT_ANY, "size", " %10s", get_u64(tb, NPU_MEM_A_OBJ_SIZE));
		print_obj_u32(tb, NPU_MEM_A_OBJ_OWNER_TGID, "exporter_tgid", " %-8u", " %-8s");
		if (has(tb, NPU_MEM_A_OBJ_OWNER_COMM))
			print_string(PRINT_ANY, "exporter_comm", " %-15s",
				     get_str(tb, NPU_MEM_A_OBJ_OWNER_COMM));
		else
			print_string(PRINT_FP, NULL, " %-15s", "-");
		print_u32(PRINT_ANY, "importer_tgid", " %-8u", h->tgid);
		print_u32(PRINT_ANY, "import_device", " %u", h->device);
		close_json_object();
		print_nl();
	}
}

static int cmd_importers(struct nm *nm, struct args *a)
{
	print_fp("%-6s %-4s %10s %-8s %-15s %-8s %s\n", "OBJECT", "DEV", "SIZE", "EXPORTER",
		 "COMM", "IMPORTER", "ON-DEV");
	return objects_dump(nm, a, importer_rows);
}

/* ---- procs: the kernel reports open files; sum them per process */

struct proc {
	uint32_t tgid, files, handles, mappings;
	char comm[32];
	uint64_t allocated, imported;
};

struct proc_list {
	struct proc *v;
	unsigned int n, cap;
	bool oom;
};

/* The entry of @tgid in @pl, added (with @comm) if new; NULL: out of memory. */
static struct proc *proc_get(struct proc_list *pl, uint32_t tgid, const char *comm)
{
	struct proc *p;
	unsigned int i;

	for (i = 0; i < pl->n; i++)
		if (pl->v[i].tgid == tgid)
			return &pl->v[i];
	if (pl->n == pl->cap) {
		unsigned int cap = pl->cap ? 2 * pl->cap : 16;
		struct proc *v = realloc(pl->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		pl->v = v;
		pl->cap = cap;
	}
	p = &pl->v[pl->n++];
	memset(p, 0, sizeof(*p));
	p->tgid = tgid;
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
	return p;
}

static void proc_row(struct nlattr **tb, struct nlmsghdr *nlh, void *arg)
{
	struct proc_list *pl = arg;
	struct proc *p;

	(void)nlh;
	p = proc_get(pl, get_u32(tb, NPU_MEM_A_PROC_TGID), get_str(tb, NPU_MEM_A_PROC_COMM));
	if (!p) {
		pl->oom = true;
		return;
	}
	p->files++;
	p->allocated += get_u64(tb, NPU_MEM_A_PROC_ALLOCATED);
	p->imported += get_u64(tb, NPU_MEM_A_PROC_IMPORTED);
	p->handles += get_u32(tb, NPU_MEM_A_PROC_HANDLES);
	p->mappings += get_u32(tb, NPU_MEM_A_PROC_MAPPINGS);
}

static void proc_print(const struct proc *p)
{
	open_json_object(NULL);
	print_u32(PRINT_ANY, "tgid", "%-7u", p->tgid);
	print_string(PRINT_ANY, "comm", " %-15s", p->comm);
	print_u32(PRINT_ANY, "files", " %5u", p->files);
	print_size(PRINT_ANY, "allocated", " %12s", p->allocated);
	print_size(PRINT_ANY, "imported", " %12s", p->imported);
	print_u32(PRINT_ANY, "handles", " %7u", p->handles);
	print_u32(PRINT_ANY, "mappings", " %8u", p->mappings);
	close_json_object();
	print_nl();
}

static int cmd_procs(struct nm *nm, struct args *a)
{
	struct proc_list pl = { 0 };
	unsigned int i;
	int ret;

	(void)a;
	ret = nm_request(nm, NPU_MEM_CMD_GET_PROC, true, NPU_MEM_A_PROC_MAX,
			 proc_row, &pl);
	if (!ret && pl.oom)
		ret = -ENOMEM;
	if (ret) {
		free(pl.v);
		return nm_fail("cannot list processes", ret);
	}
	print_fp("%-7s %-15s %5s %12s %12s %7s %8s\n", "TGID", "COMM", "FILES",
		 "ALLOCATED", "IMPORTED", "HANDLES", "MAPPINGS");
	open_json_array(NULL);
	for (i = 0; i < pl.n; i++)
		proc_print(&pl.v[i]);
	close_json_array();
	free(pl.v);
	return 0;
}

/* ---- info */

static void info_row(struct nlattr **tb, struct nlmsghdr *nlh, void *arg)
{
	bool admin = has(tb, NPU_MEM_A_INFO_ADMIN);

	(void)nlh;
	*(bool *)arg = true;
	open_json_object(NULL);
	print_u32(PRINT_ANY, "abi_major", "module:       npu_mem, ABI %u",
		  get_u32(tb, NPU_MEM_A_INFO_ABI_MAJOR));
	print_u32(PRINT_ANY, "abi_minor", ".%u", get_u32(tb, NPU_MEM_A_INFO_ABI_MINOR));
	print_u32(PRINT_ANY, "genl_version", ", netlink family version %u\n",
		  get_u32(tb, NPU_MEM_A_INFO_GENL_VERSION));
	print_u32(PRINT_ANY, "num_devices", "devices:      %u\n",
		  get_u32(tb, NPU_MEM_A_INFO_NUM_DEVICES));
	print_bool(PRINT_JSON, "admin", NULL, admin);
	print_string(PRINT_FP, NULL, "view:         %s\n", admin ?
		     "everything (CAP_SYS_ADMIN)" : "own user's objects and files only");
	print_u32(PRINT_ANY, "tool_abi_major", "this tool:    ABI %u", NPU_MEM_ABI_MAJOR);
	print_u32(PRINT_ANY, "tool_abi_minor", ".%u", NPU_MEM_ABI_MINOR);
	print_u32(PRINT_ANY, "tool_genl_version", ", netlink family version %u\n",
		  NPU_MEM_GENL_VERSION);
	close_json_object();
}

static int cmd_info(struct nm *nm, struct args *a)
{
	bool got = false;
	int ret;

	(void)a;
	ret = nm_request(nm, NPU_MEM_CMD_GET_INFO, false, NPU_MEM_A_INFO_MAX,
			 info_row, &got);
	if (ret)
		return nm_fail("cannot get module information", ret);
	if (!got) {
		errmsg("the module sent no information");
		return 1;
	}
	return 0;
}

/* ---- watch */

static const char *const event_names[] = {
	[NPU_MEM_EVENT_ALLOCATED] = "allocated",
	[NPU_MEM_EVENT_FREED] = "freed",
	[NPU_MEM_EVENT_EXPORTED] = "exported",
	[NPU_MEM_EVENT_PIDS_SET] = "pids-set",
	[NPU_MEM_EVENT_IMPORTED] = "imported",
	[NPU_MEM_EVENT_IMPORT_REFUSED] = "import-refused",
	[NPU_MEM_EVENT_HOLDER_DIED] = "holder-died",
	[NPU_MEM_EVENT_RELEASED] = "released",
};

static const char *const reason_names[] = {
	[NPU_MEM_REFUSAL_NOT_WHITELISTED] = "not-whitelisted",
	[NPU_MEM_REFUSAL_PID_REUSED] = "pid-reused",
	[NPU_MEM_REFUSAL_SELF_IMPORT] = "self-import",
	[NPU_MEM_REFUSAL_DUPLICATE] = "duplicate",
	[NPU_MEM_REFUSAL_DEAD_VALUE] = "dead-value",
};

struct watch_state {
	uint64_t seen, count;	/* count 0: no limit */
	uint64_t seq;		/* the last event's number */
	bool have_seq;		/* seq is set */
};

/*
 * Say on stderr how many events came before this one (@tb) unseen: the
 * module's rate limit held back "suppressed" of them, the rest were lost
 * (this socket's buffer overflowed).
 */
static void watch_gap(struct watch_state *ws, struct nlattr **tb)
{
	uint64_t seq = get_u64(tb, NPU_MEM_A_EV_SEQ);
	uint64_t sup = get_u64(tb, NPU_MEM_A_EV_SUPPRESSED), gap;

	if (!has(tb, NPU_MEM_A_EV_SEQ))
		return;
	if (ws->have_seq && seq > ws->seq + 1) {
		gap = seq - ws->seq - 1;
		if (sup > gap)
			sup = gap;
		if (sup)
			errmsg("%" PRIu64 " import-refused events suppressed by the module's "
			       "rate limit (before event %" PRIu64 ")", sup, seq);
		if (gap > sup)
			errmsg("%" PRIu64 " events lost (before event %" PRIu64 ")",
			       gap - sup, seq);
	}
	ws->seq = seq;
	ws->have_seq = true;
}

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* An event's time as text: local time, with microseconds. */
static const char *event_time(uint64_t ns, char *buf, size_t len)
{
	time_t sec = ns / 1000000000;
	char tbuf[32];
	struct tm tm;

	localtime_r(&sec, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06u", tbuf, (unsigned int)(ns % 1000000000 / 1000));
	return buf;
}

/* A u32 attribute that an event may lack: printed only when present. */
static void print_opt_u32(struct nlattr **tb, int i, const char *key, const char *fmt)
{
	if (has(tb, i))
		print_u32(PRINT_ANY, key, fmt, get_u32(tb, i));
}

static void event_row(struct nlattr **tb, struct nlmsghdr *nlh, void *arg)
{
	struct watch_state *ws = arg;
	struct genlmsghdr *ghdr = nlmsg_data(nlh);
	uint64_t ns = get_u64(tb, NPU_MEM_A_EV_TIME);
	char ts[64], ebuf[24], rbuf[24];
	const char *reason = NULL;

	if (ghdr->cmd != NPU_MEM_CMD_EVENT || (ws->count && ws->seen >= ws->count))
		return;
	ws->seen++;
	watch_gap(ws, tb);
	if (has(tb, NPU_MEM_A_EV_REASON))
		reason = enum_name(reason_names, ARRAY_SIZE(reason_names),
				   get_u32(tb, NPU_MEM_A_EV_REASON), rbuf, sizeof(rbuf));
	open_json_object(NULL);
	print_string(PRINT_ANY, "time", "%s", event_time(ns, ts, sizeof(ts)));
	print_u64(PRINT_JSON, "time_ns", NULL, ns);
	if (has(tb, NPU_MEM_A_EV_SEQ))
		print_u64(PRINT_JSON, "seq", NULL, get_u64(tb, NPU_MEM_A_EV_SEQ));
	if (has(tb, NPU_MEM_A_EV_SUPPRESSED))
		print_u64(PRINT_JSON, "suppressed", NULL, get_u64(tb, NPU_MEM_A_EV_SUPPRESSED));
	print_string(PRINT_ANY, "event", " %-14s",
		     enum_name(event_names, ARRAY_SIZE(event_names),
			       get_u32(tb, NPU_MEM_A_EV_TYPE), ebuf, sizeof(ebuf)));
	print_opt_u32(tb, NPU_MEM_A_EV_OBJ, "object", " object %u");
	print_opt_u32(tb, NPU_MEM_A_EV_DEVICE, "device", " device %u");
	if (has(tb, NPU_MEM_A_EV_SIZE))
		print_size(PRINT_ANY, "size", " size %s", get_u64(tb, NPU_MEM_A_EV_SIZE));
	if (has(tb, NPU_MEM_A_EV_TGID)) {
		print_u32(PRINT_ANY, "tgid", " pid %u", get_u32(tb, NPU_MEM_A_EV_TGID));
		print_string(PRINT_ANY, "comm", " (%s)", get_str(tb, NPU_MEM_A_EV_COMM));
	}
	if (reason)
		print_string(PRINT_JSON, "reason", NULL, reason);
	print_opt_u32(tb, NPU_MEM_A_EV_PIDS, "pids", " pids %u");
	if (has(tb, NPU_MEM_A_EV_SHAREABLE))
		print_0xhex(PRINT_ANY, "shareable", " value 0x%016" PRIx64,
			    get_u64(tb, NPU_MEM_A_EV_SHAREABLE));
	if (reason)
		print_string(PRINT_FP, NULL, " reason %s", reason);
	close_json_object();
	print_nl();
	fflush(stdout);
}

/* Notifications carry sequence number 0: accept them. */
static int no_seq_check(struct nl_msg *msg, void *arg)
{
	(void)msg;
	(void)arg;
	return NL_OK;
}

/* Join the "events" group, on a non-blocking socket.  Return: 0, or 1. */
static int watch_join(struct nm *nm)
{
	int grp, ret;

	grp = genl_ctrl_resolve_grp(nm->sock, NPU_MEM_GENL_NAME, NPU_MEM_GENL_MCGRP_EVENTS);
	if (grp < 0) {
		errmsg("multicast group \"%s\" not found: %s", NPU_MEM_GENL_MCGRP_EVENTS,
		       nl_geterror(grp));
		return 1;
	}
	ret = nl_socket_add_membership(nm->sock, grp);
	if (ret) {
		errmsg("cannot join the \"%s\" group: %s%s", NPU_MEM_GENL_MCGRP_EVENTS,
		       nl_geterror(ret), ret == -NLE_PERM ? " (needs CAP_SYS_ADMIN)" : "");
		return 1;
	}
	nl_socket_set_nonblocking(nm->sock);
	nl_socket_set_buffer_size(nm->sock, 1 << 20, 0);
	return 0;
}

/* Block SIGINT and SIGTERM outside ppoll(@orig): no wakeup is lost. */
static void watch_signals(sigset_t *orig)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, orig);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Print events until a signal, or @ws->count of them.  Return: exit status. */
static int watch_loop(struct nm *nm, struct nl_cb *cb, struct watch_state *ws,
		      const sigset_t *orig)
{
	struct pollfd pfd = { .fd = nl_socket_get_fd(nm->sock), .events = POLLIN };
	int ret;

	while (!stop_signal && (!ws->count || ws->seen < ws->count)) {
		if (ppoll(&pfd, 1, NULL, orig) < 0) {
			if (errno == EINTR)
				continue;
			errmsg("poll: %s", strerror(errno));
			return 1;
		}
		ret = nl_recvmsgs(nm->sock, cb);
		if (ret == -NLE_NOMEM) {
			/* ENOBUFS: the socket overflowed; say so and go on. */
			errmsg("events were lost (receive buffer overflow)");
		} else if (ret < 0 && ret != -NLE_AGAIN) {
			errmsg("cannot receive events: %s", nl_geterror(ret));
			return 1;
		}
	}
	return 0;
}

static int cmd_watch(struct nm *nm, struct args *a)
{
	struct nm_parse p = { .maxattr = NPU_MEM_A_EV_MAX, .fn = event_row };
	struct watch_state ws = { .count = a->count };
	struct nl_cb *cb;
	sigset_t orig;
	int ret;

	if (watch_join(nm))
		return 1;
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb) {
		errmsg("out of memory");
		return 1;
	}
	p.arg = &ws;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, valid_handler, &p);
	nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, no_seq_check, NULL);
	watch_signals(&orig);
	if (!a->quiet)
		fprintf(stderr, "%s: listening for events\n", prog);
	ret = watch_loop(nm, cb, &ws, &orig);
	nl_cb_put(cb);
	return ret;
}

/* ---- the command line */

struct command {
	const char *name;
	int (*run)(struct nm *nm, struct args *a);
	const char *help;	/* for usage: lines, after the synopsis */
	const char *synopsis;	/* for usage: what follows the name */
	unsigned int opts;	/* the OPT_* it takes */
};

static const struct command commands[] = {
	{ "devices", cmd_devices,
	  "each device: capacity, bytes used, live objects,\n"
	  "live shareable values", "", 0 },
	{ "objects", cmd_objects,
	  "each live physical object: id, device, size, owner,\n"
	  "export state, whitelist, holders, mappings;\n"
	  "--device: only objects on device N; --pid: only\n"
	  "objects allocated or held by bare tgid P",
	  " [--device N] [--pid P]", OPT_DEVICE | OPT_PID },
	{ "importers", cmd_importers,
	  "each import of an object: the object, its exporter,\n"
	  "the importing process and the device it bound the\n"
	  "import to; --device: objects on device N; --pid:\n"
	  "imports by, or of objects exported by, bare tgid P",
	  " [--device N] [--pid P]", OPT_DEVICE | OPT_PID },
	{ "procs", cmd_procs,
	  "each process with /dev/npu_mem open: bytes it\n"
	  "allocated and imported, handles, mappings", "", 0 },
	{ "watch", cmd_watch,
	  "print events as they happen, one per line with a\n"
	  "timestamp, until SIGINT/SIGTERM or N events\n"
	  "(needs CAP_SYS_ADMIN)", " [--count N]", OPT_COUNT | OPT_QUIET },
	{ "info", cmd_info, "module ABI and netlink family versions", "", 0 },
};

#define HELP_COLUMN 29

/* One command in usage: its synopsis, then its help from HELP_COLUMN on. */
static void usage_command(const struct command *c)
{
	const char *line, *end;
	int col;

	col = printf("  %s%s", c->name, c->synopsis);
	if (col >= HELP_COLUMN) {
		putchar('\n');
		col = 0;
	}
	for (line = c->help; *line; line = *end ? end + 1 : end) {
		end = strchrnul(line, '\n');
		printf("%*s%.*s\n", HELP_COLUMN - col, "", (int)(end - line), line);
		col = 0;
	}
}

static void usage(void)
{
	size_t i;

	fputs("Usage: npu-mem [--json] COMMAND [OPTIONS]\n"
	      "       npu-mem --version\n"
	      "Show the simulated NPU memory of npu_mem.ko and who holds it.\n"
	      "\n"
	      "Commands:\n", stdout);
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		usage_command(&commands[i]);
	fputs("\n"
"Options:\n"
"  -j, --json                 machine-readable output: one JSON array for\n"
"                             devices/objects/procs (one element per line), one\n"
"                             JSON object per line for watch and info\n"
"  -q, --quiet                watch: do not announce on stderr that it listens\n"
"  -V, --version              this tool's version, and the ABI and netlink family\n"
"                             version it was built for\n"
"  -h, --help                 this text\n"
"\n"
"Permissions: without CAP_SYS_ADMIN, objects and procs show only the objects\n"
"and files of processes running with the caller's effective uid, holders of\n"
"other users are left out, and shareable values are never shown; of another\n"
"user's object only id, device, size, pages, exported and own holders.\n"
"\n"
"Events: allocated, freed, exported, pids-set, imported, import-refused (with a\n"
"reason: not-whitelisted, pid-reused, self-import, duplicate, dead-value),\n"
"holder-died (the process exited with the handle), released (the last holder\n"
"let go; the memory is back on its device).  watch says on stderr how many\n"
"events it missed (held back by the module's rate limit, or lost).\n"
"\n"
"Exit status: 0 success, 1 the request failed, 2 bad usage.\n"
"Do not screen-scrape the tables; use --json.\n", stdout);
}

static void version(void)
{
	printf("%s %s (ABI %u.%u, genl %u)\n", prog, NPU_MEM_TOOL_VERSION,
	       NPU_MEM_ABI_MAJOR, NPU_MEM_ABI_MINOR, NPU_MEM_GENL_VERSION);
}

/* The options that take a number. */
static const struct number_option {
	int c;
	unsigned int opt;	/* its OPT_* */
	size_t off;		/* where it goes: offsetof(struct args, ...) */
	uint64_t min, max;
	const char *bad;	/* what an out-of-range value is not */
} number_options[] = {
	{ 'd', OPT_DEVICE, offsetof(struct args, device), 0, UINT32_MAX - 1,
	  "--device: not a device id" },
	{ 'p', OPT_PID, offsetof(struct args, pid), 0, INT32_MAX, "--pid: not a pid" },
	{ 'c', OPT_COUNT, offsetof(struct args, count), 1, ULONG_MAX,
	  "--count: not a positive number" },
};

/* Option @c's number, optarg, into @a.  Return: 0, or -1 (said why). */
static int parse_number(int c, struct args *a)
{
	const struct number_option *o = number_options;
	const char *s = optarg;
	unsigned long long v;
	char *end;

	while (o->c != c)
		o++;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || !*s || *end || *s == '-' || v < o->min || v > o->max) {
		errmsg("%s: %s", o->bad, s);
		return -1;
	}
	*(uint64_t *)((char *)a + o->off) = v;
	a->given |= o->opt;
	return 0;
}

/* Parse the options into @a.  Return: -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "device", required_argument, NULL, 'd' },
		{ "pid", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	/* GNU getopt permutes: options may come before or after the command. */
	while ((c = getopt_long(argc, argv, "jqhVd:p:c:", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			print_set_json(true);
			break;
		case 'q':
			a->quiet = true;
			a->given |= OPT_QUIET;
			break;
		case 'h':
			usage();
			return 0;
		case 'V':
			version();
			return 0;
		case 'd':
		case 'p':
		case 'c':
			if (parse_number(c, a))
				return 2;
			break;
		default:
			fprintf(stderr, "Try '%s --help'.\n", prog);
			return 2;
		}
	}
	return -1;
}

/* The command named after the options, or NULL (bad usage, said why). */
static const struct command *find_command(int argc, char **argv)
{
	const char *name;
	size_t i;

	if (optind >= argc) {
		errmsg("no command given; try '%s --help'", prog);
		return NULL;
	}
	name = argv[optind++];
	if (optind < argc) {
		errmsg("unexpected argument '%s'", argv[optind]);
		return NULL;
	}
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	errmsg("unknown command '%s'; try '%s --help'", name, prog);
	return NULL;
}

/* Refuse the options @c does not take.  Return: 0, or -1 (said why). */
static int check_options(const struct command *c, const struct args *a)
{
	unsigned int stray = a->given & ~c->opts;

	if (stray & (OPT_DEVICE | OPT_PID)) {
		errmsg("--device and --pid only apply to 'objects'");
		return -1;
	}
	if (stray & (OPT_COUNT | OPT_QUIET)) {
		errmsg("--count and --quiet only apply to 'watch'");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	const struct command *cmd;
	struct nm nm;
	int ret;

	ret = parse_options(argc, argv, &a);
	if (ret >= 0)
		return ret;
	cmd = find_command(argc, argv);
	if (!cmd || check_options(cmd, &a))
		return 2;
	if (nm_open(&nm))
		return 1;
	ret = cmd->run(&nm, &a);
	nl_socket_free(nm.sock);
	if (fflush(stdout) == EOF && !ret) {
		errmsg("write error: %s", strerror(errno));
		ret = 1;
	}
	return ret;
}
