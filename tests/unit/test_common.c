#include "common/buf.h"
#include "common/err.h"
#include "common/hist.h"
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

TEST(hist_quantiles_are_within_a_bucket_of_the_truth)
{
    static gl_hist h;
    memset(&h, 0, sizeof h);
    CHECK_INT(gl_hist_quantile(&h, 0.99), 0);
    for (uint64_t v = 1; v <= 100000; v++) /* 1..100000: the q-quantile is q * 100000 */
        gl_hist_add(&h, v);
    CHECK_INT(h.count, 100000);
    CHECK_INT(h.max, 100000);
    const double qs[] = {0.5, 0.9, 0.99, 0.999};
    for (size_t i = 0; i < 4; i++) {
        uint64_t want = (uint64_t)(qs[i] * 100000), got = gl_hist_quantile(&h, qs[i]);
        CHECK(got >= want && got <= want + want / 32);
    }
    CHECK_INT(gl_hist_quantile(&h, 1.0), 100000);
    CHECK_INT(gl_hist_quantile(&h, 0), 1);
    /* small values are exact; huge ones land in the last bucket, max still exact */
    memset(&h, 0, sizeof h);
    gl_hist_add(&h, 7);
    CHECK_INT(gl_hist_quantile(&h, 0.5), 7);
    gl_hist_add(&h, (uint64_t)1 << 50);
    CHECK_INT(gl_hist_quantile(&h, 1.0), (uint64_t)1 << 50);
    /* every bucket's bounds: a value and its bucket's top are in the same bucket */
    for (uint64_t v = 1; v < ((uint64_t)1 << 36); v = v * 3 / 2 + 1) {
        memset(&h, 0, sizeof h);
        gl_hist_add(&h, v);
        h.max = UINT64_MAX; /* see the bucket's own top */
        uint64_t top = gl_hist_quantile(&h, 1.0);
        CHECK(top >= v && top - v <= v / 32);
    }
}
