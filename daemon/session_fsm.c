#include "daemon/session_fsm.h"

#include <stddef.h>

/* Targets are stored plus one, so 0 in the table means "does not apply". */
#define NO 0
static const unsigned char NEXT[SS_COUNT][SE_COUNT] = {
    [SS_IDLE] = {
        [SE_USE] = SS_CONNECTING + 1, [SE_CLOSE] = SS_GONE + 1,
    },
    [SS_CONNECTING] = {
        [SE_SETUP_DONE] = SS_READY + 1, [SE_LOST] = SS_BACKOFF + 1,
        [SE_RESUME_REFUSED] = SS_RECONNECTING + 1, [SE_REFUSED] = SS_CLOSED + 1,
        [SE_CLOSE] = SS_GONE + 1,
    },
    [SS_READY] = {
        [SE_GOAWAY] = SS_DRAINING + 1, [SE_REESTABLISH] = SS_DRAINING + 1,
        [SE_LOST] = SS_BACKOFF + 1, [SE_REFUSED] = SS_CLOSED + 1, [SE_CLOSE] = SS_GONE + 1,
        [SE_IDLE_TIMEOUT] = SS_PARKING + 1,
    },
    [SS_DRAINING] = {
        [SE_TURN_IDLE] = SS_HANGING_UP + 1, [SE_LOST] = SS_RECONNECTING + 1,
        [SE_REFUSED] = SS_CLOSED + 1, [SE_CLOSE] = SS_GONE + 1,
    },
    [SS_HANGING_UP] = {
        [SE_HUNG_UP] = SS_RECONNECTING + 1, [SE_CLOSE] = SS_GONE + 1,
    },
    [SS_BACKOFF] = {
        [SE_RETRY_TIMER] = SS_RECONNECTING + 1, [SE_CLOSE] = SS_GONE + 1,
    },
    [SS_RECONNECTING] = {
        [SE_SETUP_DONE] = SS_READY + 1, [SE_LOST] = SS_BACKOFF + 1,
        [SE_RESUME_REFUSED] = SS_RECONNECTING + 1, [SE_REFUSED] = SS_CLOSED + 1,
        [SE_CLOSE] = SS_GONE + 1,
    },
    [SS_CLOSED] = {
        [SE_USE] = SS_CONNECTING + 1, [SE_CLOSE] = SS_GONE + 1,
    },
    [SS_PARKING] = {
        [SE_HUNG_UP] = SS_IDLE + 1, [SE_CLOSE] = SS_GONE + 1,
    },
    [SS_GONE] = {NO},
};

sess_state sess_fsm_next(sess_state from, sess_event ev)
{
    if ((unsigned)from >= SS_COUNT || (unsigned)ev >= SE_COUNT || NEXT[from][ev] == NO)
        return SS_COUNT;
    return (sess_state)(NEXT[from][ev] - 1);
}

static const char *const STATE_NAMES[SS_COUNT] = {
    "idle", "connecting", "ready", "draining", "hanging_up", "backoff", "reconnecting", "closed",
    "parking", "gone",
};
static const char *const PUBLIC_NAMES[SS_COUNT] = {
    "idle", "connecting", "ready", "draining", "reconnecting", "reconnecting", "reconnecting",
    "closed", "idle", "closed",
};
static const char *const EVENT_NAMES[SE_COUNT] = {
    "none", "use", "setup_done", "goaway", "reestablish", "turn_idle", "hung_up", "lost",
    "resume_refused", "refused", "retry_timer", "close", "idle_timeout",
};

const char *sess_state_name(sess_state st) { return (unsigned)st < SS_COUNT ? STATE_NAMES[st] : "?"; }
const char *sess_event_name(sess_event ev) { return (unsigned)ev < SE_COUNT ? EVENT_NAMES[ev] : "?"; }
const char *sess_state_public_name(sess_state st)
{
    return (unsigned)st < SS_COUNT ? PUBLIC_NAMES[st] : "closed";
}

