/* The two systemd protocols gliveD speaks, written directly (no libsystemd: two small, stable,
 * documented protocols, sd_listen_fds(3) and sd_notify(3)); daemon/main.c decides when.
 *
 * Socket activation: systemd (gliveD.socket) passes the listening socket as fd 3, with
 * LISTEN_PID (ours) and LISTEN_FDS=1 in the environment; gliveD serves it as is and never
 * unlinks it (daemon/ipc.h).
 *
 * Notification (Type=notify): datagrams "KEY=VALUE\n..." to the Unix socket named by
 * NOTIFY_SOCKET, a path ("/run/systemd/notify") or an abstract address ("@name"): READY=1 once
 * the socket listens, STATUS= lines ("3 sessions, 2 clients"), RELOADING=1 / READY=1 around a
 * SIGHUP reload, STOPPING=1, and WATCHDOG=1 every half of WATCHDOG_USEC when systemd asks for
 * it (WatchdogSec=): the pings come from a timer on the one loop, so a loop that stops turning
 * stops them, and systemd restarts the daemon. Sends never block (a full notify queue drops the
 * message; the next status or ping follows).
 *
 * Both read their variables once and remove them from the environment, so that no child (the
 * code's sandbox) sees them. */
#ifndef GLD_SYSTEMD_H
#define GLD_SYSTEMD_H

#include <stdint.h>

#include "common/err.h"

/* 1 and *fd if systemd passed a socket for this process, 0 if none, -1 with err if what it
 * passed cannot be used (more than one socket, bad variables). */
int gld_sd_listen_fd(int *fd, gl_err *err);

typedef struct gld_sd_notify {
    int fd; /* -1: no NOTIFY_SOCKET, every send is a no-op */
    char addr[112]; /* struct sockaddr_un, kept opaque here */
    unsigned addrlen;
    uint64_t watchdog_usec; /* 0: no watchdog asked for this process */
} gld_sd_notify;

/* Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID. 0 (n->fd -1 if there is no notify
 * socket), or -1 with err for an address gliveD cannot use (n->fd is then -1 too). */
int gld_sd_notify_open(gld_sd_notify *n, gl_err *err);
/* Sends one datagram (the KEY=VALUE lines of msg); best effort. 0 if sent or no socket. */
int gld_sd_notify_send(gld_sd_notify *n, const char *msg);
void gld_sd_notify_close(gld_sd_notify *n);

#endif
