"""Integration test harness: starts the real binaries on ephemeral ports in temp dirs and stops
every process it started by pid. Used by tests/run.py; each test gets a TestContext."""
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.request

BUILD = None
SANITIZED = False
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def configure(build, sanitized):
    global BUILD, SANITIZED
    BUILD = build
    SANITIZED = sanitized


class Skip(Exception):
    pass


def wait_for(cond, timeout=10.0, what="condition", interval=0.02):
    """Polls cond() until it returns a truthy value; raises AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def rss_kib(pid):
    """A process's resident memory (VmRSS), KiB; 0 if it has none (gone)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def accepting(path):
    """True once a Unix socket takes connections (its file exists from bind(), before listen())."""
    import socket as _s
    s = _s.socket(_s.AF_UNIX, _s.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


class Proc:
    def __init__(self, ctx, name, argv, env=None, stdin=None):
        self.name = name
        self.argv = argv
        self.out_path = os.path.join(ctx.tmp, f"{name}.out")
        self.err_path = os.path.join(ctx.tmp, f"{name}.err")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.p = subprocess.Popen(argv, stdout=self._out, stderr=self._err, env=full_env,
                                  stdin=stdin if stdin is not None else subprocess.DEVNULL,
                                  cwd=ctx.tmp)
        self.pid = self.p.pid
        self.rc = None

    def alive(self):
        return self.p.poll() is None

    def wait(self, timeout=30):
        self.rc = self.p.wait(timeout=timeout)
        return self.rc

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Signals the process by pid and waits; SIGKILL if it does not exit in time."""
        if self.p.poll() is None:
            os.kill(self.pid, sig)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.p.wait(timeout=5)
        self.rc = self.p.returncode
        self._out.close()
        self._err.close()
        return self.rc

    def stdout(self):
        if not self._out.closed:
            self._out.flush()
        with open(self.out_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stderr(self):
        if not self._err.closed:
            self._err.flush()
        with open(self.err_path, "rb") as f:
            return f.read().decode(errors="replace")


class Emulator:
    def __init__(self, ctx, tls=True, script=None, time_scale=0.01, args=(), name="emulator",
                 port=0, tls_dir=None):
        self.ctx = ctx
        self.tls = tls
        self.script, self.time_scale, self.args = script, time_scale, list(args)
        port_file = os.path.join(ctx.tmp, f"{name}.port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        self.tls_dir = tls_dir or os.path.join(ctx.tmp, "emulator-tls")
        argv = [os.path.join(BUILD, "glive-emulator"), "--listen", f"127.0.0.1:{port}",
                "--port-file", port_file, "--time-scale", str(time_scale)]
        argv += ["--tls-dir", self.tls_dir] if tls else ["--no-tls"]
        if script is not None:
            path = os.path.join(ctx.tmp, f"{name}-script.json")
            with open(path, "w") as f:
                json.dump(script, f)
            argv += ["--script", path]
        argv += list(args)
        self.proc = ctx.start(name, argv)
        wait_for(lambda: os.path.exists(port_file) or not self.proc.alive(), 10, "emulator port file")
        if not self.proc.alive():
            raise AssertionError(f"emulator exited: {self.proc.stderr()}")
        with open(port_file) as f:
            self.port = int(f.read().strip())
        self.ca = os.path.join(self.tls_dir, "ca.pem") if tls else None
        scheme = "https" if tls else "http"
        self.http_base = f"{scheme}://127.0.0.1:{self.port}"
        self.ws_base = f"{'wss' if tls else 'ws'}://127.0.0.1:{self.port}"

    def restart(self, name, tls_dir=None):
        """Another emulator process on the same port (the old one must be stopped first)."""
        return Emulator(self.ctx, tls=self.tls, script=self.script, time_scale=self.time_scale,
                        args=self.args, name=name, port=self.port, tls_dir=tls_dir or self.tls_dir)

    def ssl_context(self):
        return ssl.create_default_context(cafile=self.ca) if self.tls else None

    def get(self, path):
        with urllib.request.urlopen(self.http_base + path, context=self.ssl_context(), timeout=10) as r:
            return json.loads(r.read())

    def stats(self):
        return self.get("/emulator/stats")

    def log(self, since=0, kind=None):
        entries = self.get(f"/emulator/log?since={since}")
        return [e for e in entries if kind is None or e["kind"] == kind]

    def url(self, version="v1beta", key="test-key", double_slash=False):
        path = ("//" if double_slash else "/") + \
            f"ws/google.ai.generativelanguage.{version}.GenerativeService.BidiGenerateContent"
        return f"{self.ws_base}{path}" + (f"?key={key}" if key else "")


class TestContext:
    def __init__(self, name):
        self.name = name
        self.procs = []

    def __enter__(self):
        self.tmp = tempfile.mkdtemp(prefix="glive-test-")
        return self

    def start(self, name, argv, env=None, stdin=None):
        p = Proc(self, name, argv, env=env, stdin=stdin)
        self.procs.append(p)
        return p

    def emulator(self, **kw):
        return Emulator(self, **kw)

    def daemon(self, emu, **kw):
        return Daemon(self, emu, **kw)

    def __exit__(self, exc_type, exc, tb):
        problems = []
        for p in reversed(self.procs):
            p.stop()
            err = p.stderr()
            if any(m in err for m in SANITIZER_MARKS):
                problems.append(f"{p.name} (pid {p.pid}) sanitizer report:\n{err[-4000:]}")
        if exc_type is None and problems:
            raise AssertionError("\n".join(problems))
        if exc_type is None:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print(f"  (kept {self.tmp} for inspection)")
            for p in self.procs:
                tail = p.stderr()[-1500:]
                if tail:
                    print(f"  --- {p.name} stderr tail ---\n{tail}")
        return False


class Daemon:
    """gliveD pointed at an emulator, with its socket in the test's temp dir."""

    def __init__(self, ctx, emu, args=(), name="gliveD", env=None, model="gemini-live-2.5-flash-preview",
                 socket_path=None):
        self.ctx = ctx
        self.emu = emu
        self.socket = socket_path or os.path.join(ctx.tmp, f"{name}.sock")
        argv = [os.path.join(BUILD, "gliveD"), "--socket", self.socket, "--endpoint", emu.ws_base,
                "--log-level", "debug"]
        if model:
            argv += ["--model", model]
        if emu.tls:
            argv += ["--ca-file", emu.ca]
        argv += list(args)
        full_env = {"GEMINI_API_KEY": "test-key"}
        full_env.update(env or {})
        self.proc = ctx.start(name, argv, env=full_env)
        wait_for(lambda: self._accepting() or not self.proc.alive(), 10, "gliveD socket")
        if not self.proc.alive():
            raise AssertionError(f"gliveD exited: {self.proc.stderr()}")

    def _accepting(self):
        return accepting(self.socket)

    def client(self):
        return LineClient(self.socket)

    def ctl(self, *args, timeout=60, check=True, stdin=None):
        """Runs build/glivectl --socket S ARGS; returns the CompletedProcess (text)."""
        p = subprocess.run([os.path.join(BUILD, "glivectl"), "--socket", self.socket] + list(args),
                           capture_output=True, timeout=timeout, cwd=self.ctx.tmp, input=stdin)
        p.stdout_text = p.stdout.decode(errors="replace")
        p.stderr_text = p.stderr.decode(errors="replace")
        if check and p.returncode != 0:
            raise AssertionError(f"glivectl {args} exited {p.returncode}: {p.stderr_text}")
        return p


class LineClient:
    """A line-protocol client: requests get their reply; events queue up for next_event()."""

    def __init__(self, path):
        import socket as _s
        self.sock = _s.socket(_s.AF_UNIX, _s.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""
        self.events = []
        self.next_id = 0

    def send_raw(self, data):
        self.sock.sendall(data)

    def _read_line(self, timeout):
        self.sock.settimeout(timeout)
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("gliveD closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def read(self, timeout=10):
        """Next line of any kind (reply or event), bypassing the event queue."""
        return self._read_line(timeout)

    def request(self, op, timeout=10, **fields):
        self.next_id += 1
        rid = self.next_id
        msg = dict(fields, op=op, id=rid)
        self.sock.sendall((json.dumps(msg) + "\n").encode())
        return self.reply_to(rid, timeout)

    def reply_to(self, rid, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_line(max(0.01, deadline - time.monotonic()))
            if "event" in m:
                self.events.append(m)
            elif m.get("id") == rid:
                return m

    def ok(self, op, **fields):
        r = self.request(op, **fields)
        assert r["ok"], f"{op} failed: {r}"
        return r

    def next_event(self, timeout=10, where=None):
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if where is None or where(e):
                    return self.events.pop(i)
            m = self._read_line(max(0.01, deadline - time.monotonic()))
            if "event" in m:
                self.events.append(m)

    def turn_events(self, turn, timeout=20):
        """Events of one turn up to and including turn_complete (or interrupted/error)."""
        out = []
        while True:
            e = self.next_event(timeout, lambda e: e.get("turn") == turn)
            out.append(e)
            if e["event"] in ("turn_complete", "interrupted", "error"):
                return out

    def close(self):
        self.sock.close()
