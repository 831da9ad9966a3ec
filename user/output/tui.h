/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The live terminal view: the only module that calls curses. It draws what
 * user/output/view.c decides and reads the keys; the report loop feeds it.
 */
#ifndef MW_TUI_H
#define MW_TUI_H

#include "model/model.h"
#include "output/report.h"

/*
 * report_tui: open() takes over the terminal on stdin/stdout (-1 when it
 * cannot: an unknown TERM), interval() draws, input() reads the keys,
 * summary() restores the terminal first, close() restores it if need be.
 */

#endif /* MW_TUI_H */
