#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"
#include <unistd.h>
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

TEST(log_escapes_control_characters)
{
    char out[128];
    gl_log_escape("call \n[forged] line\x1b[31m\x7f ok \xc2\x9b é", out, sizeof out);
    CHECK_STR(out, "call \\x0a[forged] line\\x1b[31m\\x7f ok \\x9b é");
    gl_log_escape("abc\ndef", out, 8); /* bounded: a cut escape is dropped whole */
    CHECK_STR(out, "abc");
}

TEST(log_lines_stay_one_line)
{
    int fds[2];
    CHECK_INT(pipe(fds), 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fds[1], 2);
    gl_log_set_level(GL_LOG_INFO);
    log_info("id %s", "x\ny");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fds[1]);
    char buf[512] = {0};
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    CHECK(n > 0);
    CHECK_CONTAINS(buf, "info: id x\\x0ay\n");
    CHECK(strchr(buf, '\n') == buf + n - 1);
}

#define U8(s) gl_utf8_len((const unsigned char *)(s), sizeof(s) - 1)

TEST(utf8_len_follows_jansson_rules)
{
    CHECK_INT(U8("a"), 1);
    CHECK_INT(U8("\xc3\xa9"), 2);             /* é */
    CHECK_INT(U8("\xe2\x82\xac"), 3);         /* € */
    CHECK_INT(U8("\xf0\x9f\x98\x80"), 4);     /* U+1F600 */
    CHECK_INT(U8("\xf4\x8f\xbf\xbf"), 4);     /* U+10FFFF, the last */
    CHECK_INT(U8("\xc0\x80"), 0);             /* overlong NUL */
    CHECK_INT(U8("\xe0\x80\xaf"), 0);         /* overlong '/' */
    CHECK_INT(U8("\xed\xa0\x80"), 0);         /* a surrogate */
    CHECK_INT(U8("\xf4\x90\x80\x80"), 0);     /* past U+10FFFF */
    CHECK_INT(U8("\xe2\x82"), 0);             /* cut short */
    CHECK_INT(U8("\xc3\x28"), 0);             /* not a continuation byte */
    CHECK_INT(U8("\x80"), 0);                 /* a lone continuation byte */
}
