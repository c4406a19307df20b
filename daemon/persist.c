#include "daemon/persist.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "proto/errors.h"
#include "proto/line.h"

static int sessions_dir(const char *state_dir, char *out, size_t n, gl_err *err)
{
    int w = snprintf(out, n, "%s/sessions", state_dir);
    if (w < 0 || (size_t)w >= n)
        return gl_fail(err, "io", "state dir path too long");
    if (mkdir(out, 0700) != 0 && errno != EEXIST)
        return gl_fail(err, "io", "cannot create %s: %s", out, strerror(errno));
    return 0;
}

int gld_persist_write(const char *state_dir, const char *name, const json_t *record, gl_err *err)
{
    char dir[PATH_MAX], path[PATH_MAX + 128], tmp[PATH_MAX + 128];
    if (!gl_session_name_ok(name, err) || sessions_dir(state_dir, dir, sizeof dir, err) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.json.tmp", dir, name);
    if (!json_is_object(record)) /* json_dumps would return NULL; memory cannot fail (xalloc.h) */
        return gl_fail(err, GL_E_INTERNAL, "state record for %s is not an object", name);
    char *text = json_dumps(record, JSON_COMPACT | JSON_SORT_KEYS);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = 0;
    if (fd < 0) {
        rc = gl_fail(err, "io", "cannot write %s: %s", tmp, strerror(errno));
    } else {
        size_t len = strlen(text), off = 0;
        while (off < len && rc == 0) {
            ssize_t w = write(fd, text + off, len - off);
            if (w < 0 && errno != EINTR)
                rc = gl_fail(err, "io", "cannot write %s: %s", tmp, strerror(errno));
            else if (w > 0)
                off += (size_t)w;
        }
        if (rc == 0 && fsync(fd) != 0)
            rc = gl_fail(err, "io", "fsync %s: %s", tmp, strerror(errno));
        close(fd);
        if (rc == 0 && rename(tmp, path) != 0)
            rc = gl_fail(err, "io", "rename %s: %s", tmp, strerror(errno));
        if (rc != 0)
            unlink(tmp);
    }
    free(text);
    if (rc == 0) { /* make the rename itself durable */
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    return rc;
}

int gld_persist_remove(const char *state_dir, const char *name, gl_err *err)
{
    char path[PATH_MAX + 128];
    if (!gl_session_name_ok(name, err))
        return -1;
    snprintf(path, sizeof path, "%s/sessions/%s.json", state_dir, name);
    if (unlink(path) != 0 && errno != ENOENT)
        return gl_fail(err, "io", "cannot remove %s: %s", path, strerror(errno));
    return 0;
}

/* The record in path, or NULL (logged) if it cannot be read, is not a JSON object, or is not
 * named after its file (restoring it would give two files one session, or a name the file
 * does not own). Only regular files are opened: a FIFO would block the daemon. */
static json_t *load_record(const char *path, const char *fname, size_t stem_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        log_warn("state: skipping %s: %s", path, fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    json_error_t je;
    json_t *rec = json_loadfd(fd, 0, &je);
    close(fd);
    const char *name = json_string_value(json_object_get(rec, "name"));
    const char *why = !rec                  ? je.text
                      : !json_is_object(rec) ? "not an object"
                      : !name || strlen(name) != stem_len || strncmp(name, fname, stem_len) != 0
                          ? "its \"name\" is not the file's name"
                          : NULL;
    if (why) {
        log_warn("state: skipping %s: %s", path, why);
        json_decref(rec);
        return NULL;
    }
    return rec;
}

int gld_persist_load_all(const char *state_dir, void (*cb)(const json_t *rec, void *ud), void *ud,
                         gl_err *err)
{
    char dir[PATH_MAX];
    if (sessions_dir(state_dir, dir, sizeof dir, err) != 0)
        return -1;
    DIR *dp = opendir(dir);
    if (!dp)
        return gl_fail(err, "io", "cannot read %s: %s", dir, strerror(errno));
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dp))) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
            continue; /* also the temp files of a write a crash cut short */
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        json_t *rec = load_record(path, de->d_name, l - 5);
        if (!rec)
            continue;
        cb(rec, ud);
        json_decref(rec);
        n++;
    }
    closedir(dp);
    return n;
}
