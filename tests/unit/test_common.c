#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "tests/unit/testlib.h"

TEST(buf_respects_limit)
{
    gl_buf b;
    gl_buf_init(&b, 8);
    CHECK_INT(gl_buf_append(&b, "12345", 5), 0);
    CHECK_INT(gl_buf_append(&b, "6789", 4), -1);
    CHECK_INT(b.len, 5);
    gl_buf_consume(&b, 3);
    CHECK_INT(gl_buf_append(&b, "abcdef", 6), 0);
    CHECK_INT(b.len, 8);
    CHECK(memcmp(gl_buf_head(&b), "45abcdef", 8) == 0);
    gl_buf_free(&b);
}

TEST(redact_url_hides_key)
{
    char out[256];
    gl_redact_url("wss://h/ws/x?key=SECRET&alt=1", out, sizeof out);
    CHECK_STR(out, "wss://h/ws/x?key=***&alt=1");
    gl_redact_url("wss://h/p?a=1&access_token=tok", out, sizeof out);
    CHECK_STR(out, "wss://h/p?a=1&access_token=***");
    gl_redact_url("wss://h/p?monkey=1", out, sizeof out);
    CHECK_STR(out, "wss://h/p?monkey=1");
}

TEST(fail_fills_err)
{
    gl_err e;
    CHECK_INT(gl_fail(&e, "io", "read %s: %d", "x", 5), -1);
    CHECK_STR(e.code, "io");
    CHECK_STR(e.msg, "read x: 5");
    CHECK_INT(gl_fail(NULL, "io", "ignored"), -1);
}
