/* The tool handler registry: which local connection serves which function, for one session or
 * for every session ("*") that declares it. A registration outlives nothing: it ends with its
 * connection (the declaration it added to a session stays: gld_session_add_declaration in
 * daemon/session.c). Routing a call to its handler: daemon/calls.c.
 *
 * Uids (daemon/access.h): a registration is its connection's uid's. It serves a session only
 * where gld_access_serves says so (the session's owner, a shared session, or root naming it),
 * so a handler of another uid never sees, answers or declares functions in a private session,
 * even one registered under the same name; and registrations of different uids never collide
 * (tool_exists is only among one uid's). */
#ifndef GLD_TOOLS_H
#define GLD_TOOLS_H

#include <jansson.h>

#include "common/err.h"
#include "daemon/access.h"
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

/* The handler of function `name` in `session` (acc: its owner and shared flag): a registration
 * naming the session first, then "*"; among each, the owner's before another uid's. Only
 * handlers that may serve the session (gld_access_serves) are considered. */
gld_tool *gld_tools_find(gld_daemon *d, const char *session, const gld_access *acc, const char *name);
/* session: a session name or "*"; decl is validated (name rules, parameters an object...);
 * bad_request if either is not. "tool_exists" if another connection of the same uid serves the
 * same (session, name); the same connection registering again replaces its entry. */
gld_tool *gld_tools_register(gld_daemon *d, ipc_client *c, const char *session, const json_t *decl,
                             unsigned timeout_ms, gl_err *err);
int gld_tools_unregister(gld_daemon *d, ipc_client *c, const char *session, const char *name,
                         gl_err *err);
/* Drops every registration of c. */
void gld_tools_client_gone(gld_daemon *d, ipc_client *c);
/* Declarations registered for exactly this session (not "*") by handlers that may serve it
 * (acc), as a new array. */
json_t *gld_tools_declarations_for(gld_daemon *d, const char *session, const gld_access *acc);
void gld_tools_free_all(gld_daemon *d);
/* For status: the registrations of uid's connections (root: every one). */
json_t *gld_tools_info(gld_daemon *d, uid_t uid);

#endif
