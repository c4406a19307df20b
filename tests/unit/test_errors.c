/* proto/errors.h against proto/PROTOCOL.md's error table (section 5): every constant is a
 * documented code and every documented code has a constant, so the two cannot drift apart.
 * Both files are read at run time; they are found by walking up from the working directory
 * (tests/run.py runs from the repo root) or from the binary (build/tests/). */
#include <ctype.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proto/errors.h"
#include "tests/unit/testlib.h"

#define MAX_CODES 64

typedef struct codes {
    char name[MAX_CODES][64]; /* errors.h: the macro name; PROTOCOL.md: unused */
    char code[MAX_CODES][64];
    size_t n;
} codes;

static char why[512];

/* Finds rel (e.g. "proto/PROTOCOL.md") in dir or one of its parents; 0 and path if found. */
static int find_up(const char *dir, const char *rel, char *path, size_t pathlen)
{
    char d[PATH_MAX];
    snprintf(d, sizeof d, "%s", dir);
    for (int depth = 0; depth < 32; depth++) {
        snprintf(path, pathlen, "%s/%s", d, rel);
        if (access(path, R_OK) == 0)
            return 0;
        if (strcmp(d, "/") == 0)
            break;
        char tmp[PATH_MAX]; /* dirname edits its argument and may return a pointer into it */
        snprintf(tmp, sizeof tmp, "%s", d);
        snprintf(d, sizeof d, "%s", dirname(tmp));
    }
    return -1;
}

static FILE *open_repo_file(const char *rel)
{
    char path[PATH_MAX + 64], here[PATH_MAX], exe[PATH_MAX];
    if (getcwd(here, sizeof here) && find_up(here, rel, path, sizeof path) == 0)
        return fopen(path, "r");
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        if (find_up(dirname(exe), rel, path, sizeof path) == 0)
            return fopen(path, "r");
    }
    snprintf(why, sizeof why, "%s not found above the working directory or the binary", rel);
    return NULL;
}

static bool has(const codes *c, const char *code)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->code[i], code) == 0)
            return true;
    return false;
}

static bool add(codes *c, const char *name, const char *code)
{
    if (c->n == MAX_CODES || has(c, code)) {
        snprintf(why, sizeof why, "%s: %s", code, c->n == MAX_CODES ? "too many codes" : "listed twice");
        return false;
    }
    snprintf(c->name[c->n], sizeof c->name[0], "%s", name);
    snprintf(c->code[c->n++], sizeof c->code[0], "%s", code);
    return true;
}

/* Every `#define GL_E_NAME "code"` of errors.h; any other GL_E_ define is an error. */
static bool read_header(FILE *f, codes *c)
{
    char line[512], name[64], code[64], end[8];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "#define GL_E_", 13) != 0)
            continue;
        if (sscanf(line, "#define %63s \"%63[a-z_]\"%7s", name, code, end) != 2) {
            snprintf(why, sizeof why, "errors.h: not of the form #define GL_E_NAME \"code\": %.200s", line);
            return false;
        }
        if (!add(c, name, code))
            return false;
    }
    return true;
}

/* The first column of the table under the "Error codes" heading: | `code` | meaning | from | */
static bool read_table(FILE *f, codes *c)
{
    char line[1024];
    bool in_section = false, in_table = false;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "## ", 3) == 0) {
            if (in_section)
                break;
            in_section = strstr(line, "Error codes") != NULL;
            continue;
        }
        if (!in_section)
            continue;
        if (line[0] != '|') {
            if (in_table)
                break; /* the table ended */
            continue;
        }
        in_table = true;
        char *cell = line + 1, *bar = strchr(cell, '|');
        if (!bar)
            continue;
        *bar = '\0';
        char *a = strchr(cell, '`'), *b = a ? strchr(a + 1, '`') : NULL;
        if (!a || !b)
            continue; /* the header row and the |---| row */
        *b = '\0';
        if (!add(c, "", a + 1))
            return false;
    }
    if (c->n == 0) {
        snprintf(why, sizeof why, "PROTOCOL.md: no error table under an \"Error codes\" heading");
        return false;
    }
    return true;
}

static bool load(codes *hdr, codes *doc)
{
    FILE *h = open_repo_file("proto/errors.h");
    FILE *d = open_repo_file("proto/PROTOCOL.md");
    bool ok = h && d && read_header(h, hdr) && read_table(d, doc);
    if (h)
        fclose(h);
    if (d)
        fclose(d);
    return ok;
}

TEST(every_constant_is_documented_and_every_documented_code_has_a_constant)
{
    codes hdr = {0}, doc = {0};
    if (!load(&hdr, &doc))
        GL_FAILF("%s", why);
    for (size_t i = 0; i < hdr.n; i++)
        if (!has(&doc, hdr.code[i]))
            GL_FAILF("%s \"%s\" is not in PROTOCOL.md's error table", hdr.name[i], hdr.code[i]);
    for (size_t i = 0; i < doc.n; i++)
        if (!has(&hdr, doc.code[i]))
            GL_FAILF("PROTOCOL.md's code \"%s\" has no constant in proto/errors.h", doc.code[i]);
    CHECK_INT(hdr.n, doc.n);
}

/* GL_E_ + the code in capitals, so the name says the value (scripts/errcodes.sed relies on it). */
TEST(names_spell_their_codes)
{
    codes hdr = {0}, doc = {0};
    if (!load(&hdr, &doc))
        GL_FAILF("%s", why);
    for (size_t i = 0; i < hdr.n; i++) {
        char want[64];
        size_t k = 0;
        for (const char *s = hdr.code[i]; *s && k + 1 < sizeof want; s++)
            want[k++] = (char)toupper((unsigned char)*s);
        want[k] = '\0';
        if (strncmp(hdr.name[i], "GL_E_", 5) != 0 || strcmp(hdr.name[i] + 5, want) != 0)
            GL_FAILF("%s should be GL_E_%s", hdr.name[i], want);
    }
}

/* The header compiles and means what the wire says (a few spot checks of the macros). */
TEST(header_values)
{
    CHECK_STR(GL_E_BAD_REQUEST, "bad_request");
    CHECK_STR(GL_E_LINE_TOO_LONG, "line_too_long");
    CHECK_STR(GL_E_UPSTREAM, "upstream");
    CHECK_STR(GL_E_INTERNAL, "internal");
}
