#include "proto/line.h"
#include "tests/unit/testlib.h"

/* Feeds `data` (in chunks of `chunk` bytes; 0 = all at once) and appends each line or error to
 * out as "[line]" or "!code", so one string describes what the reader produced. */
static void drive(gl_line_reader *r, const char *data, size_t len, size_t chunk, char *out,
                  size_t outlen)
{
    if (!chunk)
        chunk = len ? len : 1;
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        gl_line_feed(r, data + off, n);
        const char *line;
        size_t l;
        gl_err err;
        int rc;
        while ((rc = gl_line_next(r, &line, &l, &err)) != 0) {
            size_t used = strlen(out);
            if (rc < 0)
                snprintf(out + used, outlen - used, "!%s", err.code);
            else
                snprintf(out + used, outlen - used, "[%.*s]", (int)l, line);
        }
    }
}

TEST(reader_line_split_across_feeds)
{
    gl_line_reader r;
    gl_line_reader_init(&r, 0);
    CHECK_INT(r.max, GL_LINE_MAX_DEFAULT);
    char out[256] = "";
    const char *s = "{\"op\":\"hello\"}\n{\"op\":\"list\"}\n";
    drive(&r, s, strlen(s), 1, out, sizeof out); /* one byte per feed */
    CHECK_STR(out, "[{\"op\":\"hello\"}][{\"op\":\"list\"}]");
    out[0] = '\0';
    drive(&r, "abc", 3, 0, out, sizeof out);
    CHECK_STR(out, "");
    CHECK_INT(gl_line_pending(&r), 3);
    drive(&r, "def\nx", 5, 0, out, sizeof out);
    CHECK_STR(out, "[abcdef]");
    CHECK_INT(gl_line_pending(&r), 1);
    gl_line_reader_free(&r);
}

TEST(reader_crlf_tolerated)
{
    gl_line_reader r;
    gl_line_reader_init(&r, 0);
    char out[256] = "";
    const char *s = "one\r\ntwo\nthree\r";
    drive(&r, s, strlen(s), 0, out, sizeof out);
    drive(&r, "\n", 1, 0, out, sizeof out); /* \r and \n in different feeds */
    CHECK_STR(out, "[one][two][three]");
    /* A lone \r inside a line is data. */
    out[0] = '\0';
    drive(&r, "a\rb\n", 4, 0, out, sizeof out);
    CHECK_STR(out, "[a\rb]");
    gl_line_reader_free(&r);
}

TEST(reader_many_lines_in_one_feed)
{
    gl_line_reader r;
    gl_line_reader_init(&r, 64);
    char in[4000] = "";
    for (int i = 0; i < 300; i++)
        snprintf(in + strlen(in), sizeof in - strlen(in), "%d\n", i);
    gl_line_feed(&r, in, strlen(in));
    const char *line;
    size_t len;
    gl_err err;
    int n = 0, rc;
    while ((rc = gl_line_next(&r, &line, &len, &err)) == 1) {
        char want[16];
        snprintf(want, sizeof want, "%d", n);
        CHECK_STR(line, want); /* NUL-terminated */
        CHECK_INT(len, strlen(want));
        n++;
    }
    CHECK_INT(rc, 0);
    CHECK_INT(n, 300);
    gl_line_reader_free(&r);
}

TEST(reader_blank_lines_ignored)
{
    gl_line_reader r;
    gl_line_reader_init(&r, 0);
    char out[256] = "";
    const char *s = "\n\r\n   \n\t\r\nx\n\n\ny\n";
    drive(&r, s, strlen(s), 0, out, sizeof out);
    CHECK_STR(out, "[x][y]");
    gl_line_reader_free(&r);
}

TEST(reader_over_limit_then_recovery)
{
    gl_line_reader r;
    gl_line_reader_init(&r, 16);
    char out[256] = "";
    /* 40 bytes of one line, fed 7 at a time: exactly one error, raised before the newline. */
    const char *big = "0123456789012345678901234567890123456789";
    drive(&r, big, 40, 7, out, sizeof out);
    CHECK_STR(out, "!line_too_long");
    CHECK_INT(gl_line_pending(&r), 0);
    drive(&r, "more junk", 9, 0, out, sizeof out);
    CHECK_STR(out, "!line_too_long");
    drive(&r, "tail\n{\"op\":\"x\"}\n", 16, 0, out, sizeof out);
    CHECK_STR(out, "!line_too_long[{\"op\":\"x\"}]");
    /* Over-long line whose newline comes in the same feed, between good lines. */
    out[0] = '\0';
    const char *s = "ok1\n01234567890123456789\nok2\n";
    drive(&r, s, strlen(s), 0, out, sizeof out);
    CHECK_STR(out, "[ok1]!line_too_long[ok2]");
    CHECK(r.cap <= 16 + 2);
    gl_line_reader_free(&r);
}

TEST(reader_limit_is_exact)
{
    gl_line_reader r;
    gl_line_reader_init(&r, 8);
    char out[256] = "";
    /* 8 bytes pass, with \n or \r\n; 9 bytes fail, even when the 9th arrives with the newline. */
    const char *s = "12345678\n12345678\r\n123456789\n12345678";
    drive(&r, s, strlen(s), 0, out, sizeof out);
    drive(&r, "9\r\nend\n", 7, 0, out, sizeof out);
    CHECK_STR(out, "[12345678][12345678]!line_too_long!line_too_long[end]");
    CHECK(r.cap <= 8 + 2);
    gl_line_reader_free(&r);
}

TEST(reader_memory_bounded)
{
    gl_line_reader r;
    gl_line_reader_init(&r, 1024);
    size_t chunk = 65536;
    char *junk = malloc(chunk);
    memset(junk, 'x', chunk);
    int errors = 0, lines = 0;
    for (int i = 0; i < 160; i++) { /* 10 MiB without a newline */
        gl_line_feed(&r, junk, chunk);
        const char *line;
        size_t len;
        gl_err err;
        int rc;
        while ((rc = gl_line_next(&r, &line, &len, &err)) != 0)
            rc < 0 ? errors++ : lines++;
        CHECK(r.cap <= 1024 + 2);
    }
    free(junk);
    CHECK_INT(errors, 1);
    CHECK_INT(lines, 0);
    char out[64] = "";
    drive(&r, "\nhi\n", 4, 0, out, sizeof out);
    CHECK_STR(out, "[hi]");
    gl_line_reader_free(&r);
}

TEST(reader_eof_returns_unterminated_line)
{
    gl_line_reader r;
    gl_line_reader_init(&r, 0);
    char out[64] = "";
    drive(&r, "a\n{\"op\":\"hello\"}\r", 17, 0, out, sizeof out);
    CHECK_STR(out, "[a]");
    const char *line;
    size_t len;
    CHECK_INT(gl_line_eof(&r, &line, &len), 1);
    CHECK_STR(line, "{\"op\":\"hello\"}");
    CHECK_INT(gl_line_eof(&r, &line, &len), 0);
    drive(&r, "  ", 2, 0, out, sizeof out);
    CHECK_INT(gl_line_eof(&r, &line, &len), 0); /* blank */
    gl_line_reader_free(&r);
}

TEST(req_parse_ok_and_ids)
{
    gl_req q;
    gl_err e;
    const char *s = "{\"id\":\"a1\",\"op\":\"hello\"}";
    CHECK_INT(gl_req_parse(s, strlen(s), &q, &e), 0);
    CHECK_STR(q.op, "hello");
    CHECK_STR(json_string_value(q.id), "a1");
    gl_req_free(&q);

    s = "{\"op\":\"list\",\"id\":42}";
    CHECK_INT(gl_req_parse(s, strlen(s), &q, &e), 0);
    CHECK_INT(json_integer_value(q.id), 42);
    gl_req_free(&q);

    s = "{\"op\":\"list\"} trailing";
    CHECK_INT(gl_req_parse(s, 13, &q, &e), 0); /* only len bytes are read */
    CHECK(q.id == NULL);
    gl_req_free(&q);

    s = "{\"op\":\"list\",\"id\":null}";
    CHECK_INT(gl_req_parse(s, strlen(s), &q, &e), 0);
    CHECK(q.id && json_is_null(q.id));
    gl_req_free(&q);
    gl_req_free(&q); /* idempotent */
}

TEST(req_bad_json)
{
    gl_req q;
    gl_err e;
    const char *s = "{\"op\":\"hello\",}";
    CHECK_INT(gl_req_parse(s, strlen(s), &q, &e), -1);
    CHECK_STR(e.code, "bad_json");
    CHECK_STR(e.msg, "invalid JSON at column 15: string or '}' expected near '}'");
    CHECK(q.root == NULL && q.op == NULL && q.id == NULL);
    gl_req_free(&q);

    s = "{\"op\":\"a\",\"op\":\"b\"}";
    CHECK_INT(gl_req_parse(s, strlen(s), &q, &e), -1);
    CHECK_STR(e.code, "bad_json");
    CHECK_CONTAINS(e.msg, "duplicate object key");
    gl_req_free(&q);

    CHECK_INT(gl_req_parse("\xff", 1, &q, &e), -1);
    CHECK_STR(e.code, "bad_json");
    CHECK_STR(e.msg, "invalid JSON: unable to decode byte 0xff");
    gl_req_free(&q);

    CHECK_INT(gl_req_parse("{\"op\":\"x\"} {}", 13, &q, &e), -1);
    CHECK_STR(e.code, "bad_json");
    CHECK_CONTAINS(e.msg, "end of file expected");
    gl_req_free(&q);
}

TEST(req_bad_request_kinds)
{
    struct { const char *in, *msg; } cases[] = {
        {"[1,2]", "request must be a JSON object"},
        {"\"hello\"", "request must be a JSON object"},
        {"7", "request must be a JSON object"},
        {"{}", "missing field \"op\""},
        {"{\"op\":null}", "missing field \"op\""},
        {"{\"op\":5}", "field \"op\" must be a string"},
        {"{\"op\":\"\"}", "field \"op\" must not be empty"},
        {"{\"op\":\"x\",\"id\":[1]}", "field \"id\" must be a string, number, boolean or null"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        gl_req q;
        gl_err e;
        CHECK_INT(gl_req_parse(cases[i].in, strlen(cases[i].in), &q, &e), -1);
        CHECK_STR(e.code, "bad_request");
        CHECK_STR(e.msg, cases[i].msg);
        gl_req_free(&q);
    }
}

TEST(req_error_keeps_id_for_reply)
{
    gl_req q;
    gl_err e;
    const char *s = "{\"id\":7,\"op\":3}";
    CHECK_INT(gl_req_parse(s, strlen(s), &q, &e), -1);
    CHECK(q.root != NULL);
    CHECK_INT(json_integer_value(q.id), 7);
    char *line = gl_reply_errf(q.id, &e);
    CHECK_STR(line, "{\"id\":7,\"ok\":false,\"error\":{\"code\":\"bad_request\","
                    "\"message\":\"field \\\"op\\\" must be a string\"}}\n");
    free(line);
    gl_req_free(&q);
}

TEST(req_typed_fields)
{
    gl_req q;
    gl_err e;
    const char *s = "{\"op\":\"open\",\"session\":\"main\",\"n\":3,\"b\":true,\"o\":{\"a\":1},"
                    "\"a\":[1],\"nul\":null,\"num\":1.5,\"str\":\"x\"}";
    CHECK_INT(gl_req_parse(s, strlen(s), &q, &e), 0);

    const char *str = "default";
    CHECK_INT(gl_req_str(&q, "session", true, &str, &e), 0);
    CHECK_STR(str, "main");
    str = "default";
    CHECK_INT(gl_req_str(&q, "model", false, &str, &e), 0);
    CHECK_STR(str, "default"); /* absent + optional: untouched */
    CHECK_INT(gl_req_str(&q, "nul", false, &str, &e), 0);
    CHECK_STR(str, "default"); /* null counts as absent */
    CHECK_INT(gl_req_str(&q, "text", true, &str, &e), -1);
    CHECK_STR(e.code, "bad_request");
    CHECK_STR(e.msg, "missing field \"text\"");
    CHECK_INT(gl_req_str(&q, "nul", true, &str, &e), -1);
    CHECK_STR(e.msg, "missing field \"nul\"");
    CHECK_INT(gl_req_str(&q, "n", true, &str, &e), -1);
    CHECK_STR(e.msg, "field \"n\" must be a string");

    long long n = -1;
    CHECK_INT(gl_req_int(&q, "n", true, &n, &e), 0);
    CHECK_INT(n, 3);
    CHECK_INT(gl_req_int(&q, "num", true, &n, &e), -1);
    CHECK_STR(e.msg, "field \"num\" must be an integer");
    n = 30;
    CHECK_INT(gl_req_int(&q, "timeout", false, &n, &e), 0);
    CHECK_INT(n, 30);

    bool b = false;
    CHECK_INT(gl_req_bool(&q, "b", true, &b, &e), 0);
    CHECK(b);
    CHECK_INT(gl_req_bool(&q, "str", false, &b, &e), -1);
    CHECK_STR(e.msg, "field \"str\" must be a boolean");

    json_t *j = NULL;
    CHECK_INT(gl_req_obj(&q, "o", true, &j, &e), 0);
    CHECK(json_is_object(j));
    CHECK_INT(gl_req_obj(&q, "a", true, &j, &e), -1);
    CHECK_STR(e.msg, "field \"a\" must be an object");
    CHECK_INT(gl_req_arr(&q, "a", true, &j, &e), 0);
    CHECK(json_is_array(j));
    CHECK_INT(gl_req_arr(&q, "o", true, &j, &e), -1);
    CHECK_STR(e.msg, "field \"o\" must be an array");
    CHECK_INT(gl_req_arr(&q, "tools", true, &j, &e), -1);
    CHECK_STR(e.msg, "missing field \"tools\"");
    gl_req_free(&q);
}

TEST(session_names)
{
    gl_err e;
    CHECK(gl_session_name_ok("main", &e));
    CHECK(gl_session_name_ok("a.b_c-D9", &e));
    CHECK(gl_session_name_ok("x.", &e));
    char name[80];
    memset(name, 'a', 64);
    name[64] = '\0';
    CHECK(gl_session_name_ok(name, &e));

    struct { const char *in, *msg; } bad[] = {
        {"", "session name must not be empty"},
        {".hidden", "session name must not start with '.'"},
        {"a b", "invalid character ' ' at position 1 in session name (allowed: A-Z a-z 0-9 . _ -)"},
        {"a/b", "invalid character '/' at position 1 in session name (allowed: A-Z a-z 0-9 . _ -)"},
        {"ab\n", "invalid byte 0x0a at position 2 in session name (allowed: A-Z a-z 0-9 . _ -)"},
        {"caf\xc3\xa9", "invalid byte 0xc3 at position 3 in session name (allowed: A-Z a-z 0-9 . _ -)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(!gl_session_name_ok(bad[i].in, &e));
        CHECK_STR(e.code, "bad_request");
        CHECK_STR(e.msg, bad[i].msg);
    }
    name[64] = 'a';
    name[65] = '\0';
    CHECK(!gl_session_name_ok(name, &e));
    CHECK_STR(e.msg, "session name is longer than 64 characters");
    CHECK(!gl_session_name_ok(NULL, NULL));

    gl_req q;
    const char *s = "{\"op\":\"open\",\"session\":\"../x\"}";
    CHECK_INT(gl_req_parse(s, strlen(s), &q, &e), 0);
    const char *sess = NULL;
    CHECK_INT(gl_req_session(&q, &sess, &e), -1);
    CHECK_STR(e.msg, "session name must not start with '.'");
    CHECK(sess == NULL);
    gl_req_free(&q);
}

TEST(reply_ok_shapes)
{
    json_t *id = json_integer(1);
    char *s = gl_reply_ok(id, json_pack("{s:i}", "turn", 3));
    CHECK_STR(s, "{\"id\":1,\"ok\":true,\"turn\":3}\n");
    free(s);
    /* Reserved keys in fields cannot clobber the envelope; field order kept. */
    s = gl_reply_ok(id, json_pack("{s:s,s:b,s:i,s:i,s:i}", "z", "last?", "ok", 0, "id", 9, "b", 2,
                                  "a", 1));
    CHECK_STR(s, "{\"id\":1,\"ok\":true,\"z\":\"last?\",\"b\":2,\"a\":1}\n");
    free(s);
    json_decref(id);
    s = gl_reply_ok(NULL, NULL);
    CHECK_STR(s, "{\"id\":null,\"ok\":true}\n");
    free(s);
    id = json_string("req-\"1\"");
    s = gl_reply_ok(id, json_object());
    CHECK_STR(s, "{\"id\":\"req-\\\"1\\\"\",\"ok\":true}\n");
    free(s);
    json_decref(id);
}

TEST(reply_err_shapes)
{
    char *s = gl_reply_err(NULL, "line_too_long", "line longer than 16 bytes");
    CHECK_STR(s, "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"line_too_long\","
                 "\"message\":\"line longer than 16 bytes\"}}\n");
    free(s);
    gl_err e;
    gl_fail(&e, "no_session", "no session \"x\"");
    json_t *id = json_true();
    s = gl_reply_errf(id, &e);
    CHECK_STR(s, "{\"id\":true,\"ok\":false,\"error\":{\"code\":\"no_session\","
                 "\"message\":\"no session \\\"x\\\"\"}}\n");
    free(s);
    json_decref(id);
}

TEST(event_shapes_and_no_raw_newline)
{
    char *s = gl_event("text", "main", json_pack("{s:i,s:s,s:s}", "turn", 2, "text", "a\nb\r\n",
                                                "session", "evil"));
    CHECK_STR(s, "{\"event\":\"text\",\"session\":\"main\",\"turn\":2,\"text\":\"a\\nb\\r\\n\"}\n");
    CHECK(strchr(s, '\n') == s + strlen(s) - 1);
    free(s);
    s = gl_event("state", "s1", json_pack("{s:s}", "state", "ready"));
    CHECK_STR(s, "{\"event\":\"state\",\"session\":\"s1\",\"state\":\"ready\"}\n");
    free(s);
    s = gl_event("error", NULL, NULL);
    CHECK_STR(s, "{\"event\":\"error\"}\n");
    free(s);
}

TEST(invalid_utf8_repaired)
{
    /* A message cut mid-character (gl_err truncation) must still produce a line. */
    char *s = gl_reply_err(NULL, "io", "caf\xc3");
    CHECK_STR(s, "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"io\",\"message\":\"caf?\"}}\n");
    free(s);
    json_t *j = gl_json_text("ok \xe2\x82\xac \xed\xa0\x80!");
    CHECK_STR(json_string_value(j), "ok \xe2\x82\xac ?\?\?!");
    json_decref(j);
    j = gl_json_textn("a\0b", 3);
    CHECK_INT(json_string_length(j), 3);
    json_decref(j);
}
