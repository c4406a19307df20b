/* The daemon's Unix-socket server: one ipc_client per connection, each with a bounded line reader
 * and a bounded output buffer. It knows lines, not ops: complete request lines go to on_line, and
 * the dispatcher (daemon/dispatch.c) answers through ipc_send().
 *
 * Who may connect: the peer policy (daemon/access.h), applied at accept to what the kernel
 * recorded when the peer called connect(): SO_PEERCRED (uid, primary gid) and SO_PEERGROUPS
 * (its supplementary groups, Linux >= 4.13), read only when a group could admit it. Both are
 * the peer's credentials at connect time, taken by the kernel: no race with a peer that exits,
 * is replaced by another process of the same pid, or changes its groups afterwards, which
 * reading /proc/PID/status at accept would have. The group database (getgrouplist) is not
 * used: it says who is listed in a group, not which groups the process holds (a process that
 * dropped its groups, or a sandbox, would be admitted; a user added to the group but not logged
 * in again would be admitted while the kernel still refuses it the socket file). So a peer
 * passes exactly when the file permissions would let the same credentials in, and a kernel
 * without SO_PEERGROUPS falls back to the primary group (logged once). A refused peer (uid,
 * too many clients) gets one error line saying why, then the close. Changing the policy needs a
 * restart, which also ends the connections of whoever lost access.
 *
 * The socket: created under umask 077, then mode 0600 (own uid and root), 0660 with its group
 * set to the socket group, or 0666 when --allow-uid/--allow-group name peers outside that group
 * (the check above is then the gate: connecting is all a refused peer can do). A missing parent
 * directory is created 0700, 0750 (socket group) or 0755 (allow lists). A directory on the way
 * that the admitted peers cannot traverse is reported at start. An inherited socket (systemd
 * socket activation, opts.fd) is served as it is: gliveD never binds, chmods or unlinks it (the
 * socket unit owns the file, and it must outlive gliveD's restarts); its mode is only checked
 * against the policy and warned about (SocketMode= defaults to 0666).
 *
 * Slow readers: output beyond max_output bytes pending disconnects that client (logged), so one
 * stuck client never grows the daemon's memory; nothing is silently dropped for a live client.
 *
 * Holding (flow control, for a turn's asker): a session whose asker lags (ipc_client_lagging:
 * more than a high-water mark of unwritten output, min(1 MiB, max_output / 4)) holds the client
 * and stops reading its Live API connection; on_drain tells it when the client has caught up
 * (at most a quarter of that mark unwritten), and it releases the client and reads again. So a
 * slow asker slows the service down instead of losing its answer. A held client that takes no
 * output at all for sender_timeout is disconnected (logged), which ends the hold. */
#ifndef GL_IPC_H
#define GL_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

#include "common/err.h"
#include "common/hist.h"
#include "daemon/access.h"

typedef struct ipc_server ipc_server;
typedef struct ipc_client ipc_client;

typedef struct ipc_handlers {
    /* A complete line (without the newline). Valid only during the call. */
    void (*on_line)(ipc_client *c, const char *line, size_t len, void *ud);
    /* The client is gone (EOF, error, slow reader, or ipc_client_close); c is freed after this. */
    void (*on_disconnect)(ipc_client *c, void *ud);
    /* May be NULL. The client shut its write side (EOF): while this says true (events of its
     * turns are still to come) it stays open for output, asked again every linger tick; then
     * it is closed after its output is flushed. */
    bool (*busy)(ipc_client *c, void *ud);
    /* May be NULL. A held client (ipc_client_hold) has caught up; called from the loop, after
     * output left, until every hold is released. */
    void (*on_drain)(ipc_client *c, void *ud);
} ipc_handlers;

typedef struct ipc_opts {
    const char *path;       /* socket path */
    size_t max_line;        /* request line bound; 0 = 1 MiB. Longer: error reply, line skipped */
    size_t max_output;      /* pending output bound per client; 0 = 16 MiB */
    size_t max_output_total; /* pending output bound of all clients together; 0 = 256 MiB. Past
                                it the client with the most pending is cut: many slow readers
                                together cannot grow memory without bound either */
    unsigned max_clients;   /* 0 = 1024; more are accepted and closed at once (logged) */
    unsigned sender_timeout_ms; /* a held client that reads nothing this long is cut; 0 = 60 s */
    const gld_peer_policy *policy; /* who may connect (daemon/access.h), BORROWED for the
                                      server's life; NULL: the daemon's own uid and root */
    bool inherited;         /* fd is a listening socket handed over by systemd: path is then
                               only a hint (the socket's own name is used) */
    int fd;
} ipc_opts;

typedef struct ipc_stats {
    unsigned long long bytes_in, bytes_out, lines_in, lines_out;
    unsigned long long writes; /* write attempts to clients: lines are batched per iteration */
    unsigned clients;
} ipc_stats;

/* Binds and listens (or adopts opts.fd). A stale socket file (nobody accepts on it) is replaced;
 * a live daemon on the path makes this fail with code "in_use" and a message saying so. */
ipc_server *ipc_start(uv_loop_t *loop, const ipc_opts *o, const ipc_handlers *h, void *ud,
                      gl_err *err);
/* Stops accepting, flushes what each client has pending (best effort, bounded by a short timer),
 * closes every client (on_disconnect for each), removes the socket file (one it created, never
 * an inherited one), frees s. */
void ipc_stop(ipc_server *s);

/* Queues line (must end in '\n'). Returns -1 if the client is closing or was just disconnected
 * because its pending output passed max_output. */
int ipc_send(ipc_client *c, const char *line, size_t len);
/* Closes after flushing pending output (flush=true) or at once. on_disconnect follows. */
void ipc_client_close(ipc_client *c, bool flush);

/* Flow control ("Holding" above). lagging: past the high-water mark (an open client only);
 * caught_up: at most the low-water mark unwritten, or closing. hold/release count: a client may
 * be held by several sessions. */
bool ipc_client_lagging(const ipc_client *c);
bool ipc_client_caught_up(const ipc_client *c);
void ipc_client_hold(ipc_client *c);
void ipc_client_release(ipc_client *c);

void ipc_client_set_data(ipc_client *c, void *data);
void *ipc_client_data(const ipc_client *c);
unsigned ipc_client_id(const ipc_client *c); /* small unique number, for logs */
uid_t ipc_client_uid(const ipc_client *c);
pid_t ipc_client_pid(const ipc_client *c);
void ipc_get_stats(const ipc_server *s, ipc_stats *out);
/* Latency (issue 11): while an origin is set (uv_hrtime() ns of the upstream read that produced
 * the lines being sent; 0: none), a line that starts a client's batch stamps it, and the write
 * that hands the whole batch to the client's socket records (the time of that write call -
 * origin). Taken as the write is made, not after it returns: the write wakes the client, which
 * the scheduler may run first on this CPU (on 2 CPUs a p99 of 180 µs instead of 90); that is the
 * client's time. A batch the socket does not take at once (a slow client) is not measured: that
 * wait is the client's too. */
void ipc_set_origin(ipc_server *s, uint64_t ns);
const gl_hist *ipc_latency(const ipc_server *s);
/* The socket's path (the inherited socket's own name when adopted). */
const char *ipc_path(const ipc_server *s);

#endif
