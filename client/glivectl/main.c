/* glivectl: the command-line client of gliveD (see `glivectl --help` and proto/PROTOCOL.md):
 * the global options, the COMMANDS table and dispatch. Each command is its own cmd_*.c.
 * Exit status: 0 ok, 1 gliveD/model error, 2 usage error, 3 cannot connect to gliveD
 * (130 when `ask` is stopped by SIGINT/SIGTERM; `watch` and `tool` exit 0 then). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "client/glivectl/ask_args.h"
#include "client/glivectl/glivectl.h"
#include "client/glivectl/suggest.h"
#include "common/xalloc.h"
#include "proto/version.h"

#define DEFAULT_TIMEOUT_MS 60000

static const char USAGE[] =
    "Usage: glivectl [--socket PATH] [--timeout S] COMMAND [ARGS...]\n"
    "       glivectl --help | --version | help COMMAND | COMMAND --help\n"
    "\n"
    "Talks to gliveD, the daemon keeping Gemini Live sessions open, over its Unix socket.\n"
    "\n"
    "Global options (before COMMAND):\n"
    "  --socket PATH   gliveD's socket (default: $GLIVE_SOCKET, else $RUNTIME_DIRECTORY/gliveD.sock,\n"
    "                  else $XDG_RUNTIME_DIR/glive/gliveD.sock, else /run/glive/gliveD.sock)\n"
    "  --timeout S     give up when gliveD stays silent for S seconds: a reply, or the next event\n"
    "                  of a turn (default 60; 0 = wait forever)\n"
    "  -h, --help      show this help\n"
    "  --version       show the version\n"
    "\n"
    "Commands:\n"
    "%s"
    "\n"
    "Exit status: 0 ok, 1 gliveD or model error, 2 usage error, 3 cannot connect to gliveD.\n";

/* ---- the command table --------------------------------------------------------------------- */

static const struct command {
    const char *name;
    cmd_fn fn;
    const char *usage;
    const char *summary;
} COMMANDS[] = {
    {"ask", cmd_ask, cmd_ask_usage, "send a prompt and stream the answer"},
    {"chat", cmd_chat, cmd_chat_usage, "a conversation: one prompt per line, answers streamed"},
    {"open", cmd_open, cmd_open_usage, "open (or attach to) a session without a prompt"},
    {"close", cmd_close, cmd_close_usage, "close a session: gliveD forgets its conversation"},
    {"watch", cmd_watch, cmd_watch_usage, "print every event of a session as it arrives"},
    {"sessions", cmd_sessions, cmd_sessions_usage, "list gliveD's sessions"},
    {"status", cmd_status, cmd_status_usage, "show gliveD's status"},
    {"tool", cmd_tool, cmd_tool_usage, "serve a function: run a command for each of its calls"},
    {"talk", cmd_talk, cmd_talk_usage, "speak to a session: a WAV, stdin or the microphone; hear the answer"},
};
#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(COMMANDS[i].name, name) == 0)
            return &COMMANDS[i];
    return NULL;
}

static void print_usage(FILE *f)
{
    char list[1024] = "";
    size_t len = 0;
    for (size_t i = 0; i < NCOMMANDS && len < sizeof list; i++) {
        int n = snprintf(list + len, sizeof list - len, "  %-9s %s\n", COMMANDS[i].name,
                         COMMANDS[i].summary);
        if (n < 0)
            break;
        len += (size_t)n;
    }
    fprintf(f, USAGE, list);
}

/* An unknown command, with the closest one when it looks like a typo. */
static int unknown_command(const char *name)
{
    const char *names[NCOMMANDS + 1];
    for (size_t i = 0; i < NCOMMANDS; i++)
        names[i] = COMMANDS[i].name;
    names[NCOMMANDS] = "help";
    const char *hint = gl_suggest(name, strlen(name), names, NCOMMANDS + 1);
    if (hint)
        return usage_fail(NULL, "unknown command \"%.60s\" (did you mean \"%s\"?)", name, hint);
    return usage_fail(NULL, "unknown command \"%.60s\"", name);
}

int main(int argc, char **argv)
{
    gl_xalloc_init();
    OUT.f = stdout;
    ERR.f = stderr;
    signal(SIGPIPE, SIG_IGN); /* a closed stdout shows as a write error, not a silent death */
    globals g = {.socket = NULL, .timeout_ms = DEFAULT_TIMEOUT_MS};
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-')
            break;
        gl_err e;
        const char *val = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_usage(stdout);
            return EXIT_OK;
        } else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
            printf("glivectl %s (protocol %d)\n", GL_VERSION, GL_PROTOCOL_VERSION);
            return EXIT_OK;
        } else if (strcmp(a, "--socket") == 0 || strcmp(a, "--timeout") == 0) {
            if (i + 1 >= argc)
                return usage_fail(NULL, "option \"%s\" needs a value", a);
            val = argv[++i];
        } else if (strncmp(a, "--socket=", 9) == 0 || strncmp(a, "--timeout=", 10) == 0) {
            val = strchr(a, '=') + 1;
        } else {
            static const char *const globals_[] = {"--socket", "--timeout", "--help", "--version"};
            size_t nlen = strcspn(a, "=");
            const char *hint = gl_suggest(a, nlen, globals_, 4);
            if (hint)
                return usage_fail(NULL, "unknown option \"%.*s\" (did you mean \"%s\"?)",
                                  (int)(nlen > 60 ? 60 : nlen), a, hint);
            return usage_fail(NULL, "unknown option \"%.*s\" (global options come before the "
                              "command)", (int)(nlen > 60 ? 60 : nlen), a);
        }
        if (strncmp(a, "--socket", 8) == 0) {
            if (!*val)
                return usage_fail(NULL, "%s needs a PATH", "--socket");
            g.socket = val;
        } else if (gl_parse_timeout(val, &g.timeout_ms, &e) < 0) {
            return usage_fail(NULL, "%s", e.msg);
        }
    }
    if (i >= argc) {
        char list[256] = "";
        size_t len = 0;
        for (size_t k = 0; k < NCOMMANDS && len < sizeof list; k++) {
            int n = snprintf(list + len, sizeof list - len, "%s%s", k ? ", " : "", COMMANDS[k].name);
            if (n < 0)
                break;
            len += (size_t)n;
        }
        return usage_fail(NULL, "missing COMMAND (one of: %s)", list);
    }
    const char *name = argv[i];
    if (strcmp(name, "help") == 0) {
        const struct command *cmd = i + 1 < argc ? find_command(argv[i + 1]) : NULL;
        if (i + 1 < argc && !cmd)
            return unknown_command(argv[i + 1]);
        if (cmd)
            fputs(cmd->usage, stdout);
        else
            print_usage(stdout);
        return EXIT_OK;
    }
    const struct command *cmd = find_command(name);
    if (!cmd)
        return unknown_command(name);
    int rc = cmd->fn(&g, argc - i - 1, argv + i + 1);
    if (fflush(stdout) != 0 && rc == EXIT_OK) {
        fprintf(stderr, "glivectl: io: cannot write to stdout: %s\n", strerror(errno));
        rc = EXIT_ERR;
    }
    return rc;
}
