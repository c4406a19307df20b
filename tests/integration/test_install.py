"""`make install DESTDIR=... PREFIX=/usr` from the already-built BUILD/, and what it installs:
the file list and modes, nothing rebuilt, the systemd units (systemd-analyze verify, and their
exposure by systemd-analyze security: at most 2.0 for the system unit, 3.0 for the user unit), the
sysusers.d entry (systemd-sysusers into a scratch root), the man
pages (man -l, and true to --help and proto/PROTOCOL.md), libglive with glive.pc (a program
compiled and linked through pkg-config), the example config (gliveD starts with it), and
`make uninstall` removing exactly what install put.

Needs make, cc, scdoc, pkg-config, man (man-db) and systemd-analyze: scripts/install-deps.sh
--test installs them."""
import json
import os
import re
import shutil
import signal
import stat
import subprocess

import harness
from harness import LineClient, wait_for

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PREFIX = "/usr"

# Every file install puts, relative to DESTDIR + PREFIX, with its mode.
EXPECTED = {
    "bin/gliveD": 0o755,
    "bin/glivectl": 0o755,
    "bin/glive-emulator": 0o755,
    "lib/systemd/system/gliveD.service": 0o644,
    "lib/systemd/user/gliveD.service": 0o644,
    "lib/systemd/system/gliveD.socket": 0o644,
    "lib/systemd/user/gliveD.socket": 0o644,
    "lib/sysusers.d/glive.conf": 0o644,
    "share/bash-completion/completions/glivectl": 0o644,
    "share/zsh/site-functions/_glivectl": 0o644,
    "share/man/man8/gliveD.8": 0o644,
    "share/man/man1/glivectl.1": 0o644,
    "share/man/man7/glive-protocol.7": 0o644,
    "share/doc/glive/README.md": 0o644,
    "share/doc/glive/PROTOCOL.md": 0o644,
    "share/doc/glive/gliveD.json.example": 0o644,
    "include/glive/glive.h": 0o644,
    "include/glive/common/err.h": 0o644,
    "include/glive/common/xalloc.h": 0o644,
    "lib/libglive.a": 0o644,
    "lib/pkgconfig/glive.pc": 0o644,
}
MAN_PAGES = {"gliveD": "share/man/man8/gliveD.8", "glivectl": "share/man/man1/glivectl.1",
             "glive-protocol": "share/man/man7/glive-protocol.7"}
# gliveD options the example config leaves to the command line (the units set them) or to the
# operator (no useful default): every other option of --help is in it.
NOT_IN_EXAMPLE = {"config", "socket", "state-dir", "api-key-file", "ca-file"}


def need(*tools):
    missing = [t for t in tools if not shutil.which(t)]
    assert not missing, f"missing {', '.join(missing)}: scripts/install-deps.sh --test"


def make_env():
    # Not the outer make's jobserver (`make check` runs us): its fds are not ours.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env["LC_ALL"] = "C"
    return env


def make(*args):
    p = subprocess.run(["make", "--no-print-directory", "-C", REPO, f"BUILD={harness.BUILD}"] + list(args),
                       capture_output=True, text=True, env=make_env(), timeout=300)
    assert p.returncode == 0, f"make {' '.join(args)} exited {p.returncode}:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


def build_snapshot():
    snap = {}
    for top, _, files in os.walk(harness.BUILD):
        for f in files:
            path = os.path.join(top, f)
            snap[path] = os.stat(path).st_mtime_ns
    return snap


def files_under(root):
    out = set()
    for top, _, files in os.walk(root):
        for f in files:
            out.add(os.path.relpath(os.path.join(top, f), root))
    return out


def install(ctx, sentinels=()):
    """make install into ctx.tmp/dest; returns DESTDIR. Asserts that nothing in BUILD/ was
    (re)built: install only copies what `make` built."""
    need("make", "scdoc")
    q = subprocess.run(["make", "-q", "-C", REPO, f"BUILD={harness.BUILD}", "all"],
                       capture_output=True, env=make_env(), timeout=120)
    assert q.returncode == 0, f"{harness.BUILD} is out of date (make -q all): run make first"
    dest = os.path.join(ctx.tmp, "dest")
    for s in sentinels:
        os.makedirs(os.path.dirname(os.path.join(dest, s)), exist_ok=True)
        with open(os.path.join(dest, s), "w") as f:
            f.write("not gliveD's\n")
    before = build_snapshot()
    make("install", f"DESTDIR={dest}", f"PREFIX={PREFIX}")
    after = build_snapshot()
    changed = sorted(p for p in after if before.get(p) != after[p])
    assert not changed, f"make install rebuilt: {changed}"
    return dest


def inst(dest, rel):
    return os.path.join(dest, PREFIX.lstrip("/"), rel)


def test_install_puts_every_file_and_uninstall_removes_exactly_those(ctx):
    sentinels = ["usr/bin/other-program", "usr/share/man/man1/other.1"]
    dest = install(ctx, sentinels)
    got = files_under(dest) - set(sentinels)
    want = {os.path.join(PREFIX.lstrip("/"), r) for r in EXPECTED}
    assert got == want, f"extra: {sorted(got - want)}; missing: {sorted(want - got)}"
    for rel, mode in EXPECTED.items():
        m = stat.S_IMODE(os.stat(inst(dest, rel)).st_mode)
        assert m == mode, f"{rel}: mode {m:o}, want {mode:o}"
    # PREFIX reached every template: no /usr/local left (but in comments), no placeholder
    for rel in ("lib/systemd/system/gliveD.service", "lib/systemd/user/gliveD.service",
                "lib/systemd/system/gliveD.socket", "lib/systemd/user/gliveD.socket",
                "lib/pkgconfig/glive.pc"):
        text = "".join(l for l in open(inst(dest, rel)) if not l.startswith("#"))
        assert "/usr/local" not in text and not re.search(r"@[A-Z_]+@", text), (rel, text)
    for unit in ("system", "user"):
        text = open(inst(dest, f"lib/systemd/{unit}/gliveD.service")).read()
        assert re.search(r"^ExecStart=/usr/bin/gliveD ", text, re.M), text
    # a second install builds nothing either (no always-stale prerequisite)
    n = make("-n", "install", f"DESTDIR={dest}", f"PREFIX={PREFIX}").stdout
    assert not re.search(r"^(cc|gcc|ar|scdoc) ", n, re.M), n
    make("uninstall", f"DESTDIR={dest}", f"PREFIX={PREFIX}")
    assert files_under(dest) == set(sentinels), sorted(files_under(dest))
    for d in ("share/doc/glive", "include/glive"):  # gliveD's own directories go too
        assert not os.path.exists(inst(dest, d)), d


# Exposure limits of `systemd-analyze security --offline=yes` (systemd 252's weights), issue 10's
# goals: the system unit is at 2.0 with run_python's sandbox working (systemd/gliveD.service says
# what it costs; test_systemd_real.py runs the sandbox under a real manager). It was 2.1 while the
# sandbox had a network namespace of its own (RestrictNamespaces=net and AF_NETLINK for its
# loopback); a seccomp filter refusing every socket replaced it (daemon/sandbox.c).
EXPOSURE_LIMIT = {"system": 2.0, "user": 3.0}


def units_for_analysis(ctx, dest):
    """Each scope's installed units, copied to a scratch dir with the one path systemd-analyze
    checks moved under DESTDIR, and the environment it needs; {scope: (dir, env)}.

    systemd-analyze verify checks that ExecStart's program exists, at its real path: the units
    say /usr/bin/gliveD, which is under DESTDIR, not on this machine. --root=DESTDIR would
    resolve it, but (systemd 252) it then also wants the units the service depends on
    (sysinit.target...) and /bin/kill (ExecReload) inside that root, and --user does not take
    --root at all ("Failed to initialize unit search paths"). So each installed service is
    copied with that one path prefixed by DESTDIR, and nothing else changed (asserted), with its
    socket unit beside it (the service requires it). MANPATH points `man` (which verify runs for
    Documentation=man:gliveD(8)) at the installed pages; --user needs an XDG_RUNTIME_DIR."""
    xdg = os.path.join(ctx.tmp, "xdg")
    os.makedirs(xdg, mode=0o700, exist_ok=True)
    env = dict(os.environ, MANPATH=inst(dest, "share/man"), XDG_RUNTIME_DIR=xdg)
    out = {}
    for scope in ("system", "user"):
        vdir = os.path.join(ctx.tmp, "verify", scope)
        os.makedirs(vdir, exist_ok=True)
        text = open(inst(dest, f"lib/systemd/{scope}/gliveD.service")).read()
        moved = text.replace("\nExecStart=/usr/bin/gliveD ", f"\nExecStart={inst(dest, 'bin/gliveD')} ")
        assert moved.count("\n") == text.count("\n") and \
            sum(a != b for a, b in zip(moved.splitlines(), text.splitlines())) == 1
        with open(os.path.join(vdir, "gliveD.service"), "w") as f:
            f.write(moved)
        shutil.copy(inst(dest, f"lib/systemd/{scope}/gliveD.socket"), vdir)
        out[scope] = (vdir, env)
    return out


def analyze(scope, env, *args):
    argv = ["systemd-analyze"] + (["--user"] if scope == "user" else []) + list(args)
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)


def test_installed_units_pass_systemd_analyze_verify(ctx):
    need("systemd-analyze", "man")
    dest = install(ctx)
    for scope, (vdir, env) in units_for_analysis(ctx, dest).items():
        units = [os.path.join(vdir, u) for u in ("gliveD.service", "gliveD.socket")]
        p = analyze(scope, env, "verify", *units)
        assert p.returncode == 0 and not p.stderr.strip(), \
            f"systemd-analyze {scope} verify: exit {p.returncode}\n{p.stderr}{p.stdout}"
        text = open(units[0]).read()
        assert re.search(r"^Type=notify$", text, re.M) and re.search(r"^Requires=gliveD.socket$", text, re.M)
        assert "RuntimeDirectory=" not in "".join(l for l in text.splitlines(True) if not l.startswith("#"))
        sock = open(units[1]).read()
        assert re.search(r"^SocketMode=06[06]0$", sock, re.M), sock  # never the default 0666


def test_installed_units_exposure_is_within_the_limits(ctx):
    if not shutil.which("systemd-analyze"):
        raise harness.Skip("systemd-analyze is not installed: exposure not measured")
    dest = install(ctx)
    for scope, (vdir, env) in units_for_analysis(ctx, dest).items():
        p = analyze(scope, env, "security", "--offline=yes", os.path.join(vdir, "gliveD.service"))
        m = re.search(r"Overall exposure level for gliveD.service: (\d+\.\d)", p.stdout)
        assert m, f"systemd-analyze {scope} security: exit {p.returncode}\n{p.stderr}{p.stdout[-2000:]}"
        assert float(m.group(1)) <= EXPOSURE_LIMIT[scope], \
            f"{scope} unit exposure {m.group(1)} > {EXPOSURE_LIMIT[scope]}:\n{p.stdout}"


def test_installed_sysusers_entry_makes_the_user_and_group(ctx):
    if not shutil.which("systemd-sysusers"):
        raise harness.Skip("systemd-sysusers is not installed")
    dest = install(ctx)
    root = os.path.join(ctx.tmp, "root")
    os.makedirs(os.path.join(root, "etc"))
    p = subprocess.run(["systemd-sysusers", f"--root={root}", inst(dest, "lib/sysusers.d/glive.conf")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    passwd = open(os.path.join(root, "etc/passwd")).read()
    group = open(os.path.join(root, "etc/group")).read()
    user = [l.split(":") for l in passwd.splitlines() if l.startswith("glive:")]
    grp = [l.split(":") for l in group.splitlines() if l.startswith("glive:")]
    assert user and grp and user[0][3] == grp[0][2], (passwd, group)  # glive's primary group
    assert user[0][6] == "/usr/sbin/nologin", user


def render(path):
    """The page as man shows it (wide, so no option is broken across lines); warnings fail."""
    env = dict(os.environ, MANWIDTH="3000", LANG="C.UTF-8", LC_ALL="C.UTF-8")
    env.pop("MANPAGER", None)
    env.pop("PAGER", None)
    p = subprocess.run(["man", "--warnings", "-l", path], capture_output=True, text=True, env=env,
                       timeout=60)
    assert p.returncode == 0 and not p.stderr.strip(), f"man -l {path}: exit {p.returncode}\n{p.stderr}"
    text = re.sub(r".\x08", "", p.stdout)
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return text.replace("\u2010", "-").replace("\u2212", "-")


def sections(text):
    """{SECTION NAME: its text} of a rendered page."""
    out, name = {}, None
    for line in text.splitlines():
        if line and not line[0].isspace():
            name = line.strip()
            out[name] = ""
        elif name:
            out[name] += line + "\n"
    return out


def items(section_text):
    """{'--opt': its paragraph} of a section's tagged paragraphs (terms indented 7 spaces)."""
    out, cur = {}, None
    for line in section_text.splitlines():
        m = re.match(r"^ {7}(--[a-z][a-z-]*)\b", line)
        if m:
            cur = m.group(1)
            out[cur] = ""
        elif cur:
            out[cur] += " " + line.strip()
    return out


def run(*argv):
    p = subprocess.run(list(argv), capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, f"{argv}: exit {p.returncode}: {p.stderr}"
    return p.stdout


def test_man_pages_render_and_match_the_programs(ctx):
    need("man")
    dest = install(ctx)
    pages = {name: sections(render(inst(dest, rel))) for name, rel in MAN_PAGES.items()}

    # gliveD(8): every option --help prints is an item of OPTIONS, with its range and default;
    # every item there is a real option.
    helptext = run(inst(dest, "bin/gliveD"), "--help")
    opts = {}
    for line in helptext.splitlines():
        m = re.match(r"^  (--[a-z][a-z-]*) ", line)
        if m:
            opts[m.group(1)] = line
    assert len(opts) > 15, helptext
    man_opts = items(pages["gliveD"]["OPTIONS"])
    for opt, line in opts.items():
        assert opt in man_opts, f"gliveD(8) OPTIONS lacks {opt}"
        rng = re.search(r"\((\d[\d.]*\.\.\d[\d.]*)[^)]*default ([^)]+)\)", line)
        if rng:
            para = " ".join(man_opts[opt].split())
            assert rng.group(1) in para and f"default {rng.group(2)}" in para, \
                f"gliveD(8) {opt}: want ({rng.group(1)}, default {rng.group(2)}) as --help says:\n{para}"
    extra = set(man_opts) - set(opts) - {"--help", "--version"}
    assert not extra, f"gliveD(8) documents options gliveD does not have: {extra}"

    # glivectl(1): every command of --help is a subsection of COMMANDS, holding every option
    # its own --help names; the global options are in GLOBAL OPTIONS.
    ctl = inst(dest, "bin/glivectl")
    top = run(ctl, "--help")
    cmds = re.findall(r"^  ([a-z]+) {2,}\S", top.split("Commands:")[1], re.M)
    assert {"ask", "watch", "sessions", "status", "tool"} <= set(cmds), top
    subs, cur = {}, None
    for line in pages["glivectl"]["COMMANDS"].splitlines():
        m = re.match(r"^ {3}([a-z]+)$", line)
        if m:
            cur = m.group(1)
            subs[cur] = ""
        elif cur:
            subs[cur] += line + "\n"
    assert set(subs) == set(cmds), f"glivectl(1) COMMANDS: {sorted(subs)}; glivectl --help: {cmds}"
    for cmd in cmds:
        for opt in set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", run(ctl, cmd, "--help"))):
            assert opt in subs[cmd], f"glivectl(1) {cmd} lacks {opt}"
    glob = items(pages["glivectl"]["GLOBAL OPTIONS"])
    for opt in set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", top.split("Commands:")[0])):
        assert opt in glob or opt in pages["glivectl"]["GLOBAL OPTIONS"], f"glivectl(1) lacks {opt}"

    # glive-protocol(7): every op, event and error code of proto/PROTOCOL.md's tables
    proto = open(os.path.join(REPO, "proto", "PROTOCOL.md")).read()
    parts = re.split(r"^## ", proto, flags=re.M)
    part = {p.split("\n", 1)[0]: p for p in parts}
    for md, sec in (("3. Ops", "OPS"), ("4. Events", "EVENTS"), ("5. Error codes", "ERRORS")):
        table = part[md].split("\n### ")[0]
        names = re.findall(r"^\| `([a-z_.]+)` \|", table, re.M)
        assert len(names) >= 8, (md, names)
        for n in names:
            assert re.search(rf"(?<![\w.]){re.escape(n)}(?![\w.])", pages["glive-protocol"][sec]), \
                f"glive-protocol(7) {sec} lacks {n}"


def test_library_and_header_build_a_program_through_pkg_config(ctx):
    need("pkg-config", "cc")
    dest = install(ctx)
    # PKG_CONFIG_SYSROOT_DIR: glive.pc says /usr/include, /usr/lib (where PREFIX=/usr puts them);
    # pkg-config prefixes its -I and -L with DESTDIR, as for any staged install.
    env = dict(os.environ, PKG_CONFIG_PATH=inst(dest, "lib/pkgconfig"), PKG_CONFIG_SYSROOT_DIR=dest)
    env.pop("PKG_CONFIG_LIBDIR", None)

    def pc(*args):
        p = subprocess.run(["pkg-config"] + list(args) + ["glive"], capture_output=True, text=True,
                           env=env, timeout=30)
        assert p.returncode == 0, f"pkg-config {args}: {p.stderr}"
        return p.stdout.split()

    libs, cflags = pc("--libs"), pc("--cflags")
    assert "-lglive" in libs and "-ljansson" in libs and "-lcrypto" in libs, libs
    assert f"-I{inst(dest, 'include/glive')}" in cflags, cflags
    assert pc("--modversion") == [run(inst(dest, "bin/gliveD"), "--version").split()[1]]
    src = os.path.join(ctx.tmp, "hello.c")
    with open(src, "w") as f:
        f.write("""#include <glive.h>
#include <common/xalloc.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    gl_xalloc_init();
    gl_err err;
    glive_client *c = glive_connect(argc > 1 ? argv[1] : NULL, &err);
    if (!c) {
        printf("%s: %s\\n", err.code, err.msg);
        return strcmp(err.code, "connect") == 0 ? 3 : 1;
    }
    json_t *reply = glive_request(c, json_pack("{s:s}", "op", "hello"), 10000, &err);
    int rc = reply && glive_reply_error(reply, &err) == 0 ? 0 : 1;
    printf("%s\\n", rc == 0 ? json_string_value(json_object_get(reply, "daemon")) : err.msg);
    json_decref(reply);
    glive_close(c);
    return rc;
}
""")
    san = ["-fsanitize=address,undefined"] if harness.SANITIZED else []  # libglive.a is built so
    prog = os.path.join(ctx.tmp, "hello")
    cc = ["cc", "-std=c17", "-Wall", "-Wextra", "-Werror", "-pedantic"] + san
    p = subprocess.run(cc + ["-o", prog, src] + cflags + libs, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"{p.args}:\n{p.stderr}"
    # every member of libglive.a links with only what pkg-config names, not just those hello uses
    whole = [a if a != "-lglive" else "-Wl,--whole-archive,-lglive,--no-whole-archive" for a in libs]
    p = subprocess.run(cc + ["-o", prog + "-whole", src] + cflags + whole, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, f"{p.args}:\n{p.stderr}"
    # and it talks to the installed gliveD
    sock = os.path.join(ctx.tmp, "g.sock")
    d = ctx.start("gliveD", [inst(dest, "bin/gliveD"), "--socket", sock, "--code-exec", "off"])
    wait_for(lambda: harness.accepting(sock) or not d.alive(), 10, "gliveD socket")
    out = subprocess.run([prog, sock], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == "gliveD", (out.returncode, out.stdout, out.stderr)
    out = subprocess.run([prog, os.path.join(ctx.tmp, "none.sock")], capture_output=True, text=True, timeout=30)
    assert out.returncode == 3 and "cannot connect" in out.stdout, (out.returncode, out.stdout)


def test_example_config_holds_every_setting_and_gliveD_starts_with_it(ctx):
    dest = install(ctx)
    gliveD = inst(dest, "bin/gliveD")
    example = inst(dest, "share/doc/glive/gliveD.json.example")
    with open(example) as f:
        cfg = json.load(f)
    helplines = {}
    for line in run(gliveD, "--help").splitlines():
        m = re.match(r"^  --([a-z][a-z-]*) (.*)", line)
        if m:
            helplines[m.group(1)] = m.group(2)
    assert set(cfg) == set(helplines) - NOT_IN_EXAMPLE, \
        f"example: {sorted(cfg)}; --help: {sorted(set(helplines) - NOT_IN_EXAMPLE)}"
    for key, value in cfg.items():  # each value is the default --help states
        num = re.search(r"default ([0-9.]+)\)$", helplines[key])
        if num:
            assert float(value) == float(num.group(1)), (key, value, helplines[key])
        else:
            assert isinstance(value, str) and value in helplines[key] and "default" in helplines[key], \
                (key, value, helplines[key])
    sock = os.path.join(ctx.tmp, "g.sock")
    d = ctx.start("gliveD", [gliveD, "--config", example, "--socket", sock])
    wait_for(lambda: harness.accepting(sock) or not d.alive(), 10, "gliveD socket")
    assert d.alive(), d.stderr()
    c = LineClient(sock)
    assert c.ok("hello")["daemon"] == "gliveD"
    os.kill(d.pid, signal.SIGHUP)  # the reload checks every setting of the file again
    wait_for(lambda: "SIGHUP:" in d.stderr(), 10, "the SIGHUP log line")
    assert "SIGHUP: config reloaded" in d.stderr(), d.stderr()
    c.close()
    assert d.stop() == 0, d.stderr()
