/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The live terminal view: the only module that calls curses. It draws what
 * user/output/view.c decides and reads the keys; the report loop feeds it.
 */
#ifndef MW_TUI_H
#define MW_TUI_H

#include "model/model.h"
#include "output/report.h"

/* Takes over the terminal on stdin/stdout; 0, or -1 when it cannot (unknown TERM). */
int tui_init(const struct mw_model *m);
/* Gives the terminal back as it was; does nothing when the view is not on. */
void tui_done(void);

/* interval() draws, input() reads the keys, summary() restores the terminal first */
extern const struct reporter report_tui;

#endif /* MW_TUI_H */
