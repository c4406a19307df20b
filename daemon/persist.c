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

/* The state dir and its sessions/ must be ours alone: a directory (not a link), owned by the
 * daemon's uid, writable by nobody else. Else anyone who can write there could plant a link (and
 * have a root daemon overwrite any file) or a record (and have it loaded as a session). */
static int check_dir(int fd, const char *path, gl_err *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return gl_fail(err, "io", "cannot stat %s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return gl_fail(err, "unsafe_state_dir", "%s is not a directory", path);
    if (st.st_uid != geteuid())
        return gl_fail(err, "unsafe_state_dir", "refusing %s: owned by uid %u, not by gliveD's uid %u",
                       path, (unsigned)st.st_uid, (unsigned)geteuid());
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return gl_fail(err, "unsafe_state_dir", "refusing %s: writable by others (mode %03o); "
                       "chmod go-w it", path, (unsigned)(st.st_mode & 0777));
    return 0;
}

/* Opens (creating if missing, 0700) a directory without following a link, and checks it. */
static int open_dir_at(int at, const char *name, const char *shown, gl_err *err)
{
    if (mkdirat(at, name, 0700) != 0 && errno != EEXIST)
        return gl_fail(err, "io", "cannot create %s: %s", shown, strerror(errno));
    struct stat lst;
    if (fstatat(at, name, &lst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(lst.st_mode))
        return gl_fail(err, "unsafe_state_dir", "refusing %s: it is a symbolic link", shown);
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) /* a link swapped in since the check fails here too (O_NOFOLLOW) */
        return gl_fail(err, errno == ELOOP || errno == ENOTDIR ? "unsafe_state_dir" : "io",
                       "cannot open %s: %s", shown, strerror(errno));
    if (check_dir(fd, shown, err) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* STATE_DIR/sessions, checked, as a directory fd: every file operation is relative to it and
 * never follows a link. */
static int sessions_dir(const char *state_dir, gl_err *err)
{
    int top = open_dir_at(AT_FDCWD, state_dir, state_dir, err);
    if (top < 0)
        return -1;
    char shown[PATH_MAX + 16];
    snprintf(shown, sizeof shown, "%s/sessions", state_dir);
    int fd = open_dir_at(top, "sessions", shown, err);
    close(top);
    return fd;
}

int gld_persist_check(const char *state_dir, gl_err *err)
{
    int dfd = sessions_dir(state_dir, err);
    if (dfd < 0)
        return -1;
    /* writable? (a read-only mount or a full disk shows now, not at the first save) */
    static const char probe[] = ".gliveD-write-test";
    int fd = openat(dfd, probe, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = 0;
    if (fd < 0 || write(fd, "ok\n", 3) != 3)
        rc = gl_fail(err, "io", "cannot write in %s/sessions: %s", state_dir, strerror(errno));
    if (fd >= 0) {
        close(fd);
        unlinkat(dfd, probe, 0);
    }
    close(dfd);
    return rc;
}

int gld_persist_write(const char *state_dir, const char *name, const json_t *record, gl_err *err)
{
    char path[128], tmp[128];
    if (!gl_session_name_ok(name, err))
        return -1;
    if (!json_is_object(record)) /* json_dumps would return NULL; memory cannot fail (xalloc.h) */
        return gl_fail(err, GL_E_INTERNAL, "state record for %s is not an object", name);
    int dfd = sessions_dir(state_dir, err);
    if (dfd < 0)
        return -1;
    snprintf(path, sizeof path, "%s.json", name);
    snprintf(tmp, sizeof tmp, ".%s.json.tmp", name);
    char *text = json_dumps(record, JSON_COMPACT | JSON_SORT_KEYS);
    /* O_EXCL|O_NOFOLLOW: never write through something already there (a planted link); a temp
     * file a crash left behind is removed once and the create tried again. */
    int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    int fd = openat(dfd, tmp, flags, 0600);
    if (fd < 0 && errno == EEXIST && unlinkat(dfd, tmp, 0) == 0)
        fd = openat(dfd, tmp, flags, 0600);
    int rc = 0;
    if (fd < 0) {
        rc = gl_fail(err, "io", "cannot write %s/sessions/%s: %s", state_dir, tmp, strerror(errno));
    } else {
        size_t len = strlen(text), off = 0;
        while (off < len && rc == 0) {
            ssize_t w = write(fd, text + off, len - off);
            if (w < 0 && errno != EINTR)
                rc = gl_fail(err, "io", "cannot write %s/sessions/%s: %s", state_dir, tmp, strerror(errno));
            else if (w > 0)
                off += (size_t)w;
        }
        if (rc == 0 && fsync(fd) != 0)
            rc = gl_fail(err, "io", "fsync %s/sessions/%s: %s", state_dir, tmp, strerror(errno));
        close(fd);
        if (rc == 0 && renameat(dfd, tmp, dfd, path) != 0)
            rc = gl_fail(err, "io", "rename %s/sessions/%s: %s", state_dir, tmp, strerror(errno));
        if (rc != 0)
            unlinkat(dfd, tmp, 0);
    }
    free(text);
    if (rc == 0 && fsync(dfd) != 0) /* make the rename itself durable */
        rc = gl_fail(err, "io", "fsync %s/sessions: %s", state_dir, strerror(errno));
    close(dfd);
    return rc;
}

int gld_persist_remove(const char *state_dir, const char *name, gl_err *err)
{
    char path[128];
    if (!gl_session_name_ok(name, err))
        return -1;
    int dfd = sessions_dir(state_dir, err);
    if (dfd < 0)
        return -1;
    snprintf(path, sizeof path, "%s.json", name);
    int rc = 0;
    if (unlinkat(dfd, path, 0) != 0 && errno != ENOENT)
        rc = gl_fail(err, "io", "cannot remove %s/sessions/%s: %s", state_dir, path, strerror(errno));
    close(dfd);
    return rc;
}

/* The record in path, or NULL (logged) if it cannot be read, is not a JSON object, or is not
 * named after its file (restoring it would give two files one session, or a name the file
 * does not own). Only regular files are opened: a FIFO would block the daemon. */
static json_t *load_record(int dfd, const char *path, const char *fname, size_t stem_len)
{
    int fd = openat(dfd, fname, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
        log_warn("state: skipping %s: %s", path,
                 fd < 0 ? (errno == ELOOP ? "a symbolic link" : strerror(errno))
                        : !S_ISREG(st.st_mode) ? "not a regular file" : "not owned by gliveD's uid");
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
    int dfd = sessions_dir(state_dir, err);
    if (dfd < 0)
        return -1;
    DIR *dp = fdopendir(dup(dfd));
    if (!dp) {
        close(dfd);
        return gl_fail(err, "io", "cannot read %s/sessions: %s", state_dir, strerror(errno));
    }
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dp))) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
            continue; /* also the temp files of a write a crash cut short */
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/sessions/%s", state_dir, de->d_name);
        json_t *rec = load_record(dfd, path, de->d_name, l - 5);
        if (!rec)
            continue;
        cb(rec, ud);
        json_decref(rec);
        n++;
    }
    closedir(dp);
    close(dfd);
    return n;
}
