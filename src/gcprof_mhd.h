/* gcprof_mhd: libmicrohttpd through pointers, for libgcprof only.
 *
 * Owns the list of the libmicrohttpd functions the HTTP core (src/server.c) calls and
 * the table of pointers to them that src/gcprof_http.c fills by dlopen when -http is
 * asked for. Linked in, libmicrohttpd and the TLS libraries it needs (about fifteen
 * objects) would be loaded into every profiled program, and bdwgc scans every loaded
 * object's data at every collection.
 *
 * The Makefile force-includes this header (-include) when it compiles src/server.c
 * for libgcprof (build/pic/, build/wrap/): each MHD_ name below then calls through the
 * table. memdemo's own build never sees it. Leaves the HTTP core itself to server.c.
 */
#ifndef MEMDEMO_GCPROF_MHD_H
#define MEMDEMO_GCPROF_MHD_H

#include <microhttpd.h>

#define GCPROF_MHD_FUNCTIONS(X)                                                                     \
    X(MHD_start_daemon) X(MHD_stop_daemon) X(MHD_get_daemon_info) X(MHD_get_connection_info)        \
    X(MHD_get_connection_values) X(MHD_lookup_connection_value) X(MHD_suspend_connection)           \
    X(MHD_resume_connection) X(MHD_queue_response) X(MHD_destroy_response)                          \
    X(MHD_create_response_from_buffer) X(MHD_add_response_header) X(MHD_add_connection)

#define GCPROF_MHD_POINTER(f) __typeof__(&f) f;
struct gcprof_mhd { GCPROF_MHD_FUNCTIONS(GCPROF_MHD_POINTER) };
#undef GCPROF_MHD_POINTER

/* Filled by gcprof_http_start before the server starts; read-only after. */
extern struct gcprof_mhd gcprof_mhd;

#ifdef GCPROF_MHD_INDIRECT
#define MHD_start_daemon (*gcprof_mhd.MHD_start_daemon)
#define MHD_stop_daemon (*gcprof_mhd.MHD_stop_daemon)
#define MHD_get_daemon_info (*gcprof_mhd.MHD_get_daemon_info)
#define MHD_get_connection_info (*gcprof_mhd.MHD_get_connection_info)
#define MHD_get_connection_values (*gcprof_mhd.MHD_get_connection_values)
#define MHD_lookup_connection_value (*gcprof_mhd.MHD_lookup_connection_value)
#define MHD_suspend_connection (*gcprof_mhd.MHD_suspend_connection)
#define MHD_resume_connection (*gcprof_mhd.MHD_resume_connection)
#define MHD_queue_response (*gcprof_mhd.MHD_queue_response)
#define MHD_destroy_response (*gcprof_mhd.MHD_destroy_response)
#define MHD_create_response_from_buffer (*gcprof_mhd.MHD_create_response_from_buffer)
#define MHD_add_response_header (*gcprof_mhd.MHD_add_response_header)
#define MHD_add_connection (*gcprof_mhd.MHD_add_connection)
#endif

#endif
