/* Unit tests of daemon/tools.c, the tool handler registry, with fake ipc clients
 * (tests/unit/fake_ipc.c): the registry only compares client pointers and names them by id. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/tools.h"
#include "tests/unit/fake_ipc.h"
#include "tests/unit/testlib.h"

/* One daemon (only its registry is used) and three clients, fresh for each test. */
static gld_daemon D;
static ipc_client *A, *B, *C;

__attribute__((constructor)) static void quiet(void) { gl_log_set_level(GL_LOG_ERROR); }

static void setup(void)
{
    gld_tools_free_all(&D);
    memset(&D, 0, sizeof D);
    fake_ipc_client_free(A);
    fake_ipc_client_free(B);
    fake_ipc_client_free(C);
    A = fake_ipc_client_new(1);
    B = fake_ipc_client_new(2);
    C = fake_ipc_client_new(3);
}

/* A declaration from JSON text (a new reference). */
static json_t *decl(const char *text)
{
    json_error_t je;
    json_t *d = json_loads(text, 0, &je);
    if (!d) {
        fprintf(stderr, "bad test JSON %s: %s\n", text, je.text);
        abort();
    }
    return d;
}

/* Registers {"name": name} for (client, session); NULL on error (err filled). */
static gld_tool *reg(ipc_client *c, const char *session, const char *name, unsigned timeout_ms,
                     gl_err *err)
{
    char text[256];
    snprintf(text, sizeof text, "{\"name\":\"%s\"}", name);
    json_t *d = decl(text);
    gld_tool *t = gld_tools_register(&D, c, session, d, timeout_ms, err);
    json_decref(d);
    return t;
}

/* The access of a session of the fake clients' own uid, not shared. */
static const gld_access *mine(void)
{
    static gld_access a;
    a = (gld_access){.owner = getuid()};
    return &a;
}

static size_t count(void)
{
    size_t n = 0;
    for (gld_tool *t = D.tools; t; t = t->next)
        n++;
    return n;
}

/* Compact JSON of v, in a static buffer. */
static const char *js(const json_t *v)
{
    static char buf[4096];
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    snprintf(buf, sizeof buf, "%s", s ? s : "(null)");
    free(s);
    return buf;
}

__attribute__((destructor)) static void teardown(void)
{
    gld_tools_free_all(&D);
    fake_ipc_client_free(A);
    fake_ipc_client_free(B);
    fake_ipc_client_free(C);
}

TEST(register_then_find)
{
    setup();
    gl_err e;
    gld_tool *t = reg(A, "s1", "lights", 5000, &e);
    CHECK(t != NULL);
    CHECK_STR(t->session, "s1");
    CHECK_STR(t->name, "lights");
    CHECK(t->handler == A);
    CHECK_INT(t->timeout_ms, 5000);
    CHECK(gld_tools_find(&D, "s1", mine(), "lights") == t);
}

TEST(find_misses_other_session_or_name)
{
    setup();
    gl_err e;
    CHECK(reg(A, "s1", "lights", 5000, &e) != NULL);
    CHECK(gld_tools_find(&D, "s2", mine(), "lights") == NULL);
    CHECK(gld_tools_find(&D, "s1", mine(), "light") == NULL);
    CHECK(gld_tools_find(&D, "s1", mine(), "lights.on") == NULL);
}

TEST(find_prefers_exact_session_over_star)
{
    setup();
    gl_err e;
    gld_tool *any = reg(A, "*", "lights", 1000, &e);
    gld_tool *own = reg(B, "s1", "lights", 2000, &e);
    CHECK(any && own);
    CHECK(gld_tools_find(&D, "s1", mine(), "lights") == own);
    CHECK(gld_tools_find(&D, "s2", mine(), "lights") == any);
    /* the order of registration does not matter */
    setup();
    own = reg(B, "s1", "lights", 2000, &e);
    any = reg(A, "*", "lights", 1000, &e);
    CHECK(gld_tools_find(&D, "s1", mine(), "lights") == own);
    CHECK(gld_tools_find(&D, "s2", mine(), "lights") == any);
}

TEST(same_client_reregister_replaces)
{
    setup();
    gl_err e;
    gld_tool *t = reg(A, "s1", "lights", 1000, &e);
    json_t *d = decl("{\"name\":\"lights\",\"description\":\"v2\"}");
    gld_tool *t2 = gld_tools_register(&D, A, "s1", d, 3000, &e);
    json_decref(d);
    CHECK(t2 == t);
    CHECK_INT(count(), 1);
    CHECK_INT(t->timeout_ms, 3000);
    CHECK_STR(js(t->decl), "{\"description\":\"v2\",\"name\":\"lights\"}");
}

TEST(other_client_gets_tool_exists)
{
    setup();
    gl_err e;
    gld_tool *t = reg(A, "s1", "lights", 1000, &e);
    CHECK(reg(B, "s1", "lights", 2000, &e) == NULL);
    CHECK_STR(e.code, "tool_exists");
    CHECK_CONTAINS(e.msg, "function lights in session s1 is already served by client 1");
    CHECK_INT(count(), 1);
    CHECK(gld_tools_find(&D, "s1", mine(), "lights") == t);
    CHECK(t->handler == A);
    CHECK_INT(t->timeout_ms, 1000);
}

TEST(other_client_may_serve_other_session_or_star)
{
    setup();
    gl_err e;
    CHECK(reg(A, "s1", "lights", 1000, &e) != NULL);
    CHECK(reg(B, "s2", "lights", 1000, &e) != NULL);
    CHECK(reg(C, "*", "lights", 1000, &e) != NULL);
    CHECK(reg(B, "*", "lights", 1000, &e) == NULL); /* "*" is one session for this rule */
    CHECK_STR(e.code, "tool_exists");
    CHECK_INT(count(), 3);
}

TEST(unregister_removes)
{
    setup();
    gl_err e;
    CHECK(reg(A, "s1", "lights", 1000, &e) != NULL);
    CHECK(reg(A, "s1", "fan", 1000, &e) != NULL);
    CHECK_INT(gld_tools_unregister(&D, A, "s1", "lights", &e), 0);
    CHECK(gld_tools_find(&D, "s1", mine(), "lights") == NULL);
    CHECK(gld_tools_find(&D, "s1", mine(), "fan") != NULL);
    CHECK_INT(gld_tools_unregister(&D, A, "s1", "lights", &e), -1);
    CHECK_STR(e.code, "bad_request");
    CHECK_CONTAINS(e.msg, "serves no function lights in session s1");
}

TEST(unregister_by_other_client_refused)
{
    setup();
    gl_err e;
    gld_tool *t = reg(A, "s1", "lights", 1000, &e);
    CHECK_INT(gld_tools_unregister(&D, B, "s1", "lights", &e), -1);
    CHECK_STR(e.code, "bad_request");
    CHECK_CONTAINS(e.msg, "served by another client");
    CHECK(gld_tools_find(&D, "s1", mine(), "lights") == t);
}

/* The session's registration goes; a "*" one of the same name then serves the session. */
TEST(unregister_exact_uncovers_star)
{
    setup();
    gl_err e;
    gld_tool *any = reg(A, "*", "lights", 1000, &e);
    CHECK(reg(B, "s1", "lights", 1000, &e) != NULL);
    CHECK_INT(gld_tools_unregister(&D, B, "s1", "lights", &e), 0);
    CHECK(gld_tools_find(&D, "s1", mine(), "lights") == any);
}

TEST(client_gone_drops_all_its_registrations)
{
    setup();
    gl_err e;
    CHECK(reg(A, "s1", "lights", 1000, &e) != NULL);
    CHECK(reg(B, "s1", "fan", 1000, &e) != NULL);
    CHECK(reg(A, "*", "fan", 1000, &e) != NULL);
    CHECK(reg(A, "s2", "door", 1000, &e) != NULL);
    CHECK(reg(C, "s2", "lights", 1000, &e) != NULL);
    gld_tools_client_gone(&D, A);
    CHECK_INT(count(), 2);
    for (gld_tool *t = D.tools; t; t = t->next)
        CHECK(t->handler != A);
    CHECK(gld_tools_find(&D, "s1", mine(), "lights") == NULL);
    CHECK(gld_tools_find(&D, "s9", mine(), "fan") == NULL);
    /* another client may now take what A served */
    CHECK(reg(B, "s1", "lights", 1000, &e) != NULL);
    gld_tools_client_gone(&D, A); /* nothing left of A: no-op */
    CHECK_INT(count(), 3);
}

TEST(declarations_for_exact_session_only)
{
    setup();
    gl_err e;
    CHECK(reg(A, "s1", "lights", 1000, &e) != NULL);
    CHECK(reg(B, "s1", "fan", 1000, &e) != NULL);
    CHECK(reg(A, "*", "door", 1000, &e) != NULL);
    CHECK(reg(A, "s2", "heat", 1000, &e) != NULL);
    json_t *arr = gld_tools_declarations_for(&D, "s1", mine());
    CHECK_INT(json_array_size(arr), 2);
    const char *got = js(arr);
    json_decref(arr);
    CHECK_CONTAINS(got, "{\"name\":\"lights\"}");
    CHECK_CONTAINS(got, "{\"name\":\"fan\"}");
    arr = gld_tools_declarations_for(&D, "s3", mine());
    CHECK_STR(js(arr), "[]");
    json_decref(arr);
}

/* Registered declarations are stored normalized (camelCase), as a setup sends them. */
TEST(declaration_is_normalized)
{
    setup();
    gl_err e;
    json_t *d = decl("{\"name\":\"lights\",\"parameters_json_schema\":{\"type\":\"object\"}}");
    gld_tool *t = gld_tools_register(&D, A, "s1", d, 1000, &e);
    json_decref(d);
    CHECK(t != NULL);
    CHECK_STR(js(t->decl), "{\"name\":\"lights\",\"parametersJsonSchema\":{\"type\":\"object\"}}");
}

TEST(bad_declarations_rejected)
{
    setup();
    static const char *bad[] = {
        "{}",                                  /* no name */
        "{\"name\":\"\"}",                     /* empty */
        "{\"name\":\"1abc\"}",                 /* must start with a letter or _ */
        "{\"name\":\"a b\"}",                  /* space */
        "{\"name\":5}",                        /* not a string */
        "{\"name\":\"f\",\"colour\":1}",       /* unknown field */
        "{\"name\":\"f\",\"parameters\":5}",   /* parameters not an object */
        "{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", /* 65 */
        "[]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gl_err e = {{0}, {0}};
        json_t *d = decl(bad[i]);
        gld_tool *t = gld_tools_register(&D, A, "s1", d, 1000, &e);
        json_decref(d);
        if (t)
            GL_FAILF("accepted %s", bad[i]);
        CHECK_STR(e.code, "bad_request");
    }
    CHECK_INT(count(), 0);
}

/* Names are stored in fixed fields: a longer one must be refused, not cut to another name. */
TEST(bad_session_names_rejected)
{
    setup();
    static const char *bad[] = {"", "../x", ".hidden", "a b",
                                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gl_err e = {{0}, {0}};
        if (reg(A, bad[i], "lights", 1000, &e))
            GL_FAILF("accepted session \"%s\"", bad[i]);
        CHECK_STR(e.code, "bad_request");
    }
    CHECK_INT(count(), 0);
    gl_err e;
    CHECK(reg(A, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "f", 1000, &e) != NULL);
}

TEST(max_tools_cap)
{
    setup();
    gl_err e;
    char name[32];
    for (int i = 0; i < 1024; i++) {
        snprintf(name, sizeof name, "f%d", i);
        if (!reg(i % 2 ? A : B, "s1", name, 1000, &e))
            GL_FAILF("registration %d refused: %s", i, e.msg);
    }
    CHECK(reg(A, "s1", "one_more", 1000, &e) == NULL);
    CHECK_STR(e.code, "busy");
    CHECK_CONTAINS(e.msg, "1024");
    CHECK_INT(count(), 1024);
    CHECK(reg(A, "s1", "f1", 2000, &e) != NULL); /* replacing is not adding */
    CHECK_INT(gld_tools_unregister(&D, A, "s1", "f1", &e), 0);
    CHECK(reg(A, "s1", "one_more", 1000, &e) != NULL); /* room again */
}

TEST(info_lists_registrations)
{
    setup();
    gl_err e;
    CHECK(reg(C, "*", "lights", 1500, &e) != NULL);
    json_t *info = gld_tools_info(&D, getuid());
    CHECK_STR(js(info), "[{\"client\":3,\"name\":\"lights\",\"session\":\"*\",\"timeout_ms\":1500}]");
    json_decref(info);
}

TEST(free_all_empties)
{
    setup();
    gl_err e;
    CHECK(reg(A, "s1", "lights", 1000, &e) != NULL);
    CHECK(reg(B, "*", "fan", 1000, &e) != NULL);
    gld_tools_free_all(&D);
    CHECK(D.tools == NULL);
    CHECK(gld_tools_find(&D, "s1", mine(), "lights") == NULL);
}

/* The double itself, which session and dispatch tests rely on too. */
TEST(fake_ipc_records_lines)
{
    ipc_client *c = fake_ipc_client_new(7);
    CHECK_INT(ipc_client_id(c), 7);
    CHECK_STR(fake_ipc_output(c), "");
    CHECK_INT(ipc_send(c, "{\"a\":1}\n", 8), 0);
    CHECK_INT(ipc_send(c, "{\"b\":2}\n", 8), 0);
    CHECK_STR(fake_ipc_output(c), "{\"a\":1}\n{\"b\":2}\n");
    fake_ipc_clear(c);
    CHECK_STR(fake_ipc_output(c), "");
    for (int i = 0; i < 1000; i++)
        CHECK_INT(ipc_send(c, "0123456789\n", 11), 0);
    CHECK_INT(strlen(fake_ipc_output(c)), 11000);
    CHECK_STR(fake_ipc_output(c) + 10989, "0123456789\n");
    fake_ipc_clear(c);
    ipc_stats st;
    ipc_get_stats(NULL, &st);
    CHECK(st.clients >= 1);
    int x;
    ipc_client_set_data(c, &x);
    CHECK(ipc_client_data(c) == &x);
    CHECK(!fake_ipc_closed(c));
    ipc_client_close(c, true);
    CHECK(fake_ipc_closed(c));
    CHECK_INT(ipc_send(c, "{}\n", 3), -1);
    CHECK_STR(fake_ipc_output(c), "");
    gl_err e;
    CHECK(ipc_start(NULL, NULL, NULL, NULL, &e) == NULL);
    fake_ipc_client_free(c);
}

TEST(handlers_serve_only_sessions_their_uid_may_use)
{
    setup();
    gl_err e;
    fake_ipc_set_uid(A, 1000);
    fake_ipc_set_uid(B, 1001);
    fake_ipc_set_uid(C, 0);
    gld_tool *a = reg(A, "s1", "lights", 1000, &e);
    gld_tool *b = reg(B, "s1", "lights", 1000, &e); /* another uid: no tool_exists, no leak */
    CHECK(a && b);
    gld_tool *bany = reg(B, "*", "fan", 1000, &e);
    gld_tool *cany = reg(C, "*", "fan", 1000, &e);
    CHECK(bany && cany);
    gld_access s1_of_1000 = {.owner = 1000}, s1_shared = {.owner = 1000, .shared = true};
    CHECK(gld_tools_find(&D, "s1", &s1_of_1000, "lights") == a);
    CHECK(gld_tools_find(&D, "s1", &s1_shared, "lights") == a); /* the owner's first */
    gld_access s1_of_1002 = {.owner = 1002};
    CHECK(gld_tools_find(&D, "s1", &s1_of_1002, "lights") == NULL);
    /* "*": only the owner's or, shared, anyone's; root's "*" takes no one's calls */
    CHECK(gld_tools_find(&D, "s1", &s1_of_1000, "fan") == NULL);
    gld_access s2_of_1001 = {.owner = 1001};
    CHECK(gld_tools_find(&D, "s2", &s2_of_1001, "fan") == bany);
    CHECK(gld_tools_find(&D, "s1", &s1_shared, "fan") != NULL);
    /* root naming a session serves it */
    gld_tool *c = reg(C, "s3", "lamp", 1000, &e);
    gld_access s3_of_1000 = {.owner = 1000};
    CHECK(gld_tools_find(&D, "s3", &s3_of_1000, "lamp") == c);
    /* declarations for a new session: only from handlers that may serve it */
    json_t *arr = gld_tools_declarations_for(&D, "s1", &s1_of_1002);
    CHECK_INT(json_array_size(arr), 0);
    json_decref(arr);
    arr = gld_tools_declarations_for(&D, "s1", &s1_of_1000);
    CHECK_INT(json_array_size(arr), 1);
    json_decref(arr);
    /* status shows one's own registrations; root sees all */
    json_t *info = gld_tools_info(&D, 1001);
    CHECK_INT(json_array_size(info), 2);
    json_decref(info);
    info = gld_tools_info(&D, 0);
    CHECK_INT(json_array_size(info), 5);
    json_decref(info);
    /* unregistering another uid's registration: as if there were none */
    CHECK_INT(gld_tools_unregister(&D, B, "s3", "lamp", &e), -1);
    CHECK_CONTAINS(e.msg, "this connection serves no function lamp");
    CHECK_INT(gld_tools_unregister(&D, B, "s1", "lights", &e), 0);
    CHECK(gld_tools_find(&D, "s1", &s1_of_1000, "lights") == a);
}
