/* The tool handler registry: which local connection serves which function, for one session or
 * for every session ("*") that declares it. A registration outlives nothing: it ends with its
 * connection (the declaration it added to a session stays: gld_session_add_declaration in
 * daemon/session.c). Routing a call to its handler: daemon/calls.c. */
#ifndef GLD_TOOLS_H
#define GLD_TOOLS_H

#include <jansson.h>

#include "common/err.h"
#include "daemon/daemon.h"
#include "daemon/ipc.h"

#define GLD_TOOL_TIMEOUT_MS 30000

typedef struct gld_tool {
    char session[65];   /* a session name, or "*" */
    char name[65];      /* the function */
    json_t *decl;       /* normalized FunctionDeclaration (camelCase), owned */
    ipc_client *handler;
    unsigned timeout_ms;
    struct gld_tool *next;
} gld_tool;

/* The handler of function `name` in `session`: an exact registration first, then "*". */
gld_tool *gld_tools_find(gld_daemon *d, const char *session, const char *name);
/* session: a session name or "*"; decl is validated (name rules, parameters an object...);
 * bad_request if either is not. "tool_exists" if another connection serves the same (session,
 * name); the same connection registering again replaces its entry. */
gld_tool *gld_tools_register(gld_daemon *d, ipc_client *c, const char *session, const json_t *decl,
                             unsigned timeout_ms, gl_err *err);
int gld_tools_unregister(gld_daemon *d, ipc_client *c, const char *session, const char *name,
                         gl_err *err);
/* Drops every registration of c. */
void gld_tools_client_gone(gld_daemon *d, ipc_client *c);
/* Declarations registered for exactly this session (not "*"), as a new array. */
json_t *gld_tools_declarations_for(gld_daemon *d, const char *session);
void gld_tools_free_all(gld_daemon *d);
json_t *gld_tools_info(gld_daemon *d); /* for status */

#endif
