#!/usr/bin/env python3
"""Checks that docs name only things that exist.

  scripts/check-docs.py [--self-test] FILE.md...

In `backticks`: a path (it has a '/': `daemon/session.c`, `client/lib/`) must exist in the
repository; a C name (lowercase with an '_', or followed by '()': `gld_session_pump`, `fire()`)
must appear as a whole word in some .c or .h file. Tokens with '*', spaces, uppercase-only
names, options and op names are not checked. Exit 1 with one line per miss."""
import os
import re
import subprocess
import sys
import tempfile

TICK = re.compile(r"`([^`\n]+)`")
CNAME = re.compile(r"^[a-z_][a-z0-9_]*(\(\))?$")


def c_words(root):
    words = set()
    for top, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and
                   d not in ("build", "build-asan", "build-fuzz", "build-fuzz-cov", "node_modules")]
        for f in files:
            if f.endswith((".c", ".h")):
                words.add(f[:-2])  # a program is named by its file: `fuzz_line`, `test_session`
                with open(os.path.join(top, f), encoding="utf-8", errors="replace") as fh:
                    words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", fh.read()))
    return words


def check(root, docs):
    words = c_words(root)
    misses = []
    for doc in docs:
        text = open(os.path.join(root, doc), encoding="utf-8").read()
        for tok in TICK.findall(text):
            if "*" in tok or " " in tok or tok.startswith("-"):
                continue
            if re.match(r"^(audio|image|video|text|application)/", tok):
                continue  # a MIME type, not a path
            if tok.startswith(("build/", "build-asan/", "build-fuzz/", "demo-out/")):
                continue  # made by make, not kept in the repository
            if re.search(r"(^|/)[A-Z][A-Z_]*(/|\.|$)", tok):
                continue  # a placeholder: DIR/ca.pem, STATE_DIR/sessions/NAME.json
            if "/" in tok and not tok.startswith(("http", "/", "$")) and re.match(r"^[A-Za-z0-9_./-]+$", tok):
                path = tok.rstrip("/")
                if not os.path.exists(os.path.join(root, path)):
                    misses.append(f"{doc}: `{tok}`: no such file or directory")
            elif CNAME.match(tok) and ("_" in tok or tok.endswith("()")):
                name = tok[:-2] if tok.endswith("()") else tok
                if name not in words:
                    misses.append(f"{doc}: `{tok}`: no such name in the C sources")
    return misses


def self_test():
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "src"))
        open(os.path.join(d, "src", "a.c"), "w").write("int real_fn(void) { return 0; }\n")
        open(os.path.join(d, "doc.md"), "w").write("`src/a.c` `real_fn()` `src/gone.c` `gone_fn()`\n")
        m = check(d, ["doc.md"])
        return len(m) == 2 and "gone.c" in m[0] and "gone_fn" in m[1]


def main(argv):
    docs = [a for a in argv if a != "--self-test"]
    if "--self-test" in argv and not self_test():
        print("check-docs: self-test FAILED: a planted miss was not caught")
        return 1
    root = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True).stdout.strip() or "."
    misses = check(root, docs)
    for m in misses:
        print("check-docs:", m)
    if not misses:
        print(f"check-docs: ok ({', '.join(docs)})")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
