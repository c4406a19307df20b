/* The daemon's shared state: one per process, passed to every part. */
#ifndef GLD_DAEMON_H
#define GLD_DAEMON_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "daemon/config.h"
#include "daemon/ipc.h"


typedef struct gld_session gld_session;
typedef struct gld_tool gld_tool;
struct gld_upstream_ops;

typedef struct gld_daemon {
    uv_loop_t *loop;
    gld_config cfg;
    SSL_CTX *tls;              /* client context for wss endpoints */
    const struct gld_upstream_ops *net; /* how sessions reach the Live API (daemon/upstream.h) */
    ipc_server *ipc;
    gld_peer_policy policy;    /* who may connect (daemon/access.h), from the config at start */
    gld_session *sessions;     /* linked through gld_session.next */
    gld_tool *tools;           /* the tool handler registry (daemon/tools.c) */
    uint64_t started_ms;
    bool stopping;
    struct {
        unsigned long long bytes_in, bytes_out, msgs_in, msgs_out, connects;
        unsigned long long msgs_fast; /* of msgs_in, those the fast path took (session.c) */
    } upstream;
} gld_daemon;

#endif
