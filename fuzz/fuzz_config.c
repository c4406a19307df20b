/* libFuzzer target: gliveD's settings (daemon/config.c): gld_config_load on a fuzzed command
 * line and config file, then gld_config_reload (SIGHUP) of the same file.
 *
 * Input: pieces separated by NUL bytes. The first piece is the config file's content (written
 * to "c.json" in a private scratch directory); the other pieces are argv[1..] (argv[0] is
 * "gliveD"). A command line must name the file itself ("--config c.json"), as the seeds do; a
 * --config value is a name in the scratch directory (the harness puts the directory in front),
 * and one with a '/' is skipped, so the fuzzer cannot make the loader read /dev/zero or a FIFO
 * (endless input is not the loader's bug).
 * Contracts checked (abort = reported as a crash), from daemon/config.h: load returns 0, 1 or
 * -1; -1 always comes with a message; after 0, every number is inside its documented range, the
 * strings are NUL-terminated and the endpoint is a ws:// or wss:// URL with a host (the sessions'
 * parser takes it) and no final '/'. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "daemon/config.h"
#include "fuzz/fuzz.h"
#include "transport/url.h"

#define MAX_ARGS 32

/* tmpfs: the file is rewritten on every run. */
static char dir[] = "/dev/shm/fuzz_config.XXXXXX";

static void remove_scratch(void)
{
    char path[sizeof dir + 16];
    snprintf(path, sizeof path, "%s/c.json", dir);
    unlink(path);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    gl_xalloc_init();
    /* A private scratch directory for the config file; --help/--version print to stdout, which
     * nobody reads here. The environment is fixed: the socket path default comes from it. */
    if (!mkdtemp(dir)) {
        perror("fuzz_config: scratch directory");
        abort();
    }
    atexit(remove_scratch);
    if (!freopen("/dev/null", "w", stdout))
        abort();
    setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
    unsetenv("GLIVE_SOCKET");
    unsetenv("RUNTIME_DIRECTORY");
    return 0;
}

static bool nul_terminated(const char *s, size_t n) { return memchr(s, '\0', n) != NULL; }

static void check_config(const gld_config *c)
{
    CHECK(nul_terminated(c->config_file, sizeof c->config_file));
    CHECK(nul_terminated(c->socket_path, sizeof c->socket_path) && c->socket_path[0]);
    CHECK(nul_terminated(c->endpoint, sizeof c->endpoint));
    /* "--endpoint wss:///" once passed and became "wss:" (fuzz/README.md, finding 3) */
    gl_url url;
    gl_err uerr;
    CHECK(!strncmp(c->endpoint, "ws://", 5) || !strncmp(c->endpoint, "wss://", 6));
    CHECK(c->endpoint[strlen(c->endpoint) - 1] != '/');
    CHECK(gl_url_parse(c->endpoint, &url, &uerr) == 0);
    CHECK(nul_terminated(c->model, sizeof c->model) && c->model[0]);
    CHECK(nul_terminated(c->api_version, sizeof c->api_version) && c->api_version[0]);
    CHECK(nul_terminated(c->ca_file, sizeof c->ca_file));
    CHECK(nul_terminated(c->state_dir, sizeof c->state_dir));
    CHECK(nul_terminated(c->api_key_file, sizeof c->api_key_file));
    CHECK(c->log_level <= GL_LOG_DEBUG);
    /* The ranges of --help (daemon/config.c's table). */
    CHECK(c->max_line >= 1024 && c->max_line <= 64u << 20);
    CHECK(c->max_output >= 64 * 1024 && c->max_output <= 1024ull << 20);
    CHECK(c->max_clients >= 1 && c->max_clients <= 65536);
    CHECK(c->max_message >= 4096 && c->max_message <= 256u << 20);
    CHECK(c->max_queue >= 1 && c->max_queue <= 10000);
    CHECK(c->ping_interval_ms >= 100 && c->ping_interval_ms <= 3600000);
    CHECK(c->pong_timeout_ms >= 100 && c->pong_timeout_ms <= 3600000);
    CHECK(c->backoff_min_ms >= 10 && c->backoff_min_ms <= c->backoff_max_ms &&
          c->backoff_max_ms <= 3600000);
    CHECK(c->tool_timeout_ms >= 10 && c->tool_timeout_ms <= 86400000);
    CHECK(c->code_exec <= GLD_CODE_EXEC_OFF && c->code_sandbox <= GLD_CODE_SANDBOX_NONE);
    CHECK(c->code_timeout_ms >= 1000 && c->code_timeout_ms <= 3600000);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy with a NUL at the end, cut into pieces in place. */
    char *buf = gl_xmalloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *argv[MAX_ARGS + 2] = {"gliveD"};
    int argc = 1;
    const char *file = buf;
    size_t file_len = strlen(buf);
    for (char *p = buf + file_len; p < buf + size && argc <= MAX_ARGS; p += strlen(p)) {
        argv[argc++] = ++p;
    }
    argv[argc] = NULL;
    /* --config names a file in the scratch directory: its value gets the directory in front. */
    char *owned[MAX_ARGS + 2] = {NULL};
    for (int i = 1; i < argc; i++) {
        int at = !strncmp(argv[i], "--config=", 9) ? i : !strcmp(argv[i], "--config") && i + 1 < argc ? i + 1 : 0;
        if (!at)
            continue;
        const char *v = at == i ? argv[i] + 9 : argv[at];
        if (strchr(v, '/')) {
            for (int j = 0; j < argc; j++)
                free(owned[j]);
            free(buf);
            return 0;
        }
        size_t n = strlen(dir) + strlen(v) + 16;
        owned[at] = gl_xmalloc(n);
        snprintf(owned[at], n, "%s%s/%s", at == i ? "--config=" : "", dir, v);
        argv[at] = owned[at];
        i = at;
    }
    char path[sizeof dir + 16];
    snprintf(path, sizeof path, "%s/c.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f);
    CHECK(fwrite(file, 1, file_len, f) == file_len);
    CHECK(fclose(f) == 0);

    gld_config c;
    gld_config_defaults(&c);
    gl_err err = {0};
    int rc = gld_config_load(&c, argc, argv, &err);
    CHECK(rc == 0 || rc == 1 || rc == -1);
    if (rc == -1)
        CHECK(err.code[0] && err.msg[0] && nul_terminated(err.msg, sizeof err.msg));
    if (rc == 0) {
        check_config(&c);
        /* may fail: the file's live settings go over the command line's (README, finding 4) */
        gld_config before = c;
        if (gld_config_reload(&c, &err) == 0)
            check_config(&c);
        else
            CHECK(!memcmp(&c, &before, sizeof c)); /* a refused reload changes nothing */
        CHECK(!strcmp(c.endpoint, before.endpoint)); /* not live: never from a reload */
    }
    gl_log_set_level(GL_LOG_ERROR); /* load applied --log-level: keep the run quiet */
    for (int j = 0; j < argc; j++)
        free(owned[j]);
    free(buf);
    return 0;
}
