#!/usr/bin/env python3
"""Checks the dependency rule of docs/ARCHITECTURE.md on #include lines.

  scripts/check-layers.py [--self-test] [--root DIR] LAYER=USES,... ...

1. A file of layer L (the top directory: common/, proto/, daemon/...) includes only headers of L
   and of the layers L uses (the Makefile's USES_L lists them; tests/ and bench/ may use any).
2. No include cycle between modules: a module is a .c file and its headers (x.c, x.h and
   x_priv.h are module x); module a depends on b if a file of a includes a header of b.
--self-test first plants a violation of each rule in a scratch tree and fails unless both are
caught, so this check is known to be able to fail.
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


def module(path):
    base = os.path.splitext(path)[0]
    return base[:-5] if base.endswith("_priv") else base


def check(root, uses):
    errors = []
    deps = {}
    for rel in sorted(sources(root)):
        layer = rel.split(os.sep)[0]
        if layer not in uses and layer not in FREE:
            continue
        text = open(os.path.join(root, rel), encoding="utf-8", errors="replace").read()
        for inc in INCLUDE.findall(text):
            target = inc if "/" in inc else os.path.join(os.path.dirname(rel), inc)
            tlayer = target.split("/")[0]
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


def self_test(uses):
    with tempfile.TemporaryDirectory() as d:
        low, high = sorted(uses, key=lambda l: len(uses[l]))[0], max(uses, key=lambda l: len(uses[l]))
        for layer in (low, high):
            os.makedirs(os.path.join(d, layer))
        with open(os.path.join(d, low, "planted.c"), "w") as f:
            f.write(f'#include "{high}/x.h"\n')
        with open(os.path.join(d, high, "x.h"), "w") as f:
            f.write(f'#include "{high}/y.h"\n')
        with open(os.path.join(d, high, "y.h"), "w") as f:
            f.write(f'#include "{high}/x.h"\n')
        errs = check(d, uses)
        if not any("planted.c" in e for e in errs) or not any("cycle" in e for e in errs):
            print("check-layers: self-test FAILED: a planted violation was not caught:", errs)
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
