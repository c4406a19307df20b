#!/usr/bin/env python3
"""Runs every gliveD test and ends with one line: "N passed, N failed".

Unit tests are the C binaries in BUILD/tests/ (each prints PASS/FAIL lines).
Integration tests are functions named test_* in tests/integration/test_*.py; they start the real
binaries from BUILD/ on ephemeral ports in temp dirs, and every process they start is stopped by pid.

  tests/run.py [--build DIR] [--sanitized] [-k SUBSTRING]
"""
import argparse
import importlib.util
import os
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "integration"))


def run_unit(build, pattern, counts):
    tdir = os.path.join(build, "tests")
    if not os.path.isdir(tdir):
        return
    for name in sorted(os.listdir(tdir)):
        path = os.path.join(tdir, name)
        if not name.startswith("test_") or not os.access(path, os.X_OK):
            continue
        if pattern and pattern not in name:
            continue
        try:
            p = subprocess.run([path], capture_output=True, text=True, timeout=120)
            out, err, rc = p.stdout, p.stderr, p.returncode
        except subprocess.TimeoutExpired as e:
            out, err, rc = (e.stdout or b"").decode(errors="replace"), "timeout", -1
        seen = 0
        for line in out.splitlines():
            if line.startswith("PASS "):
                counts["passed"] += 1
                seen += 1
                print(f"PASS unit/{name}/{line[5:]}")
            elif line.startswith("FAIL "):
                counts["failed"] += 1
                seen += 1
                print(f"FAIL unit/{name}/{line[5:]}")
        if rc != 0 and (seen == 0 or "Sanitizer" in err or "runtime error" in err):
            counts["failed"] += 1
            print(f"FAIL unit/{name}: exit {rc}\n{err[-3000:]}")
        elif rc != 0 and err.strip():
            print(err[-2000:])


def run_integration(build, pattern, counts, sanitized):
    import harness
    harness.configure(build=os.path.abspath(build), sanitized=sanitized)
    idir = os.path.join(HERE, "integration")
    for fname in sorted(os.listdir(idir)):
        if not (fname.startswith("test_") and fname.endswith(".py")):
            continue
        spec = importlib.util.spec_from_file_location(fname[:-3], os.path.join(idir, fname))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for attr in sorted(a for a in dir(mod) if a.startswith("test_")):
            fn = getattr(mod, attr)
            tname = f"{fname[:-3]}.{attr}"
            if pattern and pattern not in tname:
                continue
            t0 = time.monotonic()
            ok, msg = True, ""
            try:
                with harness.TestContext(tname) as ctx:
                    fn(ctx)
            except harness.Skip as e:
                print(f"SKIP {tname}: {e}")
                counts["skipped"] += 1
                continue
            except Exception:
                ok, msg = False, traceback.format_exc()
            dt = time.monotonic() - t0
            if ok:
                counts["passed"] += 1
                print(f"PASS {tname} ({dt:.1f}s)")
            else:
                counts["failed"] += 1
                print(f"FAIL {tname} ({dt:.1f}s)\n{msg}")
            sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--sanitized", action="store_true")
    ap.add_argument("-k", dest="pattern", default="")
    ap.add_argument("--unit-only", action="store_true")
    a = ap.parse_args()
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    run_unit(a.build, a.pattern, counts)
    if not a.unit_only:
        run_integration(a.build, a.pattern, counts, a.sanitized)
    tail = f", {counts['skipped']} skipped" if counts["skipped"] else ""
    print(f"{counts['passed']} passed, {counts['failed']} failed{tail}")
    sys.exit(1 if counts["failed"] or counts["passed"] == 0 else 0)


if __name__ == "__main__":
    main()
