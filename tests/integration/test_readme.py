"""README.md's snippets run as written, in order, against the emulator and gliveD: every ```sh
block (with sh -e: any failing line fails) and every ```python block.

Markers, on a block's first line (README.md says so in a comment at its top):
  # real-api             needs Google's service and a real key: skipped
  # system               changes the machine (packages as root, /usr/local, /etc, systemd) or is
                         the test suite itself: skipped (test_install.py covers make install)
  # runs until stopped   a server (a function handler): started in the background, the next
                         blocks run once it printed its first line, stopped at the end

The blocks get what a reader's shell has once gliveD runs: GLIVE_SOCKET (the test's gliveD),
GEMINI_API_KEY (the emulator's test key), build/ on PATH (`glivectl`), clients/python on
PYTHONPATH (the README's own "PYTHONPATH=clients/python"), and one scratch directory as the
working directory of all of them."""
import os
import re
import subprocess

import harness
from harness import wait_for

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FENCE = re.compile(r"^```(sh|python)\n(.*?)^```", re.M | re.S)
SKIP_MARKERS = ("# real-api", "# system")
BACKGROUND = "# runs until stopped"


def blocks():
    """(section, language, code) of every sh/python block of README.md, in order."""
    text = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
    out = []
    for m in FENCE.finditer(text):
        heads = re.findall(r"^## (.+)$", text[:m.start()], re.M)
        out.append((heads[-1] if heads else "(top)", m.group(1), m.group(2)))
    return out


def test_readme_blocks_name_the_whole_socket_rule(ctx):
    """A block that finds gliveD's socket by itself uses the daemon's rule, not one variable."""
    for section, lang, code in blocks():
        if "XDG_RUNTIME_DIR" in code or "RUNTIME_DIRECTORY" in code:
            for name in ("GLIVE_SOCKET", "RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR", "/run/glive/gliveD.sock"):
                assert name in code, f"README {section}: a {lang} block finds the socket without {name}"


def test_readme_snippets_run_in_order(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    env = dict(os.environ, GLIVE_SOCKET=d.socket, GEMINI_API_KEY="test-key",
               PATH=harness.BUILD + os.pathsep + os.environ["PATH"],
               PYTHONPATH=os.path.join(REPO, "clients", "python"))
    work = os.path.join(ctx.tmp, "reader")
    os.makedirs(work)
    ran, skipped, outputs = [], [], []
    for i, (section, lang, code) in enumerate(blocks()):
        first = code.splitlines()[0] if code.strip() else ""
        where = f"README {section}, block {i} ({lang})"
        if first.startswith(SKIP_MARKERS):
            skipped.append((section, first.split(":")[0]))
            continue
        argv = ["sh", "-e", "-c", code] if lang == "sh" else ["/usr/bin/python3", "-c", code]
        if first.startswith(BACKGROUND):
            p = ctx.start(f"readme-{i}", argv, env=env)
            wait_for(lambda: p.stdout().strip() or not p.alive(), 15, f"{where} to start serving")
            assert p.alive(), f"{where} exited {p.p.returncode}:\n{p.stdout()}\n{p.stderr()}"
            ran.append(section)
            continue
        r = subprocess.run(argv, cwd=work, env=env, capture_output=True, timeout=90, stdin=subprocess.DEVNULL)
        out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
        assert r.returncode == 0, f"{where} exited {r.returncode}:\n--- code\n{code}--- stdout\n{out}--- stderr\n{err}"
        outputs.append(out)
        ran.append(section)

    assert ("Quick start (fresh Debian machine)", "# system") in skipped, skipped
    assert ("Quick start (fresh Debian machine)", "# real-api") in skipped, skipped
    assert {"glivectl", "Tool handlers", "Client libraries", "The line protocol"} <= set(ran), ran
    everything = "\n".join(outputs)
    # what the snippets say they do, they did
    assert "Hello! How can I help you today?" in everything                      # glivectl, socat
    assert "You said: Repeat after me: a prompt from stdin" in everything        # ask -
    assert "You said before: Repeat after me: a prompt from stdin" in everything # chat
    assert open(os.path.join(work, "lights.txt")).read() == "on\n"               # glivectl tool
    assert re.search(r"I called get_time, and it returned \{\"time\":\"\d{4}-", everything), everything
    assert everything.count("OK, I've turned on the lights.") >= 3, everything   # tool, both python clients
    assert '"uptime_s"' in everything                                            # socat status
    assert "kitchen" not in [s["session"] for s in d.client().ok("list")["sessions"]]  # closed
