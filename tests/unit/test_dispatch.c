/* The line protocol's ops (daemon/dispatch.c) without sockets: a request line in, the exact reply
 * (and events) out, through fake clients (tests/unit/fake_ipc.c). Above all the validation order
 * of each op: the request's own fields first (types, then values), then what they refer to. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/log.h"
#include "daemon/dispatch.h"
#include "daemon/session.h"
#include "daemon/tools.h"
#include "daemon/upstream.h"
#include "tests/unit/fake_ipc.h"
#include "tests/unit/testlib.h"

/* An upstream that accepts connections and never opens them (the ops only need sessions); a
 * close ends the connection at once. */
typedef struct fake_conn {
    const ws_handlers *h;
    void *ud;
} fake_conn;
static fake_conn CONNS[8];
static int NCONNS;
static ws_conn *fake_connect(uv_loop_t *l, const ws_client_opts *o, const ws_handlers *h, void *ud,
                             gl_err *err)
{
    (void)l, (void)o;
    if (NCONNS == 8) {
        gl_fail(err, "internal", "fake: too many connections");
        return NULL;
    }
    CONNS[NCONNS] = (fake_conn){h, ud};
    return (ws_conn *)&CONNS[NCONNS++];
}
static int fake_send(ws_conn *c, const char *j, size_t n, gl_err *err)
{
    (void)c, (void)j, (void)n;
    return gl_fail(err, "closed", "fake: not open");
}
static void fake_close(ws_conn *c, int code, const char *reason)
{
    fake_conn *fc = (fake_conn *)c;
    ws_close_info info = {.code = code, .reason = reason};
    fc->h->on_close(c, &info, fc->ud);
}
static void fake_abort(ws_conn *c, const char *why) { (void)c, (void)why; }
static void fake_pause(ws_conn *c, bool pause) { (void)c, (void)pause; }
static uint64_t fake_read_time(const ws_conn *c) { return (void)c, 0; }
static const gld_upstream_ops NET = {fake_connect, fake_send, fake_close, fake_abort, fake_pause,
                                     fake_read_time};

static gld_daemon D;
static uv_loop_t LOOP;
static ipc_client *C;

static void up(void)
{
    memset(&D, 0, sizeof D);
    uv_loop_init(&LOOP);
    D.loop = &LOOP;
    D.net = &NET;
    gld_config_defaults(&D.cfg);
    snprintf(D.cfg.api_key, sizeof D.cfg.api_key, "k");
    gl_log_set_level(GL_LOG_ERROR);
    C = fake_ipc_client_new(7);
    NCONNS = 0;
}

static int down(void)
{
    gld_dispatch_disconnect(&D, C);
    while (D.sessions)
        gld_session_close(D.sessions, "test over", false);
    gld_tools_free_all(&D);
    fake_ipc_client_free(C);
    uv_run(&LOOP, UV_RUN_DEFAULT);
    return uv_loop_close(&LOOP);
}

/* The reply to one request line (the first line the client got), events left in place. */
static const char *req(const char *line)
{
    fake_ipc_clear(C);
    gld_dispatch_line(&D, C, line, strlen(line));
    return fake_ipc_next_line(C);
}

#define ERR(id, code, msg) "{\"id\":" id ",\"ok\":false,\"error\":{\"code\":\"" code "\",\"message\":\"" msg "\"}}"

TEST(bad_lines_and_unknown_ops)
{
    up();
    CHECK_STR(req("{\"id\":1,\"op\":\"fly\"}"), ERR("1", "unknown_op", "unknown op \\\"fly\\\""));
    CHECK_STR(req("[1]"), ERR("null", "bad_request", "request must be a JSON object"));
    CHECK_STR(req("{\"id\":2}"), ERR("2", "bad_request", "missing field \\\"op\\\""));
    D.stopping = true;
    CHECK_STR(req("{\"id\":3,\"op\":\"hello\"}"), ERR("3", "shutting_down", "gliveD is shutting down"));
    D.stopping = false;
    CHECK_INT(down(), 0);
}

TEST(hello_checks_its_client_field)
{
    up();
    CHECK_STR(req("{\"id\":1,\"op\":\"hello\",\"client\":\"me\"}"),
              "{\"id\":1,\"ok\":true,\"daemon\":\"gliveD\",\"version\":\"0.1.0\",\"protocol\":1}");
    CHECK_STR(req("{\"id\":2,\"op\":\"hello\",\"client\":[1]}"),
              ERR("2", "bad_request", "field \\\"client\\\" must be a string"));
    CHECK_INT(down(), 0);
}

TEST(open_validates_fields_then_config_then_conflicts)
{
    up();
    CHECK_STR(req("{\"id\":1,\"op\":\"open\"}"), ERR("1", "bad_request", "missing field \\\"session\\\""));
    CHECK_STR(req("{\"id\":2,\"op\":\"open\",\"session\":\"a b\"}"),
              ERR("2", "bad_request", "invalid character ' ' at position 1 in session name (allowed: "
                                      "A-Z a-z 0-9 . _ -)"));
    CHECK_STR(req("{\"id\":3,\"op\":\"open\",\"session\":\"s\",\"model\":5}"),
              ERR("3", "bad_request", "field \\\"model\\\" must be a string"));
    CHECK_STR(req("{\"id\":4,\"op\":\"open\",\"session\":\"s\",\"modality\":\"SMELL\"}"),
              ERR("4", "bad_request", "modality must be \\\"TEXT\\\" or \\\"AUDIO\\\""));
    /* created: the reply comes first, then the session's first event */
    CHECK_STR(req("{\"id\":5,\"op\":\"open\",\"session\":\"s\",\"model\":\"m1\"}"),
              "{\"id\":5,\"ok\":true,\"session\":\"s\",\"created\":true,\"state\":\"idle\",\"model\":\"m1\","
              "\"modality\":\"TEXT\"}");
    CHECK_STR(fake_ipc_next_line(C), "{\"event\":\"state\",\"session\":\"s\",\"state\":\"connecting\"}");
    /* an invalid config is an invalid config, even for a session that exists */
    CHECK_STR(req("{\"id\":6,\"op\":\"open\",\"session\":\"s\",\"tools\":[{\"bogus\":{}}]}"),
              ERR("6", "bad_request", "unknown field \\\"tools[0].bogus\\\""));
    CHECK_CONTAINS(req("{\"id\":7,\"op\":\"open\",\"session\":\"s\",\"model\":\"m2\"}"),
                   "\"code\":\"conflict\"");
    CHECK_STR(req("{\"id\":8,\"op\":\"open\",\"session\":\"s\"}"),
              "{\"id\":8,\"ok\":true,\"session\":\"s\",\"created\":false,\"state\":\"connecting\","
              "\"model\":\"m1\",\"modality\":\"TEXT\"}");
    /* keep_connected is how the daemon treats the session, not what it is: an attach changes it */
    CHECK_CONTAINS(req("{\"id\":9,\"op\":\"open\",\"session\":\"s\",\"keep_connected\":true}"),
                   "\"ok\":true,\"session\":\"s\",\"created\":false");
    CHECK_CONTAINS(req("{\"id\":10,\"op\":\"list\"}"), "\"keep_connected\":true");
    CHECK_STR(req("{\"id\":11,\"op\":\"open\",\"session\":\"s\",\"keep_connected\":1}"),
              ERR("11", "bad_request", "field \\\"keep_connected\\\" must be a boolean"));
    CHECK_CONTAINS(req("{\"id\":12,\"op\":\"open\",\"session\":\"s\",\"keep_connected\":false}"),
                   "\"ok\":true");
    const char *l = req("{\"id\":13,\"op\":\"list\"}");
    CHECK(l && !strstr(l, "keep_connected"));
    CHECK_INT(down(), 0);
}

TEST(send_checks_its_fields_before_the_session)
{
    up();
    CHECK_STR(req("{\"id\":1,\"op\":\"send\",\"session\":\"nope\",\"text\":3}"),
              ERR("1", "bad_request", "field \\\"text\\\" must be a string"));
    CHECK_STR(req("{\"id\":2,\"op\":\"send\",\"session\":\"nope\",\"text\":\"x\",\"retry\":\"yes\"}"),
              ERR("2", "bad_request", "field \\\"retry\\\" must be a boolean"));
    CHECK_STR(req("{\"id\":3,\"op\":\"send\",\"session\":\"nope\",\"text\":\"\"}"),
              ERR("3", "bad_request", "field \\\"text\\\" must not be empty"));
    CHECK_STR(req("{\"id\":4,\"op\":\"send\",\"session\":\"nope\",\"text\":\"x\"}"),
              ERR("4", "no_session", "no session \\\"nope\\\" (open it first)"));
    req("{\"id\":5,\"op\":\"open\",\"session\":\"s\"}");
    CHECK_STR(req("{\"id\":6,\"op\":\"send\",\"session\":\"s\",\"text\":\"x\"}"),
              "{\"id\":6,\"ok\":true,\"turn\":1,\"queued\":true}");
    D.cfg.max_queue = 1;
    CHECK_CONTAINS(req("{\"id\":7,\"op\":\"send\",\"session\":\"s\",\"text\":\"y\"}"), "\"code\":\"busy\"");
    CHECK_INT(down(), 0);
}

TEST(session_only_ops_report_no_session)
{
    up();
    CHECK_STR(req("{\"id\":1,\"op\":\"close\",\"session\":\"nope\"}"),
              ERR("1", "no_session", "no session \\\"nope\\\" (open it first)"));
    CHECK_STR(req("{\"id\":2,\"op\":\"subscribe\",\"session\":\"nope\"}"),
              ERR("2", "no_session", "no session \\\"nope\\\" (open it first)"));
    CHECK_STR(req("{\"id\":3,\"op\":\"unsubscribe\",\"session\":7}"),
              ERR("3", "bad_request", "field \\\"session\\\" must be a string"));
    req("{\"id\":4,\"op\":\"open\",\"session\":\"s\"}");
    CHECK_STR(req("{\"id\":5,\"op\":\"subscribe\",\"session\":\"s\"}"), "{\"id\":5,\"ok\":true,\"state\":\"connecting\"}");
    CHECK_STR(req("{\"id\":6,\"op\":\"close\",\"session\":\"s\"}"), "{\"id\":6,\"ok\":true}");
    CHECK(D.sessions == NULL);
    CHECK_INT(down(), 0);
}

TEST(tool_result_checks_fields_then_the_call)
{
    up();
    CHECK_STR(req("{\"id\":1,\"op\":\"tool.result\",\"call_id\":\"c\"}"),
              ERR("1", "bad_request", "give exactly one of \\\"response\\\" (an object) or \\\"error\\\" (a string)"));
    CHECK_STR(req("{\"id\":2,\"op\":\"tool.result\",\"call_id\":\"c\",\"response\":{},\"error\":\"e\"}"),
              ERR("2", "bad_request", "give exactly one of \\\"response\\\" (an object) or \\\"error\\\" (a string)"));
    CHECK_STR(req("{\"id\":3,\"op\":\"tool.result\",\"call_id\":\"c\",\"response\":[]}"),
              ERR("3", "bad_request", "field \\\"response\\\" must be an object"));
    CHECK_STR(req("{\"id\":4,\"op\":\"tool.result\",\"session\":\"no pe\",\"call_id\":\"c\",\"error\":\"e\"}"),
              ERR("4", "bad_request", "invalid character ' ' at position 2 in session name (allowed: "
                                      "A-Z a-z 0-9 . _ -)"));
    CHECK_STR(req("{\"id\":5,\"op\":\"tool.result\",\"session\":\"nope\",\"call_id\":\"c\",\"error\":\"e\"}"),
              ERR("5", "no_session", "no session \\\"nope\\\" (open it first)"));
    CHECK_STR(req("{\"id\":6,\"op\":\"tool.result\",\"call_id\":\"c\",\"error\":\"e\"}"),
              ERR("6", "unknown_call", "no pending tool call \\\"c\\\" (answered, cancelled, timed out or never made)"));
    CHECK_INT(down(), 0);
}

TEST(tool_register_ranges_and_reestablish_flag)
{
    up();
    CHECK_STR(req("{\"id\":1,\"op\":\"tool.register\",\"session\":\"*\",\"declaration\":{\"name\":\"f\"},"
                  "\"timeout_s\":1e-9}"),
              ERR("1", "bad_request", "field \\\"timeout_s\\\" must be a number of seconds in [0.1, 86400]"));
    CHECK_STR(req("{\"id\":2,\"op\":\"tool.register\",\"session\":\"*\",\"declaration\":{\"name\":\"f\"},"
                  "\"timeout_s\":86401}"),
              ERR("2", "bad_request", "field \\\"timeout_s\\\" must be a number of seconds in [0.1, 86400]"));
    CHECK_STR(req("{\"id\":3,\"op\":\"tool.register\",\"session\":\"*\",\"declaration\":{\"name\":\"f\"},"
                  "\"timeout_s\":2.5}"),
              "{\"id\":3,\"ok\":true,\"session\":\"*\",\"name\":\"f\",\"reestablish\":false,\"timeout_s\":2.5}");
    req("{\"id\":4,\"op\":\"open\",\"session\":\"s\"}"); /* connecting: a connection exists */
    CHECK_STR(req("{\"id\":5,\"op\":\"tool.register\",\"session\":\"s\",\"declaration\":{\"name\":\"g\"}}"),
              "{\"id\":5,\"ok\":true,\"session\":\"s\",\"name\":\"g\",\"reestablish\":true,\"timeout_s\":30.0}");
    CHECK_STR(req("{\"id\":6,\"op\":\"tool.unregister\",\"session\":\"s\",\"name\":\"g\"}"), "{\"id\":6,\"ok\":true}");
    CHECK_INT(down(), 0);
}

TEST(list_shows_each_session)
{
    up();
    CHECK_STR(req("{\"id\":1,\"op\":\"list\"}"), "{\"id\":1,\"ok\":true,\"sessions\":[]}");
    req("{\"id\":2,\"op\":\"open\",\"session\":\"s\",\"model\":\"m\"}");
    const char *l = req("{\"id\":3,\"op\":\"list\"}");
    CHECK_CONTAINS(l, "\"sessions\":[{\"session\":\"s\",\"state\":\"connecting\",\"model\":\"m\",\"modality\":\"TEXT\","
                      "\"turns\":0,\"queued\":0,\"turn_running\":false,\"subscribers\":0,\"pending_tool_calls\":0");
    CHECK_INT(down(), 0);
}

TEST(handlers_may_add_only_so_many_functions_to_a_session)
{
    up();
    req("{\"id\":1,\"op\":\"open\",\"session\":\"s\"}");
    char line[256];
    for (int i = 0; i < GLD_MAX_HANDLER_DECLARATIONS; i++) {
        snprintf(line, sizeof line, "{\"id\":%d,\"op\":\"tool.register\",\"session\":\"s\",\"declaration\":"
                                    "{\"name\":\"f%d\"}}", i + 2, i);
        CHECK_CONTAINS(req(line), "\"ok\":true");
    }
    CHECK_CONTAINS(req("{\"id\":999,\"op\":\"tool.register\",\"session\":\"s\",\"declaration\":{\"name\":\"one_more\"}}"),
                   "\"code\":\"busy\"");
    /* one already declared may be registered again (a handler restarting) */
    CHECK_CONTAINS(req("{\"id\":1000,\"op\":\"tool.register\",\"session\":\"s\",\"declaration\":{\"name\":\"f7\"}}"),
                   "\"ok\":true");
    CHECK_INT(down(), 0);
}

TEST(one_uid_may_open_only_so_many_sessions)
{
    up();
    D.cfg.max_sessions_per_uid = 2;
    CHECK_CONTAINS(req("{\"id\":1,\"op\":\"open\",\"session\":\"a\"}"), "\"ok\":true");
    CHECK_CONTAINS(req("{\"id\":2,\"op\":\"open\",\"session\":\"b\"}"), "\"ok\":true");
    CHECK_CONTAINS(req("{\"id\":3,\"op\":\"open\",\"session\":\"c\"}"), "\"code\":\"refused\"");
    CHECK_CONTAINS(req("{\"id\":4,\"op\":\"open\",\"session\":\"a\"}"), "\"ok\":true"); /* attach is fine */
    req("{\"id\":5,\"op\":\"close\",\"session\":\"b\"}");
    CHECK_CONTAINS(req("{\"id\":6,\"op\":\"open\",\"session\":\"c\"}"), "\"ok\":true");
    CHECK_INT(down(), 0);
}

/* The reply to one request line from client c. */
static const char *req_as(ipc_client *c, const char *line)
{
    fake_ipc_clear(c);
    gld_dispatch_line(&D, c, line, strlen(line));
    return fake_ipc_next_line(c);
}

TEST(a_session_of_another_uid_is_answered_as_if_it_did_not_exist)
{
    up();
    fake_ipc_set_uid(C, 1000);
    ipc_client *O = fake_ipc_client_new(8), *R = fake_ipc_client_new(9);
    fake_ipc_set_uid(O, 1001);
    fake_ipc_set_uid(R, 0);
    CHECK_CONTAINS(req("{\"id\":1,\"op\":\"open\",\"session\":\"mine\"}"), "\"ok\":true");
    CHECK_STR(req_as(O, "{\"id\":2,\"op\":\"list\"}"), "{\"id\":2,\"ok\":true,\"sessions\":[]}");
    const char *st = req_as(O, "{\"id\":3,\"op\":\"status\"}");
    CHECK_CONTAINS(st, "\"sessions\":0,");
    CHECK_CONTAINS(st, "\"session_list\":[]");
    /* every op naming it: the very reply a missing session gets */
    static const char *const ops[] = {"send\",\"text\":\"hi", "subscribe", "unsubscribe", "close"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        char line[160], want[200];
        snprintf(line, sizeof line, "{\"id\":4,\"op\":\"%s\",\"session\":\"mine\"}", ops[i]);
        snprintf(want, sizeof want, ERR("4", "no_session", "no session \\\"%s\\\" (open it first)"), "mine");
        CHECK_STR(req_as(O, line), want);
    }
    CHECK_STR(req_as(O, "{\"id\":5,\"op\":\"tool.result\",\"session\":\"mine\",\"call_id\":\"c\",\"error\":\"e\"}"),
              ERR("5", "no_session", "no session \\\"mine\\\" (open it first)"));
    /* open cannot pretend: names are one namespace, so it says only that the name is taken */
    CHECK_STR(req_as(O, "{\"id\":6,\"op\":\"open\",\"session\":\"mine\"}"),
              ERR("6", "conflict", "the name \\\"mine\\\" is taken by a session you cannot use; choose another name"));
    /* tool.register naming it: accepted as for a session that does not exist, declares nothing */
    CHECK_STR(req_as(O, "{\"id\":7,\"op\":\"tool.register\",\"session\":\"mine\",\"declaration\":{\"name\":\"g\"}}"),
              "{\"id\":7,\"ok\":true,\"session\":\"mine\",\"name\":\"g\",\"reestablish\":false,\"timeout_s\":30.0}");
    CHECK(strstr(req("{\"id\":8,\"op\":\"list\"}"), "handler_functions") == NULL);
    /* the owner and root see it, with its owner; root may use it */
    CHECK_CONTAINS(req("{\"id\":9,\"op\":\"list\"}"), "\"owner_uid\":1000,\"shared\":false");
    CHECK_CONTAINS(req_as(R, "{\"id\":10,\"op\":\"list\"}"), "\"session\":\"mine\"");
    CHECK_STR(req_as(R, "{\"id\":11,\"op\":\"subscribe\",\"session\":\"mine\"}"),
              "{\"id\":11,\"ok\":true,\"state\":\"connecting\"}");
    gld_dispatch_disconnect(&D, O);
    gld_dispatch_disconnect(&D, R);
    fake_ipc_client_free(O);
    fake_ipc_client_free(R);
    CHECK_INT(down(), 0);
}

TEST(a_shared_session_is_everyones_and_shared_must_match_on_attach)
{
    up();
    fake_ipc_set_uid(C, 1000);
    ipc_client *O = fake_ipc_client_new(8);
    fake_ipc_set_uid(O, 1001);
    CHECK_STR(req("{\"id\":1,\"op\":\"open\",\"session\":\"s\",\"shared\":1}"),
              ERR("1", "bad_request", "field \\\"shared\\\" must be a boolean"));
    CHECK_CONTAINS(req("{\"id\":2,\"op\":\"open\",\"session\":\"s\",\"shared\":true}"), "\"created\":true");
    CHECK_CONTAINS(req_as(O, "{\"id\":3,\"op\":\"list\"}"), "\"owner_uid\":1000,\"shared\":true");
    CHECK_CONTAINS(req_as(O, "{\"id\":4,\"op\":\"open\",\"session\":\"s\"}"), "\"created\":false");
    CHECK_CONTAINS(req_as(O, "{\"id\":5,\"op\":\"open\",\"session\":\"s\",\"shared\":false}"),
                   "\"code\":\"conflict\"");
    CHECK_STR(req_as(O, "{\"id\":6,\"op\":\"subscribe\",\"session\":\"s\"}"),
              "{\"id\":6,\"ok\":true,\"state\":\"connecting\"}");
    CHECK_STR(req_as(O, "{\"id\":7,\"op\":\"close\",\"session\":\"s\"}"), "{\"id\":7,\"ok\":true}");
    CHECK(D.sessions == NULL);
    gld_dispatch_disconnect(&D, O);
    fake_ipc_client_free(O);
    CHECK_INT(down(), 0);
}
