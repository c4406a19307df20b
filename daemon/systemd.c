#include "daemon/systemd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"

#define SD_LISTEN_FDS_START 3

_Static_assert(sizeof(((gld_sd_notify *)0)->addr) >= sizeof(struct sockaddr_un), "addr fits");

/* A decimal number of the environment, whole and in range; -1 if absent or not one. */
static long long env_num(const char *name, unsigned long long max)
{
    const char *v = getenv(name);
    if (!v || !*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 19)
        return -1;
    unsigned long long n = strtoull(v, NULL, 10);
    return n > max ? -1 : (long long)n;
}

int gld_sd_listen_fd(int *fd, gl_err *err)
{
    *fd = -1;
    const char *pid_s = getenv("LISTEN_PID");
    if (!pid_s)
        return 0;
    long long pid = env_num("LISTEN_PID", INT_MAX);
    long long n = env_num("LISTEN_FDS", INT_MAX - SD_LISTEN_FDS_START);
    int rc = 0;
    if (pid != (long long)getpid()) {
        /* meant for another process (a parent that did not clear them): not ours to take */
        log_debug("LISTEN_PID=%s is not this process: no socket activation", pid_s);
    } else if (n < 1) {
        rc = gl_fail(err, "bad_socket", "LISTEN_PID is this process but LISTEN_FDS is not a "
                     "number of sockets (%s)", getenv("LISTEN_FDS") ? getenv("LISTEN_FDS") : "unset");
    } else {
        for (int i = 0; i < (int)n; i++) /* none of them may leak into children */
            (void)fcntl(SD_LISTEN_FDS_START + i, F_SETFD, FD_CLOEXEC);
        if (n > 1)
            rc = gl_fail(err, "bad_socket", "systemd passed %lld sockets; gliveD listens on one "
                         "(one ListenStream= in gliveD.socket)", n);
        else {
            *fd = SD_LISTEN_FDS_START;
            rc = 1;
        }
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return rc;
}

int gld_sd_notify_open(gld_sd_notify *n, gl_err *err)
{
    memset(n, 0, sizeof *n);
    n->fd = -1;
    const char *wpid = getenv("WATCHDOG_PID");
    long long usec = env_num("WATCHDOG_USEC", UINT64_MAX / 2);
    if (usec > 0 && (!wpid || env_num("WATCHDOG_PID", INT_MAX) == (long long)getpid()))
        n->watchdog_usec = (uint64_t)usec;
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");

    const char *e = getenv("NOTIFY_SOCKET");
    char where[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    snprintf(where, sizeof where, "%s", e ? e : "");
    unsetenv("NOTIFY_SOCKET");
    if (!*where)
        return 0;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t len = strlen(where);
    if ((where[0] != '/' && where[0] != '@') || len < 2 || len >= sizeof sa.sun_path)
        return gl_fail(err, "bad_notify", "NOTIFY_SOCKET=%.100s is neither a socket path nor an "
                       "abstract address (@name) that fits: no notifications", where);
    memcpy(sa.sun_path, where, len);
    if (where[0] == '@') /* the abstract namespace: a leading NUL, no terminating one */
        sa.sun_path[0] = '\0';
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (where[0] == '/'));
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return gl_fail(err, "bad_notify", "cannot create the notify socket: %s", strerror(errno));
    n->fd = fd;
    memcpy(n->addr, &sa, sizeof sa);
    n->addrlen = (unsigned)salen;
    return 0;
}

int gld_sd_notify_send(gld_sd_notify *n, const char *msg)
{
    if (n->fd < 0)
        return 0;
    ssize_t r = sendto(n->fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL,
                       (const struct sockaddr *)n->addr, (socklen_t)n->addrlen);
    if (r < 0) {
        log_debug("notify socket: cannot send \"%.40s\": %s", msg, strerror(errno));
        return -1;
    }
    return 0;
}

void gld_sd_notify_close(gld_sd_notify *n)
{
    if (n->fd >= 0)
        close(n->fd);
    n->fd = -1;
}
