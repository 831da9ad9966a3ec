// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "attach/capstone_lib.h"
#include "attach/probe_site.h"
#include "sys/elf_file.h"

/* prologue instructions examined for a site */
#define SCAN_INSNS 16

/* the entry programs' arguments, and which functions a uretprobe accounts */
static const struct {
	unsigned char nargs;
	bool retprobe;
	unsigned int flags;
} fn_probes[MW_FUNC_NR] = {
	[MW_FUNC_MALLOC] = { 1, true, 0 },
	[MW_FUNC_CALLOC] = { 2, true, 0 },
	[MW_FUNC_REALLOC] = { 2, true, 0 },
	[MW_FUNC_REALLOCARRAY] = { 3, true, 0 },
	[MW_FUNC_FREE] = { 1, false, MW_SITE_SKIP_NULL_EXIT },
	[MW_FUNC_POSIX_MEMALIGN] = { 3, true, 0 },
	[MW_FUNC_ALIGNED_ALLOC] = { 2, true, 0 },
	[MW_FUNC_MEMALIGN] = { 2, true, 0 },
	[MW_FUNC_VALLOC] = { 1, true, 0 },
	[MW_FUNC_PVALLOC] = { 1, true, 0 },
};

/* the System V argument registers, each with its narrower names */
static const x86_reg arg_regs[6][5] = {
	{ X86_REG_RDI, X86_REG_EDI, X86_REG_DI, X86_REG_DIL },
	{ X86_REG_RSI, X86_REG_ESI, X86_REG_SI, X86_REG_SIL },
	{ X86_REG_RDX, X86_REG_EDX, X86_REG_DX, X86_REG_DL, X86_REG_DH },
	{ X86_REG_RCX, X86_REG_ECX, X86_REG_CX, X86_REG_CL, X86_REG_CH },
	{ X86_REG_R8, X86_REG_R8D, X86_REG_R8W, X86_REG_R8B },
	{ X86_REG_R9, X86_REG_R9D, X86_REG_R9W, X86_REG_R9B },
};

/* the kernel's x86_nops[]: since Linux 6.16 a uprobe on any of them is emulated */
static const uint8_t x86_nops[9][8] = {
	[1] = { 0x90 },
	[2] = { 0x66, 0x90 },
	[3] = { 0x0f, 0x1f, 0x00 },
	[4] = { 0x0f, 0x1f, 0x40, 0x00 },
	[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 },
	[6] = { 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00 },
	[7] = { 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00 },
	[8] = { 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 },
};

static bool is_legacy_prefix(uint8_t b)
{
	switch (b) {
	case 0xf0: case 0xf2: case 0xf3:
	case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65:
	case 0x66: case 0x67:
		return true;
	}
	return false;
}

/*
 * Whether Linux x86 uprobes emulate the instruction @b: push of a register
 * (push_setup_xol_ops), relative jmp, call and jcc without an operand-size
 * prefix, and nops (branch_setup_xol_ops).
 */
static bool kernel_emulates(const uint8_t *b, size_t n)
{
	bool opsize = false;
	size_t i = 0;

	if (n >= 1 && n <= 8 && !memcmp(b, x86_nops[n], n))
		return true;
	if ((n == 1 && b[0] >= 0x50 && b[0] <= 0x57) ||
	    (n == 2 && b[0] == 0x41 && b[1] >= 0x50 && b[1] <= 0x57))
		return true;
	for (; i < n && is_legacy_prefix(b[i]); i++)
		opsize |= b[i] == 0x66;
	if (opsize || i >= n)
		return false;
	switch (b[i]) {
	case 0xe8:	/* call rel32 */
	case 0xe9:	/* jmp rel32 */
	case 0xeb:	/* jmp rel8 */
		return true;
	case 0x0f:	/* jcc rel32 */
		return i + 1 < n && b[i + 1] >= 0x80 && b[i + 1] <= 0x8f;
	default:	/* jcc rel8 */
		return b[i] >= 0x70 && b[i] <= 0x7f;
	}
}

/* "mnemonic operands", cut short to fit */
static void insn_text(const cs_insn *insn, char *buf, size_t len)
{
	if (snprintf(buf, len, "%s%s%s", insn->mnemonic, insn->op_str[0] ? " " : "",
		     insn->op_str) >= (int)len && len > 4)
		strcpy(buf + len - 4, "...");
}

/* "test %rdi, %rdi": free's check for NULL */
static bool is_null_test(const cs_insn *insn)
{
	const cs_x86 *x = &insn->detail->x86;

	return insn->id == X86_INS_TEST && x->op_count == 2 && x->operands[0].type == X86_OP_REG &&
	       x->operands[0].reg == X86_REG_RDI && x->operands[1].type == X86_OP_REG &&
	       x->operands[1].reg == X86_REG_RDI;
}

/* Why @insn may not run before the site, NULL when it may: it neither branches nor writes an argument. */
static const char *blocks_site(csh h, const cs_insn *insn, int nargs)
{
	static const uint8_t flow[] = { CS_GRP_JUMP, CS_GRP_CALL, CS_GRP_RET, CS_GRP_INT, CS_GRP_IRET,
					CS_GRP_PRIVILEGE, CS_GRP_BRANCH_RELATIVE };
	cs_regs read, written;
	uint8_t nread, nwritten;
	size_t i;
	int j, k;

	for (i = 0; i < sizeof(flow); i++) {
		if (sym_cs_insn_group(h, insn, flow[i]))
			return "changes the control flow";
	}
	if (sym_cs_regs_access(h, insn, read, &nread, written, &nwritten))
		return "has unknown effects";
	for (i = 0; i < nwritten; i++) {
		for (j = 0; j < nargs && j < 6; j++) {
			for (k = 0; k < 5 && arg_regs[j][k]; k++) {
				if (written[i] == arg_regs[j][k])
					return "writes an argument register";
			}
		}
	}
	return NULL;
}

/* Where a direct jump or call in @code lands in (0, @offset], or -1: a loop back into the prologue. */
static long jump_into_prologue(csh h, const unsigned char *code, size_t len, unsigned long offset,
			       cs_insn *insn, bool *undecoded)
{
	const uint8_t *p = code;
	uint64_t addr = 0, target;
	size_t left = len;
	const cs_x86 *x;

	*undecoded = false;
	while (left) {
		if (!sym_cs_disasm_iter(h, &p, &left, &addr, insn)) {
			*undecoded = true;
			return (long)addr;
		}
		if (!sym_cs_insn_group(h, insn, CS_GRP_JUMP) &&
		    !sym_cs_insn_group(h, insn, CS_GRP_CALL))
			continue;
		x = &insn->detail->x86;
		if (x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
			continue;
		target = (uint64_t)x->operands[0].imm;
		if (target > 0 && target <= offset)
			return (long)insn->address;
	}
	return -1;
}

static void site_at_start(const unsigned char *code, size_t len, struct probe_site *site, csh h,
			  cs_insn *insn)
{
	const uint8_t *p = code;
	uint64_t addr = 0;
	size_t left = len;

	site->offset = 0;
	site->emulated = false;
	site->insn[0] = '\0';
	if (h && insn && sym_cs_disasm_iter(h, &p, &left, &addr, insn)) {
		insn_text(insn, site->insn, sizeof(site->insn));
		site->emulated = kernel_emulates(insn->bytes, insn->size);
	}
}

static bool disassembler_open(csh *h, cs_insn **insn)
{
	*insn = NULL;
	if (capstone_load() || sym_cs_open(CS_ARCH_X86, CS_MODE_64, h) != CS_ERR_OK)
		return false;
	sym_cs_option(*h, CS_OPT_DETAIL, CS_OPT_ON);
	sym_cs_option(*h, CS_OPT_SYNTAX, CS_OPT_SYNTAX_ATT);
	*insn = sym_cs_malloc(*h);
	if (!*insn) {
		sym_cs_close(h);
		return false;
	}
	return true;
}

static void disassembler_close(csh *h, cs_insn *insn)
{
	sym_cs_free(insn, 1);
	sym_cs_close(h);
}

/* The site at the function's first instruction. */
static void site_first(const unsigned char *code, size_t len, struct probe_site *site)
{
	cs_insn *insn;
	csh h;

	if (!disassembler_open(&h, &insn)) {
		site_at_start(code, len, site, 0, NULL);
		return;
	}
	site_at_start(code, len, site, h, insn);
	disassembler_close(&h, insn);
}

/* Decodes the next instruction without moving the cursor. */
static bool peek(csh h, const uint8_t *p, size_t left, uint64_t addr, cs_insn *next)
{
	return sym_cs_disasm_iter(h, &p, &left, &addr, next);
}

static void append(char *buf, size_t len, const char *what)
{
	size_t used = strlen(buf);

	snprintf(buf + used, len - used, "%s%s", used ? "; " : "", what);
}

/*
 * The first emulated instruction reached from the start with nothing before
 * it that branches or writes an argument (free's NULL exit aside), or -1.
 * @skipped lists what runs before it; @blocked says why the scan stopped.
 */
static long first_emulated(csh h, const unsigned char *code, size_t len, int nargs,
			   unsigned int flags, cs_insn *insn, cs_insn *next, char *skipped,
			   size_t skipped_len, const char **blocked)
{
	const uint8_t *p = code;
	uint64_t addr = 0;
	size_t left = len;
	long null_exit = -1;
	int count;

	*blocked = "is too far in";
	for (count = 0; count < SCAN_INSNS; count++) {
		if (!sym_cs_disasm_iter(h, &p, &left, &addr, insn)) {
			*blocked = left ? "cannot be decoded" : "ends the function";
			break;
		}
		if ((flags & MW_SITE_SKIP_NULL_EXIT) && is_null_test(insn) &&
		    peek(h, p, left, addr, next) && next->id == X86_INS_JE) {
			/* every call but free(NULL) goes on; the je is a site too */
			null_exit = (long)next->address;
			p += next->size, left -= next->size, addr += next->size;
			append(skipped, skipped_len, "test %rdi,%rdi; je (free(NULL) returns)");
			continue;
		}
		if (kernel_emulates(insn->bytes, insn->size))
			return (long)insn->address;
		*blocked = blocks_site(h, insn, nargs);
		if (*blocked)
			break;
		append(skipped, skipped_len, insn->mnemonic);
	}
	return null_exit;
}

void probe_site_choose(const unsigned char *code, size_t len, int nargs, unsigned int flags,
		       struct probe_site *site)
{
	char skipped[sizeof(site->why) - 40] = "";
	cs_insn *insn, *next = NULL;
	const char *blocked = NULL;
	long offset, from;
	bool undecoded;
	csh h;

	memset(site, 0, sizeof(*site));
	if (!disassembler_open(&h, &insn)) {
		snprintf(site->why, sizeof(site->why), "the disassembler did not start");
		return;
	}
	next = sym_cs_malloc(h);
	offset = next ? first_emulated(h, code, len, nargs, flags, insn, next, skipped,
				       sizeof(skipped), &blocked) : -1;
	sym_cs_free(next, 1);
	if (offset == 0) {
		site_at_start(code, len, site, h, insn);
		snprintf(site->why, sizeof(site->why), "emulated first instruction");
	} else if (offset < 0) {
		site_at_start(code, len, site, h, insn);
		snprintf(site->why, sizeof(site->why), "no emulated instruction before one that %s",
			 blocked);
	} else if ((from = jump_into_prologue(h, code, len, offset, insn, &undecoded)) >= 0) {
		site_at_start(code, len, site, h, insn);
		if (undecoded)
			snprintf(site->why, sizeof(site->why),
				 "code at +%ld cannot be decoded: no proof that nothing jumps back", from);
		else
			snprintf(site->why, sizeof(site->why),
				 "the jump at +%ld goes back to +%ld or before", from, offset);
	} else {
		const uint8_t *p = code + offset;
		uint64_t addr = offset;
		size_t left = len - offset;

		sym_cs_disasm_iter(h, &p, &left, &addr, insn);
		site->offset = offset;
		site->emulated = true;
		insn_text(insn, site->insn, sizeof(site->insn));
		snprintf(site->why, sizeof(site->why), "first emulated instruction, after %s", skipped);
	}
	disassembler_close(&h, insn);
}

/* An alias (glibc's aligned_alloc is memalign) is probed once. */
static bool is_alias(const struct allocator *a, int func)
{
	int i;

	for (i = 0; i < func; i++) {
		if (a->addrs[i] == a->addrs[func])
			return true;
	}
	return false;
}

void probe_plan_make(const struct allocator *a, enum probe_placement placement,
		     struct probe_plan *plan)
{
	unsigned char *code = malloc(MW_SITE_CODE_MAX);
	struct probe_site chosen;
	int i, err;
	size_t len;

	memset(plan, 0, sizeof(*plan));
	for (i = 0; i < MW_FUNC_NR; i++) {
		struct probe_plan_fn *fn = &plan->fn[i];

		fn->probe = a->addrs[i] && !is_alias(a, i);
		if (!fn->probe)
			continue;
		fn->retprobe = fn_probes[i].retprobe;
		err = code ? elf_function_code(a->path, a->addrs[i], code, MW_SITE_CODE_MAX, &len)
			   : -ENOMEM;
		if (err) {
			snprintf(fn->entry.why, sizeof(fn->entry.why), "its code cannot be read: %s",
				 strerror(-err));
			continue;
		}
		probe_site_choose(code, len, fn_probes[i].nargs, fn_probes[i].flags, &chosen);
		if (placement == MW_SITES_NAIVE || (fn->retprobe && chosen.offset)) {
			site_first(code, len, &fn->entry);
			if (placement == MW_SITES_NAIVE)
				snprintf(fn->entry.why, sizeof(fn->entry.why), "naive placement");
			else
				snprintf(fn->entry.why, sizeof(fn->entry.why),
					 "its uretprobe traps at +0 anyway: a second trap at +%lu (%s) would add to it",
					 chosen.offset, chosen.insn);
			continue;
		}
		fn->entry = chosen;
	}
	free(code);
}
