/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The live view's keys: one table drives what a key does, the footer, the
 * help screen, docs/keys.md and memwatch(8)'s key list. No curses here: user/output/tui.c passes a
 * function key as KEYS_F(n).
 */
#ifndef MW_KEYS_H
#define MW_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "output/view.h"

/* function key Fn, apart from any character (and from curses's key codes) */
#define KEYS_F(n) (0x1000 + (n))
/* the arrows, past the function keys; Enter is a newline */
#define KEYS_UP 0x1100
#define KEYS_DOWN 0x1101
#define KEYS_ENTER '\n'

enum view_action {
	VIEW_NONE,
	VIEW_QUIT,
	VIEW_SORT_PREV,
	VIEW_SORT_NEXT,
	VIEW_REVERSE,
	VIEW_PAUSE,
	VIEW_EXITED,
	VIEW_RATE,
	VIEW_COLLAPSE,
	VIEW_FLAT,
	VIEW_SITES,
	VIEW_UP,
	VIEW_DOWN,
	VIEW_STACK,
	VIEW_HELP,
};

/* The screen whose footer shows a binding. */
enum key_screen {
	KEYS_ANY,
	KEYS_THREADS,
	KEYS_SEVERAL,		/* the threads of several processes */
	KEYS_STACKS,		/* either, with --stacks */
	KEYS_SITES,
};

#define KEYS_PER_BINDING 6

/* One line of the help: keys that do one thing, or one thing each way. */
struct key_binding {
	struct {
		int key;		/* a character, or KEYS_F(n) */
		enum view_action action;
	} keys[KEYS_PER_BINDING];	/* the first of each action shows in the footer */
	const char *footer;		/* the footer's word for it */
	const char *help;		/* what it does, in the help and the docs */
	enum key_screen screen;		/* where the footer shows it */
};

extern const struct key_binding key_bindings[];
extern const size_t key_bindings_nr;

/* What @key does: VIEW_NONE for a key bound to nothing. */
enum view_action keys_action(int key);
/*
 * Does what @key does to @v, whose table shows @cols (@n of them): with the
 * help or a site's stack up, any key but quit closes it. What it did.
 */
enum view_action keys_press(struct view *v, int key, const enum view_col *cols, int n);
/* @b's keys as the help shows them: "q Q F10". */
char *keys_names(const struct key_binding *b, char *buf, size_t len);
/* @b's keys as the footer shows them, the first of each action: "<>", "Up/Down". */
char *keys_footer(const struct key_binding *b, char *buf, size_t len);
/* The help screen's line @i into @buf, or NULL after the last. */
const char *keys_help_line(size_t i, char *buf, size_t len);
/* docs/keys.md. */
void keys_markdown(FILE *out);

/* The lines of docs/memwatch.8 around its key list, which `make docs` rewrites. */
#define KEYS_MAN_BEGIN ".\\\" BEGIN GENERATED keys: make docs writes them from user/output/keys.c"
#define KEYS_MAN_END ".\\\" END GENERATED keys"
/* memwatch(8)'s key list (roff), what goes between those lines. */
void keys_man(FILE *out);

#endif /* MW_KEYS_H */
