// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include "output/mhd_lib.h"
#include "sys/lazy_lib.h"

typeof(MHD_start_daemon) *sym_MHD_start_daemon;
typeof(MHD_stop_daemon) *sym_MHD_stop_daemon;
typeof(MHD_queue_response) *sym_MHD_queue_response;
typeof(MHD_destroy_response) *sym_MHD_destroy_response;
typeof(MHD_create_response_from_buffer) *sym_MHD_create_response_from_buffer;
typeof(MHD_create_response_from_callback) *sym_MHD_create_response_from_callback;
typeof(MHD_add_response_header) *sym_MHD_add_response_header;
typeof(MHD_lookup_connection_value) *sym_MHD_lookup_connection_value;
typeof(MHD_get_connection_info) *sym_MHD_get_connection_info;

static const struct lazy_sym mhd_syms[] = {
	LAZY_SYM(MHD_start_daemon), LAZY_SYM(MHD_stop_daemon), LAZY_SYM(MHD_queue_response),
	LAZY_SYM(MHD_destroy_response), LAZY_SYM(MHD_create_response_from_buffer),
	LAZY_SYM(MHD_create_response_from_callback), LAZY_SYM(MHD_add_response_header),
	LAZY_SYM(MHD_lookup_connection_value), LAZY_SYM(MHD_get_connection_info),
};

/* MHD_SONAME: the soname of the library built against (the Makefile reads it) */
_Static_assert(sizeof(MHD_SONAME) > 1,
	       "the Makefile found no soname: is libmicrohttpd-dev installed?");

static struct lazy_lib mhd = {
	.soname = MHD_SONAME,
	.syms = mhd_syms,
	.nsyms = sizeof(mhd_syms) / sizeof(mhd_syms[0]),
};

int mhd_load(const char **why)
{
	int err = lazy_lib_open(&mhd);

	*why = mhd.why;
	return err;
}
