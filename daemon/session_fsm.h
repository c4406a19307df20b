/* A session's connection state machine, as data: the states, the events that move a session
 * between them, and the one table of transitions. Pure (no I/O): daemon/session.c fires events
 * and runs each state's entry action; tests/unit/test_session.c checks the table and the
 * behaviour. Other modules never set a state: they fire an event through session.h (e.g.
 * gld_session_request_reestablish). Diagram and rationale: docs/ARCHITECTURE.md.
 *
 *   idle ──use──▶ connecting ──setup_done──▶ ready ──goaway / reestablish──▶ draining
 *   draining ──turn_idle──▶ hanging_up ──hung_up──▶ reconnecting ──setup_done──▶ ready
 *   connecting, ready, reconnecting ──lost──▶ backoff ──retry_timer──▶ reconnecting
 *   draining ──lost──▶ reconnecting            (the cut a goAway announced: no backoff)
 *   connecting, reconnecting ──resume_refused──▶ reconnecting   (fresh: the handle is dropped)
 *   connecting, ready, draining, reconnecting ──refused──▶ closed ──use──▶ connecting
 *   ready ──idle_timeout──▶ parking ──hung_up──▶ idle   (unused: the handle is kept; next use resumes)
 *   any ──close──▶ gone */
#ifndef GLD_SESSION_FSM_H
#define GLD_SESSION_FSM_H

typedef enum sess_state {
    SS_IDLE,         /* no connection: connects on first use */
    SS_CONNECTING,   /* first connection: socket, TLS, upgrade, setup sent */
    SS_READY,        /* setupComplete seen: prompts go on the wire */
    SS_DRAINING,     /* goAway or new setup: the running turn finishes, new prompts wait */
    SS_HANGING_UP,   /* we are closing the connection to resume on a new one at once */
    SS_BACKOFF,      /* the connection was lost: waiting (jittered exponential) to retry */
    SS_RECONNECTING, /* a new connection after one ended, resuming with the newest handle */
    SS_CLOSED,       /* retrying cannot help (bad key, policy close): prompts fail until next use */
    SS_PARKING,      /* unused for --idle-timeout: closing its connection, keeping the handle */
    SS_GONE,         /* a client closed the session or the daemon stops: it is being freed */
    SS_COUNT
} sess_state;

typedef enum sess_event {
    SE_NONE,
    SE_USE,            /* a prompt waits, or a client opened the session */
    SE_SETUP_DONE,     /* setupComplete on the current connection */
    SE_GOAWAY,         /* the service will cut this connection soon */
    SE_REESTABLISH,    /* the setup changed (a handler declared a function) */
    SE_TURN_IDLE,      /* no turn is running */
    SE_HUNG_UP,        /* the connection we closed on purpose is closed */
    SE_LOST,           /* the connection ended and retrying may help (drop, 1011, TLS, DNS) */
    SE_RESUME_REFUSED, /* a resuming setup was closed 1007/1008/1003: the handle is bad */
    SE_REFUSED,        /* a close retrying cannot fix, or the connection cannot even start */
    SE_RETRY_TIMER,    /* the backoff delay passed */
    SE_CLOSE,          /* a client closed the session, or the daemon stops */
    SE_IDLE_TIMEOUT,   /* nothing used the session for --idle-timeout */
    SE_COUNT
} sess_event;

/* The state a session in `from` moves to on `ev`, or SS_COUNT if the event does not apply
 * there (it is ignored and logged at debug level). */
sess_state sess_fsm_next(sess_state from, sess_event ev);
/* Internal names, for logs and tests ("hanging_up"). */
const char *sess_state_name(sess_state st);
const char *sess_event_name(sess_event ev);
/* The name clients see in `state` events and replies (proto/PROTOCOL.md): idle (idle, parking),
 * connecting, ready, draining, reconnecting (hanging_up, backoff, reconnecting), closed (closed,
 * gone). */
const char *sess_state_public_name(sess_state st);

#endif
