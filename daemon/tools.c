#include "daemon/tools.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "proto/errors.h"
#include "proto/line.h"
#include "proto/live.h"

#define MAX_TOOLS 1024

_Static_assert(sizeof ((gld_tool *)0)->session > GL_SESSION_NAME_MAX, "session names fit");

static gld_tool **head(gld_daemon *d) { return &d->tools; }

static uid_t uid_of(const gld_tool *t) { return ipc_client_uid(t->handler); }

gld_tool *gld_tools_find(gld_daemon *d, const char *session, const gld_access *acc, const char *name)
{
    gld_tool *named = NULL, *any = NULL;
    for (gld_tool *t = *head(d); t; t = t->next) {
        if (strcmp(t->name, name) != 0)
            continue;
        bool exact = strcmp(t->session, session) == 0;
        if (!exact && strcmp(t->session, "*") != 0)
            continue;
        uid_t u = uid_of(t);
        if (!gld_access_serves(acc, u, exact))
            continue;
        gld_tool **best = exact ? &named : &any;
        if (!*best || (u == acc->owner && uid_of(*best) != acc->owner))
            *best = t;
    }
    return named ? named : any;
}

static void tool_free(gld_tool *t)
{
    json_decref(t->decl);
    free(t);
}

gld_tool *gld_tools_register(gld_daemon *d, ipc_client *c, const char *session, const json_t *decl,
                             unsigned timeout_ms, gl_err *err)
{
    /* The fixed-size fields below must never truncate: two long names would become one. */
    if (strcmp(session, "*") != 0 && !gl_session_name_ok(session, err))
        return NULL;
    json_t *norm;
    if (live_normalize_function_decl(decl, "declaration", &norm, err) != 0)
        return NULL;
    const char *nm = json_string_value(json_object_get(norm, "name"));
    char name[65];
    if (!nm || !*nm || strlen(nm) >= sizeof name) {
        json_decref(norm);
        gl_fail(err, GL_E_BAD_REQUEST, "declaration needs a \"name\" of 1-64 characters");
        return NULL;
    }
    snprintf(name, sizeof name, "%s", nm); /* norm may be freed before the messages below */
    unsigned n = 0;
    for (gld_tool **p = head(d); *p; p = &(*p)->next, n++) {
        gld_tool *t = *p;
        if (strcmp(t->session, session) != 0 || strcmp(t->name, name) != 0 ||
            uid_of(t) != ipc_client_uid(c)) /* other uids' never collide with it (tools.h) */
            continue;
        if (t->handler != c) {
            json_decref(norm);
            gl_fail(err, GL_E_TOOL_EXISTS, "function %s in session %s is already served by client %u",
                    name, session, ipc_client_id(t->handler));
            return NULL;
        }
        json_decref(t->decl); /* same client again: replace */
        t->decl = norm;
        t->timeout_ms = timeout_ms;
        return t;
    }
    if (n >= MAX_TOOLS) {
        json_decref(norm);
        gl_fail(err, GL_E_BUSY, "%d tool registrations already", MAX_TOOLS);
        return NULL;
    }
    gld_tool *t = gl_xcalloc(1, sizeof *t);
    snprintf(t->session, sizeof t->session, "%s", session);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->decl = norm;
    t->handler = c;
    t->timeout_ms = timeout_ms;
    t->next = *head(d);
    *head(d) = t;
    log_info("tool %s (session %s) served by client %u (pid %d)", name, session, ipc_client_id(c),
             (int)ipc_client_pid(c));
    return t;
}

int gld_tools_unregister(gld_daemon *d, ipc_client *c, const char *session, const char *name,
                         gl_err *err)
{
    bool other = false; /* another connection of c's uid serves it */
    for (gld_tool **p = head(d); *p; p = &(*p)->next) {
        gld_tool *t = *p;
        if (strcmp(t->session, session) != 0 || strcmp(t->name, name) != 0)
            continue;
        if (t->handler == c) {
            *p = t->next;
            tool_free(t);
            return 0;
        }
        other = other || uid_of(t) == ipc_client_uid(c);
    }
    if (other)
        return gl_fail(err, GL_E_BAD_REQUEST, "function %s in session %s is served by another "
                       "client", name, session);
    return gl_fail(err, GL_E_BAD_REQUEST, "this connection serves no function %s in session %s", name,
                   session);
}

void gld_tools_client_gone(gld_daemon *d, ipc_client *c)
{
    for (gld_tool **p = head(d); *p;) {
        gld_tool *t = *p;
        if (t->handler == c) {
            log_info("tool %s (session %s): handler client %u gone", t->name, t->session,
                     ipc_client_id(c));
            *p = t->next;
            tool_free(t);
        } else {
            p = &t->next;
        }
    }
}

json_t *gld_tools_declarations_for(gld_daemon *d, const char *session, const gld_access *acc)
{
    json_t *arr = json_array();
    for (gld_tool *t = *head(d); t; t = t->next)
        if (strcmp(t->session, session) == 0 && gld_access_serves(acc, uid_of(t), true))
            json_array_append(arr, t->decl);
    return arr;
}

void gld_tools_free_all(gld_daemon *d)
{
    while (*head(d)) {
        gld_tool *t = *head(d);
        *head(d) = t->next;
        tool_free(t);
    }
}

json_t *gld_tools_info(gld_daemon *d, uid_t uid)
{
    json_t *arr = json_array();
    for (gld_tool *t = *head(d); t; t = t->next)
        if (uid == 0 || uid_of(t) == uid)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:i, s:I}", "session", t->session, "name",
                                             t->name, "client", (int)ipc_client_id(t->handler),
                                             "timeout_ms", (json_int_t)t->timeout_ms));
    return arr;
}
