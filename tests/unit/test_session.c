/* The session state machine, driven without sockets (in the style of wslay's tests): a fake
 * upstream (daemon/upstream.h's seam) records every message the session sends and lets the test
 * play the server's part with exact messages; fake clients (tests/unit/fake_ipc.c) record every
 * event line. Each test checks exact bytes out for exact bytes in, and ends with a clean loop. */
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "common/log.h"
#include "daemon/session.h"
#include "daemon/persist.h"
#include "daemon/session_fsm.h"
#include "daemon/tools.h"
#include "daemon/upstream.h"
#include "tests/unit/fake_ipc.h"
#include "tests/unit/fast_corpus.h"
#include "tests/unit/testlib.h"

/* ---- the fake Live API connection ---- */

#define MAX_SENT 32
typedef struct fake_conn {
    const ws_handlers *h;
    void *ud;
    char url[2048];
    char headers[1024];   /* the extra header lines, '|'-separated */
    char *sent[MAX_SENT];
    size_t nsent, next;   /* messages the session sent; next: the first the test has not read */
    int close_code;       /* the session asked to close with this code (0: not asked) */
    bool aborted, ended;  /* ended: on_close delivered */
    bool paused;          /* the session stopped reading it (flow control) */
    unsigned pauses;      /* times it was paused */
} fake_conn;

static fake_conn CONNS[16];
static int NCONNS;
static bool CONNECT_FAILS;

static ws_conn *fake_connect(uv_loop_t *loop, const ws_client_opts *o, const ws_handlers *h,
                             void *ud, gl_err *err)
{
    (void)loop;
    if (CONNECT_FAILS || NCONNS == 16) {
        gl_fail(err, "bad_request", "fake: cannot connect");
        return NULL;
    }
    fake_conn *c = &CONNS[NCONNS++];
    memset(c, 0, sizeof *c);
    c->h = h;
    c->ud = ud;
    snprintf(c->url, sizeof c->url, "%s", o->url);
    for (const char *const *h = o->headers; h && *h; h++)
        snprintf(c->headers + strlen(c->headers), sizeof c->headers - strlen(c->headers), "%s|", *h);
    return (ws_conn *)c;
}

static int fake_send(ws_conn *w, const char *json, size_t len, gl_err *err)
{
    fake_conn *c = (fake_conn *)w;
    if (c->ended || c->close_code || c->nsent == MAX_SENT)
        return gl_fail(err, "closed", "fake: not open");
    c->sent[c->nsent++] = strndup(json, len);
    return 0;
}

static void fake_close(ws_conn *w, int code, const char *reason)
{
    (void)reason;
    ((fake_conn *)w)->close_code = code;
}

static void fake_abort(ws_conn *w, const char *why)
{
    (void)why;
    ((fake_conn *)w)->aborted = true;
}

static void fake_pause(ws_conn *w, bool pause)
{
    fake_conn *c = (fake_conn *)w;
    if (pause == c->paused) { /* the session changes it only when it changes */
        fprintf(stderr, "fake: pause(%d) twice\n", pause);
        abort();
    }
    c->paused = pause;
    c->pauses += pause;
}

static uint64_t fake_read_time(const ws_conn *w) { return (void)w, 0; }

static const gld_upstream_ops FAKE_NET = {fake_connect, fake_send, fake_close, fake_abort, fake_pause,
                                          fake_read_time};

/* The server's side of the play. */
static void srv_open(fake_conn *c) { c->h->on_open((ws_conn *)c, c->ud); }
static void srv_says(fake_conn *c, const char *json)
{
    c->h->on_message((ws_conn *)c, WS_TEXT, (const uint8_t *)json, strlen(json), c->ud);
}
static void srv_closes_http(fake_conn *c, int code, const char *reason, const char *error, int http)
{
    ws_close_info info = {.code = code, .reason = reason, .error = error, .http_status = http};
    c->ended = true;
    c->h->on_close((ws_conn *)c, &info, c->ud);
}
static void srv_closes(fake_conn *c, int code, const char *reason, const char *error)
{
    ws_close_info info = {.code = code, .reason = reason, .error = error};
    c->ended = true;
    c->h->on_close((ws_conn *)c, &info, c->ud);
}
/* The next message the session sent on c that the test has not read, or "" if none. */
static const char *sent(fake_conn *c) { return c->next < c->nsent ? c->sent[c->next++] : ""; }

/* ---- a daemon around one session ---- */

static gld_daemon D;
static uv_loop_t LOOP;

static void daemon_up(void)
{
    memset(&D, 0, sizeof D);
    memset(CONNS, 0, sizeof CONNS);
    NCONNS = 0;
    CONNECT_FAILS = false;
    uv_loop_init(&LOOP);
    D.loop = &LOOP;
    D.net = &FAKE_NET;
    gld_config_defaults(&D.cfg);
    snprintf(D.cfg.endpoint, sizeof D.cfg.endpoint, "wss://live.test");
    snprintf(D.cfg.api_key, sizeof D.cfg.api_key, "k3y");
    D.cfg.backoff_min_ms = 1;
    D.cfg.backoff_max_ms = 2;
    gl_log_set_level(GL_LOG_ERROR);
}

/* Closes every session, lets their connections end, and checks the loop is left clean. */
static int daemon_down(void)
{
    while (D.sessions)
        gld_session_close(D.sessions, "test over", false);
    for (int i = 0; i < NCONNS; i++)
        if (!CONNS[i].ended)
            srv_closes(&CONNS[i], 1000, "", NULL);
    uv_run(&LOOP, UV_RUN_DEFAULT);
    for (int i = 0; i < NCONNS; i++)
        for (size_t j = 0; j < CONNS[i].nsent; j++)
            free(CONNS[i].sent[j]);
    gld_tools_free_all(&D);
    return uv_loop_close(&LOOP);
}

static gld_session *open_session(const char *name, const char *model, ipc_client *watcher)
{
    gl_err err;
    gld_session_config cfg = {.model = model, .modality = LIVE_TEXT};
    gld_session *s = gld_session_new(&D, name, &cfg, &err);
    if (s && watcher)
        gld_session_watch(s, watcher, true);
    return s;
}

static long send_prompt(gld_session *s, ipc_client *c, const char *text, bool retry)
{
    long turn = 0;
    bool queued;
    gl_err err;
    if (gld_session_send(s, c, text, retry, &turn, &queued, &err) != 0)
        return -1;
    gld_session_pump(s);
    return turn;
}

#define MODEL "gemini-2.0-flash-live-001" /* any model of the catch-all row: TEXT, clientContent */
#define SETUP_NEW "{\"setup\":{\"model\":\"models/" MODEL "\",\"generationConfig\":{\"responseModalities\":[\"TEXT\"]},\"sessionResumption\":{},\"contextWindowCompression\":{\"slidingWindow\":{}}}}"
#define SETUP_RESUME(h) "{\"setup\":{\"model\":\"models/" MODEL "\",\"generationConfig\":{\"responseModalities\":[\"TEXT\"]},\"sessionResumption\":{\"handle\":\"" h "\"},\"contextWindowCompression\":{\"slidingWindow\":{}}}}"
#define PROMPT(t) "{\"clientContent\":{\"turns\":[{\"role\":\"user\",\"parts\":[{\"text\":\"" t "\"}]}],\"turnComplete\":true}}"
#define EV(name, rest) "{\"event\":\"" name "\",\"session\":\"s\"" rest "}"

/* Opens session "s" watched by w and brings it to ready on CONNS[0]. */
static gld_session *ready_session(ipc_client *w)
{
    gld_session *s = open_session("s", MODEL, w);
    gld_session_connect(s);
    srv_open(&CONNS[0]);
    srv_says(&CONNS[0], "{\"setupComplete\":{}}");
    fake_ipc_clear(w);
    (void)sent(&CONNS[0]);
    return s;
}

/* ---- the table ---- */

TEST(fsm_table_is_exactly_the_documented_one)
{
    static const struct { sess_state from; sess_event ev; sess_state to; } T[] = {
        {SS_IDLE, SE_USE, SS_CONNECTING},          {SS_IDLE, SE_CLOSE, SS_GONE},
        {SS_CONNECTING, SE_SETUP_DONE, SS_READY},  {SS_CONNECTING, SE_LOST, SS_BACKOFF},
        {SS_CONNECTING, SE_RESUME_REFUSED, SS_RECONNECTING},
        {SS_CONNECTING, SE_REFUSED, SS_CLOSED},    {SS_CONNECTING, SE_CLOSE, SS_GONE},
        {SS_READY, SE_GOAWAY, SS_DRAINING},        {SS_READY, SE_REESTABLISH, SS_DRAINING},
        {SS_READY, SE_LOST, SS_BACKOFF},           {SS_READY, SE_REFUSED, SS_CLOSED},
        {SS_READY, SE_CLOSE, SS_GONE},
        {SS_DRAINING, SE_TURN_IDLE, SS_HANGING_UP}, {SS_DRAINING, SE_LOST, SS_RECONNECTING},
        {SS_DRAINING, SE_REFUSED, SS_CLOSED},      {SS_DRAINING, SE_CLOSE, SS_GONE},
        {SS_HANGING_UP, SE_HUNG_UP, SS_RECONNECTING}, {SS_HANGING_UP, SE_CLOSE, SS_GONE},
        {SS_BACKOFF, SE_RETRY_TIMER, SS_RECONNECTING}, {SS_BACKOFF, SE_CLOSE, SS_GONE},
        {SS_RECONNECTING, SE_SETUP_DONE, SS_READY}, {SS_RECONNECTING, SE_LOST, SS_BACKOFF},
        {SS_RECONNECTING, SE_RESUME_REFUSED, SS_RECONNECTING},
        {SS_RECONNECTING, SE_REFUSED, SS_CLOSED},  {SS_RECONNECTING, SE_CLOSE, SS_GONE},
        {SS_CLOSED, SE_USE, SS_CONNECTING},        {SS_CLOSED, SE_CLOSE, SS_GONE},
        {SS_READY, SE_IDLE_TIMEOUT, SS_PARKING},
        {SS_PARKING, SE_HUNG_UP, SS_IDLE},         {SS_PARKING, SE_CLOSE, SS_GONE},
    };
    int listed = 0;
    for (int st = 0; st < SS_COUNT; st++)
        for (int ev = 0; ev < SE_COUNT; ev++) {
            sess_state want = SS_COUNT;
            for (size_t i = 0; i < sizeof T / sizeof T[0]; i++)
                if (T[i].from == (sess_state)st && T[i].ev == (sess_event)ev)
                    want = T[i].to;
            listed += want != SS_COUNT;
            if (sess_fsm_next((sess_state)st, (sess_event)ev) != want)
                GL_FAILF("%s --%s--> %s, expected %s", sess_state_name((sess_state)st),
                         sess_event_name((sess_event)ev),
                         sess_state_name(sess_fsm_next((sess_state)st, (sess_event)ev)),
                         sess_state_name(want));
        }
    CHECK_INT(listed, sizeof T / sizeof T[0]);
}

TEST(fsm_public_names_are_the_protocols)
{
    CHECK_STR(sess_state_public_name(SS_IDLE), "idle");
    CHECK_STR(sess_state_public_name(SS_CONNECTING), "connecting");
    CHECK_STR(sess_state_public_name(SS_READY), "ready");
    CHECK_STR(sess_state_public_name(SS_DRAINING), "draining");
    CHECK_STR(sess_state_public_name(SS_HANGING_UP), "reconnecting");
    CHECK_STR(sess_state_public_name(SS_BACKOFF), "reconnecting");
    CHECK_STR(sess_state_public_name(SS_RECONNECTING), "reconnecting");
    CHECK_STR(sess_state_public_name(SS_CLOSED), "closed");
    CHECK_STR(sess_state_public_name(SS_PARKING), "idle");
    CHECK_STR(sess_state_public_name(SS_GONE), "closed");
}

/* ---- behaviour ---- */

TEST(connects_on_use_sends_setup_and_becomes_ready)
{
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1);
    gld_session *s = open_session("s", MODEL, w);
    CHECK_STR(gld_session_state_name(s), "idle");
    CHECK_INT(NCONNS, 0); /* nothing before use */
    gld_session_connect(s);
    CHECK_INT(NCONNS, 1);
    CHECK_STR(CONNS[0].url, "wss://live.test/ws/google.ai.generativelanguage.v1beta.GenerativeService."
                            "BidiGenerateContent"); /* the key never in a URL */
    CHECK_STR(CONNS[0].headers, "x-goog-api-key: k3y|");
    CHECK_STR(fake_ipc_next_line(w), EV("state", ",\"state\":\"connecting\""));
    CHECK_STR(sent(&CONNS[0]), ""); /* the setup waits for the socket */
    srv_open(&CONNS[0]);
    CHECK_STR(sent(&CONNS[0]), SETUP_NEW);
    srv_says(&CONNS[0], "{\"setupComplete\":{}}");
    CHECK_STR(fake_ipc_next_line(w), EV("state", ",\"state\":\"ready\""));
    CHECK_STR(gld_session_state_name(s), "ready");
    CHECK(fake_ipc_next_line(w) == NULL);
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
}

TEST(audio_only_default_model_gets_audio_and_transcription_in_setup)
{
    daemon_up();
    gld_session *s = open_session("s", NULL, NULL);
    gld_session_connect(s);
    srv_open(&CONNS[0]);
    CHECK_STR(sent(&CONNS[0]), "{\"setup\":{\"model\":\"models/gemini-3.8-live\",\"generationConfig\":"
                               "{\"responseModalities\":[\"AUDIO\"]},\"sessionResumption\":{},"
                               "\"contextWindowCompression\":{\"slidingWindow\":{}},"
                               "\"outputAudioTranscription\":{}}}");
    CHECK_INT(daemon_down(), 0);
}

TEST(prompt_waits_for_ready_then_streams_one_turn)
{
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1), *asker = fake_ipc_client_new(2);
    gld_session *s = open_session("s", MODEL, w);
    CHECK_INT(send_prompt(s, asker, "hi", false), 1); /* first use: connects */
    CHECK_INT(NCONNS, 1);
    srv_open(&CONNS[0]);
    CHECK_STR(sent(&CONNS[0]), SETUP_NEW);
    CHECK_STR(sent(&CONNS[0]), ""); /* not before setupComplete */
    srv_says(&CONNS[0], "{\"setupComplete\":{}}");
    CHECK_STR(sent(&CONNS[0]), PROMPT("hi"));
    /* the asker watches the session from its first prompt: it saw connecting and ready */
    CHECK_STR(fake_ipc_next_line(asker), EV("state", ",\"state\":\"connecting\""));
    CHECK_STR(fake_ipc_next_line(asker), EV("state", ",\"state\":\"ready\""));
    fake_ipc_clear(w);
    srv_says(&CONNS[0], "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"Hel\"},{\"text\":\"lo\"}]}}}");
    srv_says(&CONNS[0], "{\"serverContent\":{\"turnComplete\":true}}");
    CHECK_STR(fake_ipc_next_line(asker), EV("text", ",\"text\":\"Hel\",\"turn\":1"));
    CHECK_STR(fake_ipc_next_line(asker), EV("text", ",\"text\":\"lo\",\"turn\":1"));
    CHECK_STR(fake_ipc_next_line(asker), EV("turn_complete", ",\"turn\":1"));
    CHECK(fake_ipc_next_line(asker) == NULL);
    /* the subscriber sees the same turn */
    CHECK_STR(fake_ipc_next_line(w), EV("text", ",\"text\":\"Hel\",\"turn\":1"));
    json_t *info = gld_session_info(s);
    CHECK_INT(json_integer_value(json_object_get(info, "turns")), 1);
    CHECK_INT(json_integer_value(json_object_get(info, "tokens")), 0); /* this turn had no usage */
    CHECK(json_is_integer(json_object_get(info, "last_activity_s")));
    json_decref(info);
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
    fake_ipc_client_free(asker);
}

TEST(turns_never_interleave_on_the_wire)
{
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1);
    gld_session *s = ready_session(w);
    CHECK_INT(send_prompt(s, w, "one", false), 1);
    CHECK_INT(send_prompt(s, w, "two", false), 2);
    CHECK_STR(sent(&CONNS[0]), PROMPT("one"));
    CHECK_STR(sent(&CONNS[0]), "");
    srv_says(&CONNS[0], "{\"serverContent\":{\"turnComplete\":true}}");
    CHECK_STR(sent(&CONNS[0]), PROMPT("two"));
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
}

TEST(goaway_drains_the_turn_then_resumes_with_the_newest_handle)
{
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1);
    gld_session *s = ready_session(w);
    srv_says(&CONNS[0], "{\"sessionResumptionUpdate\":{\"newHandle\":\"h1\",\"resumable\":true}}");
    send_prompt(s, w, "one", false);
    CHECK_STR(sent(&CONNS[0]), PROMPT("one"));
    srv_says(&CONNS[0], "{\"goAway\":{\"timeLeft\":\"5s\"}}");
    CHECK_STR(fake_ipc_next_line(w), EV("state", ",\"state\":\"draining\",\"reason\":\"goAway (time left "
                                                 "5000 ms): reconnecting after the running turn\""));
    send_prompt(s, w, "two", false); /* waits: no prompt on a draining connection */
    CHECK_STR(sent(&CONNS[0]), "");
    CHECK_INT(CONNS[0].close_code, 0); /* the running turn finishes first */
    srv_says(&CONNS[0], "{\"sessionResumptionUpdate\":{\"newHandle\":\"h2\",\"resumable\":true}}");
    srv_says(&CONNS[0], "{\"serverContent\":{\"turnComplete\":true}}");
    CHECK_STR(fake_ipc_next_line(w), EV("turn_complete", ",\"turn\":1"));
    CHECK_STR(fake_ipc_next_line(w), EV("state", ",\"state\":\"reconnecting\",\"reason\":\"goAway: "
                                                 "resuming on a new connection\""));
    CHECK_INT(CONNS[0].close_code, 1000);
    CHECK_INT(NCONNS, 1); /* the old socket closes before the new one opens */
    srv_closes(&CONNS[0], 1000, "", NULL);
    CHECK_INT(NCONNS, 2); /* at once, no backoff */
    srv_open(&CONNS[1]);
    CHECK_STR(sent(&CONNS[1]), SETUP_RESUME("h2"));
    srv_says(&CONNS[1], "{\"setupComplete\":{}}");
    CHECK_STR(fake_ipc_next_line(w), EV("state", ",\"state\":\"ready\",\"reason\":\"resumed the conversation\""));
    CHECK_STR(sent(&CONNS[1]), PROMPT("two"));
    CHECK(fake_ipc_next_line(w) == NULL);
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
}

TEST(goaway_cut_before_the_turn_ends_reconnects_at_once_and_reports_the_turn)
{
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1);
    gld_session *s = ready_session(w);
    send_prompt(s, w, "one", false);
    srv_says(&CONNS[0], "{\"goAway\":{\"timeLeft\":\"1s\"}}");
    fake_ipc_clear(w);
    srv_closes(&CONNS[0], 1011, "lifetime", NULL);
    CHECK_STR(fake_ipc_next_line(w), EV("interrupted", ",\"reason\":\"Live API closed the connection: "
                                                       "1011 lifetime\",\"retrying\":false,\"final\":true,\"turn\":1"));
    CHECK_STR(fake_ipc_next_line(w), EV("state", ",\"state\":\"reconnecting\",\"reason\":\"Live API closed "
                                                 "the connection: 1011 lifetime\""));
    CHECK_INT(NCONNS, 2);
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
}

static void run_until_connects(int n)
{
    for (int i = 0; i < 1000 && NCONNS < n; i++)
        uv_run(&LOOP, UV_RUN_ONCE);
}

TEST(lost_connection_backs_off_then_resumes)
{
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1);
    gld_session *s = ready_session(w);
    srv_says(&CONNS[0], "{\"sessionResumptionUpdate\":{\"newHandle\":\"h1\",\"resumable\":true}}");
    send_prompt(s, w, "one", true); /* retry asked */
    fake_ipc_clear(w);
    (void)sent(&CONNS[0]);
    srv_closes(&CONNS[0], 1006, "", "connection reset by peer");
    CHECK_STR(fake_ipc_next_line(w), EV("interrupted", ",\"reason\":\"connection to the Live API lost: "
                                                       "connection reset by peer\",\"retrying\":true,\"final\":true,\"turn\":1"));
    const char *st = fake_ipc_next_line(w);
    CHECK_CONTAINS(st, "\"state\":\"reconnecting\",\"reason\":\"connection to the Live API lost: "
                       "connection reset by peer; reconnecting in ");
    CHECK_INT(NCONNS, 1); /* not before the backoff */
    run_until_connects(2);
    CHECK_INT(NCONNS, 2);
    CHECK(fake_ipc_next_line(w) == NULL); /* still "reconnecting": nothing new to say */
    srv_open(&CONNS[1]);
    CHECK_STR(sent(&CONNS[1]), SETUP_RESUME("h1"));
    srv_says(&CONNS[1], "{\"setupComplete\":{}}");
    CHECK_STR(sent(&CONNS[1]), PROMPT("one")); /* the same turn, once more, as asked */
    CHECK_STR(sent(&CONNS[1]), "");
    json_t *info = gld_session_info(s);
    CHECK_INT(json_integer_value(json_object_get(info, "reconnects")), 1);
    json_decref(info);
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
}

TEST(policy_close_fails_waiting_prompts_and_next_use_connects_again)
{
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1);
    gld_session *s = open_session("s", MODEL, w);
    send_prompt(s, w, "one", false);
    srv_open(&CONNS[0]);
    fake_ipc_clear(w);
    srv_closes(&CONNS[0], 1008, "API key not valid", NULL);
    CHECK_STR(fake_ipc_next_line(w), EV("state", ",\"state\":\"closed\",\"reason\":\"Live API closed the "
                                                 "connection: 1008 API key not valid\""));
    CHECK_STR(fake_ipc_next_line(w), EV("error", ",\"code\":\"upstream\",\"message\":\"Live API closed the "
                                                 "connection: 1008 API key not valid\",\"turn\":1"));
    CHECK_STR(gld_session_state_name(s), "closed");
    uv_run(&LOOP, UV_RUN_NOWAIT);
    CHECK_INT(NCONNS, 1); /* no retry loop */
    send_prompt(s, w, "two", false);
    CHECK_INT(NCONNS, 2);
    CHECK_STR(fake_ipc_next_line(w), EV("state", ",\"state\":\"connecting\""));
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
}

TEST(an_upgrade_refused_with_401_is_not_retried)
{
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1);
    gld_session *s = open_session("s", MODEL, w);
    send_prompt(s, w, "one", false);
    fake_ipc_clear(w);
    srv_closes_http(&CONNS[0], 1006, "", "server answered HTTP 401 instead of switching to websocket", 401);
    CHECK_STR(gld_session_state_name(s), "closed");
    CHECK_CONTAINS(fake_ipc_next_line(w), "\"state\":\"closed\"");
    CHECK_CONTAINS(fake_ipc_next_line(w), "\"code\":\"upstream\"");
    uv_run(&LOOP, UV_RUN_NOWAIT);
    CHECK_INT(NCONNS, 1); /* no retry loop against a refusing service */
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
}

TEST(refused_handle_starts_a_fresh_conversation_and_says_so)
{
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1);
    gld_session *s = ready_session(w);
    srv_says(&CONNS[0], "{\"sessionResumptionUpdate\":{\"newHandle\":\"old\",\"resumable\":true}}");
    srv_closes(&CONNS[0], 1006, "", "reset");
    run_until_connects(2);
    srv_open(&CONNS[1]);
    CHECK_STR(sent(&CONNS[1]), SETUP_RESUME("old"));
    fake_ipc_clear(w);
    srv_closes(&CONNS[1], 1008, "session not found", NULL);
    CHECK_STR(fake_ipc_next_line(w), EV("state", ",\"state\":\"reconnecting\",\"reason\":\"the resumption "
                                                 "handle was refused (1008 session not found): this is a "
                                                 "fresh conversation\""));
    CHECK_INT(NCONNS, 3);
    srv_open(&CONNS[2]);
    CHECK_STR(sent(&CONNS[2]), SETUP_NEW);
    srv_says(&CONNS[2], "{\"setupComplete\":{}}");
    CHECK_STR(fake_ipc_next_line(w), EV("state", ",\"state\":\"ready\""));
    json_t *info = gld_session_info(s);
    CHECK_CONTAINS(json_string_value(json_object_get(info, "notice")), "fresh conversation");
    json_decref(info);
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
}

static const char *LIGHTS = "{\"name\":\"turn_on_the_lights\"}";

TEST(a_new_function_reestablishes_after_the_running_turn)
{
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1);
    gld_session *s = ready_session(w);
    send_prompt(s, w, "one", false);
    (void)sent(&CONNS[0]);
    json_t *decl = json_loads(LIGHTS, 0, NULL);
    CHECK(gld_session_add_declaration(s, decl));
    CHECK(!gld_session_add_declaration(s, decl)); /* declared once */
    json_decref(decl);
    CHECK_STR(gld_session_state_name(s), "draining");
    CHECK_INT(CONNS[0].close_code, 0);
    srv_says(&CONNS[0], "{\"serverContent\":{\"turnComplete\":true}}");
    CHECK_INT(CONNS[0].close_code, 1000);
    srv_closes(&CONNS[0], 1000, "", NULL);
    srv_open(&CONNS[1]);
    CHECK_STR(sent(&CONNS[1]), "{\"setup\":{\"model\":\"models/" MODEL "\",\"generationConfig\":"
                               "{\"responseModalities\":[\"TEXT\"]},\"tools\":[{\"functionDeclarations\":"
                               "[{\"name\":\"turn_on_the_lights\"}]}],\"sessionResumption\":{},"
                               "\"contextWindowCompression\":{\"slidingWindow\":{}}}}");
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
}

TEST(a_new_function_while_connecting_redoes_the_setup_once_ready)
{
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1);
    gld_session *s = open_session("s", MODEL, w);
    gld_session_connect(s);
    srv_open(&CONNS[0]); /* setup on the wire, without the function */
    json_t *decl = json_loads(LIGHTS, 0, NULL);
    CHECK(gld_session_add_declaration(s, decl));
    json_decref(decl);
    CHECK_STR(gld_session_state_name(s), "connecting");
    srv_says(&CONNS[0], "{\"setupComplete\":{}}");
    CHECK_INT(CONNS[0].close_code, 1000); /* straight to a new setup */
    CHECK_STR(gld_session_state_name(s), "reconnecting");
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
}

TEST(closing_a_session_promises_no_retry)
{
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1);
    gld_session *s = ready_session(w);
    send_prompt(s, w, "one", true);
    send_prompt(s, w, "two", false);
    fake_ipc_clear(w);
    gld_session_close(s, "bye", false);
    CHECK_STR(fake_ipc_next_line(w), EV("interrupted", ",\"reason\":\"bye\",\"retrying\":false,\"final\":true,\"turn\":1"));
    CHECK_STR(fake_ipc_next_line(w), EV("error", ",\"code\":\"closed\",\"message\":\"bye\",\"turn\":2"));
    CHECK_STR(fake_ipc_next_line(w), EV("state", ",\"state\":\"closed\",\"reason\":\"bye\""));
    CHECK(fake_ipc_next_line(w) == NULL);
    CHECK(D.sessions == NULL);
    CHECK_INT(CONNS[0].close_code, 1000);
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
}

TEST(no_key_closes_with_no_key_and_a_real_message)
{
    daemon_up();
    D.cfg.api_key[0] = '\0';
    unsetenv("GEMINI_API_KEY");
    unsetenv("GOOGLE_API_KEY");
    unsetenv("CREDENTIALS_DIRECTORY");
    ipc_client *w = fake_ipc_client_new(1);
    gld_session *s = open_session("s", MODEL, w);
    send_prompt(s, w, "one", false);
    CHECK_INT(NCONNS, 0);
    CHECK_STR(fake_ipc_next_line(w), EV("state", ",\"state\":\"connecting\""));
    const char *st = fake_ipc_next_line(w);
    CHECK_CONTAINS(st, "\"state\":\"closed\",\"reason\":\"no API key: set GEMINI_API_KEY");
    CHECK_CONTAINS(fake_ipc_next_line(w), "\"event\":\"error\",\"session\":\"s\",\"code\":\"no_key\"");
    /* the key appears later (a file, the environment): the next use finds it */
    setenv("GEMINI_API_KEY", "later", 1);
    send_prompt(s, w, "two", false);
    unsetenv("GEMINI_API_KEY");
    CHECK_INT(NCONNS, 1);
    CHECK_STR(CONNS[0].headers, "x-goog-api-key: later|");
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
}


/* Session "s" declaring `lights` (with behavior, if given), watched by w (may be NULL), ready on
 * CONNS[0] with asker's prompt "on" sent as turn 1. Returns the setup it sent; every client's
 * output and the session's sent messages are read up to here. */
static const char *LIGHTS_SETUP;
static gld_session *lights_running(ipc_client *asker, ipc_client *w, const char *behavior)
{
    gl_err err;
    json_t *tools = json_pack("[{s:[{s:s}]}]", "function_declarations", "name", "lights");
    if (behavior)
        json_object_set_new(json_array_get(json_object_get(json_array_get(tools, 0), "function_declarations"), 0),
                            "behavior", json_string(behavior));
    gld_session_config cfg = {.model = MODEL, .tools = tools};
    gld_session *s = gld_session_new(&D, "s", &cfg, &err);
    json_decref(tools);
    if (w)
        gld_session_watch(s, w, true);
    send_prompt(s, asker, "on", false);
    srv_open(&CONNS[0]);
    srv_says(&CONNS[0], "{\"setupComplete\":{}}");
    LIGHTS_SETUP = sent(&CONNS[0]);
    if (strcmp(sent(&CONNS[0]), PROMPT("on")) != 0)
        return NULL;
    fake_ipc_clear(asker);
    if (w)
        fake_ipc_clear(w);
    return s;
}

TEST(function_call_goes_to_the_asker_and_its_answer_to_the_model)
{
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1), *asker = fake_ipc_client_new(2);
    gl_err err;
    gld_session *s = lights_running(asker, w, NULL);
    CHECK(s != NULL);
    CHECK_CONTAINS(LIGHTS_SETUP, "\"tools\":[{\"functionDeclarations\":[{\"name\":\"lights\"}]}]");
    srv_says(&CONNS[0], "{\"toolCall\":{\"functionCalls\":[{\"id\":\"c1\",\"name\":\"lights\",\"args\":{\"on\":true}},"
                        "{\"id\":\"c2\",\"name\":\"unknown_fn\",\"args\":{}}]}}");
    CHECK_STR(fake_ipc_next_line(asker), EV("tool_call", ",\"call_id\":\"c1\",\"name\":\"lights\",\"args\":"
                                            "{\"on\":true},\"index\":0,\"count\":2,\"handler\":false,\"behavior\":\"BLOCKING\",\"turn\":1"));
    CHECK_STR(fake_ipc_next_line(asker), EV("tool_call", ",\"call_id\":\"c2\",\"name\":\"unknown_fn\",\"args\":"
                                            "{},\"index\":1,\"count\":2,\"handler\":false,\"behavior\":\"BLOCKING\",\"turn\":1"));
    CHECK_CONTAINS(fake_ipc_next_line(asker), "\"event\":\"tool_result\",\"session\":\"s\",\"call_id\":\"c2\"");
    CHECK_STR(sent(&CONNS[0]), ""); /* one toolResponse for the whole toolCall */
    CHECK(gld_session_with_call(&D, "c1") == s);
    json_t *resp = json_loads("{\"result\":\"ok\"}", 0, NULL);
    gld_answer ans = {.response = resp};
    CHECK_INT(gld_session_tool_result(s, asker, "c1", &ans, &err), 0);
    CHECK_INT(gld_session_tool_result(s, asker, "c1", &ans, &err), -1);
    CHECK_STR(err.code, "unknown_call");
    json_decref(resp);
    CHECK_STR(sent(&CONNS[0]), "{\"toolResponse\":{\"functionResponses\":[{\"id\":\"c1\",\"name\":\"lights\","
                               "\"response\":{\"result\":\"ok\"}},{\"id\":\"c2\",\"name\":\"unknown_fn\","
                               "\"response\":{\"error\":\"no handler is registered for function unknown_fn\"}}]}}");
    CHECK(gld_session_with_call(&D, "c1") == NULL);
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
    fake_ipc_client_free(asker);
}

TEST(a_call_in_flight_is_cancelled_to_its_asker_when_the_connection_drops)
{
    daemon_up();
    ipc_client *asker = fake_ipc_client_new(2);
    CHECK(lights_running(asker, NULL, NULL) != NULL);
    srv_says(&CONNS[0], "{\"toolCall\":{\"functionCalls\":[{\"id\":\"c1\",\"name\":\"lights\"}]}}");
    fake_ipc_clear(asker);
    srv_closes(&CONNS[0], 1006, "", "reset");
    CHECK_STR(fake_ipc_next_line(asker), EV("tool_cancel", ",\"call_id\":\"c1\",\"name\":\"lights\",\"reason\":"
                                            "\"connection to the Live API lost: reset\",\"turn\":1"));
    CHECK_CONTAINS(fake_ipc_next_line(asker), "\"event\":\"interrupted\"");
    CHECK(gld_session_with_call(&D, "c1") == NULL);
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(asker);
}

TEST(the_asker_leaving_answers_its_calls_for_it)
{
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1), *asker = fake_ipc_client_new(2);
    gld_session *s = lights_running(asker, w, NULL);
    srv_says(&CONNS[0], "{\"toolCall\":{\"functionCalls\":[{\"id\":\"c1\",\"name\":\"lights\"}]}}");
    fake_ipc_clear(w);
    gld_session_client_gone(s, asker);
    CHECK_STR(sent(&CONNS[0]), "{\"toolResponse\":{\"functionResponses\":[{\"id\":\"c1\",\"name\":\"lights\","
                               "\"response\":{\"error\":\"the client that sent the prompt disconnected "
                               "before answering\"}}]}}");
    CHECK_CONTAINS(fake_ipc_next_line(w), "\"event\":\"tool_result\"");
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
    fake_ipc_client_free(asker);
}

TEST(a_server_message_that_is_not_json_drops_the_connection)
{
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1);
    ready_session(w);
    srv_says(&CONNS[0], "{not json");
    CHECK(CONNS[0].aborted);
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
}

/* ---- asynchronous (NON_BLOCKING) calls ---- */

/* Session "s" declaring `lights` NON_BLOCKING, ready on CONNS[0], asker's prompt "on" running as
 * turn 1 and the model's call c1 made. */
static gld_session *async_call_made(ipc_client *asker, ipc_client *w)
{
    gld_session *s = lights_running(asker, w, "NON_BLOCKING");
    srv_says(&CONNS[0], "{\"toolCall\":{\"functionCalls\":[{\"id\":\"c1\",\"name\":\"lights\"}]}}");
    return s;
}

TEST(nonblocking_call_outlives_its_turn_and_its_answer_makes_a_turn_for_the_asker)
{
    daemon_up();
    ipc_client *asker = fake_ipc_client_new(2), *w = fake_ipc_client_new(1);
    gld_session *s = async_call_made(asker, w);
    fake_ipc_clear(asker);
    srv_says(&CONNS[0], "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"Working on it.\"}]}}}");
    srv_says(&CONNS[0], "{\"serverContent\":{\"turnComplete\":true}}");
    CHECK_STR(fake_ipc_next_line(asker), EV("text", ",\"text\":\"Working on it.\",\"turn\":1"));
    CHECK_STR(fake_ipc_next_line(asker), EV("turn_complete", ",\"turn\":1"));
    CHECK(gld_session_with_call(&D, "c1") == s); /* still pending after its turn */
    send_prompt(s, w, "meanwhile", false); /* another client's prompt runs meanwhile */
    CHECK_STR(sent(&CONNS[0]), PROMPT("meanwhile"));
    srv_says(&CONNS[0], "{\"serverContent\":{\"turnComplete\":true}}");
    fake_ipc_clear(asker);
    json_t *resp = json_loads("{\"result\":\"on\"}", 0, NULL);
    gl_err err;
    gld_answer ans = {.response = resp};
    CHECK_INT(gld_session_tool_result(s, asker, "c1", &ans, &err), 0);
    json_decref(resp);
    /* answered alone and at once: the model does not wait for a group */
    CHECK_STR(sent(&CONNS[0]), "{\"toolResponse\":{\"functionResponses\":[{\"id\":\"c1\",\"name\":\"lights\","
                               "\"response\":{\"result\":\"on\"}}]}}");
    CHECK_CONTAINS(fake_ipc_next_line(asker), "\"event\":\"tool_result\"");
    /* the model's answer comes in a generation no prompt started: turn 3, for the asker */
    srv_says(&CONNS[0], "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"The lights are on.\"}]}}}");
    srv_says(&CONNS[0], "{\"serverContent\":{\"turnComplete\":true}}");
    CHECK_STR(fake_ipc_next_line(asker), EV("turn_started", ",\"cause\":\"function_response\",\"of_turn\":1,\"turn\":3"));
    CHECK_STR(fake_ipc_next_line(asker), EV("text", ",\"text\":\"The lights are on.\",\"turn\":3"));
    CHECK_STR(fake_ipc_next_line(asker), EV("turn_complete", ",\"cause\":\"function_response\",\"of_turn\":1,\"turn\":3"));
    CHECK(fake_ipc_next_line(asker) == NULL);
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(asker);
    fake_ipc_client_free(w);
}

TEST(will_continue_keeps_the_call_and_scheduling_goes_to_the_model)
{
    daemon_up();
    ipc_client *asker = fake_ipc_client_new(2);
    gld_session *s = async_call_made(asker, NULL);
    srv_says(&CONNS[0], "{\"serverContent\":{\"turnComplete\":true}}");
    gl_err err;
    json_t *part = json_loads("{\"progress\":50}", 0, NULL);
    gld_answer a1 = {.response = part, .scheduling = "SILENT", .will_continue = true};
    CHECK_INT(gld_session_tool_result(s, asker, "c1", &a1, &err), 0);
    CHECK_STR(sent(&CONNS[0]), "{\"toolResponse\":{\"functionResponses\":[{\"id\":\"c1\",\"name\":\"lights\","
                               "\"response\":{\"progress\":50},\"scheduling\":\"SILENT\",\"willContinue\":true}]}}");
    CHECK(gld_session_with_call(&D, "c1") == s);
    json_t *done = json_loads("{\"result\":\"on\"}", 0, NULL);
    gld_answer a2 = {.response = done, .scheduling = "INTERRUPT"};
    CHECK_INT(gld_session_tool_result(s, asker, "c1", &a2, &err), 0);
    CHECK_STR(sent(&CONNS[0]), "{\"toolResponse\":{\"functionResponses\":[{\"id\":\"c1\",\"name\":\"lights\","
                               "\"response\":{\"result\":\"on\"},\"scheduling\":\"INTERRUPT\"}]}}");
    CHECK(gld_session_with_call(&D, "c1") == NULL);
    CHECK_INT(gld_session_tool_result(s, asker, "c1", &a2, &err), -1);
    json_decref(part);
    json_decref(done);
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(asker);
}

TEST(an_interrupt_answer_names_itself_as_the_cause_of_the_cut)
{
    daemon_up();
    ipc_client *asker = fake_ipc_client_new(2);
    gld_session *s = async_call_made(asker, NULL);
    srv_says(&CONNS[0], "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"Still talking\"}]}}}");
    gl_err err;
    json_t *done = json_loads("{\"result\":\"on\"}", 0, NULL);
    gld_answer a = {.response = done, .scheduling = "INTERRUPT"};
    CHECK_INT(gld_session_tool_result(s, asker, "c1", &a, &err), 0);
    json_decref(done);
    fake_ipc_clear(asker);
    srv_says(&CONNS[0], "{\"serverContent\":{\"interrupted\":true}}");
    CHECK_STR(fake_ipc_next_line(asker), EV("interrupted", ",\"reason\":\"a function response with scheduling "
                                                          "INTERRUPT cut the generation\",\"retrying\":false,\"final\":false,\"turn\":1"));
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(asker);
}

TEST(blocking_calls_refuse_scheduling)
{
    daemon_up();
    ipc_client *asker = fake_ipc_client_new(2);
    gl_err err;
    gld_session *s = lights_running(asker, NULL, NULL);
    srv_says(&CONNS[0], "{\"toolCall\":{\"functionCalls\":[{\"id\":\"c1\",\"name\":\"lights\"}]}}");
    json_t *r = json_object();
    gld_answer a = {.response = r, .scheduling = "SILENT"};
    CHECK_INT(gld_session_tool_result(s, asker, "c1", &a, &err), -1);
    CHECK_STR(err.code, "bad_request");
    json_decref(r);
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(asker);
}

TEST(an_id_less_call_gets_a_daemon_id_and_is_answered_by_name)
{
    daemon_up();
    ipc_client *asker = fake_ipc_client_new(2);
    gl_err err;
    gld_session *s = lights_running(asker, NULL, NULL);
    srv_says(&CONNS[0], "{\"toolCall\":{\"functionCalls\":[{\"name\":\"lights\",\"args\":{}}]}}");
    CHECK_STR(fake_ipc_next_line(asker), EV("tool_call", ",\"call_id\":\"gld-s-1\",\"name\":\"lights\",\"args\":{},"
                                            "\"index\":0,\"count\":1,\"handler\":false,\"behavior\":\"BLOCKING\","
                                            "\"server_id\":null,\"turn\":1"));
    json_t *r = json_loads("{\"result\":\"ok\"}", 0, NULL);
    gld_answer a = {.response = r};
    CHECK_INT(gld_session_tool_result(s, asker, "gld-s-1", &a, &err), 0);
    json_decref(r);
    CHECK_STR(sent(&CONNS[0]), "{\"toolResponse\":{\"functionResponses\":[{\"name\":\"lights\","
                               "\"response\":{\"result\":\"ok\"}}]}}");
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(asker);
}

/* ---- run_python: code execution served by gliveD ---- */

/* A 3.8 session (no code execution of its own) asking for code execution, with `lights`
 * declared; ready on CONNS[0] with asker's prompt running as turn 1. */
static gld_session *code_session(ipc_client *asker, const char *setup_out[1])
{
    gl_err err;
    json_t *tools = json_loads("[{\"code_execution\":{}},{\"function_declarations\":[{\"name\":\"lights\"}]}]",
                               0, NULL);
    gld_session_config cfg = {.model = "gemini-3.8-live", .tools = tools};
    gld_session *s = gld_session_new(&D, "s", &cfg, &err);
    json_decref(tools);
    send_prompt(s, asker, "compute", false);
    srv_open(&CONNS[0]);
    setup_out[0] = sent(&CONNS[0]);
    srv_says(&CONNS[0], "{\"setupComplete\":{}}");
    (void)sent(&CONNS[0]);
    fake_ipc_clear(asker);
    return s;
}

/* Runs the loop until the session sent something on CONNS[0] (or 10 s passed). */
static const char *run_until_sent(void)
{
    uint64_t t0 = uv_now(&LOOP);
    while (CONNS[0].next >= CONNS[0].nsent && uv_now(&LOOP) - t0 < 10000)
        uv_run(&LOOP, UV_RUN_ONCE);
    return sent(&CONNS[0]);
}

TEST(code_execution_on_a_model_without_it_declares_run_python)
{
    daemon_up();
    ipc_client *asker = fake_ipc_client_new(2);
    const char *setup[1];
    gld_session *s = code_session(asker, setup);
    CHECK_CONTAINS(setup[0], "\"tools\":[{\"functionDeclarations\":[{\"name\":\"lights\"}]},"
                             "{\"functionDeclarations\":[{\"name\":\"run_python\"");
    CHECK(!strstr(setup[0], "codeExecution"));
    json_t *info = gld_session_info(s);
    CHECK_STR(json_string_value(json_object_get(info, "code_execution")), "local");
    json_decref(info);
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(asker);
}

TEST(run_python_runs_the_code_and_answers_the_model_with_its_output)
{
    daemon_up();
    if (access("/usr/bin/bwrap", X_OK) != 0)
        D.cfg.code_sandbox = GLD_CODE_SANDBOX_NONE;
    ipc_client *asker = fake_ipc_client_new(2);
    const char *setup[1];
    code_session(asker, setup);
    srv_says(&CONNS[0], "{\"toolCall\":{\"functionCalls\":[{\"id\":\"r1\",\"name\":\"run_python\","
                        "\"args\":{\"code\":\"print(6*7)\"}}]}}");
    CHECK_STR(fake_ipc_next_line(asker), EV("code", ",\"language\":\"PYTHON\",\"code\":\"print(6*7)\","
                                            "\"local\":true,\"call_id\":\"r1\",\"behavior\":\"NON_BLOCKING\",\"turn\":1"));
    CHECK_STR(run_until_sent(), "{\"toolResponse\":{\"functionResponses\":[{\"id\":\"r1\",\"name\":\"run_python\","
                                "\"response\":{\"outcome\":\"OUTCOME_OK\",\"output\":\"42\\n\"}}]}}");
    CHECK_STR(fake_ipc_next_line(asker), EV("code_result", ",\"outcome\":\"OUTCOME_OK\",\"output\":\"42\\n\","
                                            "\"local\":true,\"call_id\":\"r1\",\"turn\":1"));
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(asker);
}

TEST(default_api_calls_in_the_code_are_routed_like_the_models)
{
    daemon_up();
    if (access("/usr/bin/bwrap", X_OK) != 0)
        D.cfg.code_sandbox = GLD_CODE_SANDBOX_NONE;
    ipc_client *asker = fake_ipc_client_new(2);
    const char *setup[1];
    gld_session *s = code_session(asker, setup);
    srv_says(&CONNS[0], "{\"toolCall\":{\"functionCalls\":[{\"id\":\"r1\",\"name\":\"run_python\",\"args\":"
                        "{\"code\":\"r = default_api.lights(on=True)\\nprint(r['state'])\"}}]}}");
    (void)fake_ipc_next_line(asker); /* code */
    const char *call = NULL;
    for (uint64_t t0 = uv_now(&LOOP); !(call = fake_ipc_next_line(asker)) && uv_now(&LOOP) - t0 < 10000;)
        uv_run(&LOOP, UV_RUN_ONCE);
    CHECK_STR(call, EV("tool_call", ",\"call_id\":\"gld-s-1\",\"name\":\"lights\",\"args\":{\"on\":true},"
                                    "\"index\":0,\"count\":1,\"handler\":false,\"behavior\":\"BLOCKING\","
                                    "\"via\":\"run_python\",\"parent_call_id\":\"r1\",\"turn\":1"));
    gl_err err;
    json_t *r = json_loads("{\"state\":\"on\"}", 0, NULL);
    gld_answer a = {.response = r};
    CHECK_INT(gld_session_tool_result(s, asker, "gld-s-1", &a, &err), 0);
    json_decref(r);
    CHECK_STR(run_until_sent(), "{\"toolResponse\":{\"functionResponses\":[{\"id\":\"r1\",\"name\":\"run_python\","
                                "\"response\":{\"outcome\":\"OUTCOME_OK\",\"output\":\"on\\n\"}}]}}");
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(asker);
}

TEST(code_execution_off_refuses_at_open)
{
    daemon_up();
    D.cfg.code_exec = GLD_CODE_EXEC_OFF;
    gl_err err;
    json_t *tools = json_loads("[{\"code_execution\":{}}]", 0, NULL);
    gld_session_config cfg = {.tools = tools};
    CHECK_INT(gld_session_config_check(&D, &cfg, &err), -1);
    CHECK_CONTAINS(err.msg, "--code-exec off");
    json_decref(tools);
    CHECK_INT(daemon_down(), 0);
}

/* ---- the state dir ---- */

TEST(a_failed_save_is_said_and_retried_until_it_lands)
{
    daemon_up();
    char dir[] = "/tmp/gld-test-sess-XXXXXX", sess[64], rec[96];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(sess, sizeof sess, "%s/sessions", dir);
    snprintf(rec, sizeof rec, "%s/s.json", sess);
    snprintf(D.cfg.state_dir, sizeof D.cfg.state_dir, "%s", dir);
    gl_err err;
    CHECK_INT(gld_persist_check(dir, &err), 0);
    CHECK_INT(rmdir(sess), 0);
    int fd = open(sess, O_WRONLY | O_CREAT, 0600); /* the disk "fails": sessions/ is a file */
    CHECK(fd >= 0);
    close(fd);
    ipc_client *w = fake_ipc_client_new(1);
    gld_session *s = open_session("s", MODEL, w);
    const char *line = NULL;
    for (uint64_t t0 = uv_now(&LOOP); !(line = fake_ipc_next_line(w)) && uv_now(&LOOP) - t0 < 5000;)
        uv_run(&LOOP, UV_RUN_ONCE);
    CHECK_CONTAINS(line, "{\"event\":\"error\",\"session\":\"s\",\"code\":\"persist\",\"message\":");
    json_t *info = gld_session_info(s);
    CHECK_CONTAINS(json_string_value(json_object_get(info, "persist_error")), "sessions");
    json_decref(info);
    CHECK_INT(unlink(sess), 0); /* the disk is back */
    struct stat st;
    for (uint64_t t0 = uv_now(&LOOP); stat(rec, &st) != 0 && uv_now(&LOOP) - t0 < 5000;)
        uv_run(&LOOP, UV_RUN_ONCE);
    CHECK_INT(stat(rec, &st), 0);
    info = gld_session_info(s);
    CHECK(json_object_get(info, "persist_error") == NULL);
    json_decref(info);
    CHECK(fake_ipc_next_line(w) == NULL); /* said once, not once per retry */
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
    unlink(rec);
    rmdir(sess);
    rmdir(dir);
}

/* ---- idle sessions ---- */

static void run_for(unsigned ms)
{
    uint64_t t0 = uv_now(&LOOP);
    while (uv_now(&LOOP) - t0 < ms)
        uv_run(&LOOP, UV_RUN_NOWAIT), uv_sleep(1), uv_update_time(&LOOP);
}

TEST(an_unused_session_parks_its_connection_and_resumes_on_use)
{
    daemon_up();
    D.cfg.idle_timeout_ms = 50;
    ipc_client *w = fake_ipc_client_new(1);
    gld_session *s = ready_session(w);
    gld_session_unsubscribe(s, w); /* a subscriber keeps it in use */
    srv_says(&CONNS[0], "{\"sessionResumptionUpdate\":{\"newHandle\":\"h1\",\"resumable\":true}}");
    run_for(150);
    CHECK_INT(CONNS[0].close_code, 1000);
    CHECK_STR(fake_ipc_next_line(w), EV("state", ",\"state\":\"idle\",\"reason\":\"unused for 0 s: "
                                                 "connection closed, the conversation is kept\""));
    srv_closes(&CONNS[0], 1000, "", NULL);
    CHECK_STR(gld_session_state_name(s), "idle");
    CHECK(fake_ipc_next_line(w) == NULL);
    CHECK_INT(NCONNS, 1);
    send_prompt(s, w, "again", false); /* the next use resumes the conversation */
    CHECK_INT(NCONNS, 2);
    srv_open(&CONNS[1]);
    CHECK_STR(sent(&CONNS[1]), SETUP_RESUME("h1"));
    srv_says(&CONNS[1], "{\"setupComplete\":{}}");
    CHECK_STR(sent(&CONNS[1]), PROMPT("again"));
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
}

TEST(subscribers_turns_and_keep_connected_keep_a_session_connected)
{
    daemon_up();
    D.cfg.idle_timeout_ms = 50;
    ipc_client *w = fake_ipc_client_new(1);
    gld_session *s = ready_session(w); /* w subscribed */
    run_for(150);
    CHECK_INT(CONNS[0].close_code, 0);
    gld_session_unsubscribe(s, w);
    send_prompt(s, w, "long", false); /* a turn running */
    run_for(150);
    CHECK_INT(CONNS[0].close_code, 0);
    CHECK_INT(daemon_down(), 0);

    daemon_up();
    D.cfg.idle_timeout_ms = 50;
    gl_err err;
    gld_session_config cfg = {.model = MODEL, .keep_connected = true};
    s = gld_session_new(&D, "k", &cfg, &err);
    gld_session_connect(s);
    srv_open(&CONNS[0]);
    srv_says(&CONNS[0], "{\"setupComplete\":{}}");
    run_for(150);
    CHECK_INT(CONNS[0].close_code, 0);
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
}

TEST(keep_connected_set_on_attach_connects_now_and_unset_lets_it_park)
{
    daemon_up();
    D.cfg.idle_timeout_ms = 50;
    ipc_client *w = fake_ipc_client_new(1);
    gld_session *s = ready_session(w);
    gld_session_unsubscribe(s, w);
    run_for(150);
    CHECK_INT(CONNS[0].close_code, 1000); /* unused: parked */
    srv_closes(&CONNS[0], 1000, "", NULL);
    CHECK_STR(gld_session_state_name(s), "idle");
    gld_session_set_keep_connected(s, true); /* an attaching open with keep_connected: true */
    CHECK_INT(NCONNS, 2);                     /* connects at once */
    srv_open(&CONNS[1]);
    srv_says(&CONNS[1], "{\"setupComplete\":{}}");
    run_for(150);
    CHECK_INT(CONNS[1].close_code, 0); /* and stays */
    json_t *info = gld_session_info(s);
    CHECK(json_is_true(json_object_get(info, "keep_connected")));
    json_decref(info);
    gld_session_set_keep_connected(s, false);
    run_for(150);
    CHECK_INT(CONNS[1].close_code, 1000); /* unused again: parks */
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
}

TEST(a_prompt_whose_client_left_before_it_was_sent_is_dropped)
{
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1), *gone = fake_ipc_client_new(2);
    gld_session *s = open_session("s", MODEL, w);
    send_prompt(s, gone, "never", false); /* connecting: it waits */
    send_prompt(s, w, "kept", false);
    gld_session_client_gone(s, gone);
    srv_open(&CONNS[0]);
    (void)sent(&CONNS[0]);
    srv_says(&CONNS[0], "{\"setupComplete\":{}}");
    CHECK_STR(sent(&CONNS[0]), PROMPT("kept"));
    CHECK_STR(sent(&CONNS[0]), "");
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
    fake_ipc_client_free(gone);
}

TEST(a_failed_connection_says_when_it_retries)
{
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1);
    gld_session *s = open_session("s", MODEL, w);
    send_prompt(s, w, "hi", false);
    fake_ipc_clear(w);
    srv_closes(&CONNS[0], 1006, "", "cannot resolve live.test");
    const char *st = fake_ipc_next_line(w);
    CHECK_CONTAINS(st, "\"state\":\"reconnecting\",\"reason\":\"connection to the Live API lost: cannot "
                       "resolve live.test; reconnecting in ");
    CHECK_CONTAINS(st, "\"attempt\":1,\"ever_ready\":false}");
    CHECK_CONTAINS(st, "\"retry_in_ms\":");
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
}

/* ---- flow control: a slow asker keeps its own answer ---- */

#define PART(t) "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"" t "\"}]}}}"

TEST(a_lagging_asker_makes_the_session_stop_reading_until_it_catches_up)
{
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1), *asker = fake_ipc_client_new(2);
    gld_session *s = ready_session(w);
    send_prompt(s, asker, "long", false);
    srv_says(&CONNS[0], PART("a"));
    CHECK(!CONNS[0].paused); /* keeping up: nothing to wait for */
    fake_ipc_set_unwritten(asker, FAKE_IPC_FLOW_HIGH + 1);
    srv_says(&CONNS[0], PART("b"));
    CHECK(CONNS[0].paused);
    CHECK_INT(fake_ipc_holds(asker), 1);
    json_t *info = gld_session_info(s);
    CHECK_INT(json_integer_value(json_object_get(info, "waiting_for_client")), 2);
    CHECK_INT(json_integer_value(json_object_get(info, "flow_waits")), 1);
    json_decref(info);
    /* what was already read still goes out, to everyone */
    srv_says(&CONNS[0], PART("c"));
    CHECK_INT(CONNS[0].pauses, 1);
    /* between the marks: still waiting (hysteresis) */
    fake_ipc_set_unwritten(asker, FAKE_IPC_FLOW_LOW + 1);
    gld_session_client_drained(s, asker);
    CHECK(CONNS[0].paused);
    fake_ipc_set_unwritten(asker, FAKE_IPC_FLOW_LOW);
    gld_session_client_drained(s, w); /* another client: not the one it waits for */
    CHECK(CONNS[0].paused);
    gld_session_client_drained(s, asker);
    CHECK(!CONNS[0].paused);
    CHECK_INT(fake_ipc_holds(asker), 0);
    info = gld_session_info(s);
    CHECK(json_object_get(info, "waiting_for_client") == NULL);
    json_decref(info);
    srv_says(&CONNS[0], "{\"serverContent\":{\"turnComplete\":true}}");
    for (const char *t = "abc"; *t; t++) {
        char want[128];
        snprintf(want, sizeof want, EV("text", ",\"text\":\"%c\",\"turn\":1"), *t);
        CHECK_STR(fake_ipc_next_line(asker), want);
    }
    CHECK_STR(fake_ipc_next_line(asker), EV("turn_complete", ",\"turn\":1"));
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
    fake_ipc_client_free(asker);
}

TEST(only_the_asker_is_waited_for_not_a_lagging_subscriber)
{
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1), *asker = fake_ipc_client_new(2);
    gld_session *s = ready_session(w);
    send_prompt(s, asker, "long", false);
    fake_ipc_set_unwritten(w, FAKE_IPC_FLOW_HIGH * 8); /* w lags far behind: ipc cuts it, not us */
    srv_says(&CONNS[0], PART("a"));
    CHECK(!CONNS[0].paused);
    CHECK_INT(fake_ipc_holds(w), 0);
    /* no turn running: nobody's answer to keep */
    srv_says(&CONNS[0], "{\"serverContent\":{\"turnComplete\":true}}");
    fake_ipc_set_unwritten(asker, FAKE_IPC_FLOW_HIGH * 8);
    srv_says(&CONNS[0], "{\"sessionResumptionUpdate\":{\"newHandle\":\"h1\",\"resumable\":true}}");
    CHECK(!CONNS[0].paused);
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
    fake_ipc_client_free(asker);
}

/* A session on CONNS[0] whose running turn's asker lags: it stopped reading for it. */
static gld_session *waiting_for(ipc_client *w, ipc_client *asker)
{
    gld_session *s = ready_session(w);
    send_prompt(s, asker, "long", false);
    fake_ipc_set_unwritten(asker, FAKE_IPC_FLOW_HIGH + 1);
    srv_says(&CONNS[0], PART("a"));
    return s;
}

TEST(the_wait_ends_when_the_asker_leaves_the_connection_drops_or_the_session_closes)
{
    /* the asker leaves (ipc cut it for reading nothing, or it hung up) */
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1), *asker = fake_ipc_client_new(2);
    gld_session *s = waiting_for(w, asker);
    CHECK(CONNS[0].paused);
    gld_session_client_gone(s, asker);
    CHECK(!CONNS[0].paused);
    CHECK_INT(fake_ipc_holds(asker), 0);
    fake_ipc_clear(w);
    srv_says(&CONNS[0], PART("b")); /* the rest of the turn goes to the subscribers */
    CHECK_STR(fake_ipc_next_line(w), EV("text", ",\"text\":\"b\",\"turn\":1"));
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(asker);

    /* the connection drops: the next one is read from the start */
    daemon_up();
    asker = fake_ipc_client_new(2);
    s = waiting_for(w, asker);
    CHECK(CONNS[0].paused);
    srv_closes(&CONNS[0], 1006, "", "connection reset");
    CHECK_INT(fake_ipc_holds(asker), 0);
    run_until_connects(2);
    CHECK(!CONNS[1].paused);
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(asker);

    /* the session closes while it waits */
    daemon_up();
    asker = fake_ipc_client_new(2);
    s = waiting_for(w, asker);
    CHECK(CONNS[0].paused);
    gld_session_close(s, "closed by client 1", true);
    CHECK_INT(fake_ipc_holds(asker), 0);
    CHECK(!CONNS[0].paused);
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
    fake_ipc_client_free(asker);
}

/* ---- voice and vision in ---- */

TEST(audio_at_16k_goes_out_as_it_comes_and_other_rates_are_resampled)
{
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1);
    gld_session *s = ready_session(w);
    gl_err err;
    static const int16_t pcm[4] = {0, 1, 2, 3};
    CHECK_INT(gld_session_audio(s, w, pcm, sizeof pcm, 16000, &err), 0);
    CHECK_STR(sent(&CONNS[0]), "{\"realtimeInput\":{\"audio\":{\"data\":\"AAABAAIAAwA=\","
                               "\"mimeType\":\"audio/pcm;rate=16000\"}}}");
    int16_t loud[4800]; /* 100 ms at 48 kHz -> 1600 samples at 16 kHz (after the flush) */
    for (size_t i = 0; i < 4800; i++)
        loud[i] = (int16_t)(i % 200 * 100);
    CHECK_INT(gld_session_audio(s, w, loud, sizeof loud, 48000, &err), 0);
    size_t bytes = 0;
    for (const char *m; *(m = sent(&CONNS[0]));) {
        CHECK_CONTAINS(m, "\"mimeType\":\"audio/pcm;rate=16000\"");
        bytes += (strlen(strstr(m, "\"data\":\"") + 8) - strlen(strstr(m, "\",\"mimeType\""))) / 4 * 3;
    }
    CHECK_INT(gld_session_audio_end(s, w, &err), 0);
    for (const char *m; *(m = sent(&CONNS[0]));) {
        if (strstr(m, "audioStreamEnd")) {
            CHECK_STR(m, "{\"realtimeInput\":{\"audioStreamEnd\":true}}");
            break;
        }
        bytes += (strlen(strstr(m, "\"data\":\"") + 8) - strlen(strstr(m, "\",\"mimeType\""))) / 4 * 3;
    }
    CHECK(bytes >= 1600 * 2 - 8 && bytes <= 1600 * 2 + 8);
    CHECK_INT(gld_session_audio(s, w, pcm, 3, 16000, &err), -1); /* odd bytes */
    CHECK_INT(gld_session_audio(s, w, pcm, 4, 7000, &err), -1);
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
}

TEST(audio_waits_for_the_connection_and_the_spoken_turn_is_the_speakers)
{
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1), *mic = fake_ipc_client_new(2);
    gld_session *s = open_session("s", MODEL, w);
    gl_err err;
    static const int16_t pcm[2] = {7, 8};
    CHECK_INT(gld_session_audio(s, mic, pcm, sizeof pcm, 16000, &err), 0); /* connects */
    CHECK_INT(NCONNS, 1);
    srv_open(&CONNS[0]);
    (void)sent(&CONNS[0]);
    srv_says(&CONNS[0], "{\"setupComplete\":{}}");
    CHECK_STR(sent(&CONNS[0]), "{\"realtimeInput\":{\"audio\":{\"data\":\"BwAIAA==\","
                               "\"mimeType\":\"audio/pcm;rate=16000\"}}}");
    fake_ipc_clear(mic);
    srv_says(&CONNS[0], "{\"serverContent\":{\"inputTranscription\":{\"text\":\"hello\",\"finished\":true}}}");
    srv_says(&CONNS[0], "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"Hi!\"}]}}}");
    srv_says(&CONNS[0], "{\"serverContent\":{\"turnComplete\":true}}");
    CHECK_STR(fake_ipc_next_line(mic), EV("turn_started", ",\"cause\":\"audio\",\"turn\":1"));
    CHECK_STR(fake_ipc_next_line(mic), EV("transcript", ",\"source\":\"input\",\"text\":\"hello\","
                                          "\"finished\":true,\"turn\":1"));
    CHECK_STR(fake_ipc_next_line(mic), EV("text", ",\"text\":\"Hi!\",\"turn\":1"));
    CHECK_STR(fake_ipc_next_line(mic), EV("turn_complete", ",\"cause\":\"audio\",\"turn\":1"));
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
    fake_ipc_client_free(mic);
}

#define AUDIO16(b64) "{\"realtimeInput\":{\"audio\":{\"data\":\"" b64 "\",\"mimeType\":\"audio/pcm;rate=16000\"}}}"

/* A goAway cuts an utterance in two: what the old connection took after its newest handle goes
 * first on the next one, then what waited; audio before a handle, of a turn the service began to
 * answer, or of a parked session, is not sent again. */
TEST(audio_a_cut_connection_took_after_its_newest_handle_goes_first_on_the_next)
{
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1);
    gld_session *s = ready_session(w);
    gl_err err;
    static const int16_t a[2] = {1, 2}, b[2] = {3, 4}, c[2] = {5, 6};
    CHECK_INT(gld_session_audio(s, w, a, sizeof a, 16000, &err), 0); /* before the handle: kept */
    srv_says(&CONNS[0], "{\"sessionResumptionUpdate\":{\"newHandle\":\"h1\",\"resumable\":true}}");
    CHECK_INT(gld_session_audio(s, w, b, sizeof b, 16000, &err), 0); /* after it: lost with the cut */
    CHECK_STR(sent(&CONNS[0]), AUDIO16("AQACAA=="));
    CHECK_STR(sent(&CONNS[0]), AUDIO16("AwAEAA=="));
    srv_says(&CONNS[0], "{\"goAway\":{\"timeLeft\":\"5s\"}}"); /* no turn running: hangs up */
    CHECK_INT(CONNS[0].close_code, 1000);
    CHECK_INT(gld_session_audio(s, w, c, sizeof c, 16000, &err), 0); /* waits for the next one */
    srv_closes(&CONNS[0], 1000, "", NULL);
    CHECK_INT(NCONNS, 2);
    srv_open(&CONNS[1]);
    CHECK_STR(sent(&CONNS[1]), SETUP_RESUME("h1"));
    srv_says(&CONNS[1], "{\"setupComplete\":{}}");
    CHECK_STR(sent(&CONNS[1]), AUDIO16("AwAEAAUABgA=")); /* b then c, once; not a */
    CHECK_STR(sent(&CONNS[1]), "");
    /* the service answers the utterance: heard, so never sent again */
    srv_says(&CONNS[1], "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"Hi\"}]}}}");
    srv_says(&CONNS[1], "{\"goAway\":{\"timeLeft\":\"5s\"}}");
    srv_says(&CONNS[1], "{\"serverContent\":{\"turnComplete\":true}}");
    srv_closes(&CONNS[1], 1000, "", NULL);
    CHECK_INT(NCONNS, 3);
    srv_open(&CONNS[2]);
    (void)sent(&CONNS[2]);
    srv_says(&CONNS[2], "{\"setupComplete\":{}}");
    CHECK_STR(sent(&CONNS[2]), "");
    CHECK_INT(daemon_down(), 0);

    /* parked for being unused: its audio is old, not sent on the next use */
    daemon_up();
    D.cfg.idle_timeout_ms = 50;
    s = ready_session(w);
    gld_session_unsubscribe(s, w);
    CHECK_INT(gld_session_audio(s, w, a, sizeof a, 16000, &err), 0);
    (void)sent(&CONNS[0]);
    run_for(150);
    CHECK_INT(CONNS[0].close_code, 1000);
    srv_closes(&CONNS[0], 1000, "", NULL);
    send_prompt(s, w, "again", false);
    srv_open(&CONNS[1]);
    (void)sent(&CONNS[1]);
    srv_says(&CONNS[1], "{\"setupComplete\":{}}");
    CHECK_STR(sent(&CONNS[1]), PROMPT("again"));
    CHECK_STR(sent(&CONNS[1]), "");
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
}

/* audio.end while the connection is away (a goAway's reconnect): it waits with the audio and
 * goes out after it, in its place; it was dropped before (a spoken turn then never ended). */
TEST(an_audio_end_that_waits_for_the_connection_goes_out_after_its_audio)
{
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1);
    gld_session *s = open_session("s", MODEL, w);
    gl_err err;
    static const int16_t a[2] = {1, 2}, b[2] = {3, 4};
    CHECK_INT(gld_session_audio(s, w, a, sizeof a, 16000, &err), 0); /* connects: waits */
    CHECK_INT(gld_session_audio_end(s, w, &err), 0);
    CHECK_INT(gld_session_audio(s, w, b, sizeof b, 16000, &err), 0); /* the next utterance */
    srv_open(&CONNS[0]);
    (void)sent(&CONNS[0]);
    srv_says(&CONNS[0], "{\"setupComplete\":{}}");
    CHECK_STR(sent(&CONNS[0]), AUDIO16("AQACAA=="));
    CHECK_STR(sent(&CONNS[0]), "{\"realtimeInput\":{\"audioStreamEnd\":true}}");
    CHECK_STR(sent(&CONNS[0]), AUDIO16("AwAEAA=="));
    CHECK_STR(sent(&CONNS[0]), "");
    /* with nothing waiting, an audio.end while not connected ends nothing */
    srv_closes(&CONNS[0], 1006, "", "reset");
    CHECK_INT(gld_session_audio_end(s, w, &err), 0);
    run_until_connects(2);
    srv_open(&CONNS[1]);
    (void)sent(&CONNS[1]);
    srv_says(&CONNS[1], "{\"setupComplete\":{}}");
    CHECK_STR(sent(&CONNS[1]), AUDIO16("AwAEAA==")); /* b: after the newest handle (none) */
    CHECK_STR(sent(&CONNS[1]), "{\"realtimeInput\":{\"audioStreamEnd\":true}}");
    CHECK_STR(sent(&CONNS[1]), "");
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
}

TEST(activity_marks_need_vad_off_and_images_go_as_video)
{
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1);
    gld_session *s = ready_session(w);
    gl_err err;
    CHECK_INT(gld_session_activity(s, w, true, &err), -1);
    CHECK_CONTAINS(err.msg, "\"vad\": false");
    CHECK_INT(gld_session_image(s, w, "iVBORw0KGgo=", "image/png", &err), 0);
    CHECK_STR(sent(&CONNS[0]), "{\"realtimeInput\":{\"video\":{\"data\":\"iVBORw0KGgo=\",\"mimeType\":\"image/png\"}}}");
    json_t *parts = json_loads("[{\"text\":\"what is this?\"},{\"inline_data\":{\"mime_type\":\"image/png\","
                               "\"data\":\"iVBORw0KGgo=\"}}]", 0, NULL);
    long turn;
    bool queued;
    CHECK_INT(gld_session_send_parts(s, w, parts, false, &turn, &queued, &err), 0);
    json_decref(parts);
    gld_session_pump(s);
    CHECK_STR(sent(&CONNS[0]), "{\"clientContent\":{\"turns\":[{\"parts\":[{\"text\":\"what is this?\"},"
                               "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"iVBORw0KGgo=\"}}],"
                               "\"role\":\"user\"}],\"turnComplete\":true}}");
    CHECK_INT(daemon_down(), 0);

    daemon_up();
    json_t *vad = json_false();
    gld_session_config cfg = {.model = MODEL, .vad = vad, .input_transcription = true};
    s = gld_session_new(&D, "v", &cfg, &err);
    json_decref(vad);
    gld_session_connect(s);
    srv_open(&CONNS[0]);
    CHECK_STR(sent(&CONNS[0]), "{\"setup\":{\"model\":\"models/" MODEL "\",\"generationConfig\":"
                               "{\"responseModalities\":[\"TEXT\"]},\"realtimeInputConfig\":"
                               "{\"automaticActivityDetection\":{\"disabled\":true}},\"sessionResumption\":{},"
                               "\"contextWindowCompression\":{\"slidingWindow\":{}},\"inputAudioTranscription\":{}}}");
    srv_says(&CONNS[0], "{\"setupComplete\":{}}");
    CHECK_INT(gld_session_activity(s, w, true, &err), 0);
    CHECK_STR(sent(&CONNS[0]), "{\"realtimeInput\":{\"activityStart\":{}}}");
    CHECK_INT(gld_session_audio_end(s, w, &err), -1); /* with vad off, activity.end ends turns */
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
}

TEST(a_key_file_that_appears_later_is_read_and_the_refusal_names_it)
{
    daemon_up();
    D.cfg.api_key[0] = '\0';
    char dir[] = "/tmp/gld-test-key-XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/gemini-api-key", dir);
    snprintf(D.cfg.api_key_file, sizeof D.cfg.api_key_file, "%s", path);
    ipc_client *w = fake_ipc_client_new(1);
    gld_session *s = open_session("s", MODEL, w);
    send_prompt(s, w, "one", false);
    CHECK_INT(NCONNS, 0);
    (void)fake_ipc_next_line(w); /* connecting */
    char want[160];
    snprintf(want, sizeof want, "\"state\":\"closed\",\"reason\":\"cannot read API key file %s: No such file", path);
    CHECK_CONTAINS(fake_ipc_next_line(w), want); /* a real message, not uninitialised bytes */
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("from-the-file\n", f);
    fclose(f);
    send_prompt(s, w, "two", false);
    CHECK_INT(NCONNS, 1);
    CHECK_STR(CONNS[0].headers, "x-goog-api-key: from-the-file|");
    CHECK_INT(daemon_down(), 0);
    fake_ipc_client_free(w);
    unlink(path);
    rmdir(dir);
}

/* ---- the fast path's event lines ---- */

/* One run of a message through a session: two copies of it, a turnComplete, a third copy; in
 * a turn the asker prompted (scenario 0), outside any turn (1: the model's own turn), and in a
 * TEXT session on an audio-only model (2: output transcriptions become text). Returns every
 * line the subscriber and the asker got, and whether the connection was dropped (malloc'd). */
static unsigned long long LAST_FAST; /* messages the fast path took in the last lines_for */

static char *lines_for(const char *msg, size_t len, int scenario, bool fast)
{
    gld_session_fast_path = fast;
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1), *asker = fake_ipc_client_new(2);
    gld_session *s = open_session("s", scenario == 2 ? NULL : MODEL, w);
    gld_session_connect(s);
    srv_open(&CONNS[0]);
    srv_says(&CONNS[0], "{\"setupComplete\":{}}");
    if (scenario != 1)
        send_prompt(s, asker, "hi", false);
    fake_conn *c = &CONNS[0];
    for (int i = 0; i < 3; i++) {
        if (i == 2)
            srv_says(c, "{\"serverContent\":{\"turnComplete\":true}}");
        c->h->on_message((ws_conn *)c, WS_TEXT, (const uint8_t *)msg, len, c->ud);
    }
    const char *wo = fake_ipc_output(w);
    size_t wl = strlen(wo);
    char *out = malloc(wl + 16);
    memcpy(out, wo, wl + 1);
    const char *ao = fake_ipc_output(asker);
    size_t al = strlen(ao);
    out = realloc(out, wl + al + 32);
    snprintf(out + wl, al + 32, "--asker--\n%s--aborted %d", ao, (int)c->aborted);
    LAST_FAST = D.upstream.msgs_fast;
    daemon_down();
    fake_ipc_client_free(w);
    fake_ipc_client_free(asker);
    gld_session_fast_path = true;
    return out;
}

typedef struct fast_cmp {
    unsigned long runs, differ, fast;
    char first[1200];
} fast_cmp;

static void compare_lines(const char *msg, size_t len, void *ud)
{
    fast_cmp *fc = ud;
    for (int sc = 0; sc < 3; sc++) {
        char *slow = lines_for(msg, len, sc, false), *fast = lines_for(msg, len, sc, true);
        fc->runs++;
        fc->fast += LAST_FAST > 0;
        if (strcmp(slow, fast) != 0 && !fc->differ++)
            snprintf(fc->first, sizeof fc->first, "scenario %d, %.*s\n  slow: %.400s\n  fast: %.400s", sc,
                     (int)(len < 200 ? len : 200), msg, slow, fast);
        free(slow);
        free(fast);
    }
}

/* What subscriber w got over 12 turns of one text part each (turn numbers of two digits). */
static char *twelve_turns(bool fast)
{
    gld_session_fast_path = fast;
    daemon_up();
    ipc_client *w = fake_ipc_client_new(1);
    gld_session *s = ready_session(w);
    for (int i = 0; i < 12; i++) {
        send_prompt(s, w, "hi", false);
        srv_says(&CONNS[0], PART("x"));
        srv_says(&CONNS[0], "{\"serverContent\":{\"turnComplete\":true}}");
    }
    char *out = strdup(fake_ipc_output(w));
    if (daemon_down() != 0)
        out[0] = '\0'; /* the loop was not left clean: the comparison fails */
    fake_ipc_client_free(w);
    gld_session_fast_path = true;
    return out;
}

TEST(fast_path_turn_numbers_of_several_digits)
{
    char *fast = twelve_turns(true), *ref = twelve_turns(false);
    CHECK_STR(fast, ref);
    CHECK_CONTAINS(fast, EV("text", ",\"text\":\"x\",\"turn\":10") "\n");
    CHECK_CONTAINS(fast, EV("text", ",\"text\":\"x\",\"turn\":12") "\n");
    free(fast);
    free(ref);
}

TEST(fast_path_lines_are_the_reference_lines)
{
    /* every message of the corpus (tests/unit/fast_corpus.h), the hot ones and the rest */
    fast_cmp fc = {0};
    fast_corpus_each(compare_lines, &fc);
    CHECK(fc.fast > 1000); /* the runs on the fast path: 3 scenarios x 3 copies of a message */
    if (fc.differ)
        GL_FAILF("%lu of %lu runs differ; first: %s", fc.differ, fc.runs, fc.first);
    /* and the fast path is the one taken: a sample of its lines */
    const char *m = "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\\u00e9\\/\"},"
                        "{\"inlineData\":{\"mimeType\":\"audio/pcm\",\"data\":\"AA==\"}}]},"
                        "\"inputTranscription\":{\"text\":\"in\"},\"outputTranscription\":{\"text\":\"out\",\"finished\":true}}}";
    char *l = lines_for(m, strlen(m), 0, true);
    CHECK_INT(LAST_FAST, 3);
    CHECK_CONTAINS(l, EV("text", ",\"text\":\"a\xc3\xa9/\",\"turn\":1") "\n"
                      EV("audio", ",\"mime\":\"audio/pcm\",\"data\":\"AA==\",\"turn\":1") "\n"
                      EV("transcript", ",\"source\":\"input\",\"text\":\"in\",\"finished\":false,\"turn\":1") "\n"
                      EV("transcript", ",\"source\":\"output\",\"text\":\"out\",\"finished\":true,\"turn\":1") "\n");
    free(l);
}
