#!/usr/bin/env python3
"""Checks the dependency rule of docs/ARCHITECTURE.md on #include lines.

  scripts/check-layers.py [--self-test] [--root DIR] LAYER=USES,... ...

1. A file of layer L includes only headers of L and of the layers L uses (the Makefile's USES_L
   lists them; tests/ and bench/ may use any). A layer is a directory, one or two levels deep
   (common/, client/lib/...); a file's layer, and an included header's, is the longest layer
   name that prefixes its path. A file under a layer's top directory but in no layer (client/x.c
   beside client/lib/) is an error too: no library would build it.
2. No include cycle between modules: a module is a .c file and its headers (x.c, x.h and
   x_priv.h are module x); module a depends on b if a file of a includes a header of b.
--self-test first plants a violation of each rule in a scratch tree (and one between two layers
of the same top directory) and fails unless all are caught, so this check is known to be able to
fail.
Exit 0 and "check-layers: ok" when clean; exit 1 with one line per violation otherwise."""
import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
FREE = {"tests", "bench"}  # they may use every layer


def sources(root):
    for top, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("build", "build-asan", "node_modules")]
        for f in files:
            if f.endswith((".c", ".h")):
                p = os.path.join(top, f)
                yield os.path.relpath(p, root)


def layer_of(path, uses):
    """The longest layer name that is path or a directory prefix of it; None if there is none."""
    best = None
    for layer in uses:
        if (path == layer or path.startswith(layer + "/")) and len(layer) > len(best or ""):
            best = layer
    return best


def module(path):
    base = os.path.splitext(path)[0]
    return base[:-5] if base.endswith("_priv") else base


def check(root, uses):
    errors = []
    deps = {}
    tops = {l.split("/")[0] for l in uses}
    for rel in sorted(sources(root)):
        rel = rel.replace(os.sep, "/")
        top = rel.split("/")[0]
        layer = top if top in FREE else layer_of(rel, uses)
        if layer is None:
            if top in tops:
                errors.append(f"{rel}: in no layer (layers under {top}/: "
                              f"{', '.join(sorted(l for l in uses if l.split('/')[0] == top))})")
            continue
        text = open(os.path.join(root, rel), encoding="utf-8", errors="replace").read()
        for inc in INCLUDE.findall(text):
            target = inc if "/" in inc else os.path.join(os.path.dirname(rel), inc)
            tlayer = layer_of(target, uses) or target.split("/")[0]
            if layer not in FREE and tlayer != layer and tlayer not in uses[layer]:
                errors.append(f"{rel}: includes {inc}: layer {layer} may use only "
                              f"{', '.join(uses[layer]) or 'nothing'}")
            if os.path.exists(os.path.join(root, target)) and module(target) != module(rel):
                deps.setdefault(module(rel), set()).add(module(target))
    # cycles: depth-first search, reporting each cycle once by its smallest rotation
    seen_cycles, state = set(), {}

    def visit(m, stack):
        state[m] = 1
        stack.append(m)
        for n in sorted(deps.get(m, ())):
            if state.get(n) == 1:
                cyc = stack[stack.index(n):]
                i = cyc.index(min(cyc))
                key = tuple(cyc[i:] + cyc[:i])
                if key not in seen_cycles:
                    seen_cycles.add(key)
                    errors.append("include cycle: " + " -> ".join(key + (key[0],)))
            elif not state.get(n):
                visit(n, stack)
        stack.pop()
        state[m] = 2

    for m in sorted(deps):
        if not state.get(m):
            visit(m, [])
    return errors


def plant(d, path, text):
    os.makedirs(os.path.join(d, os.path.dirname(path)), exist_ok=True)
    with open(os.path.join(d, path), "w") as f:
        f.write(text)


def self_test(uses):
    with tempfile.TemporaryDirectory() as d:
        low, high = sorted(uses, key=lambda l: len(uses[l]))[0], max(uses, key=lambda l: len(uses[l]))
        plant(d, f"{low}/planted.c", f'#include "{high}/x.h"\n')
        plant(d, f"{high}/x.h", f'#include "{high}/y.h"\n')
        plant(d, f"{high}/y.h", f'#include "{high}/x.h"\n')
        errs = check(d, uses)
        if not any("planted.c" in e for e in errs) or not any("cycle" in e for e in errs):
            print("check-layers: self-test FAILED: a planted violation was not caught:", errs)
            return False
    # Nested layers: pkg/app may use pkg/lib, not the reverse; pkg/stray.c is in no layer.
    nested = {"pkg/app": ["pkg/lib"], "pkg/lib": []}
    with tempfile.TemporaryDirectory() as d:
        plant(d, "pkg/app/ok.c", '#include "pkg/lib/api.h"\n')
        plant(d, "pkg/lib/api.h", "")
        plant(d, "pkg/lib/planted.c", '#include "pkg/app/cli.h"\n')
        plant(d, "pkg/app/cli.h", "")
        plant(d, "pkg/stray.c", "")
        errs = check(d, nested)
        caught = any(e.startswith("pkg/lib/planted.c:") for e in errs) and \
            any(e.startswith("pkg/stray.c:") for e in errs)
        if not caught or any(e.startswith("pkg/app/ok.c") for e in errs) or len(errs) != 2:
            print("check-layers: self-test FAILED on nested layers:", errs)
            return False
    return True


def main(argv):
    root, uses, selftest = ".", {}, False
    args = iter(argv)
    for a in args:
        if a == "--self-test":
            selftest = True
        elif a == "--root":
            root = next(args)
        else:
            layer, _, deps = a.partition("=")
            uses[layer] = [x for x in deps.split(",") if x]
    if not uses:
        print(__doc__)
        return 2
    if selftest and not self_test(uses):
        return 1
    errors = check(root, uses)
    for e in errors:
        print("check-layers:", e)
    if errors:
        return 1
    print("check-layers: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
