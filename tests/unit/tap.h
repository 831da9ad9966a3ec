/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * A minimal TAP producer for the unit tests: every ASSERT_* prints one test
 * point and returns whether it held, so a test can stop early:
 *	if (!ASSERT_OK(err, "parse"))
 *		return;
 */
#ifndef MW_TAP_H
#define MW_TAP_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int tap_count, tap_failures;

static inline bool tap_point(bool ok, const char *name, const char *file, int line,
			     const char *detail)
{
	printf("%sok %d - %s\n", ok ? "" : "not ", ++tap_count, name);
	if (!ok) {
		printf("#   at %s:%d: %s\n", file, line, detail);
		tap_failures++;
	}
	return ok;
}

#define ASSERT_TRUE(cond, name) tap_point(!!(cond), name, __FILE__, __LINE__, #cond)

#define ASSERT_EQ(got, want, name)							\
	({										\
		unsigned long long _g = (got), _w = (want);				\
		char _d[128];								\
		snprintf(_d, sizeof(_d), "got %llu, want %llu", _g, _w);		\
		tap_point(_g == _w, name, __FILE__, __LINE__, _d);			\
	})

#define ASSERT_OK(err, name) ASSERT_EQ((err) != 0, 0, name)

#define ASSERT_STREQ(got, want, name)							\
	({										\
		const char *_g = (got), *_w = (want);					\
		char _d[512];								\
		snprintf(_d, sizeof(_d), "got \"%.240s\", want \"%.240s\"", _g, _w);	\
		tap_point(!strcmp(_g, _w), name, __FILE__, __LINE__, _d);		\
	})

static inline void tap_skip(const char *name, const char *why)
{
	printf("ok %d - %s # SKIP %s\n", ++tap_count, name, why);
}

/* The text of tests/unit/fixtures/NAME (tests run from the top directory), NULL if missing. */
static inline const char *fixture(const char *name)
{
	static char text[65536];
	char path[256];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "tests/unit/fixtures/%s", name);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

/* The exit status of a test program: failing points already say why. */
static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failures ? 1 : 0;
}

#endif /* MW_TAP_H */
