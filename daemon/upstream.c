#include "daemon/upstream.h"

static int ws_send_text(ws_conn *c, const char *json, size_t len, gl_err *err)
{
    return ws_send(c, WS_TEXT, json, len, err);
}

const gld_upstream_ops gld_upstream_ws = {
    .connect = ws_connect,
    .send_text = ws_send_text,
    .close = ws_close,
    .abort = ws_abort,
    .pause = ws_pause,
    .read_time = ws_read_time,
};
