// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include "sys/log.h"

bool mw_verbose;
