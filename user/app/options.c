// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <argp.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "app/exitcodes.h"
#include "app/options.h"
#include "attach/allocator.h"
#include "kernel/live_table.h"
#include "sys/log.h"

#define MW_DEFAULT_MAX_ALLOCS (1UL << 21)	/* when the memory memwatch may use is unknown */
/* the live table's key space: beyond this a hash map is no longer sensible */
#define MW_LIMIT_MAX_ALLOCS (1UL << 28)

const char *argp_program_version = "memwatch 0.1.0";

static const char args_doc[] = "-p PID[,PID...]\n--cgroup PATH\n[--] CMD [ARGS...]";

#define DOC_SYSCALL(TAG, name, returns) " " #name

static const char doc[] =
	"Per-thread heap growth against memory returned to the OS.\n"
	"\n"
	"Traces processes' malloc family and memory syscalls:\n"
	" " MW_SYSCALLS(DOC_SYSCALL) "\n"
	"and reports per thread what it allocated and freed, what it took from\n"
	"the OS, and what it gave back: asked for, and actually left RSS.\n"
	"\n"
	"EXAMPLES:\n"
	"  memwatch -p 1234                 # live view on a terminal until it exits\n"
	"  memwatch -p 1234,1240 -p 1300    # three processes, until all exit\n"
	"  memwatch --no-tui -p 1234        # text reports on the terminal too\n"
	"  memwatch -i 5 -c 3 -p 1234       # three reports, 5 seconds apart\n"
	"  memwatch -- ./server --port 80   # launch it, watch from its 1st malloc\n"
	"  memwatch -f -- ./prefork-server  # and every process it forks\n"
	"  memwatch --cgroup /sys/fs/cgroup/system.slice/nginx.service   # a service\n"
	"  memwatch --format=json -o mw.json -- make   # JSON lines to a file\n"
	"  memwatch --no-malloc -p 1234     # syscalls only: no uprobe in 1234\n"
	"  memwatch --trace -p 1234         # each syscall and its RSS effect, then a summary\n"
	"  memwatch --trace=json -p 1234    # the same as JSON lines\n"
	"  memwatch --listen 9464 --format=none -p 1234   # Prometheus metrics only\n"
	"  memwatch --stacks=all -- ./server  # which code allocates: call sites\n"
	"  memwatch --stacks --pprof heap.pb.gz -- ./server   # for go tool pprof";

enum {
	OPT_NO_MALLOC = 0x100,
	OPT_MAX_ALLOCS,
	OPT_FORMAT,
	OPT_JSON,
	OPT_LIBC,
	OPT_NO_TUI,
	OPT_TRACE,
	OPT_FORCE_PTRACED,
	OPT_LISTEN,
	OPT_METRICS_THREADS,
	OPT_CGROUP,
	OPT_STACKS,
	OPT_TOP,
	OPT_SAMPLE_BYTES,
	OPT_FOLDED,
	OPT_PPROF,
};

/* --top's default: the sites the summary lists by live and by allocated bytes */
#define MW_DEFAULT_TOP 20

static const struct argp_option options[] = {
	{ "pid", 'p', "PID[,PID...]", 0,
	  "Watch process PID (a thread ID means its process); a list, or -p again, watches "
	  "several (at most 64)", 0 },
	{ "follow-forks", 'f', NULL, 0,
	  "Watch the children the watched processes fork too, recursively, until every one "
	  "exited", 0 },
	{ "cgroup", OPT_CGROUP, "PATH", 0,
	  "Watch every process in cgroup (v2) PATH and its descendants, those that join too, "
	  "until interrupted", 0 },
	{ "interval", 'i', "SECS", 0, "Report every SECS seconds (default 1, fractions allowed)", 0 },
	{ "count", 'c', "N", 0, "Exit after N reports (refreshes of the live view)", 0 },
	{ "iterations", 'n', "N", OPTION_ALIAS, NULL, 0 },
	{ "no-malloc", OPT_NO_MALLOC, NULL, 0, "Trace syscalls only: attach no uprobe", 0 },
	{ "max-allocs", OPT_MAX_ALLOCS, "N",
	  0, "Live blocks the allocation table grows to hold, at most 64 bytes of kernel memory "
	  "each (default: a quarter of the memory memwatch may use)", 0 },
	{ "format", OPT_FORMAT, "FORMAT", 0,
	  "tui (the live view: the default on a terminal), text (the default otherwise), json "
	  "(one object per line) or none (no reports: with --listen)", 0 },
	{ "json", OPT_JSON, NULL, 0, "Same as --format=json", 0 },
	{ "no-tui", OPT_NO_TUI, NULL, 0, "Same as --format=text (with --json: json)", 0 },
	{ "trace", OPT_TRACE, "FORMAT", OPTION_ARG_OPTIONAL,
	  "Print each traced syscall with its RSS effect instead of the reports: as text or json "
	  "(default: --format's, else text)", 0 },
	{ "output", 'o', "FILE", 0, "Write reports to FILE instead of stdout", 0 },
	{ "libc", OPT_LIBC, "PATH", 0, "Probe the malloc family in PATH instead of the one found", 0 },
	{ "force-ptraced", OPT_FORCE_PTRACED, NULL, 0,
	  "Place uprobes even in a process a debugger traces (it may then die of SIGTRAP)", 0 },
	{ "listen", OPT_LISTEN, "[HOST:]PORT", 0,
	  "Serve Prometheus metrics at http://HOST:PORT/metrics (a bare PORT: 127.0.0.1 only)", 0 },
	{ "metrics-threads", OPT_METRICS_THREADS, NULL, 0,
	  "With --listen: per-thread series too (memwatch_thread_*)", 0 },
	{ "stacks", OPT_STACKS, "MODE", OPTION_ARG_OPTIONAL,
	  "Record allocations' call stacks (unwound from DWARF call-frame information) and list "
	  "the call sites in the summary: sampled (the default: one allocation per about 512 KiB "
	  "asked, the sites' numbers estimated from them) or all (every allocation's); memory "
	  "syscalls' stacks in both (at most 100 per 100 ms)", 0 },
	{ "sample-bytes", OPT_SAMPLE_BYTES, "N", 0,
	  "With --stacks=sampled: the mean bytes between two sampled allocations (K, M suffixes; "
	  "default 512K)", 0 },
	{ "top", OPT_TOP, "N", 0,
	  "With --stacks: the summary lists the N sites, and the N callers, with most live and "
	  "most allocated bytes (default 20), and those that grew or returned 1 MiB", 0 },
	{ "folded", OPT_FOLDED, "FILE", 0,
	  "With --stacks: at the end, write every call site to FILE as folded stacks "
	  "(flamegraph.pl, inferno, speedscope), each with its allocated bytes", 0 },
	{ "pprof", OPT_PPROF, "FILE", 0,
	  "With --stacks: at the end, write every call site to FILE as a gzipped pprof profile "
	  "(go tool pprof): allocated and live objects and bytes, grown and returned bytes", 0 },
	{ "verbose", 'v', NULL, 0, "Print libbpf debug output and probe sites", 0 },
	{},
};

/* A size in bytes with an optional K, M or G suffix (binary), from 1 to 1 GiB. */
static __u64 parse_size(const char *arg, struct argp_state *state, const char *what)
{
	unsigned long long value;
	unsigned int shift = 0;
	char *end;

	errno = 0;
	value = strtoull(arg, &end, 10);
	if (*end && !end[1] && strchr("KMG", *end))
		shift = *end == 'K' ? 10 : *end == 'M' ? 20 : 30;
	if (errno || end == arg || !isdigit((unsigned char)*arg) || (*end && !shift) ||
	    !value || value > (1ULL << 30) >> shift)
		argp_error(state, "invalid %s '%s': expected bytes from 1 to 1G (K, M, G suffixes)",
			   what, arg);
	return value << shift;
}

static long parse_long(const char *arg, long min, long max, struct argp_state *state,
		       const char *what)
{
	char *end;
	long value;

	errno = 0;
	value = strtol(arg, &end, 10);
	if (errno || end == arg || *end || value < min || value > max)
		argp_error(state, "invalid %s '%s': expected an integer from %ld to %ld", what, arg,
			   min, max);
	return value;
}

/* -p's list, PIDs apart by commas, added to those of an -p before. */
static void parse_pids(const char *arg, struct mw_options *o, struct argp_state *state)
{
	const char *pid = arg;
	char one[32];
	size_t len;
	int i;

	for (;;) {
		len = strcspn(pid, ",");
		/* longer is no PID, and stays none cut short */
		snprintf(one, sizeof(one), "%.*s", (int)len, pid);
		if (o->nr_pids == MW_MAX_PIDS)
			argp_error(state, "too many processes: -p takes at most %d", MW_MAX_PIDS);
		o->pids[o->nr_pids] = parse_long(one, 1, INT_MAX, state, "PID");
		for (i = 0; i < o->nr_pids; i++) {
			if (o->pids[i] == o->pids[o->nr_pids])
				argp_error(state, "PID %d given twice", o->pids[i]);
		}
		o->nr_pids++;
		if (!pid[len])
			return;
		pid += len + 1;
	}
}

/* Whether two options name one file, as written: each would truncate the other's. */
static bool same_path(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* What the format options asked for, resolved once all are read. */
struct format_request {
	enum report_format format;	/* REPORT_FORMAT_NR: none */
	const char *named_by;		/* the option that asked, for messages */
	enum report_format trace;	/* --trace=FORMAT */
	bool no_tui;
	const char *other;		/* an option that asked for another format */
	enum report_format other_format;
};

struct parse_state {
	struct mw_options *o;
	struct format_request f;
};

static enum report_format parse_format(const char *arg, struct argp_state *state,
				       const char *what)
{
	enum report_format format = report_format_find(arg);
	char names[64];

	if (format == REPORT_FORMAT_NR)
		argp_error(state, "invalid %s '%s': expected %s", what, arg,
			   report_format_names(names, sizeof(names)));
	return format;
}

/* --format=F and its aliases: one format, asked once or alike. */
static void ask_format(struct format_request *f, enum report_format format, const char *option)
{
	if (f->format != REPORT_FORMAT_NR && f->format != format) {
		f->other = option;
		f->other_format = format;
		return;
	}
	f->format = format;
	f->named_by = option;
}

/* What follows @option in a message: the format's name after "--format=". */
static const char *option_value(const char *option, enum report_format format)
{
	return option[strlen(option) - 1] == '=' ? reporters[format]->name : "";
}

/*
 * The one format of the reports (and --trace's records): what the options
 * asked, else the live view on a terminal that nothing else was asked to
 * write to, else text. 0, or a usage error's exit status (said in one line).
 */
static int resolve_format(struct format_request *f, struct mw_options *o)
{
	bool terminal = isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);

	if (f->trace != REPORT_FORMAT_NR)
		ask_format(f, f->trace, "--trace=");
	if (f->no_tui && f->format == REPORT_TUI)
		ask_format(f, REPORT_TEXT, "--no-tui");
	if (f->other) {
		elog("%s%s and %s%s ask for different formats", f->named_by,
		     option_value(f->named_by, f->format), f->other,
		     option_value(f->other, f->other_format));
		return MW_EXIT_USAGE;
	}
	if (f->format == REPORT_FORMAT_NR)
		f->format = !f->no_tui && !o->trace && !o->output && terminal ? REPORT_TUI
									      : REPORT_TEXT;
	o->format = f->format;
	/* a reporter that prints no syscall line (the live view) cannot take --trace */
	if (o->trace && !reporters[o->format]->syscall) {
		elog("--trace prints a line per syscall: not as %s", reporters[o->format]->name);
		return MW_EXIT_USAGE;
	}
	if (o->format != REPORT_TUI)
		return 0;
	if (o->output)
		elog("--format=tui draws on the terminal: -o FILE takes text or json");
	else if (!terminal)
		elog("--format=tui needs a terminal on standard input and output");
	else
		return 0;
	return MW_EXIT_USAGE;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	struct parse_state *ps = state->input;
	struct mw_options *o = ps->o;
	char why[256];
	char *end;

	switch (key) {
	case 'p':
		parse_pids(arg, o, state);
		break;
	case 'f':
		o->follow_forks = true;
		break;
	case OPT_CGROUP:
		o->cgroup = arg;
		break;
	case 'i':
		errno = 0;
		o->interval_s = strtod(arg, &end);
		if (errno || end == arg || *end || !(o->interval_s >= 0.01 && o->interval_s <= 86400))
			argp_error(state, "invalid interval '%s': expected seconds from 0.01 to 86400",
				   arg);
		break;
	case 'c':
	case 'n':
		o->count = parse_long(arg, 1, LONG_MAX, state, "count");
		break;
	case OPT_NO_MALLOC:
		o->no_malloc = true;
		break;
	case OPT_MAX_ALLOCS:
		o->max_allocs = parse_long(arg, 1, MW_LIMIT_MAX_ALLOCS, state, "--max-allocs");
		break;
	case OPT_FORMAT:
		ask_format(&ps->f, parse_format(arg, state, "--format"), "--format=");
		break;
	case OPT_JSON:
		ask_format(&ps->f, REPORT_JSON, "--json");
		break;
	case OPT_NO_TUI:
		ps->f.no_tui = true;
		break;
	case OPT_TRACE:
		o->trace = true;
		if (arg)
			ps->f.trace = parse_format(arg, state, "--trace");
		break;
	case 'o':
		o->output = arg;
		break;
	case OPT_LIBC:
		o->libc = arg;
		break;
	case OPT_FORCE_PTRACED:
		o->force_ptraced = true;
		break;
	case OPT_LISTEN:
		if (listen_addr_parse(arg, &o->listen_addr, why, sizeof(why)))
			argp_error(state, "invalid --listen '%s': %s", arg, why);
		o->listen = arg;
		break;
	case OPT_METRICS_THREADS:
		o->metrics_threads = true;
		break;
	case OPT_STACKS:
		if (arg && strcmp(arg, "all") && strcmp(arg, "sampled"))
			argp_error(state, "invalid --stacks '%s': expected sampled or all", arg);
		o->stacks = true;
		o->stacks_all = arg && !strcmp(arg, "all");
		break;
	case OPT_SAMPLE_BYTES:
		o->sample_bytes = parse_size(arg, state, "--sample-bytes");
		break;
	case OPT_TOP:
		o->top = parse_long(arg, 1, 100000, state, "--top");
		break;
	case OPT_FOLDED:
		o->folded = arg;
		break;
	case OPT_PPROF:
		o->pprof = arg;
		break;
	case 'v':
		o->verbose = true;
		break;
	case ARGP_KEY_ARG:
		/* the command and everything after it belong to the command */
		o->cmd = &state->argv[state->next - 1];
		state->next = state->argc;
		break;
	case ARGP_KEY_END:
		if (!o->nr_pids && !o->cmd && !o->cgroup)
			argp_error(state, "give a process with -p PID, a cgroup with --cgroup PATH or a "
				   "command after --");
		if (!!o->nr_pids + !!o->cmd + !!o->cgroup > 1)
			argp_error(state, "-p PID, --cgroup PATH and a command exclude each other");
		/* its members' children are members */
		if (o->cgroup)
			o->follow_forks = true;
		if (o->metrics_threads && !o->listen)
			argp_error(state, "--metrics-threads adds to --listen's metrics");
		if (o->stacks && o->no_malloc)
			argp_error(state, "--stacks records allocator calls: not with --no-malloc");
		if (o->top && !o->stacks)
			argp_error(state, "--top lists --stacks' call sites");
		if ((o->folded || o->pprof) && !o->stacks)
			argp_error(state, "%s writes --stacks' call sites",
				   o->folded ? "--folded" : "--pprof");
		if (same_path(o->output, o->folded) || same_path(o->output, o->pprof) ||
		    same_path(o->folded, o->pprof))
			argp_error(state, "-o, --folded and --pprof each need a file of their own");
		if (o->sample_bytes && (!o->stacks || o->stacks_all))
			argp_error(state, "--sample-bytes sets --stacks=sampled's interval");
		if (o->stacks && !o->stacks_all && !o->sample_bytes)
			o->sample_bytes = MW_DEFAULT_SAMPLE_BYTES;
		if (!o->top)
			o->top = MW_DEFAULT_TOP;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/*
 * The live table's cap comes from the memory memwatch may use (BPF maps are
 * charged to its memory cgroup): a quarter of it by default, and no more.
 */
static int check_max_allocs(struct mw_options *o)
{
	unsigned long long quarter = live_table_memory_budget() / 4;
	unsigned long fits = quarter / MW_TABLE_BYTES_PER_BLOCK;

	if (!quarter) {
		if (!o->max_allocs)
			o->max_allocs = MW_DEFAULT_MAX_ALLOCS;
		return 0;
	}
	if (!o->max_allocs) {
		o->max_allocs = fits < MW_LIMIT_MAX_ALLOCS ? fits : MW_LIMIT_MAX_ALLOCS;
		if (!o->max_allocs)
			o->max_allocs = 1;
		return 0;
	}
	if (o->max_allocs <= fits)
		return 0;
	fprintf(stderr, "memwatch: --max-allocs %lu needs up to %llu MiB of kernel memory, more than "
		"a quarter of the %llu MiB memwatch may use (MemAvailable, memory cgroup)\n",
		o->max_allocs, (unsigned long long)o->max_allocs * MW_TABLE_BYTES_PER_BLOCK >> 20,
		quarter * 4 >> 20);
	return MW_EXIT_USAGE;
}

int options_parse(int argc, char **argv, struct mw_options *o)
{
	static const struct argp argp = {
		.options = options,
		.parser = parse_arg,
		.args_doc = args_doc,
		.doc = doc,
	};
	struct parse_state ps = {
		.o = o,
		.f = { .format = REPORT_FORMAT_NR, .trace = REPORT_FORMAT_NR },
	};
	char why[256];

	*o = (struct mw_options){
		.interval_s = 1.0,
	};
	argp_err_exit_status = MW_EXIT_USAGE;
	/* in order: the first non-option starts the command, its options stay its own */
	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, &ps) || resolve_format(&ps.f, o))
		return MW_EXIT_USAGE;
	/* a file that cannot be probed is a mistake in the command line, said before anything runs */
	if (o->libc && allocator_libc_check(o->libc, why, sizeof(why))) {
		elog("--libc %s: %s", o->libc, why);
		return MW_EXIT_USAGE;
	}
	return check_max_allocs(o);
}
