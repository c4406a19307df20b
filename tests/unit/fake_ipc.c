/* The ipc.h test double: see fake_ipc.h. */
#include "tests/unit/fake_ipc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xalloc.h"

struct ipc_client {
    unsigned id;
    uid_t uid;
    bool closed, failing;
    size_t unwritten;
    unsigned holds;
    void *data;
    gl_buf out;
};

static unsigned live_clients;

ipc_client *fake_ipc_client_new(unsigned id)
{
    ipc_client *c = gl_xcalloc(1, sizeof *c);
    c->id = id;
    c->uid = getuid();
    gl_buf_init(&c->out, 0);
    live_clients++;
    return c;
}

void fake_ipc_client_free(ipc_client *c)
{
    if (!c)
        return;
    gl_buf_free(&c->out);
    free(c);
    live_clients--;
}

const char *fake_ipc_output(ipc_client *c)
{
    gl_buf_append(&c->out, "", 1); /* a NUL after the data, not counted */
    c->out.len--;
    return gl_buf_head(&c->out);
}

void fake_ipc_clear(ipc_client *c) { gl_buf_reset(&c->out); }

const char *fake_ipc_next_line(ipc_client *c)
{
    static char line[65536];
    const char *head = fake_ipc_output(c);
    const char *nl = memchr(head, '\n', c->out.len);
    if (!nl)
        return NULL;
    size_t n = (size_t)(nl - head) < sizeof line ? (size_t)(nl - head) : sizeof line - 1;
    memcpy(line, head, n);
    line[n] = '\0';
    gl_buf_consume(&c->out, (size_t)(nl - head) + 1);
    return line;
}

bool fake_ipc_closed(const ipc_client *c) { return c->closed; }
void fake_ipc_set_failing(ipc_client *c, bool failing) { c->failing = failing; }
void fake_ipc_set_uid(ipc_client *c, uid_t uid) { c->uid = uid; }
void fake_ipc_set_unwritten(ipc_client *c, size_t n) { c->unwritten = n; }
unsigned fake_ipc_holds(const ipc_client *c) { return c->holds; }

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
    if (!c || c->closed || c->failing)
        return -1;
    if (len == 0)
        return 0;
    if (line[len - 1] != '\n') {
        fprintf(stderr, "fake_ipc: ipc_send to client %u without a final newline: %.*s\n", c->id,
                (int)len, line);
        abort();
    }
    return gl_buf_append(&c->out, line, len);
}

void ipc_client_close(ipc_client *c, bool flush)
{
    (void)flush;
    c->closed = true;
}

bool ipc_client_lagging(const ipc_client *c) { return !c->closed && c->unwritten > FAKE_IPC_FLOW_HIGH; }
bool ipc_client_caught_up(const ipc_client *c) { return c->closed || c->unwritten <= FAKE_IPC_FLOW_LOW; }
void ipc_client_hold(ipc_client *c) { c->holds++; }

void ipc_client_release(ipc_client *c)
{
    if (c->holds == 0) {
        fprintf(stderr, "fake_ipc: release of client %u, which nobody holds\n", c->id);
        abort();
    }
    c->holds--;
}

void ipc_client_set_data(ipc_client *c, void *data) { c->data = data; }
void *ipc_client_data(const ipc_client *c) { return c->data; }
unsigned ipc_client_id(const ipc_client *c) { return c->id; }
uid_t ipc_client_uid(const ipc_client *c) { return c->uid; }
pid_t ipc_client_pid(const ipc_client *c) { return (pid_t)(1000 + c->id); }

void ipc_set_origin(ipc_server *s, uint64_t ns) { (void)s, (void)ns; }

const gl_hist *ipc_latency(const ipc_server *s)
{
    (void)s;
    static const gl_hist none;
    return &none;
}

void ipc_get_stats(const ipc_server *s, ipc_stats *out)
{
    (void)s;
    memset(out, 0, sizeof *out);
    out->clients = live_clients;
}
