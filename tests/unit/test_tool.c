/* Unit tests of client/glivectl/tool_run.c: the pure parts of `glivectl tool`. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/glivectl/tool_run.h"
#include "tests/unit/testlib.h"

/* gl_tool_parse on a list of strings. o borrows from argv, so the list is copied to a static
 * array (a compound literal would not outlive the CHECK that parses). */
static char *ARGBUF[64];

static int parse_list(gl_tool_opts *o, gl_err *e, char **list)
{
    int n = 0;
    while (list[n] && n < 63) {
        ARGBUF[n] = list[n];
        n++;
    }
    ARGBUF[n] = NULL;
    return gl_tool_parse(n, ARGBUF, o, e);
}

#define PARSE(o, e, ...) parse_list((o), (e), (char *[]){__VA_ARGS__, NULL})

/* Compact, key-order-preserving JSON of v (malloc'd). */
static char *js(const json_t *v)
{
    return v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) : strdup("(null)");
}

/* The response for an outcome, as compact JSON (malloc'd). */
static char *resp(gl_tool_end end, int status, const char *out, const char *err, double timeout)
{
    gl_ring r;
    gl_ring_init(&r);
    if (err)
        gl_ring_push(&r, err, strlen(err));
    gl_tool_outcome o = {.end = end, .status = status, .out = out, .out_len = out ? strlen(out) : 0,
                         .err = &r};
    json_t *v = gl_tool_response("sh", timeout, &o);
    char *s = js(v);
    json_decref(v);
    return s;
}

static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/glive-test-tool-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) {
        free(path);
        return NULL;
    }
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    (void)n;
    return path;
}

/* ---- arguments ----------------------------------------------------------------------------- */

TEST(parse_defaults_and_command_after_dashdash)
{
    gl_tool_opts o;
    gl_err e;
    CHECK_INT(PARSE(&o, &e, "--name", "lights", "--", "sh", "-c", "echo on"), 0);
    CHECK_STR(o.session, "*");
    CHECK_STR(o.name, "lights");
    CHECK(o.description == NULL && o.parameters == NULL && !o.json && !o.help);
    CHECK(o.timeout_s == 30.0);
    CHECK_INT(o.ncommand, 3);
    CHECK_STR(o.command[0], "sh");
    CHECK_STR(o.command[1], "-c"); /* COMMAND's options are not glivectl's */
    CHECK_STR(o.command[2], "echo on");
    CHECK(o.command[3] == NULL);
}

TEST(parse_every_option_both_spellings)
{
    gl_tool_opts o;
    gl_err e;
    CHECK_INT(PARSE(&o, &e, "--session=s2", "--name", "f", "--description", "does f", "--parameters=p.json",
                    "--timeout", "2.5", "--json", "--", "./run", "--json"), 0);
    CHECK_STR(o.session, "s2");
    CHECK_STR(o.description, "does f");
    CHECK_STR(o.parameters, "p.json");
    CHECK(o.timeout_s == 2.5 && o.json);
    CHECK_INT(o.ncommand, 2);
    CHECK_STR(o.command[1], "--json");
}

TEST(parse_command_starts_at_first_non_option)
{
    gl_tool_opts o;
    gl_err e;
    CHECK_INT(PARSE(&o, &e, "--name", "f", "date", "--utc"), 0);
    CHECK_INT(o.ncommand, 2);
    CHECK_STR(o.command[0], "date");
    CHECK_STR(o.command[1], "--utc");
}

TEST(parse_errors)
{
    gl_tool_opts o;
    gl_err e;
    CHECK_INT(PARSE(&o, &e, "--", "true"), -1);
    CHECK_STR(e.code, "usage");
    CHECK_CONTAINS(e.msg, "missing --name");
    CHECK_INT(PARSE(&o, &e, "--name", "f"), -1);
    CHECK_CONTAINS(e.msg, "missing COMMAND");
    CHECK_INT(PARSE(&o, &e, "--name", "f", "--"), -1);
    CHECK_CONTAINS(e.msg, "missing COMMAND");
    CHECK_INT(PARSE(&o, &e, "--name", "f", "--", ""), -1);
    CHECK_CONTAINS(e.msg, "missing COMMAND");
    CHECK_INT(PARSE(&o, &e, "--nmae", "f", "--", "true"), -1);
    CHECK_CONTAINS(e.msg, "unknown option \"--nmae\"");
    CHECK_INT(PARSE(&o, &e, "--name", "f", "--timeout"), -1);
    CHECK_CONTAINS(e.msg, "\"--timeout\" needs a value");
    CHECK_INT(PARSE(&o, &e, "--name", "f", "--json=1", "--", "true"), -1);
    CHECK_CONTAINS(e.msg, "takes no value");
    CHECK_INT(PARSE(&o, &e, "--name", "", "--", "true"), -1);
    CHECK_CONTAINS(e.msg, "non-empty NAME");
    const char *bad_timeouts[] = {"0", "-1", "x", "", "1s", "nan", "inf", "100000"};
    for (size_t i = 0; i < sizeof bad_timeouts / sizeof *bad_timeouts; i++) {
        CHECK_INT(PARSE(&o, &e, "--name", "f", "--timeout", (char *)bad_timeouts[i], "--", "true"), -1);
        CHECK_CONTAINS(e.msg, "--timeout must be a number of seconds");
    }
    CHECK_INT(PARSE(&o, &e, "--session", "a b", "--name", "f", "--", "true"), -1);
    CHECK_CONTAINS(e.msg, "invalid character ' '");
    CHECK_CONTAINS(e.msg, "\"*\"");
}

TEST(parse_help_skips_checks)
{
    gl_tool_opts o;
    gl_err e;
    CHECK_INT(PARSE(&o, &e, "--help"), 0);
    CHECK(o.help);
    CHECK_INT(PARSE(&o, &e, "-h"), 0);
    CHECK(o.help);
}

/* ---- the register request ------------------------------------------------------------------ */

TEST(register_request_minimal)
{
    gl_tool_opts o;
    gl_err e;
    CHECK_INT(PARSE(&o, &e, "--name", "turn_on_the_lights", "--", "true"), 0);
    json_t *r = gl_tool_register_request(&o, &e);
    char *s = js(r);
    CHECK_STR(s, "{\"op\":\"tool.register\",\"session\":\"*\",\"declaration\":{\"name\":"
                 "\"turn_on_the_lights\"},\"timeout_s\":31}");
    free(s);
    json_decref(r);
}

TEST(register_request_timeout_gets_a_second_for_gliveD_within_its_bound)
{
    gl_tool_opts o;
    gl_err e;
    const char *in[] = {"0.5", "86399", "86400"};
    const char *want[] = {"1.5", "86400", "86400"};
    for (int i = 0; i < 3; i++) {
        CHECK_INT(PARSE(&o, &e, "--name", "f", "--timeout", (char *)in[i], "--", "true"), 0);
        json_t *r = gl_tool_register_request(&o, &e);
        char *s = js(json_object_get(r, "timeout_s")), got[64];
        snprintf(got, sizeof got, "%s", s);
        free(s);
        json_decref(r);
        CHECK_STR(got, want[i]);
    }
}

TEST(register_request_full)
{
    gl_tool_opts o;
    gl_err e;
    char *path = write_tmp("{\"type\":\"object\",\"properties\":{\"room\":{\"type\":\"string\"}}}\n");
    CHECK(path);
    int rc = PARSE(&o, &e, "--session", "s2", "--name", "f", "--description", "Does f.",
                   "--parameters", path, "--timeout", "1.5", "--", "true");
    json_t *r = rc == 0 ? gl_tool_register_request(&o, &e) : NULL;
    char *s = js(r);
    unlink(path);
    free(path);
    CHECK_STR(s, "{\"op\":\"tool.register\",\"session\":\"s2\",\"declaration\":{\"name\":\"f\","
                 "\"description\":\"Does f.\",\"parameters\":{\"type\":\"object\",\"properties\":"
                 "{\"room\":{\"type\":\"string\"}}}},\"timeout_s\":2.5}");
    free(s);
    json_decref(r);
}

TEST(register_request_bad_parameters_file)
{
    gl_tool_opts o;
    gl_err e;
    char *path = write_tmp("[1, 2]");
    CHECK(path);
    int rc = PARSE(&o, &e, "--name", "f", "--parameters", path, "--", "true");
    json_t *r = rc == 0 ? gl_tool_register_request(&o, &e) : NULL;
    unlink(path);
    CHECK(r == NULL);
    CHECK_STR(e.code, "usage");
    CHECK_CONTAINS(e.msg, "must hold a JSON object");
    CHECK_CONTAINS(e.msg, path);
    free(path);

    path = write_tmp("{\"type\": \"object\",,}");
    rc = PARSE(&o, &e, "--name", "f", "--parameters", path, "--", "true");
    r = rc == 0 ? gl_tool_register_request(&o, &e) : NULL;
    unlink(path);
    free(path);
    CHECK(r == NULL);
    CHECK_STR(e.code, "usage");
    CHECK_CONTAINS(e.msg, ":1:");

    CHECK_INT(PARSE(&o, &e, "--name", "f", "--parameters", "/nonexistent/p.json", "--", "true"), 0);
    CHECK(gl_tool_register_request(&o, &e) == NULL);
    CHECK_CONTAINS(e.msg, "/nonexistent/p.json");
}

/* ---- stdin and environment ----------------------------------------------------------------- */

TEST(stdin_is_compact_json_line)
{
    size_t n = 0;
    json_t *args = json_loads("{ \"room\" : \"kitchen\", \"level\": 3, \"s\": \"\\u00e9\\n\" }", 0, NULL);
    char *s = gl_tool_stdin(args, &n);
    CHECK_STR(s, "{\"room\":\"kitchen\",\"level\":3,\"s\":\"\xc3\xa9\\n\"}\n");
    CHECK_INT(n, strlen(s));
    free(s);
    json_decref(args);
    s = gl_tool_stdin(NULL, &n);
    CHECK_STR(s, "{}\n");
    CHECK_INT(n, 3);
    free(s);
    s = gl_tool_stdin(json_null(), NULL);
    CHECK_STR(s, "{}\n");
    free(s);
}

TEST(env_adds_ours_and_replaces_inherited)
{
    char *base[] = {"PATH=/bin", "GLIVE_TOOL=old", "HOME=/root", "GLIVE_CALL_ID=old",
                    "GLIVE_SESSION=old", "GLIVE_TOOLS=keep", NULL};
    char **env = gl_tool_env(base, "function-call-1", "lights", "s2");
    CHECK(env);
    const char *want[] = {"PATH=/bin", "HOME=/root", "GLIVE_TOOLS=keep", "GLIVE_CALL_ID=function-call-1",
                          "GLIVE_TOOL=lights", "GLIVE_SESSION=s2", NULL};
    for (int i = 0; want[i]; i++)
        CHECK_STR(env[i], want[i]);
    CHECK(env[6] == NULL);
    gl_tool_env_free(env);

    env = gl_tool_env(base, "id", "t", NULL);
    CHECK(env);
    CHECK_STR(env[4], "GLIVE_TOOL=t");
    CHECK(env[5] == NULL);
    gl_tool_env_free(env);
    env = gl_tool_env(NULL, "id", "t", "s");
    CHECK(env && env[3] == NULL);
    gl_tool_env_free(env);
}

/* ---- the stderr ring ----------------------------------------------------------------------- */

TEST(ring_keeps_the_last_bytes)
{
    static gl_ring r;
    char out[GL_TOOL_STDERR_TAIL];
    gl_ring_init(&r);
    CHECK_INT(gl_ring_read(&r, out), 0);
    gl_ring_push(&r, "hello ", 6);
    gl_ring_push(&r, "world", 5);
    CHECK_INT(gl_ring_read(&r, out), 11);
    CHECK(memcmp(out, "hello world", 11) == 0 && !r.dropped);

    /* 5000 bytes in odd pieces: exactly the last 2048 remain, in order */
    char all[5000];
    for (size_t i = 0; i < sizeof all; i++)
        all[i] = (char)('a' + (i * 7 + i / 26) % 26);
    gl_ring_init(&r);
    size_t off = 0, step = 1;
    while (off < sizeof all) {
        size_t n = off + step > sizeof all ? sizeof all - off : step;
        gl_ring_push(&r, all + off, n);
        off += n;
        step = step * 3 % 997 + 1;
    }
    CHECK_INT(gl_ring_read(&r, out), GL_TOOL_STDERR_TAIL);
    CHECK(memcmp(out, all + sizeof all - GL_TOOL_STDERR_TAIL, GL_TOOL_STDERR_TAIL) == 0);
    CHECK(r.dropped);

    /* one push larger than the ring */
    gl_ring_init(&r);
    gl_ring_push(&r, "x", 1);
    gl_ring_push(&r, all, sizeof all);
    CHECK_INT(gl_ring_read(&r, out), GL_TOOL_STDERR_TAIL);
    CHECK(memcmp(out, all + sizeof all - GL_TOOL_STDERR_TAIL, GL_TOOL_STDERR_TAIL) == 0);
    CHECK(r.dropped);

    /* exactly full is not "dropped" */
    gl_ring_init(&r);
    gl_ring_push(&r, all, GL_TOOL_STDERR_TAIL);
    CHECK(!r.dropped);
    CHECK_INT(gl_ring_read(&r, out), GL_TOOL_STDERR_TAIL);
    gl_ring_push(&r, "z", 1);
    CHECK(r.dropped);
    CHECK_INT(gl_ring_read(&r, out), GL_TOOL_STDERR_TAIL);
    CHECK(out[GL_TOOL_STDERR_TAIL - 1] == 'z' && out[0] == all[1]);
}

/* ---- the response -------------------------------------------------------------------------- */

TEST(response_json_object_as_is)
{
    char *s = resp(GL_TOOL_EXITED, 0, "  {\"result\": \"ok\", \"n\": [1, 2]}\n\n", "noise", 30);
    CHECK_STR(s, "{\"result\":\"ok\",\"n\":[1,2]}");
    free(s);
}

TEST(response_other_stdout_is_output)
{
    char *s = resp(GL_TOOL_EXITED, 0, "it is 12:00\n", NULL, 30);
    CHECK_STR(s, "{\"output\":\"it is 12:00\"}");
    free(s);
    s = resp(GL_TOOL_EXITED, 0, "[1, 2]\r\n\n", NULL, 30); /* JSON but not an object */
    CHECK_STR(s, "{\"output\":\"[1, 2]\"}");
    free(s);
    s = resp(GL_TOOL_EXITED, 0, "{\"a\":1} trailing", NULL, 30);
    CHECK_STR(s, "{\"output\":\"{\\\"a\\\":1} trailing\"}");
    free(s);
    s = resp(GL_TOOL_EXITED, 0, "line 1\nline 2\n", NULL, 30);
    CHECK_STR(s, "{\"output\":\"line 1\\nline 2\"}");
    free(s);
    s = resp(GL_TOOL_EXITED, 0, NULL, NULL, 30);
    CHECK_STR(s, "{\"output\":\"\"}");
    free(s);
    s = resp(GL_TOOL_EXITED, 0, "bad \xff byte \xc3", NULL, 30);
    CHECK_STR(s, "{\"output\":\"bad ? byte ?\"}");
    free(s);
}

TEST(response_stdout_with_nul_bytes)
{
    gl_tool_outcome o = {.end = GL_TOOL_EXITED, .out = "a\0b\n", .out_len = 4};
    json_t *v = gl_tool_response("x", 1, &o);
    char *s = js(v);
    CHECK_STR(s, "{\"output\":\"a\\u0000b\"}");
    free(s);
    json_decref(v);
}

TEST(response_exit_status)
{
    char *s = resp(GL_TOOL_EXITED, 3, "{\"result\":\"ok\"}", "boom\n", 30);
    CHECK_STR(s, "{\"error\":\"sh exited with status 3: boom\"}");
    free(s);
    s = resp(GL_TOOL_EXITED, 1, "", "", 30);
    CHECK_STR(s, "{\"error\":\"sh exited with status 1\"}");
    free(s);
    s = resp(GL_TOOL_EXITED, 2, "", "  \n", 30);
    CHECK_STR(s, "{\"error\":\"sh exited with status 2\"}");
    free(s);
    s = resp(GL_TOOL_EXITED, 127, "", "sh: 1: nope: not found\n", 30);
    CHECK_STR(s, "{\"error\":\"sh exited with status 127: sh: 1: nope: not found\"}");
    free(s);
}

TEST(response_signal)
{
    char *s = resp(GL_TOOL_SIGNALED, SIGSEGV, "partial", "about to crash\n", 30);
    CHECK_STR(s, "{\"error\":\"sh killed by signal SIGSEGV: about to crash\"}");
    free(s);
    s = resp(GL_TOOL_SIGNALED, SIGKILL, "", NULL, 30);
    CHECK_STR(s, "{\"error\":\"sh killed by signal SIGKILL\"}");
    free(s);
    char buf[32];
    CHECK_STR(gl_tool_signame(SIGTERM, buf, sizeof buf), "SIGTERM");
    CHECK_STR(gl_tool_signame(50, buf, sizeof buf), "signal 50");
}

TEST(response_timeout_too_big_exec)
{
    char *s = resp(GL_TOOL_TIMED_OUT, 0, "partial", "err", 1);
    CHECK_STR(s, "{\"error\":\"sh timed out after 1 s\"}");
    free(s);
    s = resp(GL_TOOL_TIMED_OUT, 0, NULL, NULL, 2.5);
    CHECK_STR(s, "{\"error\":\"sh timed out after 2.5 s\"}");
    free(s);
    s = resp(GL_TOOL_TOO_BIG, 0, NULL, NULL, 30);
    CHECK_STR(s, "{\"error\":\"sh output larger than 1 MiB\"}");
    free(s);
    s = resp(GL_TOOL_EXEC_FAILED, ENOENT, NULL, NULL, 30);
    CHECK_STR(s, "{\"error\":\"cannot run sh: No such file or directory\"}");
    free(s);
    s = resp(GL_TOOL_EXEC_FAILED, EACCES, NULL, NULL, 30);
    CHECK_STR(s, "{\"error\":\"cannot run sh: Permission denied\"}");
    free(s);
}

TEST(response_long_stderr_keeps_the_tail_at_a_character)
{
    /* "x" + 1100 x "é" (2 bytes each) + "THE END": 2208 bytes, the last 2048 start in the middle
     * of an "é"; the message starts at the next whole character */
    size_t n = 1100 * 2 + 7;
    char *err = malloc(n + 1);
    for (size_t i = 0; i < 1100; i++)
        memcpy(err + 2 * i, "\xc3\xa9", 2);
    memcpy(err + 2200, "THE END", 8);
    gl_ring r;
    gl_ring_init(&r);
    gl_ring_push(&r, "x", 1);
    gl_ring_push(&r, err, n);
    char raw[GL_TOOL_STDERR_TAIL];
    CHECK_INT(gl_ring_read(&r, raw), GL_TOOL_STDERR_TAIL);
    CHECK((unsigned char)raw[0] == 0xa9); /* the ring itself cut a character */
    gl_tool_outcome o = {.end = GL_TOOL_EXITED, .status = 4, .err = &r};
    json_t *v = gl_tool_response("cmd", 30, &o);
    const char *msg = json_string_value(json_object_get(v, "error"));
    CHECK(msg);
    CHECK(strncmp(msg, "cmd exited with status 4: ...\xc3\xa9", 31) == 0);
    CHECK(strstr(msg, "?") == NULL); /* no broken character repaired */
    size_t len = strlen(msg);
    CHECK(len > 7 && strcmp(msg + len - 7, "THE END") == 0);
    CHECK(len <= 29 + GL_TOOL_STDERR_TAIL);
    json_decref(v);
    free(err);
}

/* ---- log lines ----------------------------------------------------------------------------- */

TEST(brief_truncates_long_json)
{
    json_t *v = json_pack("{s:s}", "a", "b");
    char *s = gl_tool_brief(v, 200);
    CHECK_STR(s, "{\"a\":\"b\"}");
    free(s);
    s = gl_tool_brief(v, 5);
    CHECK_STR(s, "{\"a\":...");
    free(s);
    json_decref(v);
    s = gl_tool_brief(NULL, 10);
    CHECK_STR(s, "null");
    free(s);

    v = json_pack("{s:s}", "k", "\xc3\xa9\xc3\xa9\xc3\xa9"); /* {"k":"ééé"} */
    s = gl_tool_brief(v, 8);                                 /* byte 8 is inside the 2nd é */
    CHECK_STR(s, "{\"k\":\"\xc3\xa9...");
    free(s);
    json_decref(v);

    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    v = json_pack("{s:s}", "t", big);
    s = gl_tool_brief(v, GL_TOOL_LOG_MAX);
    CHECK_INT(strlen(s), GL_TOOL_LOG_MAX + 3);
    free(s);
    json_decref(v);
}

TEST(scheduling_from_the_option_or_the_commands_json)
{
    CHECK(gl_tool_scheduling_ok("SILENT") && gl_tool_scheduling_ok("INTERRUPT") && !gl_tool_scheduling_ok("NOW"));
    json_t *r = json_loads("{\"state\":\"on\",\"scheduling\":\"SILENT\"}", 0, NULL);
    CHECK_STR(gl_tool_take_scheduling(r, "INTERRUPT"), "SILENT");
    CHECK(json_object_get(r, "scheduling") == NULL); /* taken out of the answer */
    CHECK_STR(gl_tool_take_scheduling(r, "INTERRUPT"), "INTERRUPT");
    CHECK(gl_tool_take_scheduling(r, NULL) == NULL);
    json_decref(r);
    r = json_loads("{\"scheduling\":\"whenever\"}", 0, NULL); /* not ours: left in the answer */
    CHECK(gl_tool_take_scheduling(r, NULL) == NULL);
    CHECK(json_object_get(r, "scheduling") != NULL);
    json_decref(r);
    char a0[] = "--scheduling", a1[] = "WHEN_IDLE", a2[] = "--name", a3[] = "f", a4[] = "true";
    char *argv[] = {a0, a1, a2, a3, a4, NULL};
    gl_tool_opts o;
    gl_err e;
    CHECK_INT(gl_tool_parse(5, argv, &o, &e), 0);
    CHECK_STR(o.scheduling, "WHEN_IDLE");
    char b1[] = "LATER";
    char *bad[] = {a0, b1, a2, a3, a4, NULL};
    CHECK_INT(gl_tool_parse(5, bad, &o, &e), -1);
    CHECK_CONTAINS(e.msg, "--scheduling wants INTERRUPT, WHEN_IDLE or SILENT");
}
