/* gliveD's settings: defaults, then the config file (--config FILE, JSON with the long option
 * names as keys, e.g. {"endpoint":"wss://127.0.0.1:8443","log-level":"debug"}), then the command
 * line. Every number has a range (see --help); a value outside it, or one that is not a plain
 * number ("-2", "1e3", "10k"), is an error naming the option, the range and the value. The API
 * key comes only from the environment or files, never from argv. */
#ifndef GLD_CONFIG_H
#define GLD_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/err.h"
#include "common/log.h"
#include "daemon/access.h"

#define GLD_DEFAULT_ENDPOINT "wss://generativelanguage.googleapis.com"

/* --allow-uid, --allow-group: uids or gids, resolved from names when the settings are read. */
typedef struct gld_id_list {
    unsigned n;
    unsigned id[GLD_MAX_ALLOW];
} gld_id_list;

/* --code-exec: where code runs for sessions that ask for code execution. */
enum gld_code_exec { GLD_CODE_EXEC_AUTO, GLD_CODE_EXEC_LOCAL, GLD_CODE_EXEC_SERVER, GLD_CODE_EXEC_OFF };
/* --code-sandbox: how gliveD runs it locally (daemon/sandbox.h). */
enum gld_code_sandbox { GLD_CODE_SANDBOX_BWRAP, GLD_CODE_SANDBOX_NONE };

typedef struct gld_config {
    char config_file[PATH_MAX];
    char socket_path[PATH_MAX];
    char endpoint[1024];
    char ca_file[PATH_MAX];
    char state_dir[PATH_MAX];
    char api_key_file[PATH_MAX];
    char socket_group[64];     /* a group name or gid; "" = none (socket mode 0600) */
    gld_id_list allow_uids;    /* also admitted: these uids... */
    gld_id_list allow_gids;    /* ...and the members of these groups (daemon/access.h) */
    char model[128];
    char api_version[16];      /* v1beta (the docs' and the seed's) */
    enum gl_log_level log_level;
    size_t max_line;           /* request line bound (bytes) */
    size_t max_output;         /* per-client pending output bound (bytes) */
    size_t max_output_total;   /* all clients' pending output together (bytes) */
    unsigned sender_timeout_ms; /* a turn's asker its session waits for must read within this */
    unsigned max_sessions_per_uid; /* sessions one uid may have open */
    unsigned max_clients;      /* connected local clients at once */
    size_t max_message;        /* largest Live API message accepted (bytes) */
    unsigned max_queue;        /* queued prompts per session */
    unsigned ping_interval_ms; /* keepalive pings to the Live API */
    unsigned read_coalesce_ms; /* ws_client_opts.coalesce_ms; 0: off */
    unsigned pong_timeout_ms;  /* generous: real pongs have taken 8-30 s */
    unsigned backoff_min_ms;   /* reconnect delay after the first failure (then doubled, jittered) */
    unsigned backoff_max_ms;   /* reconnect delay bound */
    unsigned tool_timeout_ms;  /* default time a tool call may take */
    unsigned idle_timeout_ms;  /* an unused session closes its connection after this */
    unsigned code_exec;        /* enum gld_code_exec */
    unsigned code_sandbox;     /* enum gld_code_sandbox */
    unsigned code_timeout_ms;  /* wall-clock limit of one run_python */
    /* not settable from files: */
    char api_key[512];         /* never logged, never echoed */
    char api_key_source[PATH_MAX + 32];
} gld_config;

void gld_config_defaults(gld_config *c);
/* argv: command line (config file first if --config is given, then the other options win).
 * Returns 0, 1 if --help/--version was handled (exit 0), or -1 with err (exit 2). */
int gld_config_load(gld_config *c, int argc, char **argv, gl_err *err);
/* Re-reads the config file for SIGHUP: every setting in it is checked, only those that can
 * change live are applied (over the command line's too: the file is how a running daemon's
 * settings change); on error c is unchanged. */
int gld_config_reload(gld_config *c, gl_err *err);
/* The --help text: every option with its range and default. */
void gld_config_usage(FILE *f);
/* Looks up a user's uid or a group's gid by name (NSS): 0, or ENOENT if there is none, or the
 * error of the lookup. */
int gld_lookup_id(const char *name, bool group, unsigned *id);
/* Finds the API key: --api-key-file, $CREDENTIALS_DIRECTORY/gemini-api-key, $GEMINI_API_KEY,
 * $GOOGLE_API_KEY. Returns 0 if found, -1 if none (err says where it looked). */
int gld_config_find_key(gld_config *c, gl_err *err);

#endif
