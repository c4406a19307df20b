/* Websockets (RFC 6455) over TCP or TLS on a libuv loop, in both roles. wslay does the framing;
 * this file owns the socket, TLS engine, upgrade handshake, keepalive and backpressure.
 *
 * Lifetime: a ws_conn is created by ws_connect() or by the server on accept, and is freed by the
 * transport right after it calls on_close() exactly once. After ws_close()/ws_abort() the caller
 * may still receive on_message() for data already read, then on_close(). */
#ifndef GL_WS_H
#define GL_WS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/err.h"
#include "transport/http.h"

enum { WS_TEXT = 1, WS_BINARY = 2 };

typedef struct ws_conn ws_conn;
typedef struct ws_server ws_server;

typedef struct ws_close_info {
    int code;           /* close code the peer sent; 1005 if its frame had none; 1006 if no frame */
    const char *reason; /* the peer's reason, "" if none */
    int sent_code;      /* the code we sent, 0 if none */
    const char *error;  /* NULL after a clean close handshake, else what went wrong locally */
    int http_status;    /* client: the upgrade was answered with this HTTP status (0: not) */
} ws_close_info;

typedef struct ws_handlers {
    void (*on_open)(ws_conn *c, void *ud);
    /* A whole message (fragments reassembled); opcode WS_TEXT or WS_BINARY. */
    void (*on_message)(ws_conn *c, int opcode, const uint8_t *data, size_t len, void *ud);
    void (*on_close)(ws_conn *c, const ws_close_info *info, void *ud);
} ws_handlers;

typedef struct ws_client_opts {
    const char *url;             /* ws://host:port/path?query or wss://... */
    const char *const *headers;  /* extra "Name: value" lines, NULL-terminated; may be NULL */
    SSL_CTX *tls;                /* required for wss:// (gl_tls_client_ctx) */
    bool insecure;               /* skip certificate checks: tests of that path only */
    size_t max_message;          /* inbound message bound; 0 = 16 MiB. Past it: close 1009 */
    size_t max_output;           /* queued outbound bytes bound; 0 = 64 MiB. Past it ws_send fails */
    unsigned connect_timeout_ms; /* DNS+TCP+TLS+upgrade; 0 = 15 s */
    unsigned ping_interval_ms;   /* 0 = no keepalive pings */
    unsigned pong_timeout_ms;    /* no pong this long after a ping: the connection fails */
    /* Under a flood (small reads in a row, each less than 0.2 ms after the last: ws.c,
     * maybe_coalesce), the socket's receive mark (SO_RCVLOWAT) is raised to 16 KiB, so the loop
     * wakes once that much waits; this many ms without a read put it back to 1 byte (the tail
     * of a flood waits at most that). 0: read at every arrival. At most 1000. */
    unsigned coalesce_ms;
} ws_client_opts;

/* Starts connecting; every outcome, failure included, is reported through the handlers
 * (on_open, or on_close with error set). Returns NULL only for bad options (err says why). */
ws_conn *ws_connect(uv_loop_t *loop, const ws_client_opts *o, const ws_handlers *h, void *ud,
                    gl_err *err);

/* Queues a message. Fails (-1) if the connection is not open or closing, or if the bytes queued
 * for this peer would pass max_output: a slow reader never grows our memory without bound. */
int ws_send(ws_conn *c, int opcode, const void *data, size_t len, gl_err *err);
/* Starts the close handshake; the peer has a few seconds to answer before the socket is dropped. */
void ws_close(ws_conn *c, int code, const char *reason);
/* Drops the TCP connection at once, no close frame (also used for fault injection). */
void ws_abort(ws_conn *c, const char *why);
/* Flow control by the consumer: while paused, the socket is not read (TCP backpressure reaches
 * the peer) and no message is delivered (at most those wslay has already buffered, 4 KiB);
 * keepalive pings are not sent (a pong could not be read). Unpausing reads again and delivers
 * what was read before, from the loop (never inside the caller's frame). ws_close unpauses: the
 * peer's close frame must be read. Sending is not affected. */
void ws_pause(ws_conn *c, bool pause);
bool ws_is_paused(const ws_conn *c);
/* True while a flood has raised the socket's receive mark (ws_client_opts.coalesce_ms). */
bool ws_is_coalescing(const ws_conn *c);
/* True while OpenSSL keeps its record buffers for a stream (released once it is quiet). */
bool ws_keeps_tls_buffers(const ws_conn *c);
/* uv_hrtime() of the socket read that brought the bytes being delivered now (0 before any):
 * where a message's time in this process starts, for latency measurements. */
uint64_t ws_read_time(const ws_conn *c);
/* Fault injection: stop reading and writing for good (pings go unanswered). */
void ws_stall(ws_conn *c);
size_t ws_queued_bytes(const ws_conn *c);
void ws_set_userdata(ws_conn *c, void *ud);
bool ws_is_open(const ws_conn *c);
/* True while an open connection, idle, holds no websocket context (it is made again at the next
 * frame in or out): for tests. */
bool ws_is_hibernating(const ws_conn *c);
/* Peer address as "ip:port" (server side logs). */
const char *ws_peer(const ws_conn *c);

/* ---- server ---- */

typedef struct gl_http_head ws_request; /* method, path, query, headers (transport/http.h) */

typedef struct ws_server_opts {
    const char *host;  /* "127.0.0.1", "::1", "0.0.0.0" */
    int port;          /* 0 = ephemeral; ws_server_port() tells */
    SSL_CTX *tls;      /* NULL = plain ws */
    size_t max_message;
    size_t max_output;
    unsigned handshake_timeout_ms;
    unsigned max_connections; /* 0 = 100000 */
    /* An upgrade request: return 0 and set *h and *ud to accept, or an HTTP status to refuse. */
    int (*on_upgrade)(ws_conn *c, const ws_request *req, ws_handlers *h, void **ud,
                      void *server_ud);
    /* A plain HTTP request (no upgrade): return the status and set *body (malloc'd, the transport
     * frees it) and *content_type. NULL handler: 404 for every such request. */
    int (*on_http)(const ws_request *req, char **body, const char **content_type, void *server_ud);
    void *server_ud;
} ws_server_opts;

ws_server *ws_server_start(uv_loop_t *loop, const ws_server_opts *o, gl_err *err);
int ws_server_port(const ws_server *s);
/* Closes the listener and drops every connection (each gets on_close); frees s when done. */
void ws_server_stop(ws_server *s);
const char *ws_request_header(const ws_request *r, const char *name);

#endif
