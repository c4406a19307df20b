/* Inside a session: the struct and what session.c (connection, turns, events) and calls.c
 * (the model's function calls) share. Not for other parts of the daemon: they use session.h. */
#ifndef GLD_SESSION_PRIV_H
#define GLD_SESSION_PRIV_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>
#include <uv.h>

#include "daemon/models.h"
#include "daemon/session.h"
#include "proto/line.h"
#include "proto/live.h"
#include "transport/ws.h"

#define MAX_WATCHERS 256
#define MAX_PENDING_CALLS 128

enum sess_state { S_IDLE, S_CONNECTING, S_READY, S_RECONNECTING, S_CLOSED };

typedef struct turn {
    long no;
    char *text;
    ipc_client *sender; /* NULL once the sender disconnected: events go to subscribers only */
    bool retry;         /* the client asked: re-send if the connection is lost mid-turn */
} turn;

typedef struct pending_call {
    char *id, *name;
    long turn;
    unsigned group;      /* which server toolCall it came in */
    json_t *response;    /* set when answered */
    ipc_client *handler; /* the registered handler serving it; NULL: the prompting client */
    uint64_t deadline;   /* loop time past which the daemon answers for it */
} pending_call;

typedef struct watcher {
    ipc_client *c;
    bool subscribed;
} watcher;

struct gld_session {
    gld_daemon *d;
    char name[GL_SESSION_NAME_MAX + 1];
    char model[128];
    live_modality modality;
    json_t *system_instruction, *tools, *generation_config; /* normalized, owned; may be NULL */
    json_t *extra_decls; /* declarations added by tool handlers (array, owned) */
    bool compression;
    const gld_model_info *mi;

    enum sess_state state;
    ws_conn *ws;
    bool setup_done;     /* setupComplete seen on the current connection */
    bool resuming;       /* the current connection's setup carried a handle */
    bool drain;          /* goAway or new tools: after the running turn, reconnect */
    bool reconnect_now;  /* we closed the connection on purpose: no backoff */
    unsigned attempt;    /* consecutive failed connection attempts (backoff exponent) */
    uv_timer_t retry_timer, tool_timer, persist_timer;
    char last_close[200];
    char notice[200];    /* something clients should know, e.g. "started fresh" */

    char *handle;        /* newest resumable handle */
    time_t handle_time;
    uint64_t connected_at;
    unsigned long reconnects, goaways;
    uint64_t last_goaway_at;
    long long last_goaway_left_ms;

    turn *queue;
    size_t qlen, qcap;
    turn cur;
    bool turn_running;
    long next_turn;
    unsigned long turns_done;

    pending_call calls[MAX_PENDING_CALLS];
    size_t ncalls;
    unsigned group_seq;

    watcher watchers[MAX_WATCHERS];
    size_t nwatchers;

    bool closing;
    int timers_open;
    gld_session *next;
};

/* session.c */
void sess_emit_turn2(gld_session *s, const char *event, ipc_client *sender, ipc_client *extra,
                     long turn_no, json_t *fields);
int sess_upstream_send(gld_session *s, char *json);
void sess_pump(gld_session *s);
void sess_persist_soon(gld_session *s);

/* calls.c */
void sess_calls_route(gld_session *s, const live_event *ev, ipc_client *snd, long tn);
void sess_calls_cancelled_by_model(gld_session *s, const json_t *ids, ipc_client *snd);
void sess_calls_cancel_all(gld_session *s, const char *reason);
/* c disconnected: answer the calls its handler registrations served, and, if c sent the running
 * turn (sender_gone), the calls it was to answer itself. */
void sess_calls_client_gone(gld_session *s, ipc_client *c, bool sender_gone);
void sess_calls_free(gld_session *s);
bool sess_calls_declared(const gld_session *s, const char *name);

#endif
