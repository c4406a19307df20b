/* The ipc.h test double: see fake_ipc.h. */
#include "tests/unit/fake_ipc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/xalloc.h"

struct ipc_client {
    unsigned id;
    bool closed;
    void *data;
    char *out; /* NUL-terminated */
    size_t len, cap;
};

static unsigned live_clients;

ipc_client *fake_ipc_client_new(unsigned id)
{
    ipc_client *c = gl_xcalloc(1, sizeof *c);
    c->id = id;
    c->cap = 256;
    c->out = gl_xcalloc(1, c->cap);
    live_clients++;
    return c;
}

const char *fake_ipc_output(const ipc_client *c) { return c->out; }

void fake_ipc_output_clear(ipc_client *c)
{
    c->len = 0;
    c->out[0] = '\0';
}

bool fake_ipc_closed(const ipc_client *c) { return c->closed; }

void fake_ipc_client_free(ipc_client *c)
{
    if (!c)
        return;
    free(c->out);
    free(c);
    live_clients--;
}

/* ---- daemon/ipc.h ---------------------------------------------------------------------- */

ipc_server *ipc_start(uv_loop_t *loop, const ipc_opts *o, const ipc_handlers *h, void *ud,
                      gl_err *err)
{
    (void)loop, (void)o, (void)h, (void)ud;
    gl_fail(err, "internal", "fake ipc: no server in unit tests");
    return NULL;
}

void ipc_stop(ipc_server *s) { (void)s; }

int ipc_send(ipc_client *c, const char *line, size_t len)
{
    if (!c || c->closed)
        return -1;
    if (len == 0)
        return 0;
    if (line[len - 1] != '\n') {
        fprintf(stderr, "fake_ipc: ipc_send to client %u without a final newline: %.*s\n", c->id,
                (int)len, line);
        abort();
    }
    if (c->len + len + 1 > c->cap) {
        while (c->len + len + 1 > c->cap)
            c->cap *= 2;
        c->out = gl_xrealloc(c->out, c->cap);
    }
    memcpy(c->out + c->len, line, len);
    c->len += len;
    c->out[c->len] = '\0';
    return 0;
}

void ipc_client_close(ipc_client *c, bool flush)
{
    (void)flush;
    if (c)
        c->closed = true;
}

void ipc_client_set_data(ipc_client *c, void *data) { c->data = data; }
void *ipc_client_data(const ipc_client *c) { return c->data; }
unsigned ipc_client_id(const ipc_client *c) { return c->id; }
uid_t ipc_client_uid(const ipc_client *c) { (void)c; return getuid(); }
pid_t ipc_client_pid(const ipc_client *c) { return (pid_t)(1000 + c->id); }

void ipc_get_stats(const ipc_server *s, ipc_stats *out)
{
    (void)s;
    memset(out, 0, sizeof *out);
    out->clients = live_clients;
}
