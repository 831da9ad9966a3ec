// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dwarf.h>
#include <elfutils/libdwelf.h>
#include <sys/user.h>
#include <linux/types.h>
#include "attach/mapped_file.h"
#include "memwatch.h"
#include "stacks/debuginfo.h"
#include "stacks/go_stack.h"
#include "stacks/unwind.h"
#include "sys/clock.h"
#include "sys/fileio.h"
#include "sys/log.h"
#include "sys/procmaps.h"
#include "sys/safe_open.h"

/*
 * How often a process's modules may be read again when a sample has an
 * address in none (a library loaded since): a JIT's anonymous code is in
 * none for good, and must not make every sample read /proc.
 */
#define MAPS_REREAD_S 0.02

/* Every module is reported with its opened file: libdwfl opens no path itself. */
static int no_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base,
		  char **file_name, Elf **elfp)
{
	(void)mod, (void)userdata, (void)name, (void)base, (void)file_name, (void)elfp;
	return -1;
}

/*
 * libdwfl asks for a module's debug file with the debuglink of its main
 * file, then for the dwz file the debug file's DWARF shares (its
 * .gnu_debugaltlink name as @debuglink): that one is not looked for, and
 * must not be answered with the module's debug file. Its names are in the
 * debug file's .symtab, which dwz leaves whole.
 */
static bool asks_alt_file(Dwfl_Module *mod, const char *debuglink)
{
	GElf_Word crc;
	GElf_Addr bias;
	Elf *elf = dwfl_module_getelf(mod, &bias);
	const char *own = elf ? dwelf_elf_gnu_debuglink(elf, &crc) : NULL;

	return debuglink && (!own || strcmp(own, debuglink));
}

/*
 * A module's separate debug file, by its build ID in the process's root
 * (debuginfo.c): the module's userdata is its unwinder. Without one, the
 * module's own .symtab, .dynsym, .gnu_debugdata and DWARF are used.
 */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base,
			  const char *file_name, const char *debuglink, GElf_Word crc,
			  char **debuginfo_file_name)
{
	const struct unwinder *u = *userdata;

	(void)name, (void)base, (void)file_name, (void)crc;
	if (!u || u->root_fd < 0 || asks_alt_file(mod, debuglink))
		return -1;
	return debuginfo_open(mod, u->root_fd, debuginfo_file_name);
}

static const Dwfl_Callbacks callbacks = {
	.find_elf = no_elf,
	.find_debuginfo = find_debuginfo,
};

/* The one thread there is: the sample's. */
static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_arg)
{
	struct unwinder *u = arg;

	(void)dwfl;
	if (*thread_arg)
		return 0;
	*thread_arg = u;
	return u->sample->head.tid;
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_arg)
{
	(void)dwfl, (void)tid;
	*thread_arg = arg;
	return true;
}

/*
 * Reads of the stack come from the sample's copy, where a slot a uretprobe
 * took reads as the return address it replaced; anything else fails.
 */
static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	const struct mw_stack_sample *s = ((struct unwinder *)arg)->sample;
	__u32 i;

	(void)dwfl;
	if (addr < s->base || addr - s->base > s->len || s->len - (addr - s->base) < sizeof(*result))
		return false;
	memcpy(result, s->stack + (addr - s->base), sizeof(*result));
	for (i = 0; i < s->nr_fixups && i < MW_STACK_FIXUPS; i++) {
		if (s->fixups[i].slot == addr)
			*result = s->fixups[i].ret;
	}
	return true;
}

/* The sample's registers in DWARF's numbering: x86-64's pt_regs is user_regs_struct's start. */
static bool set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	const struct mw_stack_sample *s = ((struct unwinder *)arg)->sample;
	struct user_regs_struct r = { 0 };
	Dwarf_Word regs[17];

	memcpy(&r, s->regs, sizeof(r) < sizeof(s->regs) ? sizeof(r) : sizeof(s->regs));
	regs[0] = r.rax;
	regs[1] = r.rdx;
	regs[2] = r.rcx;
	regs[3] = r.rbx;
	regs[4] = r.rsi;
	regs[5] = r.rdi;
	regs[6] = r.rbp;
	regs[7] = r.rsp;
	regs[8] = r.r8;
	regs[9] = r.r9;
	regs[10] = r.r10;
	regs[11] = r.r11;
	regs[12] = r.r12;
	regs[13] = r.r13;
	regs[14] = r.r14;
	regs[15] = r.r15;
	regs[16] = r.rip;
	if (!dwfl_thread_state_registers(thread, 0, 17, regs))
		return false;
	dwfl_thread_state_register_pc(thread, r.rip);
	return true;
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = next_thread,
	.get_thread = get_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

int unwinder_init(struct unwinder *u, pid_t pid, __u64 execs)
{
	*u = (struct unwinder){ .pid = pid, .root_fd = -1, .execs = execs };
	u->dwfl = dwfl_begin(&callbacks);
	return u->dwfl ? 0 : -ENOMEM;
}

void unwinder_free(struct unwinder *u)
{
	if (u->dwfl)
		dwfl_end(u->dwfl);
	if (u->root_fd >= 0)
		close(u->root_fd);
	*u = (struct unwinder){ .root_fd = -1 };
}

/*
 * The load bias of ELF file @fd that mapping @e maps: the executable segment
 * holding the mapping's file offset says which address that offset was linked
 * at. start - offset is the bias only where a segment's address equals its
 * offset (GNU ld's layout); lld's (Rust's default linker) puts them a page or
 * more apart. false when no such segment is there.
 */
static bool load_bias(int fd, const struct maps_entry *e, GElf_Addr *bias)
{
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	bool found = false;
	GElf_Phdr ph;
	size_t n, i;

	if (!elf || elf_getphdrnum(elf, &n))
		n = 0;
	for (i = 0; i < n && !found; i++) {
		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		/* the mapping begins at the page of the segment's first byte, or past it */
		found = e->offset >= (ph.p_offset & ~(GElf_Off)(getpagesize() - 1)) &&
			e->offset < ph.p_offset + ph.p_filesz;
		if (found)
			*bias = e->start - e->offset + ph.p_offset - ph.p_vaddr;
	}
	elf_end(elf);
	return found;
}

/* One executable mapping of a file, reported unless a module is there already. */
static void report_mapping(struct unwinder *u, const struct maps_entry *e)
{
	struct file_mapping m = {
		.id = { .major = e->dev_major, .minor = e->dev_minor, .inode = e->inode },
		.start = e->start, .end = e->end,
	};
	char path[PATH_MAX], why[256];
	Dwfl_Module *mod = NULL;
	void **userdata;
	GElf_Addr bias;
	int fd;

	if (dwfl_addrmodule(u->dwfl, e->start))
		return;
	snprintf(path, sizeof(path), "%.*s", e->path_len, e->path);
	fd = mapped_file_open(u->pid, u->root_fd, path, &m, why, sizeof(why));
	if (fd < 0)
		return;
	if (load_bias(fd, e, &bias))
		mod = dwfl_report_elf(u->dwfl, path, path, fd, bias, true);
	if (!mod) {
		close(fd);
		return;
	}
	/* find_debuginfo() looks in this process's root */
	dwfl_module_info(mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
	*userdata = u;
	u->modules++;
	go_stack_switch(mod, &u->go_switch_start, &u->go_switch_end);
}

void unwinder_load(struct unwinder *u)
{
	char path[64], *maps, *line;
	struct maps_entry e;

	u->maps_read_s = monotonic_s();
	u->stale = false;
	if (u->root_fd < 0)
		u->root_fd = safe_open_root(u->pid);
	snprintf(path, sizeof(path), "/proc/%d/maps", u->pid);
	maps = read_path(path, NULL);
	if (!maps || u->root_fd < 0) {
		free(maps);
		return;
	}
	/* the modules reported before stay: samples of a process gone are still unwound */
	dwfl_report_begin_add(u->dwfl);
	for (line = maps; *line; line = strchrnul(line, '\n'), line += !!*line) {
		if (maps_parse_line(line, &e) || !e.inode || e.perms[2] != 'x' || e.path[0] != '/')
			continue;
		report_mapping(u, &e);
	}
	dwfl_report_end(u->dwfl, NULL, NULL);
	free(maps);
	if (!u->attached && u->modules)
		u->attached = dwfl_attach_state(u->dwfl, NULL, u->pid, &thread_callbacks, u);
	vlog("stacks: pid %d: %u modules", u->pid, u->modules);
}

/* no code is mapped in the first page: mmap_min_addr keeps it free */
#define MIN_CODE_ADDRESS 4096

struct frames {
	const struct unwinder *u;
	__u64 *pcs;
	int n;
	bool unknown;		/* an address in no module */
};

static int frame_cb(Dwfl_Frame *frame, void *arg)
{
	struct frames *f = arg;
	bool activation;
	Dwarf_Addr pc;

	/*
	 * A return address in the first page (0, or Go's rt0_go's 4): the
	 * outermost frame was the one before.
	 */
	if (!dwfl_frame_pc(frame, &pc, &activation) || (pc < MIN_CODE_ADDRESS && f->n))
		return DWARF_CB_ABORT;
	/* a return address is after its call: the call's line is before it */
	if (!activation && pc)
		pc--;
	f->pcs[f->n++] = pc;
	if (pc >= f->u->go_switch_start && pc < f->u->go_switch_end)
		return DWARF_CB_ABORT;
	return f->n < MW_MAX_FRAMES ? DWARF_CB_OK : DWARF_CB_ABORT;
}

static void unwind(struct unwinder *u, struct frames *f)
{
	struct user_regs_struct r = { 0 };
	int i;

	f->n = 0;
	f->unknown = false;
	if (u->attached)
		/* it ends with an error where the stack copy or the call-frame information does */
		dwfl_getthread_frames(u->dwfl, u->sample->head.tid, frame_cb, f);
	if (!f->n) {
		memcpy(&r, u->sample->regs, sizeof(r) < sizeof(u->sample->regs) ?
		       sizeof(r) : sizeof(u->sample->regs));
		f->pcs[f->n++] = r.rip;
	}
	for (i = 0; i < f->n; i++)
		f->unknown |= !dwfl_addrmodule(u->dwfl, f->pcs[i]);
}

/* code mappings read at once as they come, before their rate is bounded */
#define MAPPED_AT_ONCE 64

void unwinder_mapped(struct unwinder *u)
{
	if (u->mapped++ < MAPPED_AT_ONCE || monotonic_s() - u->maps_read_s >= MAPS_REREAD_S)
		unwinder_load(u);
	else
		u->stale = true;
}

int unwind_sample(struct unwinder *u, const struct mw_stack_sample *s, __u64 pcs[MW_MAX_FRAMES])
{
	struct frames f = { .u = u, .pcs = pcs };

	u->sample = s;
	if (!u->maps_read_s)
		unwinder_load(u);
	unwind(u, &f);
	/* a library loaded since the modules were read: read them again, and unwind again */
	if (f.unknown && (u->stale || monotonic_s() - u->maps_read_s >= MAPS_REREAD_S)) {
		unwinder_load(u);
		unwind(u, &f);
	}
	u->sample = NULL;
	return f.n;
}
