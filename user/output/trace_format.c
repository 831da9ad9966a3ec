// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#define _GNU_SOURCE
#include <stdbool.h>
#include <string.h>
#include "output/escape.h"
#include "output/json.h"
#include "model/counters.h"
#include "output/trace_format.h"

#define MAX_ERRNO 4095

/* where an argument sits in the record */
enum arg_slot {
	SLOT_ADDR,
	SLOT_LEN,
	SLOT_ARG,
	SLOT_FLAGS,
};

/* how it is shown: numbers as they are, the rest by name as strace does */
enum arg_kind {
	ARG_ADDR,
	ARG_LEN,
	ARG_FD,		/* an int: PIDFD_SELF_* are negative */
	ARG_PROT,
	ARG_MMAP_FLAGS,
	ARG_MREMAP_FLAGS,
	ARG_ADVICE,
};

struct trace_arg {
	const char *name;
	enum arg_slot slot;
	enum arg_kind kind;
};

struct trace_call {
	bool returns_addr;
	int nr_args;
	struct trace_arg args[4];
};

#define ADDR { "addr", SLOT_ADDR, ARG_ADDR }
#define LEN { "len", SLOT_LEN, ARG_LEN }

/* the arguments of each call in strace's order, those that change memory; names: the registry's */
static const struct trace_call calls[] = {
	[MW_SYS_NONE] = { false, 0, {} },
	[MW_SYS_BRK] = { true, 1, { ADDR } },
	[MW_SYS_MMAP] = { true, 4,
			  { ADDR, LEN, { "prot", SLOT_ARG, ARG_PROT },
			    { "flags", SLOT_FLAGS, ARG_MMAP_FLAGS } } },
	[MW_SYS_MUNMAP] = { false, 2, { ADDR, LEN } },
	[MW_SYS_MREMAP] = { true, 4,
			    { ADDR, { "old_len", SLOT_LEN, ARG_LEN },
			      { "new_len", SLOT_ARG, ARG_LEN },
			      { "flags", SLOT_FLAGS, ARG_MREMAP_FLAGS } } },
	[MW_SYS_MPROTECT] = { false, 3, { ADDR, LEN, { "prot", SLOT_ARG, ARG_PROT } } },
	[MW_SYS_MADVISE] = { false, 3, { ADDR, LEN, { "advice", SLOT_ARG, ARG_ADVICE } } },
	/* process_madvise(pidfd, iovec, vlen, advice, flags): flags are always 0 */
	[MW_SYS_PROCESS_MADVISE] = { false, 4,
				     { { "pidfd", SLOT_FLAGS, ARG_FD },
				       { "iovec", SLOT_ADDR, ARG_ADDR },
				       { "vlen", SLOT_LEN, ARG_LEN },
				       { "advice", SLOT_ARG, ARG_ADVICE } } },
};
_Static_assert(MW_ARRAY_SIZE(calls) == MW_SYS_NR, "a --trace layout for every traced syscall");

/* a name for the bits of @mask equal to @value */
struct flag_name {
	__u64 mask;
	__u64 value;
	const char *name;
};

#define BIT_NAME(bit, name) { bit, bit, name }

static const struct flag_name prot_names[] = {
	BIT_NAME(0x1, "PROT_READ"),
	BIT_NAME(0x2, "PROT_WRITE"),
	BIT_NAME(0x4, "PROT_EXEC"),
	BIT_NAME(0x8, "PROT_SEM"),
	BIT_NAME(0x01000000, "PROT_GROWSDOWN"),
	BIT_NAME(0x02000000, "PROT_GROWSUP"),
	{},
};

static const struct flag_name mmap_flag_names[] = {
	/* the mapping type is a field, not a bit */
	{ 0x3, 0x1, "MAP_SHARED" },
	{ 0x3, 0x2, "MAP_PRIVATE" },
	{ 0x3, 0x3, "MAP_SHARED_VALIDATE" },
	BIT_NAME(0x10, "MAP_FIXED"),
	BIT_NAME(0x20, "MAP_ANONYMOUS"),
	BIT_NAME(0x100, "MAP_GROWSDOWN"),
	BIT_NAME(0x800, "MAP_DENYWRITE"),
	BIT_NAME(0x1000, "MAP_EXECUTABLE"),
	BIT_NAME(0x2000, "MAP_LOCKED"),
	BIT_NAME(0x4000, "MAP_NORESERVE"),
	BIT_NAME(0x8000, "MAP_POPULATE"),
	BIT_NAME(0x10000, "MAP_NONBLOCK"),
	BIT_NAME(0x20000, "MAP_STACK"),
	BIT_NAME(0x40000, "MAP_HUGETLB"),
	BIT_NAME(0x80000, "MAP_SYNC"),
	BIT_NAME(0x100000, "MAP_FIXED_NOREPLACE"),
	BIT_NAME(0x4000000, "MAP_UNINITIALIZED"),
	{},
};

static const struct flag_name mremap_flag_names[] = {
	BIT_NAME(0x1, "MREMAP_MAYMOVE"),
	BIT_NAME(0x2, "MREMAP_FIXED"),
	BIT_NAME(0x4, "MREMAP_DONTUNMAP"),
	{},
};

static const char *const advice_names[] = {
	[0] = "MADV_NORMAL",
	[1] = "MADV_RANDOM",
	[2] = "MADV_SEQUENTIAL",
	[3] = "MADV_WILLNEED",
	[4] = "MADV_DONTNEED",
	[8] = "MADV_FREE",
	[9] = "MADV_REMOVE",
	[10] = "MADV_DONTFORK",
	[11] = "MADV_DOFORK",
	[12] = "MADV_MERGEABLE",
	[13] = "MADV_UNMERGEABLE",
	[14] = "MADV_HUGEPAGE",
	[15] = "MADV_NOHUGEPAGE",
	[16] = "MADV_DONTDUMP",
	[17] = "MADV_DODUMP",
	[18] = "MADV_WIPEONFORK",
	[19] = "MADV_KEEPONFORK",
	[20] = "MADV_COLD",
	[21] = "MADV_PAGEOUT",
	[22] = "MADV_POPULATE_READ",
	[23] = "MADV_POPULATE_WRITE",
	[24] = "MADV_DONTNEED_LOCKED",
	[25] = "MADV_COLLAPSE",
};

/* "PROT_READ|PROT_WRITE", with any unnamed bits in hex; @none for 0 */
static void flags_name(char *buf, size_t size, const struct flag_name *names, __u64 value,
		       const char *none)
{
	size_t len = 0;
	__u64 rest = value;

	buf[0] = '\0';
	if (!value) {
		snprintf(buf, size, "%s", none);
		return;
	}
	for (; names->name; names++) {
		if ((value & names->mask) != names->value)
			continue;
		rest &= ~names->mask;
		len += snprintf(buf + len, len < size ? size - len : 0, "%s%s", len ? "|" : "",
				names->name);
	}
	if (rest)
		snprintf(buf + len, len < size ? size - len : 0, "%s%#llx", len ? "|" : "",
			 (unsigned long long)rest);
}

static __u64 arg_value(const struct mw_trace_event *e, enum arg_slot slot)
{
	switch (slot) {
	case SLOT_ADDR:
		return e->addr;
	case SLOT_LEN:
		return e->len;
	case SLOT_ARG:
		return e->arg;
	default:
		return e->flags;
	}
}

/* The symbolic arguments by name; false for the numeric ones. */
static bool arg_name(char *buf, size_t size, enum arg_kind kind, __u64 value)
{
	switch (kind) {
	case ARG_PROT:
		flags_name(buf, size, prot_names, value, "PROT_NONE");
		return true;
	case ARG_MMAP_FLAGS:
		flags_name(buf, size, mmap_flag_names, value, "0");
		return true;
	case ARG_MREMAP_FLAGS:
		flags_name(buf, size, mremap_flag_names, value, "0");
		return true;
	case ARG_ADVICE:
		if (value < sizeof(advice_names) / sizeof(advice_names[0]) && advice_names[value])
			snprintf(buf, size, "%s", advice_names[value]);
		else
			snprintf(buf, size, "%llu", (unsigned long long)value);
		return true;
	default:
		return false;
	}
}

static bool failed(const struct mw_trace_event *e)
{
	return e->ret < 0 && e->ret >= -MAX_ERRNO;
}

static void print_text(FILE *out, const struct mw_trace_event *e, const struct trace_call *c,
		       double time_s, const char *comm)
{
	char name[256];
	int i;

	fprintf(out, "%12.6f (%8.3f ms): %s/%u %s(", time_s, e->duration_ns / 1e6,
		ESC(comm, MW_COMM_LEN), e->tid, mw_syscall_keys[e->nr]);
	for (i = 0; i < c->nr_args; i++) {
		const struct trace_arg *a = &c->args[i];
		__u64 value = arg_value(e, a->slot);

		if (i)
			fputs(", ", out);
		if (arg_name(name, sizeof(name), a->kind, value))
			fputs(name, out);
		else if (a->kind == ARG_FD)
			fprintf(out, "%d", (int)value);
		else if (a->kind == ARG_LEN)
			fprintf(out, "%llu", (unsigned long long)value);
		else if (value)
			fprintf(out, "%#llx", (unsigned long long)value);
		else
			fputs("NULL", out);
	}
	if (failed(e))
		fprintf(out, ") = -1 %s (%s)", strerrorname_np(-e->ret) ?: "E?", strerror(-e->ret));
	else if (c->returns_addr)
		fprintf(out, ") = %#llx", (unsigned long long)e->ret);
	else
		fprintf(out, ") = %lld", (long long)e->ret);
	fprintf(out, "  rss %+lld\n", (long long)e->resident_change);
}

static void print_json(FILE *out, const struct mw_trace_event *e, const struct trace_call *c,
		       double time_s, const char *comm)
{
	char name[256];
	int i;

	fprintf(out, "{\"type\":\"syscall\",\"time_s\":%.6f,\"duration_ns\":%llu,\"tid\":%u,"
		"\"comm\":", time_s, (unsigned long long)e->duration_ns, e->tid);
	json_string(out, comm);
	fprintf(out, ",\"call\":\"%s\"", mw_syscall_keys[e->nr]);
	for (i = 0; i < c->nr_args; i++) {
		const struct trace_arg *a = &c->args[i];
		__u64 value = arg_value(e, a->slot);

		fprintf(out, ",\"%s\":", a->name);
		if (arg_name(name, sizeof(name), a->kind, value))
			json_string(out, name);
		else if (a->kind == ARG_FD)
			fprintf(out, "%d", (int)value);
		else
			fprintf(out, "%llu", (unsigned long long)value);
	}
	fprintf(out, ",\"result\":%lld", (long long)e->ret);
	if (failed(e)) {
		fputs(",\"error\":", out);
		json_string(out, strerrorname_np(-e->ret) ?: "E?");
	}
	fprintf(out, ",\"resident_change_bytes\":%lld}\n", (long long)e->resident_change);
}

typedef void print_fn(FILE *out, const struct mw_trace_event *e, const struct trace_call *c,
		      double time_s, const char *comm);

static void print_record(FILE *out, const struct mw_trace_event *e, __u64 start_ns,
			 print_fn *print)
{
	double time_s = e->time_ns > start_ns ? (e->time_ns - start_ns) / 1e9 : 0;
	char comm[MW_COMM_LEN + 1];

	if (e->nr <= MW_SYS_NONE || e->nr >= MW_SYS_NR)
		return;
	/* the kernel terminates comm, but the record comes from a shared buffer */
	memcpy(comm, e->comm, MW_COMM_LEN);
	comm[MW_COMM_LEN] = '\0';
	print(out, e, &calls[e->nr], time_s, comm);
}

void trace_print_text(FILE *out, const struct mw_trace_event *e, __u64 start_ns)
{
	print_record(out, e, start_ns, print_text);
}

void trace_print_json(FILE *out, const struct mw_trace_event *e, __u64 start_ns)
{
	print_record(out, e, start_ns, print_json);
}
