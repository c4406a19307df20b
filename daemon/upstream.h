/* The seam between a session and its connection to the Live API. Sessions never call the
 * websocket transport directly: they go through the gld_upstream_ops the daemon holds, which is
 * gld_upstream_ws (transport/ws.c) in gliveD and a scripted fake in tests/unit/test_session.c,
 * so the state machine can be driven with exact server messages and checked on exact client
 * messages, without sockets. The functions keep transport/ws.h's contracts. */
#ifndef GLD_UPSTREAM_H
#define GLD_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/err.h"
#include "transport/ws.h"

typedef struct gld_upstream_ops {
    /* Starts connecting; the outcome comes through h (on_open, or on_close). NULL: bad options. */
    ws_conn *(*connect)(uv_loop_t *loop, const ws_client_opts *o, const ws_handlers *h, void *ud,
                        gl_err *err);
    /* Queues one text message (a whole JSON document). -1 if not open or past the output bound. */
    int (*send_text)(ws_conn *c, const char *json, size_t len, gl_err *err);
    /* Close handshake (1000 for our own closes); on_close follows. */
    void (*close)(ws_conn *c, int code, const char *reason);
    /* Drops the connection at once (the service broke the protocol); on_close follows. */
    void (*abort)(ws_conn *c, const char *why);
    /* Stops (true) or resumes (false) reading the connection: ws_pause. */
    void (*pause)(ws_conn *c, bool pause);
    /* ws_read_time: when the message being delivered was read (ns; 0: unknown). */
    uint64_t (*read_time)(const ws_conn *c);
} gld_upstream_ops;

extern const gld_upstream_ops gld_upstream_ws;

#endif
