/* The pure parts of `glivectl tool` (cmd_tool.c runs the loop): argument parsing, the
 * `tool.register` request, what a handler command gets (stdin, environment) and how its end
 * (exit status, stdout, stderr's tail) becomes the FunctionResponse `response` sent back with
 * `tool.result`. No I/O except reading the --parameters file.
 *
 * The response convention (what the model understands):
 *   stdout that is a JSON object (exit 0)   -> that object, as is
 *   any other stdout (exit 0)               -> {"output": "<stdout, trailing newlines trimmed>"}
 *   exit status N != 0                      -> {"error": "CMD exited with status N: <tail>"}
 *   killed by a signal                      -> {"error": "CMD killed by signal SIGSEGV: <tail>"}
 *   past --timeout (killed by glivectl)     -> {"error": "CMD timed out after S s"}
 *   more than GL_TOOL_STDOUT_MAX on stdout  -> {"error": "CMD output larger than 1 MiB"}
 *   exec failed                             -> {"error": "cannot run CMD: <strerror>"}
 * (<tail>: the end of stderr; ": <tail>" only when stderr had something.) */
#ifndef GL_CLIENT_TOOL_RUN_H
#define GL_CLIENT_TOOL_RUN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

#define GL_TOOL_DEFAULT_SESSION "*"
#define GL_TOOL_DEFAULT_TIMEOUT_S 30.0
#define GL_TOOL_MAX_TIMEOUT_S 86400.0
/* gliveD is told --timeout + this as the tool's timeout_s: glivectl kills the command at --timeout
 * and answers "CMD timed out after S s" (with what the command wrote) first; gliveD's own limit is
 * only the safety net for a glivectl that hangs. */
#define GL_TOOL_DAEMON_GRACE_S 1.0
#define GL_TOOL_STDOUT_MAX ((size_t)1 << 20) /* 1 MiB of stdout per call */
#define GL_TOOL_STDERR_TAIL 2048            /* the last 2 KiB of stderr are kept */
#define GL_TOOL_MAX_CALLS 64                /* calls running at once; more are refused */
#define GL_TOOL_LOG_MAX 200                 /* JSON shown in the [tool] log lines, in bytes */

typedef struct gl_tool_opts {
    const char *session;      /* --session NAME or "*" (default) */
    const char *name;         /* --name: the function */
    const char *description;  /* --description TEXT, or NULL */
    const char *parameters;   /* --parameters FILE (a JSON schema object), or NULL */
    double timeout_s;         /* --timeout S (default GL_TOOL_DEFAULT_TIMEOUT_S), > 0 */
    const char *scheduling;   /* --scheduling INTERRUPT|WHEN_IDLE|SILENT, or NULL: the model's */
    bool json;                /* --json */
    bool help;                /* --help / -h: nothing else is checked */
    char **command;           /* COMMAND ARGS..., NULL-terminated, borrowed from argv */
    int ncommand;
} gl_tool_opts;

/* Parses the arguments after "tool" (argv[0] is the first of them; argv[argc] must be NULL, as in
 * main's argv). Options come first ("--opt VALUE" or "--opt=VALUE"); COMMAND starts after "--" or
 * at the first argument that is not an option, and everything after it is COMMAND's own ARGS.
 * Error code "usage", e.g. `unknown option "--foo" for tool`, `missing --name NAME`,
 * `missing COMMAND (glivectl tool --name NAME -- COMMAND ARGS...)`, `--timeout must be a number of
 * seconds > 0 and <= 86400, not "x"`, or the session name's problem. */
int gl_tool_parse(int argc, char **argv, gl_tool_opts *o, gl_err *err);

/* Reads the --parameters file: a JSON object (a Gemini Schema). Error code "usage" naming the
 * file. New reference. */
json_t *gl_tool_load_parameters(const char *path, gl_err *err);

/* {"op":"tool.register","session":S,"declaration":{"name","description"?,"parameters"?},
 *  "timeout_s":T} with T = o->timeout_s + GL_TOOL_DAEMON_GRACE_S (at most GL_TOOL_MAX_TIMEOUT_S,
 * gliveD's bound too). Loads o->parameters. Error code "usage". */
json_t *gl_tool_register_request(const gl_tool_opts *o, gl_err *err);

/* What the command reads on stdin: the args as compact JSON plus "\n" ({} when args is NULL or
 * null). malloc'd, NUL-terminated; *len (may be NULL) gets the length. */
char *gl_tool_stdin(const json_t *args, size_t *len);

/* The command's environment: `base` (NULL-terminated, e.g. environ) without any GLIVE_CALL_ID,
 * GLIVE_TOOL or GLIVE_SESSION, plus GLIVE_CALL_ID=call_id, GLIVE_TOOL=tool and (if session is not
 * NULL) GLIVE_SESSION=session. NULL-terminated, every string malloc'd; free with
 * gl_tool_env_free. */
char **gl_tool_env(char *const *base, const char *call_id, const char *tool, const char *session);
void gl_tool_env_free(char **env);

/* The last GL_TOOL_STDERR_TAIL bytes of a stream, in a fixed buffer (never grows). */
typedef struct gl_ring {
    char data[GL_TOOL_STDERR_TAIL];
    size_t head;    /* where the next byte goes */
    size_t len;     /* bytes held (<= GL_TOOL_STDERR_TAIL) */
    bool dropped;   /* older bytes were pushed out */
} gl_ring;

void gl_ring_init(gl_ring *r);
void gl_ring_push(gl_ring *r, const void *data, size_t n);
/* Copies the held bytes, oldest first, to out (GL_TOOL_STDERR_TAIL bytes); returns how many. */
size_t gl_ring_read(const gl_ring *r, char *out);

/* How a command ended. */
typedef enum gl_tool_end {
    GL_TOOL_EXITED,      /* status = exit status */
    GL_TOOL_SIGNALED,    /* status = the signal */
    GL_TOOL_TIMED_OUT,   /* killed by glivectl past the timeout */
    GL_TOOL_TOO_BIG,     /* killed by glivectl: stdout passed GL_TOOL_STDOUT_MAX */
    GL_TOOL_EXEC_FAILED, /* status = errno */
} gl_tool_end;

typedef struct gl_tool_outcome {
    gl_tool_end end;
    int status;
    const char *out;          /* stdout (not NUL-terminated), may be NULL when out_len is 0 */
    size_t out_len;
    const gl_ring *err;       /* stderr's tail, may be NULL */
} gl_tool_outcome;

/* The `response` object for tool.result (see the table at the top). `command` is COMMAND as
 * given (argv[0]); timeout_s is --timeout. Text that is not valid UTF-8 is repaired ('?' per bad
 * byte). New reference; NULL only if memory is out. */
json_t *gl_tool_response(const char *command, double timeout_s, const gl_tool_outcome *o);

/* How the model takes a non-blocking call's answer: the command's own choice (a top-level
 * "scheduling" of INTERRUPT, WHEN_IDLE or SILENT in its JSON object, removed from response),
 * else `dflt` (--scheduling; may be NULL). */
const char *gl_tool_take_scheduling(json_t *response, const char *dflt);
bool gl_tool_scheduling_ok(const char *s);

/* "SIGSEGV" for SIGSEGV...; "signal 42" for others (a static or the given buffer). */
const char *gl_tool_signame(int sig, char *buf, size_t size);

/* Compact JSON of v for log lines, cut to at most `max` bytes (at a UTF-8 boundary) followed by
 * "..." when longer (NULL v: "null"). malloc'd. */
char *gl_tool_brief(const json_t *v, size_t max);

#endif
