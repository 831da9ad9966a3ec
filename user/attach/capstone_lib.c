// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include "attach/capstone_lib.h"
#include "sys/lazy_lib.h"
#include "sys/log.h"

typeof(cs_open) *sym_cs_open;
typeof(cs_option) *sym_cs_option;
typeof(cs_malloc) *sym_cs_malloc;
typeof(cs_free) *sym_cs_free;
typeof(cs_close) *sym_cs_close;
typeof(cs_disasm_iter) *sym_cs_disasm_iter;
typeof(cs_insn_group) *sym_cs_insn_group;
typeof(cs_regs_access) *sym_cs_regs_access;

static const struct lazy_sym capstone_syms[] = {
	LAZY_SYM(cs_open), LAZY_SYM(cs_option), LAZY_SYM(cs_malloc), LAZY_SYM(cs_free),
	LAZY_SYM(cs_close), LAZY_SYM(cs_disasm_iter), LAZY_SYM(cs_insn_group),
	LAZY_SYM(cs_regs_access),
};

/* CAPSTONE_SONAME: the soname of the library built against (the Makefile reads it) */
_Static_assert(sizeof(CAPSTONE_SONAME) > 1,
	       "the Makefile found no soname: is libcapstone-dev installed?");

static struct lazy_lib capstone = {
	.soname = CAPSTONE_SONAME,
	.syms = capstone_syms,
	.nsyms = sizeof(capstone_syms) / sizeof(capstone_syms[0]),
};

int capstone_load(void)
{
	bool tried = capstone.handle || capstone.err;
	int err = lazy_lib_open(&capstone);

	/* probes then go at each function's first instruction, as without the disassembler */
	if (err && !tried)
		vlog("no disassembler (%s): entry probes at each function's first instruction",
		     capstone.why);
	return err;
}
