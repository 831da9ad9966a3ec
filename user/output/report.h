/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The output formats, one reporter each: the live view, plain text, a JSON
 * line stream, or nothing (a headless exporter). --format picks one from the table; a new format is a
 * reporter and a line in the table (report.c).
 */
#ifndef MW_REPORT_H
#define MW_REPORT_H

#include <stdio.h>
#include <linux/types.h>
#include "model/model.h"

struct stacks;

/* What an interactive view asks of the report loop once it has read its keys. */
enum report_input {
	REPORT_RUN,
	REPORT_PAUSE,		/* leave the model as it is */
	REPORT_QUIT,
};

enum report_format {
	REPORT_TUI,
	REPORT_TEXT,
	REPORT_JSON,
	REPORT_NONE,
	REPORT_FORMAT_NR,
};

struct reporter {
	const char *name;		/* --format's value */
	void (*interval)(FILE *out, const struct mw_model *m);
	void (*summary)(FILE *out, const struct mw_model *m);
	/* --trace's line for one syscall, its time since @start_ns; NULL: cannot trace */
	void (*syscall)(FILE *out, const struct mw_trace_event *e, __u64 start_ns);
	/*
	 * interactive views only: takes the terminal; 0, or -1 when it cannot.
	 * @stacks: --stacks's sites as they are made (NULL without), to look at.
	 */
	int (*open)(const struct mw_model *m, struct stacks *stacks);
	/* gives it back as it was, whether open() ran or not */
	void (*close)(void);
	/* interactive views only: called whenever stdin is readable or a signal woke the loop */
	enum report_input (*input)(const struct mw_model *m);
};

extern const struct reporter report_text;
extern const struct reporter report_json;
extern const struct reporter report_tui;
extern const struct reporter report_none;

/* Every format, by enum report_format. */
extern const struct reporter *const reporters[REPORT_FORMAT_NR];

/* The format --format calls @name; REPORT_FORMAT_NR for none. */
enum report_format report_format_find(const char *name);
/* Every format's name, for a message: "tui, text, json or none". */
char *report_format_names(char *buf, size_t len);

/*
 * The text report for a terminal of @width columns (0: unlimited, as to a
 * file or pipe): tables keep the most telling columns that fit, other lines
 * wrap at a space. report_text prints to a terminal at its width.
 */
void report_text_interval(FILE *out, const struct mw_model *m, int width);
void report_text_summary(FILE *out, const struct mw_model *m, int width);

#endif /* MW_REPORT_H */
