/* Unit tests of daemon/persist.c: session records in STATE_DIR/sessions/NAME.json, in temp dirs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/persist.h"
#include "tests/unit/testlib.h"

/* ---- helpers ---------------------------------------------------------------------------- */

static char DIR_[64];      /* this test's state dir, fresh per test */
static char SESS[128];     /* DIR_/sessions */

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(p);
}

static void rm_dir(void)
{
    if (DIR_[0])
        nftw(DIR_, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    DIR_[0] = '\0';
}

__attribute__((constructor)) static void init(void)
{
    gl_log_set_level(GL_LOG_ERROR); /* "skipping" warnings are expected here */
    atexit(rm_dir);
}

/* A new empty state dir (the previous test's is removed). */
static void fresh(void)
{
    rm_dir();
    snprintf(DIR_, sizeof DIR_, "/tmp/gld-test-persist-XXXXXX");
    if (!mkdtemp(DIR_)) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(SESS, sizeof SESS, "%s/sessions", DIR_);
}

static json_t *J(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    if (!v) {
        fprintf(stderr, "bad test JSON %s: %s\n", text, je.text);
        abort();
    }
    return v;
}

static int write_text(const char *text, gl_err *e)
{
    json_t *rec = J(text);
    const char *name = json_string_value(json_object_get(rec, "name"));
    int rc = gld_persist_write(DIR_, name, rec, e);
    json_decref(rec);
    return rc;
}

/* Contents of DIR_/sessions/file, or "" if it cannot be read (static buffer). */
static const char *slurp(const char *file)
{
    static char buf[4096];
    char p[256];
    snprintf(p, sizeof p, "%s/%s", SESS, file);
    buf[0] = '\0';
    FILE *f = fopen(p, "r");
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

/* Creates DIR_/sessions/file with text (the dir too). */
static void plant(const char *file, const char *text)
{
    mkdir(SESS, 0700);
    char p[256];
    snprintf(p, sizeof p, "%s/%s", SESS, file);
    FILE *f = fopen(p, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(p);
        exit(1);
    }
}

/* The names in DIR_/sessions, sorted, space-separated (static buffer). */
static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static const char *listing(void)
{
    static char out[1024];
    char *names[64];
    int n = 0;
    DIR *d = opendir(SESS);
    struct dirent *de;
    while (d && (de = readdir(d)) && n < 64)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            names[n++] = strdup(de->d_name);
    if (d)
        closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i)
            strcat(out, " ");
        strncat(out, names[i], sizeof out - strlen(out) - 2);
        free(names[i]);
    }
    return out;
}

/* load_all's callback: the records seen, as compact sorted JSON, sorted. */
struct seen {
    int n;
    char *recs[64];
};
static void collect(const json_t *rec, void *ud)
{
    struct seen *s = ud;
    if (s->n < 64)
        s->recs[s->n++] = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
}
/* Runs load_all; returns its result, the records joined with '\n' in *out (static buffer). */
static int load(const char **out, gl_err *e)
{
    static char buf[8192];
    struct seen s = {0};
    int rc = gld_persist_load_all(DIR_, collect, &s, e);
    qsort(s.recs, (size_t)s.n, sizeof s.recs[0], cmp);
    buf[0] = '\0';
    for (int i = 0; i < s.n; i++) {
        strncat(buf, s.recs[i], sizeof buf - strlen(buf) - 2);
        strcat(buf, "\n");
        free(s.recs[i]);
    }
    *out = buf;
    return rc;
}

/* ---- tests -------------------------------------------------------------------------------- */

TEST(write_then_load_round_trip)
{
    fresh();
    gl_err e;
    const char *rec = "{\"name\":\"s1\",\"model\":\"m\",\"turns\":3,\"handle\":\"h\u00e9\","
                      "\"tools\":[{\"functionDeclarations\":[{\"name\":\"f\"}]}]}";
    CHECK_INT(write_text(rec, &e), 0);
    /* on disk: compact, keys sorted, UTF-8 */
    const char *want = "{\"handle\":\"h\xc3\xa9\",\"model\":\"m\",\"name\":\"s1\","
                       "\"tools\":[{\"functionDeclarations\":[{\"name\":\"f\"}]}],\"turns\":3}";
    CHECK_STR(slurp("s1.json"), want);
    const char *got;
    CHECK_INT(load(&got, &e), 1);
    char line[512];
    snprintf(line, sizeof line, "%s\n", want);
    CHECK_STR(got, line);
}

TEST(write_creates_private_files)
{
    fresh();
    gl_err e;
    CHECK_INT(write_text("{\"name\":\"s1\"}", &e), 0);
    struct stat st;
    char p[256];
    snprintf(p, sizeof p, "%s/s1.json", SESS);
    CHECK_INT(stat(p, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0600);
    CHECK_INT(stat(SESS, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0700);
}

TEST(write_replaces_and_leaves_no_temp_file)
{
    fresh();
    gl_err e;
    CHECK_INT(write_text("{\"name\":\"s1\",\"turns\":1}", &e), 0);
    CHECK_INT(write_text("{\"name\":\"s1\",\"turns\":2}", &e), 0);
    CHECK_STR(slurp("s1.json"), "{\"name\":\"s1\",\"turns\":2}");
    CHECK_STR(listing(), "s1.json");
    const char *got;
    CHECK_INT(load(&got, &e), 1);
    CHECK_STR(got, "{\"name\":\"s1\",\"turns\":2}\n");
}

/* The new record goes to a temp file first: if that fails, the old record is untouched. */
TEST(failed_write_keeps_old_record)
{
    fresh();
    gl_err e;
    CHECK_INT(write_text("{\"name\":\"s1\",\"turns\":1}", &e), 0);
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s/.s1.json.tmp", SESS);
    CHECK_INT(mkdir(tmp, 0700), 0); /* the temp file cannot be created */
    CHECK_INT(write_text("{\"name\":\"s1\",\"turns\":2}", &e), -1);
    CHECK_STR(e.code, "io");
    CHECK_CONTAINS(e.msg, ".s1.json.tmp");
    CHECK_STR(slurp("s1.json"), "{\"name\":\"s1\",\"turns\":1}");
}

/* What a crash between write and rename leaves behind is not a record. */
TEST(load_ignores_stale_temp_file)
{
    fresh();
    gl_err e;
    CHECK_INT(write_text("{\"name\":\"s1\",\"turns\":1}", &e), 0);
    plant(".s1.json.tmp", "{\"name\":\"s1\",\"tu");
    plant(".s2.json.tmp", "{\"name\":\"s2\"}");
    const char *got;
    CHECK_INT(load(&got, &e), 1);
    CHECK_STR(got, "{\"name\":\"s1\",\"turns\":1}\n");
    CHECK_INT(write_text("{\"name\":\"s1\",\"turns\":2}", &e), 0); /* and is overwritten */
    CHECK_STR(listing(), ".s2.json.tmp s1.json");
}

TEST(remove_deletes_record)
{
    fresh();
    gl_err e;
    CHECK_INT(write_text("{\"name\":\"s1\"}", &e), 0);
    CHECK_INT(write_text("{\"name\":\"s2\"}", &e), 0);
    CHECK_INT(gld_persist_remove(DIR_, "s1", &e), 0);
    CHECK_STR(listing(), "s2.json");
    const char *got;
    CHECK_INT(load(&got, &e), 1);
    CHECK_STR(got, "{\"name\":\"s2\"}\n");
}

TEST(remove_missing_is_ok)
{
    fresh();
    gl_err e;
    CHECK_INT(gld_persist_remove(DIR_, "never", &e), 0);
}

TEST(bad_names_rejected)
{
    fresh();
    static const char *bad[] = {"", "../evil", ".hidden", "a/b", "a b",
                                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gl_err e = {{0}, {0}};
        json_t *rec = json_pack("{s:s}", "name", bad[i]);
        CHECK_INT(gld_persist_write(DIR_, bad[i], rec, &e), -1);
        json_decref(rec);
        CHECK_STR(e.code, "bad_request");
        CHECK_INT(gld_persist_remove(DIR_, bad[i], &e), -1);
    }
    char p[256];
    snprintf(p, sizeof p, "%s/evil.json", DIR_);
    CHECK(access(p, F_OK) != 0);
    CHECK_STR(listing(), "");
}

TEST(non_object_record_rejected)
{
    fresh();
    gl_err e;
    json_t *arr = json_array();
    CHECK_INT(gld_persist_write(DIR_, "s1", arr, &e), -1);
    json_decref(arr);
    CHECK_STR(e.code, "internal");
    CHECK_STR(listing(), "");
}

TEST(load_skips_garbage_files)
{
    fresh();
    gl_err e;
    CHECK_INT(write_text("{\"name\":\"good\"}", &e), 0);
    plant("broken.json", "{\"name\":\"broken\"");
    plant("empty.json", "");
    plant("array.json", "[{\"name\":\"array\"}]");
    plant("string.json", "\"string\"");
    plant("nameless.json", "{\"model\":\"m\"}");
    plant("numname.json", "{\"name\":5}");
    plant("notes.txt", "{\"name\":\"notes\"}");
    plant("json", "{\"name\":\"json\"}");
    const char *got;
    CHECK_INT(load(&got, &e), 1);
    CHECK_STR(got, "{\"name\":\"good\"}\n");
}

/* A directory, a dangling link, a FIFO (which would block a plain open) and, unless we are root,
 * a file we may not read: each is skipped, the rest loads. */
TEST(load_skips_unreadable_files)
{
    fresh();
    gl_err e;
    CHECK_INT(write_text("{\"name\":\"good\"}", &e), 0);
    char p[256];
    snprintf(p, sizeof p, "%s/dir.json", SESS);
    CHECK_INT(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/link.json", SESS);
    CHECK_INT(symlink("/nonexistent/x.json", p), 0);
    snprintf(p, sizeof p, "%s/fifo.json", SESS);
    CHECK_INT(mkfifo(p, 0600), 0);
    if (geteuid() != 0) {
        plant("secret.json", "{\"name\":\"secret\"}");
        snprintf(p, sizeof p, "%s/secret.json", SESS);
        CHECK_INT(chmod(p, 0), 0);
    }
    const char *got;
    CHECK_INT(load(&got, &e), 1);
    CHECK_STR(got, "{\"name\":\"good\"}\n");
}

/* Restoring b from a.json would give the file's owner a session it does not name (and two
 * files could restore one session twice). */
TEST(load_skips_record_named_not_as_its_file)
{
    fresh();
    gl_err e;
    CHECK_INT(write_text("{\"name\":\"b\",\"turns\":1}", &e), 0);
    plant("a.json", "{\"name\":\"b\",\"turns\":9}");
    plant("bb.json", "{\"name\":\"b\"}");
    plant("c.json", "{\"name\":\"cc\"}");
    const char *got;
    CHECK_INT(load(&got, &e), 1);
    CHECK_STR(got, "{\"name\":\"b\",\"turns\":1}\n");
}

TEST(load_empty_and_missing_dirs)
{
    fresh();
    gl_err e;
    const char *got;
    CHECK_INT(load(&got, &e), 0); /* creates sessions/ */
    CHECK_STR(got, "");
    struct stat st;
    CHECK_INT(stat(SESS, &st), 0);
    struct seen s = {0};
    CHECK_INT(gld_persist_load_all("/nonexistent/state", collect, &s, &e), -1);
    CHECK_STR(e.code, "io");
    CHECK_CONTAINS(e.msg, "cannot create /nonexistent/state");
    CHECK_INT(s.n, 0);
}

TEST(write_into_missing_state_dir_fails)
{
    fresh();
    gl_err e;
    json_t *rec = json_pack("{s:s}", "name", "s1");
    CHECK_INT(gld_persist_write("/nonexistent/state", "s1", rec, &e), -1);
    json_decref(rec);
    CHECK_STR(e.code, "io");
}

/* ---- a state dir others can reach (issue 10) ---- */

TEST(a_state_dir_writable_by_others_is_refused)
{
    fresh();
    gl_err e;
    chmod(DIR_, 0777);
    CHECK_INT(gld_persist_check(DIR_, &e), -1);
    CHECK_STR(e.code, "unsafe_state_dir");
    CHECK_CONTAINS(e.msg, "writable by others (mode 777)");
    chmod(DIR_, 0700);
    CHECK_INT(mkdir(SESS, 0770), 0);
    chmod(SESS, 0770);
    CHECK_INT(gld_persist_check(DIR_, &e), -1);
    CHECK_CONTAINS(e.msg, "/sessions: writable by others");
    chmod(SESS, 0700);
    CHECK_INT(gld_persist_check(DIR_, &e), 0);
}

TEST(a_sessions_dir_that_is_a_link_is_refused)
{
    fresh();
    gl_err e;
    char elsewhere[160];
    snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", DIR_);
    CHECK_INT(mkdir(elsewhere, 0700), 0);
    CHECK_INT(symlink(elsewhere, SESS), 0);
    CHECK_INT(gld_persist_check(DIR_, &e), -1);
    CHECK_STR(e.code, "unsafe_state_dir");
    CHECK_CONTAINS(e.msg, "symbolic link");
}

TEST(a_state_dir_of_another_uid_is_refused)
{
    if (geteuid() != 0) /* only root can give a directory away */
        return;
    fresh();
    gl_err e;
    CHECK_INT(chown(DIR_, 65534, 65534), 0);
    CHECK_INT(gld_persist_check(DIR_, &e), -1);
    CHECK_CONTAINS(e.msg, "owned by uid 65534");
    CHECK_INT(chown(DIR_, 0, 0), 0);
}

TEST(a_planted_link_as_temp_file_is_not_followed)
{
    fresh();
    gl_err e;
    CHECK_INT(gld_persist_check(DIR_, &e), 0);
    char victim[160], tmp[200];
    snprintf(victim, sizeof victim, "%s/victim", DIR_);
    int fd = open(victim, O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0 && write(fd, "precious", 8) == 8);
    close(fd);
    snprintf(tmp, sizeof tmp, "%s/.s1.json.tmp", SESS);
    CHECK_INT(symlink(victim, tmp), 0);
    CHECK_INT(write_text("{\"name\":\"s1\",\"model\":\"m\"}", &e), 0);
    CHECK_STR(slurp("s1.json"), "{\"model\":\"m\",\"name\":\"s1\"}");
    char buf[16] = {0};
    fd = open(victim, O_RDONLY);
    CHECK(fd >= 0 && read(fd, buf, sizeof buf - 1) == 8);
    close(fd);
    CHECK_STR(buf, "precious");
}

TEST(a_planted_link_as_record_is_not_loaded)
{
    fresh();
    gl_err e;
    CHECK_INT(gld_persist_check(DIR_, &e), 0);
    char real[160], link[200];
    snprintf(real, sizeof real, "%s/planted.json", DIR_);
    int fd = open(real, O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0 && write(fd, "{\"name\":\"x\"}", 12) == 12);
    close(fd);
    snprintf(link, sizeof link, "%s/x.json", SESS);
    CHECK_INT(symlink(real, link), 0);
    struct seen s = {0};
    CHECK_INT(gld_persist_load_all(DIR_, collect, &s, &e), 0);
    CHECK_INT(s.n, 0);
}
