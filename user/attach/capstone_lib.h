/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Capstone, the disassembler that places the entry probes, opened when first used. */
#ifndef MW_CAPSTONE_LIB_H
#define MW_CAPSTONE_LIB_H

#include <capstone/capstone.h>

extern typeof(cs_open) *sym_cs_open;
extern typeof(cs_option) *sym_cs_option;
extern typeof(cs_malloc) *sym_cs_malloc;
extern typeof(cs_free) *sym_cs_free;
extern typeof(cs_close) *sym_cs_close;
extern typeof(cs_disasm_iter) *sym_cs_disasm_iter;
extern typeof(cs_insn_group) *sym_cs_insn_group;
extern typeof(cs_regs_access) *sym_cs_regs_access;

/* 0 once the sym_cs_* functions can be called; -ENOENT (said once with -v) if not. */
int capstone_load(void);

#endif /* MW_CAPSTONE_LIB_H */
