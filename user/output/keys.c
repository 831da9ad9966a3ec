// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "output/keys.h"
#include "output/view_sites.h"

const struct key_binding key_bindings[] = {
	{ { { 'q', VIEW_QUIT }, { 'Q', VIEW_QUIT }, { KEYS_F(10), VIEW_QUIT } }, "quit",
	  "quit: the terminal is restored and the summary printed", KEYS_ANY },
	{ { { '<', VIEW_SORT_PREV }, { '>', VIEW_SORT_NEXT }, { ',', VIEW_SORT_PREV },
	    { '.', VIEW_SORT_NEXT }, { KEYS_F(7), VIEW_SORT_PREV }, { KEYS_F(8), VIEW_SORT_NEXT } },
	  "sort", "sort by the previous / next column (< , F7 / > . F8)", KEYS_ANY },
	{ { { 'r', VIEW_REVERSE } }, "reverse", "reverse the sort order", KEYS_THREADS },
	{ { { 'p', VIEW_PAUSE } }, "pause", "pause: the view stays until p again (metrics go on)",
	  KEYS_ANY },
	{ { { 'e', VIEW_EXITED } }, "exited", "hide or show exited threads", KEYS_THREADS },
	{ { { 'd', VIEW_RATE } }, "rate",
	  "counters since attach or per second (LIVE, RES_NOW: levels)", KEYS_THREADS },
	{ { { 'c', VIEW_COLLAPSE } }, "collapse",
	  "several processes: their rows alone, or their threads too", KEYS_SEVERAL },
	{ { { 't', VIEW_FLAT } }, "tree",
	  "several processes: all threads in one list, or in a tree", KEYS_SEVERAL },
	{ { { 's', VIEW_SITES } }, "sites",
	  "call sites (--stacks), ordered by < >; again: the threads", KEYS_STACKS },
	{ { { KEYS_UP, VIEW_UP }, { KEYS_DOWN, VIEW_DOWN } }, "select",
	  "sites: select the site above / below", KEYS_SITES },
	{ { { KEYS_ENTER, VIEW_STACK } }, "stack",
	  "sites: the selected site's whole stack; any key closes it", KEYS_SITES },
	{ { { 'h', VIEW_HELP }, { '?', VIEW_HELP }, { KEYS_F(1), VIEW_HELP } }, "help",
	  "show this help; any key closes it", KEYS_ANY },
};

const size_t key_bindings_nr = sizeof(key_bindings) / sizeof(key_bindings[0]);

enum view_action keys_action(int key)
{
	size_t i, k;

	for (i = 0; i < key_bindings_nr; i++) {
		for (k = 0; k < KEYS_PER_BINDING && key_bindings[i].keys[k].key; k++) {
			if (key_bindings[i].keys[k].key == key)
				return key_bindings[i].keys[k].action;
		}
	}
	return VIEW_NONE;
}

enum view_action keys_press(struct view *v, int key, const enum view_col *cols, int n)
{
	enum view_action action = keys_action(key);

	v->notice = NULL;
	if (action == VIEW_QUIT)
		return action;
	if (v->help || v->stack) {
		v->help = v->stack = false;
		return VIEW_NONE;
	}
	switch (action) {
	case VIEW_SORT_PREV:
	case VIEW_SORT_NEXT:
		if (v->sites)
			v->sites_order = view_sites_order_step(v->sites_order,
							       action == VIEW_SORT_NEXT ? 1 : -1);
		else
			view_sort_step(v, cols, n, action == VIEW_SORT_NEXT ? 1 : -1);
		break;
	case VIEW_REVERSE:
		v->reverse = !v->reverse;
		break;
	case VIEW_PAUSE:
		v->paused = !v->paused;
		break;
	case VIEW_EXITED:
		v->hide_exited = !v->hide_exited;
		break;
	case VIEW_RATE:
		v->rate = !v->rate;
		break;
	case VIEW_COLLAPSE:
		v->collapsed = !v->collapsed;
		break;
	case VIEW_FLAT:
		v->flat = !v->flat;
		break;
	case VIEW_SITES:
		if (!v->stacks)
			v->notice = "no call sites: --stacks is off";
		v->sites = v->stacks && !v->sites;
		break;
	case VIEW_UP:
		v->selected -= v->sites && v->selected;
		break;
	case VIEW_DOWN:
		/* the view brings it back to the last site there is */
		v->selected += v->sites;
		break;
	case VIEW_STACK:
		v->stack = v->sites;
		break;
	case VIEW_HELP:
		v->help = true;
		break;
	default:
		break;
	}
	return action;
}

static const char *key_name(int key, char *buf, size_t len)
{
	if (key == KEYS_UP || key == KEYS_DOWN || key == KEYS_ENTER)
		snprintf(buf, len, "%s", key == KEYS_UP ? "Up" : key == KEYS_DOWN ? "Down" : "Enter");
	else if (key > KEYS_F(0))
		snprintf(buf, len, "F%d", key - KEYS_F(0));
	else
		snprintf(buf, len, "%c", key);
	return buf;
}

/*
 * @b's keys joined by spaces, or for the footer (@footer) only the first of
 * each action, characters side by side ("<>") and names apart ("Up/Down").
 */
static char *join_keys(const struct key_binding *b, bool footer, char *buf, size_t len)
{
	size_t k, j, used = 0, last = 0;
	const char *sep;
	char name[16];

	buf[0] = '\0';
	for (k = 0; k < KEYS_PER_BINDING && b->keys[k].key; k++) {
		for (j = 0; footer && j < k && b->keys[j].action != b->keys[k].action; j++)
			;
		if (footer && j < k)
			continue;
		key_name(b->keys[k].key, name, sizeof(name));
		sep = !used ? "" : !footer ? " " : last > 1 || strlen(name) > 1 ? "/" : "";
		used += snprintf(buf + used, used < len ? len - used : 0, "%s%s", sep, name);
		last = strlen(name);
	}
	return buf;
}

char *keys_names(const struct key_binding *b, char *buf, size_t len)
{
	return join_keys(b, false, buf, len);
}

char *keys_footer(const struct key_binding *b, char *buf, size_t len)
{
	return join_keys(b, true, buf, len);
}

/* the help screen: a title, a line per binding, then the notes */
#define HELP_KEYS_AT 2

const char *keys_help_line(size_t i, char *buf, size_t len)
{
	char names[64];

	if (i == 0)
		return "memwatch live view keys";
	if (i < HELP_KEYS_AT || i == HELP_KEYS_AT + key_bindings_nr)
		return "";
	if (i < HELP_KEYS_AT + key_bindings_nr) {
		const struct key_binding *b = &key_bindings[i - HELP_KEYS_AT];

		snprintf(buf, len, "  %-14s %s", keys_names(b, names, sizeof(names)), b->help);
		return buf;
	}
	return view_help_notes[i - HELP_KEYS_AT - key_bindings_nr - 1];
}

void keys_markdown(FILE *out)
{
	char names[64], *key;
	size_t i;

	fprintf(out, "<!-- generated by `make docs` from user/output/keys.c: edit the table there "
		"-->\n# The live view's keys\n\n| key | |\n|---|---|\n");
	for (i = 0; i < key_bindings_nr; i++) {
		keys_names(&key_bindings[i], names, sizeof(names));
		fputs("| ", out);
		for (key = strtok(names, " "); key; key = strtok(NULL, " "))
			fprintf(out, "`%s` ", key);
		fprintf(out, "| %s |\n", key_bindings[i].help);
	}
	fprintf(out, "\nThe footer shows the first key of each; a resize redraws at once.\n");
}

/*
 * @text as roff: a backslash, a quote or a hyphen (an option's, not a
 * typographer's) escaped, a leading . or ' not taken for a request
 */
static void roff_put(FILE *out, const char *text)
{
	if (*text == '.' || *text == '\'')
		fputs("\\&", out);
	for (; *text; text++) {
		if (*text == '\\')
			fputs("\\e", out);
		else if (*text == '-')
			fputs("\\-", out);
		else if (*text == '"')
			fputs("\\(dq", out);
		else
			fputc(*text, out);
	}
}

void keys_man(FILE *out)
{
	char names[64], sentence[256], *key;
	size_t i, n;

	for (i = 0; i < key_bindings_nr; i++) {
		keys_names(&key_bindings[i], names, sizeof(names));
		/* the keys in bold, a space apart */
		fputs(".TP\n", out);
		fputs(strchr(names, ' ') ? ".BR" : ".B", out);
		for (n = 0, key = strtok(names, " "); key; key = strtok(NULL, " "), n++) {
			fputs(n ? " \" \" " : " ", out);
			roff_put(out, key);
		}
		/* the help as a sentence */
		snprintf(sentence, sizeof(sentence), "%s.", key_bindings[i].help);
		sentence[0] = toupper((unsigned char)sentence[0]);
		fputc('\n', out);
		roff_put(out, sentence);
		fputc('\n', out);
	}
}
