/* A tiny unit-test harness. Each test binary registers tests with TEST(), runs them all, and prints
 * one line per test: "PASS name" or "FAIL name: file:line: what". tests/run.py counts these lines.
 * Exit status: 0 if all passed. */
#ifndef GL_TESTLIB_H
#define GL_TESTLIB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

typedef void (*gl_test_fn)(void);
struct gl_test { const char *name; gl_test_fn fn; };

static struct gl_test gl_tests[256];
static int gl_ntests;
static int gl_cur_failed;
static const char *gl_tests_current = "";

#define TEST(tname)                                                            \
    static void test_##tname(void);                                           \
    __attribute__((constructor)) static void reg_##tname(void)                \
    {                                                                          \
        gl_tests[gl_ntests].name = #tname;                                     \
        gl_tests[gl_ntests++].fn = test_##tname;                              \
    }                                                                          \
    static void test_##tname(void)

#define GL_FAILF(...)                                                          \
    do {                                                                       \
        if (!gl_cur_failed) {                                                  \
            printf("FAIL %s: %s:%d: ", gl_tests_current, __FILE__, __LINE__);  \
            printf(__VA_ARGS__);                                               \
            printf("\n");                                                      \
        }                                                                      \
        gl_cur_failed = 1;                                                     \
        return;                                                                \
    } while (0)

#define CHECK(cond)                                                            \
    do { if (!(cond)) GL_FAILF("CHECK(%s)", #cond); } while (0)
#define CHECK_INT(a, b)                                                        \
    do { long long _a = (long long)(a), _b = (long long)(b);                  \
         if (_a != _b) GL_FAILF("%s == %lld, expected %lld", #a, _a, _b); } while (0)
#define CHECK_STR(a, b)                                                        \
    do { const char *_a = (a), *_b = (b);                                      \
         if (!_a || !_b || strcmp(_a, _b) != 0)                                \
             GL_FAILF("%s == \"%s\", expected \"%s\"", #a, _a ? _a : "(null)", _b ? _b : "(null)"); \
    } while (0)
#define CHECK_CONTAINS(hay, needle)                                            \
    do { const char *_h = (hay), *_n = (needle);                               \
         if (!_h || !strstr(_h, _n))                                           \
             GL_FAILF("%s == \"%s\" lacks \"%s\"", #hay, _h ? _h : "(null)", _n); } while (0)

int main(int argc, char **argv)
{
    gl_xalloc_init(); /* as every program does: jansson allocates through gl_xmalloc */
    int failed = 0;
    for (int i = 0; i < gl_ntests; i++) {
        if (argc > 1 && strcmp(argv[1], gl_tests[i].name) != 0)
            continue;
        gl_tests_current = gl_tests[i].name;
        gl_cur_failed = 0;
        gl_tests[i].fn();
        if (gl_cur_failed)
            failed++;
        else
            printf("PASS %s\n", gl_tests[i].name);
        fflush(stdout);
    }
    return failed ? 1 : 0;
}

#endif
