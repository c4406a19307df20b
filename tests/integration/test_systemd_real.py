"""gliveD's user units under a real systemd: a systemd user manager (`systemd --user`, the
machine's own: systemd 252 on Debian 12) runs the units exactly as `make install PREFIX=...`
writes them, with the built gliveD, against the emulator. What test_systemd.py simulates (systemd-socket-activate,
a fake NOTIFY_SOCKET) and test_install.py checks offline (systemd-analyze verify/security), here
a real manager does:

- `systemctl --user enable --now gliveD.socket` (the README's line); the first client starts
  gliveD (socket activation), whose READY=1 makes the service active, with gliveD's STATUS= as
  the unit's StatusText; a prompt is answered; gliveD's stderr reaches the journal's stdout
  socket with JOURNAL_STREAM set, so its lines carry <N> priorities;
- `systemctl --user reload` goes through RELOADING=1 and READY=1 (SIGHUP), the watchdog
  (WatchdogSec=2s by the test's drop-in, so that a missed ping would show within the test)
  gets its pings and kills nobody; a gliveD that stops turning (SIGSTOP) is killed by it
  (SIGABRT) and Restart=on-failure brings it back, its sessions restored from the state dir;
- `systemctl --user restart` keeps the socket (gliveD.socket's): a client that connects while
  the new gliveD has not started yet waits in the backlog and is served, and the sessions come
  back from StateDirectory=;
- `systemctl --user stop gliveD.service gliveD.socket`: STOPPING=1, exit status 0, the socket
  file removed (RemoveOnStop=);
- the same units for an ordinary user (a uid the test adds to the namespace's passwd; its
  manager unprivileged, as user@UID.service runs it): the sandbox then needs PrivateUsers=yes,
  where root's client shows as nobody and is refused; run_python's bwrap sandbox runs inside
  the unit's (it once did not: RestrictAddressFamilies= lacked AF_NETLINK, which the sandbox
  no longer needs); reload works (it did
  not: see ExecReload= in gliveD-user.service); the sessions are the user's, in its state dir;
- a gliveD that cannot start fails its start job, and says why with the error priority.

The shipped units run unmodified, every sandboxing directive included, but for one drop-in the
test writes (gliveD.service.d/test.conf, where a user's own drop-ins go): ExecStart= is the
installed line with the emulator's --endpoint, --ca-file, --model and --log-level added (the
user unit has no other way to take options), WatchdogSec=2s, and an ExecStartPre= that holds a
start while the file HOLD exists (so the test can connect a client at a known point of a
restart; not for the ordinary user, whose gliveD could then not join the IPC namespace that
ExecStartPre= made, as ExecReload= in gliveD-user.service says). The API key is where the unit reads it (%E/glive/gemini-api-key). What this machine
(a container-like VM, root without CAP_SYS_RESOURCE) does not give the unit, found here:
- LimitNOFILE=65536 becomes 20000 (the hard limit the manager inherits, which it cannot raise);
- the manager runs as root, so PrivateUsers=yes maps uid 0 alone into gliveD's user namespace
  and run_python's sandbox, which a root gliveD starts as nobody (65534, unmapped there), cannot
  start ("run_python cannot run code here: cannot start /usr/bin/bwrap: invalid argument"):
  not asserted, the sessions here use no code execution;
- under ASan (make check-asan), LeakSanitizer cannot ptrace (SystemCallFilter=): the drop-in
  turns leak detection off for gliveD there.

How the manager runs on a machine whose PID 1 is not systemd (this one, and CI's containers):
as root, `unshare -m` (a private mount namespace, where SETUP below makes it look booted with
systemd; every step says why), in a cgroup of its own under the test's (a user manager's
delegated subtree; cgroup2 alone is mounted in its namespace, so it never touches the v1
hierarchies of a hybrid host), with a unit path of the test's config dir, the installed PREFIX
and Debian's /usr/lib/systemd/user (its targets), and its log going to a stand-in journald the
test reads (class Journal). systemctl reaches it over $XDG_RUNTIME_DIR/systemd/private (no
D-Bus), run in its mount namespace (nsenter), where it does not think it runs offline. The test
files are under /run, not /tmp: the unit's PrivateTmp= gives gliveD a /tmp of its own.

At the end the manager is stopped by its pid (SIGTERM: it stops every unit and exits), no
process may be left in its cgroup (any is killed by pid, and the test fails), and the cgroup is
removed. Skips (with the reason) without root, unshare/nsenter, systemd or a cgroup2 hierarchy,
or when the namespace cannot be set up."""
import array
import json
import os
import re
import selectors
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading

import harness
from harness import LineClient, Skip, wait_for

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = "gemini-live-2.5-flash-preview"
SYSTEMD = next((p for p in ("/usr/lib/systemd/systemd", "/lib/systemd/systemd") if os.path.exists(p)), None)
DISTRO_USER_UNITS = "/usr/lib/systemd/user"


def systemd_version():
    try:
        out = subprocess.run([SYSTEMD, "--version"], capture_output=True, text=True, timeout=30).stdout
        return int(re.match(r"systemd (\d+)", out).group(1))
    except (OSError, TypeError, AttributeError, subprocess.SubprocessError):
        return 0


SYSTEMD_VERSION = systemd_version() if SYSTEMD else 0
# a prompt the emulator answers with run_python (test_user_units_for_an_ordinary_user)
CODE_SCRIPT = {"rules": [{"match": "compute", "steps": [
    {"call": "run_python", "args": {"code": "print(6 * 7)"}}, {"say": "It said {tool:run_python}"}]}],
    "default": [{"echo": True}]}
# the manager's debug line for each datagram on the notify socket
NOTIFY = re.compile(r"^systemd: gliveD\.service: Got notification message from PID (\d+) \((.*)\)$", re.M)


def unified_cgroup():
    """(mount point of the cgroup2 hierarchy, this process's cgroup in it), or None."""
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.split(" - ", 1)
            if post.split()[0] == "cgroup2":
                mounts.append((pre.split()[3], pre.split()[4]))  # (root, mount point)
    own = None
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                own = line[3:].strip()
    for root, point in mounts:
        if own is not None and root == "/":
            return point, own
    return None


def journal_fields(data):
    """The fields of one datagram of journald's native protocol: KEY=VALUE lines, or KEY, a
    newline, a 64-bit little-endian size, the value and a newline (values with newlines)."""
    fields, i = {}, 0
    while i < len(data):
        nl = data.find(b"\n", i)
        if nl < 0:
            break
        line = data[i:nl]
        if b"=" in line:
            key, value = line.split(b"=", 1)
            i = nl + 1
        else:
            size = int.from_bytes(data[nl + 1:nl + 9], "little")
            key, value = line, data[nl + 9:nl + 9 + size]
            i = nl + 9 + size + 1
        fields[key.decode(errors="replace")] = value.decode(errors="replace")
    return fields


class Journal:
    """A stand-in for journald, read by one thread: its two sockets, bind-mounted where journald's
    are in the manager's namespace.
    - /run/systemd/journal/socket (datagrams, the native protocol): the manager logs there
      (--log-target=journal), and so do its children before they exec. (--log-target=kmsg
      would drop all but 200 lines in 5 s, console opens /dev/console.)
    - /run/systemd/journal/stdout (a stream socket): where the services' stdout and stderr go
      (StandardOutput=journal, the default). Each connection starts with journald's header
      (identifier, unit, priority, level prefix, 3 forwarding flags, one a line), then the
      output."""

    def __init__(self, root):
        self.socket_path = os.path.join(root, "journal-socket")
        self.dgram = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.dgram.bind(self.socket_path)
        self.dgram.setblocking(False)
        self.stdout_path = os.path.join(root, "journal-stdout")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.stdout_path)
        self.listener.listen(64)
        self.listener.setblocking(False)
        self.lock = threading.Lock()
        self.entries = []  # the manager's (and its children's) messages: dicts of fields
        self.streams = []  # [{"data": bytes}], one per stdout connection
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.dgram, selectors.EVENT_READ, "dgram")
        self.sel.register(self.listener, selectors.EVENT_READ, "listen")
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _dgram(self):
        try:
            msg, anc, _, _ = self.dgram.recvmsg(1 << 20, socket.CMSG_SPACE(4 * 4))
        except BlockingIOError:
            return
        for level, kind, data in anc:  # a large message comes as a sealed memfd
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                for fd in array.array("i", data[:len(data) - len(data) % 4]):
                    with os.fdopen(fd, "rb") as f:
                        msg += f.read()
        with self.lock:
            self.entries.append(journal_fields(msg))

    def _run(self):
        while not self.stopping:
            for key, _ in self.sel.select(0.1):
                if key.data == "dgram":
                    self._dgram()
                elif key.data == "listen":
                    try:
                        conn, _ = self.listener.accept()
                    except BlockingIOError:
                        continue
                    conn.setblocking(False)
                    st = {"data": b""}
                    with self.lock:
                        self.streams.append(st)
                    self.sel.register(conn, selectors.EVENT_READ, st)
                else:
                    try:
                        chunk = key.fileobj.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        chunk = b""
                    if not chunk:
                        self.sel.unregister(key.fileobj)
                        key.fileobj.close()
                        continue
                    with self.lock:
                        key.data["data"] += chunk

    def manager(self, unit=None):
        """The manager's messages (about unit only, if given), one a line, each after the
        identifier of who sent it ("systemd", or "(gliveD)" for the child that becomes gliveD)."""
        with self.lock:
            entries = list(self.entries)
        return "".join(f"{e.get('SYSLOG_IDENTIFIER', '?')}: {e.get('MESSAGE', '')}\n" for e in entries
                       if unit is None or unit in (e.get("USER_UNIT"), e.get("UNIT")))

    def streams_of(self, ident="gliveD"):
        """Every output stream of the processes named ident so far (a user manager leaves the
        unit line of the header empty): [(header lines, the output after them)]."""
        out = []
        with self.lock:
            for st in self.streams:
                parts = st["data"].split(b"\n", 7)
                if len(parts) == 8 and parts[0].decode() == ident:
                    out.append(([p.decode() for p in parts[:7]], parts[7].decode(errors="replace")))
        return out

    def service_text(self, ident="gliveD"):
        return "".join(data for _, data in self.streams_of(ident))

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        for key in list(self.sel.get_map().values()):
            if key.data not in ("dgram", "listen"):
                key.fileobj.close()
        self.sel.close()
        self.listener.close()
        self.dgram.close()


# Runs in the new mount namespace (unshare -m: its mounts are private, none reaches the host),
# as the manager's pid: joins the manager's cgroup, makes the namespace look like a machine
# booted with systemd, points the journal's sockets at the test, then becomes the manager.
SETUP = r"""
set -u
cg=$1 jsocket=$2 jstdout=$3 unified=$4 systemd=$5 python=$6 uid=${7:-} etc=${8:-} runtime=${9:-}
fail() { echo "glive-test-env: $*" >&2; exit 97; }
echo $$ > "$cg/cgroup.procs" || fail "cannot join the cgroup $cg"
# Where systemd booted, /run is a tmpfs. Here it is a plain directory, and a unit whose sandbox
# implies MountAPIVFS= (ProtectKernelTunables=, ProtectControlGroups=, ProtectProc=) gets a
# fresh empty tmpfs on /run unless it is a mount point (systemd's namespace.c, mount_run()):
# gliveD's ExecStart under /run was gone, "status=203/EXEC". Bound on itself, it is one.
mount --rbind /run /run || fail "cannot make /run a mount point"
# A user manager refuses to run without /run/systemd/system ("Trying to run as user instance,
# but the system has not been booted with systemd"); made on the host, it would tell every
# program there that systemd is PID 1. So: a tmpfs of this namespace's own.
mkdir -p /run/systemd || fail "cannot make /run/systemd"
mount -t tmpfs -o mode=0755 tmpfs /run/systemd || fail "cannot mount a tmpfs on /run/systemd"
mkdir -p /run/systemd/system /run/systemd/journal &&
  : > /run/systemd/journal/socket && mount --bind "$jsocket" /run/systemd/journal/socket &&
  : > /run/systemd/journal/stdout && mount --bind "$jstdout" /run/systemd/journal/stdout ||
  fail "cannot bind the journal's sockets"
# What PID 1 makes at boot: the nodes a sandbox mounts over what it hides. Without them:
# "Failed to set up mount namespacing: /run/systemd/unit-root/proc/kallsyms: No such file or
# directory", status=226/NAMESPACE (ProtectKernelTunables= hides kallsyms with inaccessible/reg).
mkdir -m 0755 /run/systemd/inaccessible && cd /run/systemd/inaccessible &&
  : > reg && chmod 0 reg && mkdir -m 0 dir && mkfifo -m 0 fifo && mknod -m 0 chr c 0 0 &&
  mknod -m 0 blk b 0 0 && "$python" -c 'import os, stat; os.mknod("sock", stat.S_IFSOCK)' && chmod 0 sock &&
  cd / || fail "cannot make /run/systemd/inaccessible"
# Where every sandboxed unit's namespace is built: the first one PID 1 starts at boot makes it;
# an unprivileged user manager cannot ("Failed to set up mount namespacing: No such file or
# directory", status=226/NAMESPACE, without it)
mkdir -m 0700 /run/systemd/unit-root || fail "cannot make /run/systemd/unit-root"
# On a hybrid host (cgroup2 on /sys/fs/cgroup/unified, the controllers on v1 hierarchies) a
# root manager also writes into the v1 hierarchies, at its cgroup's path from their top: it made
# /sys/fs/cgroup/memory/app.slice, outside the memory cgroup this machine runs the tests in.
# With cgroup2 alone it uses its own cgroup and nothing else.
if [ "$unified" != /sys/fs/cgroup ]; then
  mount -t cgroup2 cgroup2 /sys/fs/cgroup || fail "cannot mount cgroup2 on /sys/fs/cgroup"
fi
if [ -z "$uid" ]; then
  exec "$systemd" --user --log-level=debug --log-target=journal
fi
# A user of this namespace's own (its passwd and group entries added here only), whose manager
# runs unprivileged, as a login's user@UID.service would
mount --bind "$etc/passwd" /etc/passwd && mount --bind "$etc/group" /etc/group ||
  fail "cannot bind passwd and group"
# Its runtime dir where logind would make it, /run/user/UID: an unprivileged manager's sandboxes
# take their inaccessible nodes from /run/user/UID/systemd/inaccessible, whatever
# $XDG_RUNTIME_DIR says (namespace.c); elsewhere "/run/systemd/unit-root/proc/kallsyms: No
# such file or directory", status=226/NAMESPACE
mkdir -p /run/user && mount -t tmpfs -o mode=0755 tmpfs /run/user && mkdir -m 0700 "/run/user/$uid" &&
  mount --bind "$runtime" "/run/user/$uid" || fail "cannot make /run/user/$uid"
exec setpriv --reuid="$uid" --regid="$uid" --clear-groups -- "$systemd" --user --log-level=debug --log-target=journal
"""


class UserManager:
    """systemd --user in a mount namespace of its own (SETUP): root's, or, with uid, that of a
    user made for it (uid = gid, name glivetest, home ROOT/home)."""

    def __init__(self, ctx, root, uid=None):
        self.ctx, self.root, self.uid = ctx, root, uid
        self.runtime = os.path.join(root, "runtime")  # the test's path to $XDG_RUNTIME_DIR
        self.config = os.path.join(root, "config")
        self.statehome = os.path.join(root, "state")
        self.prefix = os.path.join(root, "prefix")
        self.unitdir = os.path.join(self.config, "systemd", "user")
        os.makedirs(self.runtime, mode=0o700)
        os.makedirs(self.unitdir)
        # Debian's dbus.socket (sockets.target wants it): its ExecStartPost runs systemctl
        # set-environment, and the manager waits for it at start and exit. Not gliveD's business.
        os.symlink("/dev/null", os.path.join(self.unitdir, "dbus.socket"))
        self.home = os.path.join(root, "home") if uid else os.environ.get("HOME", "/root")
        self.env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": self.home, "LANG": "C.UTF-8",
            # the manager's (in its namespace: /run/user/UID is a bind mount of it for a user)
            "XDG_RUNTIME_DIR": f"/run/user/{uid}" if uid else self.runtime, "XDG_CONFIG_HOME": self.config,
            "XDG_STATE_HOME": self.statehome,
            "SYSTEMD_UNIT_PATH": ":".join([self.unitdir, os.path.join(self.prefix, "lib/systemd/user"),
                                           DISTRO_USER_UNITS]),
        }
        self.proc = None
        self.cgroup = None
        self.logs = None

    def start(self, unified):
        point, own = unified
        # its own cgroup, as a user manager's delegated user@UID.service subtree
        cgroup = os.path.join(point + own, f"glive-test-{os.getpid()}-{os.path.basename(self.root)}")
        try:
            os.mkdir(cgroup)
        except OSError as e:
            raise Skip(f"cannot make a cgroup for the manager: {e}")
        self.cgroup = cgroup
        self.logs = Journal(self.root)
        user = []
        if self.uid:
            user = [str(self.uid), self.make_user(), self.runtime]
        # env -i: a user manager hands its environment to its services, so nothing of the test
        # runner's (MAKEFLAGS, a GEMINI_API_KEY...) may be in it
        self.proc = self.ctx.start("systemd-user", ["env", "-i"] + [f"{k}={v}" for k, v in self.env.items()] +
                                   ["unshare", "-m", "sh", "-c", SETUP, "setup", self.cgroup,
                                    self.logs.socket_path, self.logs.stdout_path, point, SYSTEMD,
                                    "/usr/bin/python3"] + user)
        private = os.path.join(self.runtime, "systemd", "private")
        wait_for(lambda: harness.accepting(private) or not self.proc.alive(), 15, "the manager's private socket")
        if not self.proc.alive():
            err = self.proc.stderr()
            if "glive-test-env:" in err or "unshare:" in err:
                raise Skip(f"no user manager here: {err.strip()}")
            raise AssertionError(f"the user manager exited {self.proc.wait()}: {err}\n{self.logs.manager()[-3000:]}")
        p = self.systemctl("is-system-running", "--wait", check=False, timeout=20)
        assert p.stdout.strip() in ("running", "degraded"), (p.stdout, p.stderr, self.logs.manager()[-3000:])

    def make_user(self):
        """The user's passwd and group files for SETUP, its home, and what it must own: the
        runtime and config dirs, and the manager's cgroup (delegated as user@UID.service's:
        the directory and the files a manager writes). Returns the dir of the two files."""
        etc = os.path.join(self.root, "etc")
        os.makedirs(etc)
        u = self.uid
        with open("/etc/passwd") as f, open(os.path.join(etc, "passwd"), "w") as out:
            out.write(f.read() + f"glivetest:x:{u}:{u}:gliveD test:{self.home}:/usr/sbin/nologin\n")
        with open("/etc/group") as f, open(os.path.join(etc, "group"), "w") as out:
            out.write(f.read() + f"glivetest:x:{u}:\n")
        os.makedirs(self.home, mode=0o700)
        os.chmod(self.root, 0o755)
        os.makedirs(self.statehome)
        for top in (self.home, self.runtime, self.config, self.statehome):
            os.chown(top, u, u)
            for d, dirs, files in os.walk(top):
                for n in dirs + files:
                    os.lchown(os.path.join(d, n), u, u)
        os.chown(self.cgroup, u, u)
        for n in ("cgroup.procs", "cgroup.threads", "cgroup.subtree_control"):
            os.chown(os.path.join(self.cgroup, n), u, u)
        for path in (self.logs.socket_path, self.logs.stdout_path):
            os.chmod(path, 0o666)  # as journald's
        return etc

    def as_user(self):
        """The argv prefix that runs a program as the manager's user (nothing for root)."""
        if not self.uid:
            return []
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups", "--"]

    def systemctl(self, *args, check=True, timeout=20):
        # in the manager's mount namespace, where /run/systemd/system exists: elsewhere
        # systemctl thinks it runs offline (is-system-running says "offline", enable does not
        # reload the manager); as its user
        p = subprocess.run(["nsenter", "-t", str(self.proc.pid), "-m"] + self.as_user() +
                           ["systemctl", "--user", "--no-pager"] + list(args), env=self.env,
                           capture_output=True, text=True, timeout=timeout)
        if check:
            assert p.returncode == 0, f"systemctl --user {' '.join(args)}: exit {p.returncode}\n{p.stderr}"
        return p

    def show(self, unit, *props):
        p = self.systemctl("show", unit, *[f"--property={x}" for x in props])
        return dict(l.split("=", 1) for l in p.stdout.splitlines() if "=" in l)

    def cgroup_pids(self):
        pids = []
        for top, _, files in os.walk(self.cgroup):
            if "cgroup.procs" in files:
                with open(os.path.join(top, "cgroup.procs")) as f:
                    pids += [int(x) for x in f.read().split()]
        return pids

    def stop(self):
        """Stops the manager by its pid (SIGTERM: a user manager then starts exit.target, which
        stops every unit), then checks that no process is left in its cgroup (killing any by
        pid) and removes the cgroup. Returns what was left: pids, cgroups that would not go."""
        left = []
        if self.proc:
            self.proc.stop(timeout=15)
        if self.cgroup and os.path.isdir(self.cgroup):
            left = self.cgroup_pids()
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if left:
                wait_for(lambda: not self.cgroup_pids(), 10, "the processes left to die")
            for top, dirs, _ in sorted(os.walk(self.cgroup), key=lambda t: -t[0].count("/")):
                try:
                    os.rmdir(top)
                except OSError as e:
                    left.append(f"{top}: {e}")
        if self.logs:
            self.logs.stop()
        return left


def make_install(prefix):
    import test_install
    q = subprocess.run(["make", "-q", "-C", REPO, f"BUILD={harness.BUILD}", "all"], capture_output=True,
                       env=test_install.make_env(), timeout=120)
    assert q.returncode == 0, f"{harness.BUILD} is out of date (make -q all): run make first"
    test_install.make("install", f"PREFIX={prefix}")


def skip_unless_possible():
    if os.geteuid() != 0:
        raise Skip("a user manager in its own mount namespace needs root")
    missing = [t for t in ("unshare", "nsenter", "setpriv", "systemctl", "make") if not shutil.which(t)]
    if missing or not SYSTEMD or not os.path.isdir(DISTRO_USER_UNITS):
        raise Skip(f"no systemd to run: missing {missing or SYSTEMD or DISTRO_USER_UNITS}")
    unified = unified_cgroup()
    if not unified:
        raise Skip("no cgroup2 hierarchy (a user manager needs one)")
    return unified


class RealUserManager:
    """The user units installed into a PREFIX and a user manager running them (see the top)."""

    def __init__(self, ctx, uid=None, model=MODEL, script=None, hold=True, args=""):
        self.ctx = ctx
        unified = skip_unless_possible()
        self.root = tempfile.mkdtemp(prefix="glive-systemd-", dir="/run")
        self.m = UserManager(ctx, self.root, uid)
        try:
            make_install(self.m.prefix)
            self.emu = ctx.emulator(tls_dir=os.path.join(self.root, "emulator-tls"), script=script)
            os.chmod(os.path.dirname(self.emu.ca), 0o755)  # the CA certificate is public
            os.chmod(self.emu.ca, 0o644)
            self.hold = os.path.join(self.root, "HOLD")
            unit = os.path.join(self.m.prefix, "lib/systemd/user/gliveD.service")
            execstart = [l for l in open(unit).read().splitlines() if l.startswith("ExecStart=")]
            assert len(execstart) == 1 and execstart[0].startswith(f"ExecStart={self.m.prefix}/bin/gliveD "), execstart
            dropin = os.path.join(self.m.unitdir, "gliveD.service.d")
            os.makedirs(dropin)
            with open(os.path.join(dropin, "test.conf"), "w") as f:
                f.write(f"""[Service]
# the emulator instead of the Live API: the installed command line, options added
ExecStart=
{execstart[0]} --endpoint {self.emu.ws_base} --ca-file {self.emu.ca}{f" --model {model}" if model else ""} --log-level debug{args}
# a missed ping shows within the test's time
WatchdogSec=2s
""")
                if hold:
                    f.write(f"""# the test holds a start at a known point while {self.hold} exists
ExecStartPre=/bin/sh -c 'while [ -e {self.hold} ]; do sleep 0.02; done'
""")
                if harness.SANITIZED:
                    # LeakSanitizer stops the world with ptrace(), which SystemCallFilter=
                    # @system-service refuses: "LeakSanitizer has encountered a fatal error"
                    # and exit status 1 at every stop. ASan and UBSan still run; the other
                    # tests check gliveD's leaks.
                    f.write("Environment=ASAN_OPTIONS=detect_leaks=0\n")
            # where the unit reads the key (%E/glive/gemini-api-key), as the README says
            os.makedirs(os.path.join(self.m.config, "glive"), mode=0o700)
            key = os.path.join(self.m.config, "glive", "gemini-api-key")
            with open(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
                f.write("test-key\n")
            self.m.start(unified)
        except Skip:
            self.close(failed=False, check=False)
            raise
        except BaseException:
            self.close(failed=True)
            raise
        self.sock = os.path.join(self.m.runtime, "glive", "gliveD.sock")
        # StateDirectory=glive of a user unit: $XDG_CONFIG_HOME/glive up to systemd 253,
        # $XDG_STATE_HOME/glive from 254 on
        self.state = os.path.join(self.m.config if SYSTEMD_VERSION < 254 else self.m.statehome, "glive")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(failed=exc_type is not None)
        return False

    def close(self, failed, check=True):
        left = self.m.stop()
        if failed:
            print(f"  (kept {self.root} for inspection)")
            if self.m.logs:
                print("  --- the manager's log about gliveD ---\n" + self.m.logs.manager("gliveD.service")[-4000:])
                print("  --- gliveD's output ---\n" + self.m.logs.service_text()[-4000:])
        else:
            shutil.rmtree(self.root, ignore_errors=True)
        if not failed and check:
            assert not left, f"left in the manager's cgroup (processes killed): {left}"
            out = self.m.logs.service_text()
            assert not any(mark in out for mark in harness.SANITIZER_MARKS), out[-4000:]

    def systemctl(self, *args, **kw):
        return self.m.systemctl(*args, **kw)

    def client(self):
        """A client of the manager's user (made by a process of that uid, see test_access.py)."""
        if not self.m.uid:
            return LineClient(self.sock)
        import test_access
        return test_access.connect_as(self.sock, self.m.uid, self.m.uid)

    def show(self, unit="gliveD.service", *props):
        return self.m.show(unit, *(props or ("ActiveState", "SubState", "MainPID", "StatusText")))

    def notifications(self, pid=None):
        """[(pid, "KEY=VALUE, ...")] of what gliveD sent the notify socket, as the manager saw it."""
        got = [(int(p), tags) for p, tags in NOTIFY.findall(self.m.logs.manager("gliveD.service"))]
        return [n for n in got if pid is None or n[0] == pid]

    def wait_notified(self, pid, tags, after=None):
        """Waits until the manager got tags from pid (after a message starting with `after`, if
        given); returns what pid sent."""
        def seen():
            got = [t for p, t in self.notifications(pid)]
            start = next((i for i, t in enumerate(got) if t.startswith(after)), None) if after else 0
            return got if start is not None and tags in got[start:] else None
        return wait_for(seen, 10, f"{tags!r} from {pid}")

    def wait_gliveD_log(self, text):
        wait_for(lambda: text in self.gliveD_log(), 10, f"{text!r} in gliveD's log")

    def manager_log(self):
        return self.m.logs.manager("gliveD.service")

    def gliveD_log(self):
        return self.m.logs.service_text()

    def active_pid(self):
        """Waits for the service to be active; its MainPID."""
        st = wait_for(lambda: (lambda s: s if s["ActiveState"] == "active" else None)(self.show()),
                      15, "gliveD.service active")
        return int(st["MainPID"])


def free_uid():
    """A uid and gid no user or group of this machine has (the ordinary user's)."""
    import grp
    import pwd
    for uid in range(4242, 5242):
        try:
            pwd.getpwuid(uid)
            continue
        except KeyError:
            pass
        try:
            grp.getgrgid(uid)
        except KeyError:
            return uid
    raise Skip("no free uid between 4242 and 5241")


def gone(pid):
    return not os.path.exists(f"/proc/{pid}")


def read_to_eof(c, timeout=10):
    """Every line until gliveD closes the connection."""
    lines = []
    while True:
        try:
            lines.append(c.read(timeout))
        except EOFError:
            return lines


def test_user_units_activation_notify_reload_restart_stop(ctx):
    with RealUserManager(ctx) as s:
        # the README's line enables and starts the socket: it listens, gliveD does not run yet
        p = s.systemctl("enable", "--now", "gliveD.socket")
        assert os.path.islink(os.path.join(s.m.unitdir, "sockets.target.wants", "gliveD.socket")), p.stderr
        assert s.show("gliveD.socket", "ActiveState", "SubState") == {"ActiveState": "active", "SubState": "listening"}
        assert s.show()["ActiveState"] == "inactive"
        st = os.lstat(s.sock)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)  # SocketMode=
        assert stat.S_IMODE(os.stat(os.path.dirname(s.sock)).st_mode) == 0o700  # DirectoryMode=

        # socket activation: the first client starts gliveD and gets its answer; the service is
        # active once gliveD said READY=1, its StatusText what gliveD says in STATUS=
        c = LineClient(s.sock)
        assert c.ok("hello")["daemon"] == "gliveD"  # {"op": "hello", "id": 1}
        pid = s.active_pid()
        s.wait_notified(pid, "READY=1, STATUS=0 sessions, 0 clients")
        assert s.notifications(pid)[0] == (pid, "READY=1, STATUS=0 sessions, 0 clients")
        c.ok("open", session="a")
        turn = c.ok("send", session="a", text="Hello?")["turn"]
        events = c.turn_events(turn)
        assert events[-1]["event"] == "turn_complete", events
        assert "How can I help" in "".join(e.get("text", "") for e in events if e["event"] == "text"), events
        wait_for(lambda: s.show()["StatusText"] == "1 session, 1 client", 10, "StatusText with the session")
        # glivectl's default socket is the user unit's
        ctl = subprocess.run([os.path.join(harness.BUILD, "glivectl"), "sessions"], capture_output=True,
                             text=True, timeout=30, env=dict(os.environ, XDG_RUNTIME_DIR=s.m.runtime))
        assert ctl.returncode == 0 and "a" in ctl.stdout.split(), (ctl.stdout, ctl.stderr)
        # gliveD's stderr is a journal stream (JOURNAL_STREAM): <N> priorities, no timestamps
        s.wait_gliveD_log(f"<6>gliveD info: listening on {s.sock} (the socket systemd passed)\n")
        (header, out), = s.m.logs.streams_of("gliveD")
        assert header[3] == "1", header  # journald is to parse the level prefixes
        assert "serving the socket systemd passed" not in out  # the unit's path is gliveD's default

        # reload: ExecReload's SIGHUP; gliveD says RELOADING=1, then READY=1; the same process
        s.systemctl("reload", "gliveD.service")
        s.wait_gliveD_log("<6>gliveD info: SIGHUP: config reloaded (no --config file)\n")
        s.wait_notified(pid, "READY=1, STATUS=1 session, 1 client", after="RELOADING=1, MONOTONIC_USEC=")
        assert "gliveD.service: Changed running -> reload" in s.manager_log()
        assert s.active_pid() == pid
        # the watchdog: WatchdogSec=2s reached gliveD (WATCHDOG_USEC), which pings every second
        assert s.show("gliveD.service", "WatchdogUSec")["WatchdogUSec"] == "2s"
        s.wait_gliveD_log("<6>gliveD info: systemd watchdog: a ping every 1000 ms\n")
        wait_for(lambda: s.notifications(pid).count((pid, "WATCHDOG=1")) >= 3, 10, "3 pings")

        # restart with a client connected: gliveD closes it; the socket stays; a client that
        # connects before the new gliveD runs (its start held in ExecStartPre) waits in the
        # socket's backlog and is served once it does; the session is back from the state dir
        open(s.hold, "w").close()
        s.systemctl("restart", "--no-block", "gliveD.service")
        read_to_eof(c)
        wait_for(lambda: s.show()["SubState"] == "start-pre", 10, "the new start held")
        assert gone(pid)
        s.wait_notified(pid, "STOPPING=1, STATUS=stopping: closing sessions")
        assert stat.S_ISSOCK(os.lstat(s.sock).st_mode)
        assert s.show("gliveD.socket", "ActiveState")["ActiveState"] == "active"
        b = LineClient(s.sock)
        b.send_raw(b'{"op":"hello","id":1}\n')
        os.unlink(s.hold)
        assert b.reply_to(1, timeout=15)["ok"]
        pid2 = s.active_pid()
        assert pid2 != pid
        assert os.path.exists(os.path.join(s.state, "sessions", "a.json"))
        assert [x["session"] for x in b.ok("list")["sessions"]] == ["a"]
        turn = b.ok("send", session="a", text="Hello again?")["turn"]
        assert b.turn_events(turn)[-1]["event"] == "turn_complete"
        assert s.emu.log(kind="session")[-1]["resumed"] is True  # with the handle it had saved

        # stop both: gliveD says STOPPING=1 and exits with status 0; the socket file goes with
        # the socket unit (RemoveOnStop=)
        s.systemctl("stop", "gliveD.service", "gliveD.socket")
        st = s.show("gliveD.service", "ActiveState", "Result", "ExecMainPID", "ExecMainCode", "ExecMainStatus")
        assert st == {"ActiveState": "inactive", "Result": "success", "ExecMainPID": str(pid2),
                      "ExecMainCode": "1", "ExecMainStatus": "0"}, st  # CLD_EXITED, status 0
        s.wait_notified(pid2, "STOPPING=1, STATUS=stopping: closing sessions")
        read_to_eof(b)
        assert gone(pid2) and not os.path.exists(s.sock)
        wait_for(lambda: s.gliveD_log().endswith("<6>gliveD info: stopped\n"), 10, "gliveD's last line")
        assert "Watchdog timeout" not in s.manager_log()
        assert s.show("gliveD.service", "NRestarts")["NRestarts"] == "0"


def test_watchdog_kills_a_hung_gliveD_and_restart_brings_its_sessions_back(ctx):
    with RealUserManager(ctx) as s:
        s.systemctl("start", "gliveD.socket")
        c = LineClient(s.sock)
        c.ok("open", session="w")
        pid = s.active_pid()
        record = os.path.join(s.state, "sessions", "w.json")  # saved within a second, handle too
        wait_for(lambda: os.path.exists(record) and json.load(open(record)).get("handle"), 5, "w saved")
        s.wait_notified(pid, "WATCHDOG=1")
        os.kill(pid, signal.SIGSTOP)  # its loop no longer turns: no more pings
        wait_for(lambda: "gliveD.service: Watchdog timeout (limit 2s)!" in s.manager_log(), 10,
                 "the watchdog's timeout")
        read_to_eof(c)
        wait_for(lambda: re.search(r"gliveD\.service: Main process exited, code=(dumped|killed), "
                                   r"status=6/ABRT", s.manager_log()), 10, "gliveD killed by SIGABRT")
        pid2 = s.active_pid()  # Restart=on-failure, after RestartSec=2s
        assert pid2 != pid and gone(pid)
        assert s.show("gliveD.service", "NRestarts")["NRestarts"] == "1"
        c = LineClient(s.sock)
        assert [x["session"] for x in c.ok("list")["sessions"]] == ["w"]
        c.close()
        s.systemctl("stop", "gliveD.service", "gliveD.socket")
        assert s.show("gliveD.service", "Result", "ExecMainStatus") == {"Result": "success", "ExecMainStatus": "0"}


def test_user_units_for_an_ordinary_user(ctx):
    """The user units as they mostly run: the manager of a user who is not root, unprivileged, so
    its sandboxing needs PrivateUsers=yes (the unit says so), where root shows as nobody."""
    uid = free_uid()
    # gliveD's default model has no code execution of its own: run_python runs here
    with RealUserManager(ctx, uid=uid, hold=False, model=None, script=CODE_SCRIPT) as s:
        s.systemctl("enable", "--now", "gliveD.socket")
        # root's process reaches the socket (root may open any file) but gliveD sees nobody
        root = LineClient(s.sock)
        refused = root.read(10)
        assert refused["error"]["code"] == "refused" and "you are uid 65534" in refused["error"]["message"], refused
        c = s.client()  # a process of the user's
        assert c.ok("hello")["daemon"] == "gliveD"
        pid = s.active_pid()
        assert open(f"/proc/{pid}/uid_map").read().split() == [str(uid), str(uid), "1"]
        # run_python's sandbox (bwrap, its profile for gliveD.service's hardening) works inside
        # the unit's: it once did not, "bwrap: loopback: Failed to create NETLINK_ROUTE socket:
        # Address family not supported by protocol" (RestrictAddressFamilies= lacked AF_NETLINK);
        # now the SERVICE profile needs no network namespace, AF_NETLINK or
        # RestrictNamespaces=net: a seccomp filter refuses the code every socket
        s.wait_gliveD_log("<6>gliveD info: run_python: code runs in a bubblewrap sandbox")
        c.ok("open", session="u", tools=[{"code_execution": {}}])
        c.ok("send", session="u", text="compute it")
        res = c.next_event(timeout=20, where=lambda e: e["event"] == "code_result")
        assert res["local"] and res["outcome"] == "OUTCOME_OK" and res["output"] == "42\n", res
        # reload: ExecReload's kill is a process of the unit too; with PrivateUsers=yes it could
        # not join the unit's IPC namespace (made in gliveD's user namespace): "PrivateIPC=yes is
        # configured, but IPC namespace setup failed ... /run/systemd/unit-root/dev/mqueue:
        # Operation not permitted", status=226/NAMESPACE, "Reload failed for gliveD.service"
        s.systemctl("reload", "gliveD.service")
        s.wait_gliveD_log("<6>gliveD info: SIGHUP: config reloaded (no --config file)\n")
        s.wait_notified(pid, "READY=1, STATUS=1 session, 1 client", after="RELOADING=1, MONOTONIC_USEC=")
        assert s.active_pid() == pid
        # the session is the user's, in its state dir, back after a restart
        s.systemctl("restart", "gliveD.service")
        read_to_eof(c)
        pid2 = s.active_pid()
        assert pid2 != pid and os.stat(os.path.join(s.state, "sessions", "u.json")).st_uid == uid
        c = s.client()
        assert [x["session"] for x in c.ok("list")["sessions"]] == ["u"]
        s.systemctl("stop", "gliveD.service", "gliveD.socket")
        assert s.show("gliveD.service", "Result", "ExecMainStatus") == {"Result": "success", "ExecMainStatus": "0"}
        read_to_eof(c)


def test_a_gliveD_that_cannot_start_fails_its_unit_and_says_why_as_an_error(ctx):
    """Type=notify: gliveD exits before READY=1, the start job fails; its last line reaches the
    journal with the error priority <3> (it came without a prefix, which the journal files at
    the stream's default priority, info: `journalctl -p err` did not show why)."""
    with RealUserManager(ctx, hold=False, args=" --max-line=-2") as s:
        p = s.systemctl("start", "gliveD.service", check=False)  # the socket comes with it
        assert p.returncode != 0 and "Job for gliveD.service failed" in p.stderr, (p.returncode, p.stderr)
        st = s.show("gliveD.service", "Result", "ExecMainCode", "ExecMainStatus")
        assert st == {"Result": "exit-code", "ExecMainCode": "1", "ExecMainStatus": "2"}, st
        s.wait_gliveD_log('<3>gliveD: --max-line wants a whole number of bytes in 1024..67108864, not "-2"\n')
        assert not s.notifications()
        s.systemctl("stop", "gliveD.service", "gliveD.socket")  # no restart after 2 s
