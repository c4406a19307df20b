/* `glivectl tool`: registers a function with gliveD and serves its calls by running a command for
 * each (concurrently, each bounded by the timeout). The event loop is libuv's: the daemon
 * connection (a uv_poll_t on glive_fd), the children (uv_spawn, pipes, a timer each) and
 * SIGINT/SIGTERM. What a call's command gets and how its end becomes the response: tool_run.h. */
#ifndef GL_CLIENT_TOOL_CMD_H
#define GL_CLIENT_TOOL_CMD_H

#include <jansson.h>

#include "client/glivectl/tool_run.h"

/* Exit statuses (the same as glivectl's). */
enum { GL_TOOL_EXIT_OK = 0, GL_TOOL_EXIT_ERR = 1, GL_TOOL_EXIT_CONNECT = 3 };

/* Connects to gliveD (socket NULL = the default), sends `register_req` (from
 * gl_tool_register_request; STOLEN) and serves calls until SIGINT/SIGTERM (returns 0, after killing
 * the running commands) or until gliveD closes the connection or fails (returns 1). Returns 3 when
 * gliveD cannot be reached, 1 when the registration is refused ("glivectl: CODE: MESSAGE" on
 * stderr). request_timeout_ms bounds each request's wait for its reply (-1: none). Logs to stderr;
 * with o->json, every event and reply received is printed on stdout as a JSON line. */
int gl_tool_serve(const char *socket, int request_timeout_ms, const gl_tool_opts *o,
                  json_t *register_req);

#endif
