/* Unit tests of daemon/config.c: defaults, the range of every numeric option (command line and
 * config file), the API key never from argv, and SIGHUP reload, without a daemon. */
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "tests/unit/testlib.h"

/* ---- helpers ---------------------------------------------------------------------------- */

static char DIR_[] = "/tmp/gld-test-config-XXXXXX";

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(p);
}

static void rm_dir(void) { nftw(DIR_, rm_entry, 8, FTW_DEPTH | FTW_PHYS); }

__attribute__((constructor)) static void make_dir(void)
{
    if (!mkdtemp(DIR_)) {
        perror("mkdtemp");
        exit(1);
    }
    atexit(rm_dir);
}

/* Writes text to a new file in the temp dir; the path stays valid for the whole run. */
static const char *write_conf(const char *text)
{
    static char paths[64][sizeof DIR_ + 32];
    static int n;
    char *p = paths[n % 64];
    snprintf(p, sizeof paths[0], "%s/conf%d.json", DIR_, n++);
    FILE *f = fopen(p, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(p);
        exit(1);
    }
    return p;
}

/* gld_config_load on defaults with argv = "gliveD" + the list. */
static int load_list(gld_config *c, gl_err *e, const char *const *list)
{
    char *argv[64] = {"gliveD"};
    int n = 1;
    while (list[n - 1] && n < 63) {
        argv[n] = (char *)list[n - 1];
        n++;
    }
    argv[n] = NULL;
    gld_config_defaults(c);
    memset(e, 0, sizeof *e);
    return gld_config_load(c, n, argv, e);
}
#define LOAD(c, e, ...) load_list((c), (e), (const char *[]){__VA_ARGS__, NULL})
#define LOAD0(c, e) load_list((c), (e), (const char *[]){NULL})

/* --help and --version print to stdout: keep them out of the PASS/FAIL lines. */
static int load_quiet(gld_config *c, gl_err *e, const char *opt)
{
    fflush(stdout);
    int saved = dup(1), null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    int rc = LOAD(c, e, opt);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(null);
    return rc;
}

/* Every numeric option, its range as typed, just outside it, and the stored value at both ends
 * (ms for seconds). `with` keeps backoff-min <= backoff-max true at the ends of the range. */
struct num_case {
    const char *name, *min, *max, *below, *above;
    size_t off, size;
    unsigned long long min_v, max_v;
    bool secs;
    const char *with, *with_val;
};
#define F(f) offsetof(gld_config, f), sizeof(((gld_config *)0)->f)
static const struct num_case NUMS[] = {
    {"max-line", "1024", "67108864", "1023", "67108865", F(max_line), 1024, 67108864, false, NULL, NULL},
    {"max-output", "65536", "1073741824", "65535", "1073741825", F(max_output), 65536, 1073741824, false, NULL, NULL},
    {"max-clients", "1", "65536", "0", "65537", F(max_clients), 1, 65536, false, NULL, NULL},
    {"max-message", "4096", "268435456", "4095", "268435457", F(max_message), 4096, 268435456, false, NULL, NULL},
    {"max-queue", "1", "10000", "0", "10001", F(max_queue), 1, 10000, false, NULL, NULL},
    {"ping-interval", "0.1", "3600", "0.099", "3600.001", F(ping_interval_ms), 100, 3600000, true, NULL, NULL},
    {"pong-timeout", "0.1", "3600", "0.099", "3600.001", F(pong_timeout_ms), 100, 3600000, true, NULL, NULL},
    {"read-coalesce", "0", "0.1", "-0.001", "0.101", F(read_coalesce_ms), 0, 100, true, NULL, NULL},
    {"backoff-min", "0.01", "3600", "0.009", "3600.001", F(backoff_min_ms), 10, 3600000, true, "backoff-max", "3600"},
    {"backoff-max", "0.01", "3600", "0.009", "3600.001", F(backoff_max_ms), 10, 3600000, true, "backoff-min", "0.01"},
    {"tool-timeout", "0.01", "86400", "0.009", "86400.001", F(tool_timeout_ms), 10, 86400000, true, NULL, NULL},
    {"code-timeout", "1", "3600", "0.999", "3600.001", F(code_timeout_ms), 1000, 3600000, true, NULL, NULL},
};
#define NNUMS (sizeof NUMS / sizeof NUMS[0])

static unsigned long long field(const gld_config *c, const struct num_case *k)
{
    const char *p = (const char *)c + k->off;
    return k->size == sizeof(size_t) ? *(const size_t *)p : *(const unsigned *)p;
}

/* Loads "--NAME VALUE" (plus the case's companion option). */
static int load_num(gld_config *c, gl_err *e, const struct num_case *k, const char *value)
{
    char opt[64], with[64];
    snprintf(opt, sizeof opt, "--%s", k->name);
    snprintf(with, sizeof with, "--%s", k->with ? k->with : "log-level");
    return LOAD(c, e, opt, value, with, k->with ? k->with_val : "info");
}

/* Loads a config file {"NAME": json_value} (plus the companion). */
static int load_num_file(gld_config *c, gl_err *e, const struct num_case *k, const char *json_value)
{
    char text[256];
    snprintf(text, sizeof text, "{\"%s\": %s, \"%s\": %s}", k->name, json_value,
             k->with ? k->with : "log-level", k->with ? k->with_val : "\"info\"");
    return LOAD(c, e, "--config", write_conf(text));
}

/* The error names the option, the range and the value. */
#define CHECK_NUM_ERR(e, k, value)                                                               \
    do {                                                                                         \
        CHECK_STR((e).code, "bad_config");                                                       \
        CHECK_CONTAINS((e).msg, (k)->name);                                                      \
        CHECK_CONTAINS((e).msg, (k)->min);                                                       \
        CHECK_CONTAINS((e).msg, (k)->max);                                                       \
        CHECK_CONTAINS((e).msg, value);                                                          \
    } while (0)

/* ---- defaults ----------------------------------------------------------------------------- */

TEST(defaults)
{
    gld_config c;
    gl_err e;
    CHECK_INT(LOAD0(&c, &e), 0);
    CHECK_STR(c.endpoint, "wss://generativelanguage.googleapis.com");
    CHECK_STR(c.api_version, "v1beta");
    CHECK(c.model[0] != '\0');
    CHECK(c.socket_path[0] != '\0'); /* one of the documented defaults */
    CHECK_STR(c.state_dir, "");
    CHECK_STR(c.api_key, "");
    CHECK_INT(c.log_level, GL_LOG_INFO);
    CHECK_INT(c.max_line, 1048576);
    CHECK_INT(c.max_output, 16777216);
    CHECK_INT(c.max_clients, 1024);
    CHECK_INT(c.max_message, 16777216);
    CHECK_INT(c.max_queue, 64);
    CHECK_INT(c.ping_interval_ms, 30000);
    CHECK_INT(c.pong_timeout_ms, 90000);
    CHECK_INT(c.read_coalesce_ms, 1);
    CHECK_INT(c.backoff_min_ms, 250);
    CHECK_INT(c.backoff_max_ms, 30000);
    CHECK_INT(c.tool_timeout_ms, 30000);
}

TEST(defaults_lie_within_ranges)
{
    gld_config c;
    gld_config_defaults(&c);
    for (size_t i = 0; i < NNUMS; i++) {
        unsigned long long v = field(&c, &NUMS[i]);
        if (v < NUMS[i].min_v || v > NUMS[i].max_v)
            GL_FAILF("default of %s (%llu) outside its range", NUMS[i].name, v);
    }
}

TEST(help_lists_every_range_and_default)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    gld_config_usage(f);
    fclose(f);
    static const char *want[] = {
        "--max-line BYTES  longest request line (1024..67108864, default 1048576)",
        "(65536..1073741824, default 16777216)", "(1..65536, default 1024)",
        "(4096..268435456, default 16777216)", "(1..10000, default 64)",
        "--ping-interval S  keepalive ping interval (0.1..3600, default 30)",
        "--pong-timeout S  keepalive pong timeout (0.1..3600, default 90)",
        "(0.01..3600, default 0.25)", "(0.01..3600, default 30)", "(0.01..86400, default 30)",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (!strstr(text, want[i])) {
            free(text);
            GL_FAILF("--help lacks \"%s\"", want[i]);
        }
    }
    free(text);
}

/* ---- numbers on the command line ------------------------------------------------------------ */

TEST(argv_number_at_min_accepted)
{
    for (size_t i = 0; i < NNUMS; i++) {
        gld_config c;
        gl_err e;
        if (load_num(&c, &e, &NUMS[i], NUMS[i].min) != 0)
            GL_FAILF("--%s %s: %s", NUMS[i].name, NUMS[i].min, e.msg);
        CHECK_INT(field(&c, &NUMS[i]), NUMS[i].min_v);
    }
}

TEST(argv_number_at_max_accepted)
{
    for (size_t i = 0; i < NNUMS; i++) {
        gld_config c;
        gl_err e;
        if (load_num(&c, &e, &NUMS[i], NUMS[i].max) != 0)
            GL_FAILF("--%s %s: %s", NUMS[i].name, NUMS[i].max, e.msg);
        CHECK_INT(field(&c, &NUMS[i]), NUMS[i].max_v);
    }
}

TEST(argv_number_below_min_rejected)
{
    for (size_t i = 0; i < NNUMS; i++) {
        gld_config c;
        gl_err e;
        CHECK_INT(load_num(&c, &e, &NUMS[i], NUMS[i].below), -1);
        CHECK_NUM_ERR(e, &NUMS[i], NUMS[i].below);
    }
}

TEST(argv_number_above_max_rejected)
{
    for (size_t i = 0; i < NNUMS; i++) {
        gld_config c;
        gl_err e;
        CHECK_INT(load_num(&c, &e, &NUMS[i], NUMS[i].above), -1);
        CHECK_NUM_ERR(e, &NUMS[i], NUMS[i].above);
    }
}

/* strtoull took "-2" as 2^64-2: --max-line=-2 later overflowed the line buffer. */
TEST(argv_negative_rejected)
{
    for (size_t i = 0; i < NNUMS; i++) {
        gld_config c;
        gl_err e;
        CHECK_INT(load_num(&c, &e, &NUMS[i], "-1"), -1);
        CHECK_NUM_ERR(e, &NUMS[i], "\"-1\"");
    }
    gld_config c;
    gl_err e;
    CHECK_INT(LOAD(&c, &e, "--max-line=-2"), -1);
    CHECK_CONTAINS(e.msg, "--max-line wants a whole number of bytes in 1024..67108864, not \"-2\"");
}

TEST(argv_garbage_rejected)
{
    static const char *bad[] = {"", "12abc", "abc", " 2048", "2048 ", "+2048", "0x1000", "1e4",
                                "inf", "nan", "64k", "2048\n", "1.", "."};
    for (size_t i = 0; i < NNUMS; i++) {
        for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
            gld_config c;
            gl_err e;
            if (load_num(&c, &e, &NUMS[i], bad[j]) != -1)
                GL_FAILF("--%s \"%s\" was accepted", NUMS[i].name, bad[j]);
            CHECK_CONTAINS(e.msg, NUMS[i].name);
        }
    }
}

TEST(argv_fraction_rejected_for_integers)
{
    for (size_t i = 0; i < NNUMS; i++) {
        if (NUMS[i].secs)
            continue; /* seconds take fractions */
        gld_config c;
        gl_err e;
        char v[64];
        snprintf(v, sizeof v, "%s.5", NUMS[i].min);
        CHECK_INT(load_num(&c, &e, &NUMS[i], v), -1);
        CHECK_NUM_ERR(e, &NUMS[i], v);
        CHECK_CONTAINS(e.msg, "whole number");
    }
}

TEST(argv_overflow_rejected)
{
    static const char *huge[] = {"4294967296", "18446744073709551615", "18446744073709551616",
                                 "999999999999999999999999999999"};
    for (size_t i = 0; i < NNUMS; i++) {
        for (size_t j = 0; j < sizeof huge / sizeof huge[0]; j++) {
            gld_config c;
            gl_err e;
            if (load_num(&c, &e, &NUMS[i], huge[j]) != -1)
                GL_FAILF("--%s %s was accepted", NUMS[i].name, huge[j]);
            CHECK_NUM_ERR(e, &NUMS[i], huge[j]);
        }
    }
}

/* --backoff-min 0.0001 used to become 0 ms: a reconnect loop without delay. */
TEST(argv_seconds_rounding_to_zero_ms_rejected)
{
    for (size_t i = 0; i < NNUMS; i++) {
        if (!NUMS[i].secs)
            continue;
        gld_config c;
        gl_err e;
        CHECK_INT(load_num(&c, &e, &NUMS[i], "0.0001"), -1);
        CHECK_NUM_ERR(e, &NUMS[i], "0.0001");
        CHECK_INT(load_num(&c, &e, &NUMS[i], "0"), NUMS[i].min_v == 0 ? 0 : -1); /* 0: off */
    }
}

TEST(argv_seconds_kept_to_nearest_ms)
{
    gld_config c;
    gl_err e;
    CHECK_INT(LOAD(&c, &e, "--tool-timeout", "0.29", "--backoff-min", ".5", "--pong-timeout", "1.0004"), 0);
    CHECK_INT(c.tool_timeout_ms, 290); /* 0.29 * 1000 is 289.99999999999994 */
    CHECK_INT(c.backoff_min_ms, 500);
    CHECK_INT(c.pong_timeout_ms, 1000);
}

TEST(argv_backoff_min_above_max_rejected)
{
    gld_config c;
    gl_err e;
    CHECK_INT(LOAD(&c, &e, "--backoff-min", "2", "--backoff-max", "1"), -1);
    CHECK_CONTAINS(e.msg, "backoff-min (2 s) must not exceed backoff-max (1 s)");
    CHECK_INT(LOAD(&c, &e, "--backoff-min", "1", "--backoff-max", "1"), 0);
}

/* ---- numbers in the config file ----------------------------------------------------------- */

TEST(file_number_at_min_and_max_accepted)
{
    for (size_t i = 0; i < NNUMS; i++) {
        gld_config c;
        gl_err e;
        if (load_num_file(&c, &e, &NUMS[i], NUMS[i].min) != 0)
            GL_FAILF("\"%s\": %s: %s", NUMS[i].name, NUMS[i].min, e.msg);
        CHECK_INT(field(&c, &NUMS[i]), NUMS[i].min_v);
        if (load_num_file(&c, &e, &NUMS[i], NUMS[i].max) != 0)
            GL_FAILF("\"%s\": %s: %s", NUMS[i].name, NUMS[i].max, e.msg);
        CHECK_INT(field(&c, &NUMS[i]), NUMS[i].max_v);
    }
}

TEST(file_number_outside_range_rejected)
{
    for (size_t i = 0; i < NNUMS; i++) {
        gld_config c;
        gl_err e;
        CHECK_INT(load_num_file(&c, &e, &NUMS[i], NUMS[i].below), -1);
        CHECK_NUM_ERR(e, &NUMS[i], NUMS[i].below);
        CHECK_CONTAINS(e.msg, DIR_); /* the file is named */
        CHECK_INT(load_num_file(&c, &e, &NUMS[i], NUMS[i].above), -1);
        CHECK_NUM_ERR(e, &NUMS[i], NUMS[i].above);
    }
}

TEST(file_negative_rejected)
{
    for (size_t i = 0; i < NNUMS; i++) {
        gld_config c;
        gl_err e;
        CHECK_INT(load_num_file(&c, &e, &NUMS[i], "-2"), -1);
        CHECK_NUM_ERR(e, &NUMS[i], "not -2");
    }
}

TEST(file_garbage_rejected)
{
    static const char *bad[] = {"\"12abc\"", "\"-2\"", "\"\"", "\" 5\"", "true", "null", "[1]",
                                "{}"};
    for (size_t i = 0; i < NNUMS; i++) {
        for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
            gld_config c;
            gl_err e;
            if (load_num_file(&c, &e, &NUMS[i], bad[j]) != -1)
                GL_FAILF("\"%s\": %s was accepted", NUMS[i].name, bad[j]);
            CHECK_CONTAINS(e.msg, NUMS[i].name);
        }
    }
}

TEST(file_fraction_rejected_for_integers)
{
    gld_config c;
    gl_err e;
    CHECK_INT(LOAD(&c, &e, "--config", write_conf("{\"max-line\": 2048.5}")), -1);
    CHECK_CONTAINS(e.msg, "\"max-line\" wants a whole number of bytes in 1024..67108864, not 2048.5");
    CHECK_INT(LOAD(&c, &e, "--config", write_conf("{\"max-queue\": \"5.5\"}")), -1);
    CHECK_CONTAINS(e.msg, "\"max-queue\"");
}

/* JSON writers may spell 2048 as 2048.0: a whole number all the same. */
TEST(file_integral_real_accepted)
{
    gld_config c;
    gl_err e;
    CHECK_INT(LOAD(&c, &e, "--config", write_conf("{\"max-line\": 2048.0, \"max-queue\": 5e1}")), 0);
    CHECK_INT(c.max_line, 2048);
    CHECK_INT(c.max_queue, 50);
}

TEST(file_number_as_string_accepted)
{
    gld_config c;
    gl_err e;
    CHECK_INT(LOAD(&c, &e, "--config", write_conf("{\"max-line\": \"2000\", \"backoff-min\": \"0.05\"}")), 0);
    CHECK_INT(c.max_line, 2000);
    CHECK_INT(c.backoff_min_ms, 50);
}

TEST(file_overflow_rejected)
{
    gld_config c;
    gl_err e;
    CHECK_INT(LOAD(&c, &e, "--config", write_conf("{\"max-output\": 18446744073709551615}")), -1);
    CHECK_STR(e.code, "bad_config"); /* jansson: too big an integer */
    CHECK_INT(LOAD(&c, &e, "--config", write_conf("{\"max-output\": 9223372036854775807}")), -1);
    CHECK_CONTAINS(e.msg, "not 9223372036854775807");
    CHECK_INT(LOAD(&c, &e, "--config", write_conf("{\"pong-timeout\": 1e400}")), -1);
}

TEST(file_string_option_wants_a_string)
{
    gld_config c;
    gl_err e;
    CHECK_INT(LOAD(&c, &e, "--config", write_conf("{\"model\": 5}")), -1);
    CHECK_CONTAINS(e.msg, "\"model\" must be a string");
    CHECK_INT(LOAD(&c, &e, "--config", write_conf("{\"log-level\": 3}")), -1);
    CHECK_CONTAINS(e.msg, "\"log-level\" must be a string");
}

TEST(file_unknown_key_and_bad_file_rejected)
{
    gld_config c;
    gl_err e;
    CHECK_INT(LOAD(&c, &e, "--config", write_conf("{\"max-lines\": 2000}")), -1);
    CHECK_CONTAINS(e.msg, "unknown setting \"max-lines\"");
    CHECK_INT(LOAD(&c, &e, "--config", write_conf("[1]")), -1);
    CHECK_CONTAINS(e.msg, "one JSON object");
    CHECK_INT(LOAD(&c, &e, "--config", write_conf("{\"max-line\": 2000, \"max-line\": 3000}")), -1);
    CHECK_INT(LOAD(&c, &e, "--config", write_conf("{broken")), -1);
    CHECK_INT(LOAD(&c, &e, "--config", "/nonexistent/gliveD.json"), -1);
    CHECK_CONTAINS(e.msg, "/nonexistent/gliveD.json");
    CHECK_INT(LOAD(&c, &e, "--config="), -1);
    CHECK_CONTAINS(e.msg, "--config");
}

TEST(argv_wins_over_file)
{
    gld_config c;
    gl_err e;
    const char *p = write_conf("{\"max-line\": 2000, \"max-queue\": 5, \"model\": \"from-file\"}");
    CHECK_INT(LOAD(&c, &e, "--max-line", "3000", "--config", p), 0);
    CHECK_INT(c.max_line, 3000);
    CHECK_INT(c.max_queue, 5);
    CHECK_STR(c.model, "from-file");
    CHECK_STR(c.config_file, p);
}

/* ---- strings and the command line's shape ------------------------------------------------- */

TEST(empty_socket_rejected)
{
    gld_config c;
    gl_err e;
    CHECK_INT(LOAD(&c, &e, "--socket", ""), -1);
    CHECK_CONTAINS(e.msg, "--socket must not be empty");
    CHECK_INT(LOAD(&c, &e, "--socket="), -1);
    CHECK_INT(LOAD(&c, &e, "--config", write_conf("{\"socket\": \"\"}")), -1);
    CHECK_CONTAINS(e.msg, "\"socket\" must not be empty");
    CHECK_INT(LOAD(&c, &e, "--socket", "/tmp/x.sock"), 0);
    CHECK_STR(c.socket_path, "/tmp/x.sock");
}

TEST(empty_model_and_api_version_rejected)
{
    gld_config c;
    gl_err e;
    CHECK_INT(LOAD(&c, &e, "--model", ""), -1);
    CHECK_INT(LOAD(&c, &e, "--api-version", ""), -1);
    CHECK_INT(LOAD(&c, &e, "--endpoint", ""), -1);
}

/* fuzz/README.md finding 3: slashes alone were accepted and failed later, in every session */
TEST(endpoint_without_a_host_rejected_at_start)
{
    gld_config c;
    gl_err e;
    CHECK_INT(LOAD(&c, &e, "--endpoint", "wss:///"), -1);
    CHECK(strstr(e.msg, "host") != NULL);
    CHECK_INT(LOAD(&c, &e, "--endpoint", "ws://"), -1);
    CHECK_INT(LOAD(&c, &e, "--endpoint", "wss://:443"), -1);
    CHECK_INT(LOAD(&c, &e, "--endpoint", "wss://h:99999"), -1);
    CHECK_INT(LOAD(&c, &e, "--endpoint", "wss://example.test:8443/"), 0);
    CHECK_STR(c.endpoint, "wss://example.test:8443");
}

TEST(too_long_string_rejected)
{
    gld_config c;
    gl_err e;
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_INT(LOAD(&c, &e, "--state-dir", big), -1);
    CHECK_CONTAINS(e.msg, "--state-dir wants 0..4095 characters, got 4999");
}

TEST(unknown_or_incomplete_option_rejected)
{
    gld_config c;
    gl_err e;
    CHECK_INT(LOAD(&c, &e, "--max-lines", "5"), -1);
    CHECK_CONTAINS(e.msg, "unknown option --max-lines");
    CHECK_INT(LOAD(&c, &e, "--max-lin", "2000"), -1); /* no prefix matching */
    CHECK_INT(LOAD(&c, &e, "--max-line"), -1);
    CHECK_CONTAINS(e.msg, "--max-line needs a value");
    CHECK_INT(LOAD(&c, &e, "-m"), -1);
    CHECK_INT(LOAD(&c, &e, "--"), -1);
}

TEST(help_and_version_return_1)
{
    gld_config c;
    gl_err e;
    CHECK_INT(load_quiet(&c, &e, "--help"), 1);
    CHECK_INT(load_quiet(&c, &e, "--version"), 1);
    CHECK_INT(LOAD(&c, &e, "--help=x"), -1);
}

/* No --api-key option, no prefix of one taken for --api-key-file, and no value echoed. */
TEST(api_key_never_from_argv)
{
    static const char *const tries[][3] = {
        {"--api-key", "SECRET-KEY", NULL}, {"--api-key=SECRET-KEY", NULL, NULL},
        {"--api-key-fil", "SECRET-KEY", NULL}, {"--api", "SECRET-KEY", NULL},
        {"SECRET-KEY", NULL, NULL}, {"--key=SECRET-KEY", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
        gld_config c;
        gl_err e;
        CHECK_INT(load_list(&c, &e, tries[i]), -1);
        CHECK(!strstr(e.msg, "SECRET"));
        CHECK_STR(c.api_key, "");
        CHECK_STR(c.api_key_file, "");
    }
    gld_config c;
    gl_err e;
    CHECK_INT(LOAD(&c, &e, "--api-key", "SECRET-KEY"), -1);
    CHECK_CONTAINS(e.msg, "never taken from the command line");
    CHECK_INT(LOAD(&c, &e, "--config", write_conf("{\"api-key\": \"SECRET-KEY\"}")), -1);
    CHECK(!strstr(e.msg, "SECRET"));
    CHECK_CONTAINS(e.msg, "api-key-file");
}

TEST(api_key_from_file)
{
    gld_config c;
    gl_err e;
    const char *p = write_conf("the-key\nignored\n");
    CHECK_INT(LOAD(&c, &e, "--api-key-file", p), 0);
    CHECK_STR(c.api_key, "");
    CHECK_INT(gld_config_find_key(&c, &e), 0);
    CHECK_STR(c.api_key, "the-key");
    CHECK_CONTAINS(c.api_key_source, p);
}

/* ---- SIGHUP reload -------------------------------------------------------------------------- */

/* Loads with a config file that the test rewrites afterwards. */
static const char *reload_path(void)
{
    static char p[sizeof DIR_ + 32];
    snprintf(p, sizeof p, "%s/reload.json", DIR_);
    return p;
}

static void rewrite(const char *text)
{
    FILE *f = fopen(reload_path(), "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        perror("reload.json");
        exit(1);
    }
}

TEST(reload_without_file_is_a_no_op)
{
    gld_config c, before;
    gl_err e;
    CHECK_INT(LOAD(&c, &e, "--max-queue", "7"), 0);
    before = c;
    CHECK_INT(gld_config_reload(&c, &e), 0);
    CHECK(memcmp(&c, &before, sizeof c) == 0);
}

TEST(reload_applies_live_settings)
{
    gld_config c;
    gl_err e;
    rewrite("{\"max-queue\": 5}");
    CHECK_INT(LOAD(&c, &e, "--config", reload_path()), 0);
    rewrite("{\"max-queue\": 9, \"model\": \"m2\", \"log-level\": \"warn\", \"backoff-min\": 0.5,"
            " \"backoff-max\": 2, \"tool-timeout\": 1.5}");
    CHECK_INT(gld_config_reload(&c, &e), 0);
    CHECK_INT(c.max_queue, 9);
    CHECK_STR(c.model, "m2");
    CHECK_INT(c.log_level, GL_LOG_WARN);
    CHECK_INT(c.backoff_min_ms, 500);
    CHECK_INT(c.backoff_max_ms, 2000);
    CHECK_INT(c.tool_timeout_ms, 1500);
    gl_log_set_level(GL_LOG_INFO);
}

/* Socket, buffers and timers of running connections change only on restart. */
TEST(reload_leaves_restart_settings)
{
    gld_config c;
    gl_err e;
    rewrite("{\"max-line\": 2000}");
    CHECK_INT(LOAD(&c, &e, "--config", reload_path()), 0);
    char sock[sizeof c.socket_path];
    snprintf(sock, sizeof sock, "%s", c.socket_path);
    rewrite("{\"max-line\": 4000, \"max-clients\": 3, \"ping-interval\": 5, \"socket\": \"/tmp/other\"}");
    CHECK_INT(gld_config_reload(&c, &e), 0);
    CHECK_INT(c.max_line, 2000);
    CHECK_INT(c.max_clients, 1024);
    CHECK_INT(c.ping_interval_ms, 30000);
    CHECK_STR(c.socket_path, sock);
}

TEST(reload_out_of_range_keeps_old_config)
{
    gld_config c, before;
    gl_err e;
    rewrite("{\"max-queue\": 5}");
    CHECK_INT(LOAD(&c, &e, "--config", reload_path()), 0);
    before = c;
    rewrite("{\"model\": \"m2\", \"max-queue\": -1}");
    CHECK_INT(gld_config_reload(&c, &e), -1);
    CHECK_CONTAINS(e.msg, "\"max-queue\" wants a whole number in 1..10000, not -1");
    CHECK_CONTAINS(e.msg, reload_path());
    CHECK(memcmp(&c, &before, sizeof c) == 0);
}

/* A bad value for a restart-only setting is still an error now, not at the next start. */
TEST(reload_checks_restart_settings_too)
{
    gld_config c, before;
    gl_err e;
    rewrite("{}");
    CHECK_INT(LOAD(&c, &e, "--config", reload_path()), 0);
    before = c;
    rewrite("{\"max-queue\": 9, \"max-line\": -2}");
    CHECK_INT(gld_config_reload(&c, &e), -1);
    CHECK_CONTAINS(e.msg, "\"max-line\"");
    CHECK(memcmp(&c, &before, sizeof c) == 0);
}

TEST(reload_backoff_min_above_max_keeps_old_config)
{
    gld_config c, before;
    gl_err e;
    rewrite("{}");
    CHECK_INT(LOAD(&c, &e, "--config", reload_path()), 0);
    before = c;
    rewrite("{\"backoff-min\": 60}");
    CHECK_INT(gld_config_reload(&c, &e), -1);
    CHECK_CONTAINS(e.msg, "must not exceed backoff-max");
    CHECK(memcmp(&c, &before, sizeof c) == 0);
}

TEST(reload_broken_or_missing_file_keeps_old_config)
{
    gld_config c, before;
    gl_err e;
    rewrite("{\"max-queue\": 5}");
    CHECK_INT(LOAD(&c, &e, "--config", reload_path()), 0);
    before = c;
    rewrite("{broken");
    CHECK_INT(gld_config_reload(&c, &e), -1);
    CHECK_CONTAINS(e.msg, reload_path());
    CHECK(memcmp(&c, &before, sizeof c) == 0);
    unlink(reload_path());
    CHECK_INT(gld_config_reload(&c, &e), -1);
    CHECK(memcmp(&c, &before, sizeof c) == 0);
}

TEST(code_exec_and_sandbox_take_their_words_only)
{
    gld_config c;
    gl_err e;
    CHECK_INT(c.code_exec = 99, 99);
    CHECK_INT(LOAD0(&c, &e), 0);
    CHECK_INT(c.code_exec, GLD_CODE_EXEC_AUTO);
    CHECK_INT(c.code_sandbox, GLD_CODE_SANDBOX_BWRAP);
    CHECK_INT(LOAD(&c, &e, "--code-exec", "off", "--code-sandbox=none"), 0);
    CHECK_INT(c.code_exec, GLD_CODE_EXEC_OFF);
    CHECK_INT(c.code_sandbox, GLD_CODE_SANDBOX_NONE);
    CHECK_INT(LOAD(&c, &e, "--code-exec", "local"), 0);
    CHECK_INT(c.code_exec, GLD_CODE_EXEC_LOCAL);
    CHECK_INT(LOAD(&c, &e, "--code-exec", "serv"), -1);
    CHECK_STR(e.msg, "--code-exec wants auto|local|server|off, not \"serv\"");
    CHECK_INT(LOAD(&c, &e, "--code-sandbox", ""), -1);
    CHECK_INT(LOAD(&c, &e, "--config", write_conf("{\"code-exec\": \"server\"}")), 0);
    CHECK_INT(c.code_exec, GLD_CODE_EXEC_SERVER);
    CHECK_INT(LOAD(&c, &e, "--config", write_conf("{\"code-exec\": 1}")), -1);
    CHECK_CONTAINS(e.msg, "must be a string");
}

TEST(api_keys_with_control_characters_or_spaces_are_refused)
{
    gld_config c;
    gl_err e;
    static const char *bad[] = {"abc\rX-Injected: 1", "abc def", "abc&x#y\x01", "k\x7f"};
    unsetenv("CREDENTIALS_DIRECTORY");
    unsetenv("GOOGLE_API_KEY");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gld_config_defaults(&c);
        setenv("GEMINI_API_KEY", bad[i], 1);
        CHECK_INT(gld_config_find_key(&c, &e), -1);
        CHECK_STR(e.code, "bad_key");
        CHECK(strstr(e.msg, bad[i]) == NULL); /* never echoed */
        CHECK_STR(c.api_key, "");
    }
    gld_config_defaults(&c);
    setenv("GEMINI_API_KEY", "AIzaSy-good_key0123", 1);
    CHECK_INT(gld_config_find_key(&c, &e), 0);
    CHECK_STR(c.api_key, "AIzaSy-good_key0123");
    unsetenv("GEMINI_API_KEY");
}

TEST(socket_group_defaults_to_glive_and_may_be_emptied)
{
    gld_config c;
    gl_err e;
    CHECK_INT(LOAD0(&c, &e), 0);
    CHECK_STR(c.socket_group, "glive");
    CHECK_INT(c.allow_uids.n, 0);
    CHECK_INT(c.allow_gids.n, 0);
    CHECK_INT(LOAD(&c, &e, "--socket-group="), 0);
    CHECK_STR(c.socket_group, "");
    CHECK_INT(LOAD(&c, &e, "--config", write_conf("{\"socket-group\": \"users\"}")), 0);
    CHECK_STR(c.socket_group, "users");
}

TEST(allow_lists_take_names_and_numbers_within_their_bound)
{
    gld_config c;
    gl_err e;
    /* root and nogroup exist on every Debian system; numbers need not exist */
    CHECK_INT(LOAD(&c, &e, "--allow-uid", " root, 1001 ,65534", "--allow-group", "nogroup,7"), 0);
    CHECK_INT(c.allow_uids.n, 3);
    CHECK_INT(c.allow_uids.id[0], 0);
    CHECK_INT(c.allow_uids.id[1], 1001);
    CHECK_INT(c.allow_uids.id[2], 65534);
    CHECK_INT(c.allow_gids.n, 2);
    CHECK_INT(c.allow_gids.id[0], 65534);
    CHECK_INT(c.allow_gids.id[1], 7);
    CHECK_INT(LOAD(&c, &e, "--allow-uid", ""), 0); /* the empty list */
    CHECK_INT(c.allow_uids.n, 0);
    CHECK_INT(LOAD(&c, &e, "--config", write_conf("{\"allow-uid\": [\"root\", 12], \"allow-group\": \"\"}")), 0);
    CHECK_INT(c.allow_uids.n, 2);
    CHECK_INT(c.allow_uids.id[1], 12);
    CHECK_INT(c.allow_gids.n, 0);
    /* bounded: 64 entries, not 65 */
    char list[65 * 8] = "";
    for (int i = 0; i < 65; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", i ? "," : "", 2000 + i);
    CHECK_INT(LOAD(&c, &e, "--allow-uid", list), -1);
    CHECK_CONTAINS(e.msg, "at most 64 entries");
    *strrchr(list, ',') = '\0';
    CHECK_INT(LOAD(&c, &e, "--allow-uid", list), 0);
    CHECK_INT(c.allow_uids.n, 64);
}

TEST(allow_lists_refuse_unknown_names_and_bad_entries)
{
    gld_config c;
    gl_err e;
    CHECK_INT(LOAD(&c, &e, "--allow-uid", "root,no-such-user-gld"), -1);
    CHECK_STR(e.code, "bad_config");
    CHECK_CONTAINS(e.msg, "--allow-uid: no user \"no-such-user-gld\"");
    CHECK_INT(LOAD(&c, &e, "--allow-group", "no-such-group-gld"), -1);
    CHECK_CONTAINS(e.msg, "--allow-group: no group \"no-such-group-gld\"");
    CHECK_INT(LOAD(&c, &e, "--allow-uid", "1,,2"), -1);
    CHECK_INT(LOAD(&c, &e, "--allow-uid", "1,"), -1);
    CHECK_INT(LOAD(&c, &e, "--allow-uid", "4294967295"), -1); /* (uid_t)-1: "no uid" */
    CHECK_INT(LOAD(&c, &e, "--allow-uid", "99999999999999999999"), -1);
    CHECK_INT(LOAD(&c, &e, "--config", write_conf("{\"allow-uid\": [true]}")), -1);
    CHECK_CONTAINS(e.msg, "entry 0 must be a name or a number");
    CHECK_INT(LOAD(&c, &e, "--config", write_conf("{\"allow-group\": 5}")), -1);
    CHECK_CONTAINS(e.msg, "must be a string");
}

/* The file is how a running daemon's settings change: a reload applies its live settings over
 * the command line's (fuzz/README.md, finding 4: by design). */
TEST(reload_applies_the_file_over_the_command_line)
{
    gld_config c;
    gl_err e;
    rewrite("{\"model\": \"a\"}");
    CHECK_INT(LOAD(&c, &e, "--config", reload_path(), "--model", "b"), 0);
    CHECK_STR(c.model, "b"); /* at start the command line wins */
    CHECK_INT(gld_config_reload(&c, &e), 0);
    CHECK_STR(c.model, "a");
}

TEST(reload_keeps_the_endpoint_as_the_start_made_it)
{
    gld_config c;
    gl_err e;
    rewrite("{}");
    CHECK_INT(LOAD(&c, &e, "--config", reload_path(), "--endpoint", "wss://example.test/"), 0);
    CHECK_INT(gld_config_reload(&c, &e), 0);
    CHECK_STR(c.endpoint, "wss://example.test"); /* the command line again, stripped again */
}
