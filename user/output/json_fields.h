/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* The JSON counter fields' reference, written from the counter registry. */
#ifndef MW_JSON_FIELDS_H
#define MW_JSON_FIELDS_H

#include <stdio.h>

/* docs/json-fields.md's text: `make json-fields` writes it, a unit test compares. */
void json_fields_write(FILE *out);

#endif /* MW_JSON_FIELDS_H */
