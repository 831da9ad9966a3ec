/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* libmicrohttpd, the HTTP server of --listen, opened only when --listen is given. */
#ifndef MW_MHD_LIB_H
#define MW_MHD_LIB_H

#include <sys/socket.h>
#include <microhttpd.h>

extern typeof(MHD_start_daemon) *sym_MHD_start_daemon;
extern typeof(MHD_stop_daemon) *sym_MHD_stop_daemon;
extern typeof(MHD_queue_response) *sym_MHD_queue_response;
extern typeof(MHD_destroy_response) *sym_MHD_destroy_response;
extern typeof(MHD_create_response_from_buffer) *sym_MHD_create_response_from_buffer;
extern typeof(MHD_create_response_from_callback) *sym_MHD_create_response_from_callback;
extern typeof(MHD_add_response_header) *sym_MHD_add_response_header;
extern typeof(MHD_lookup_connection_value) *sym_MHD_lookup_connection_value;
extern typeof(MHD_get_connection_info) *sym_MHD_get_connection_info;

/* 0 once the sym_MHD_* functions can be called; -ENOENT with *@why set if not. */
int mhd_load(const char **why);

#endif /* MW_MHD_LIB_H */
