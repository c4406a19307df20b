#!/usr/bin/env python3
"""make bench: what one streamed turn costs through gliveD, against the official SDK.

One run starts the emulator (wss) as the bench server (its emu:stream rule: docs/emulator-script.md,
"Streams") and measures, over wss:
  CPU     one long turn (N text parts of 20 bytes, or M ms of audio in 20 ms chunks) received by
          (a) gliveD + `glivectl ask`, (b) the official @google/genai SDK (bench/sdk_stream.mjs),
          (c) the seed notebook's python-websockets client (bench/notebook_stream.py). Every
          client must get every byte (sha256 of the text or PCM, checked against the emulator's
          formula). CPU is user+sys over the turn: gliveD's from its process CPU clock before and
          after glivectl runs, glivectl's whole run (wait4), node's and python's own from the
          prompt to turnComplete of a second turn in the same process (the first one warms V8's
          compiler up: steady state, like the long-lived daemon's). Median of --reps runs, the clients interleaved in each run so
          that machine drift hits all of them; the ratio is the median of the per-run ratios.
  latency 100 sessions on one client connection, each streaming 10 stamped parts/s (1,000/s in
          all): the emulator stamps each part with CLOCK_MONOTONIC as it queues it, the client
          reads the clock as each event line arrives; p50/p99 of the difference (emulator TLS
          write + gliveD + the Unix socket + the reader). And gliveD's own added latency from its
          timestamps (status latency_us: a message read off the upstream socket -> its event
          lines written to the client's socket), on a gliveD that did nothing else.
  startup gliveD exec -> its socket accepts (median of 10, with --ca-file: the CA store is read
          at the first connection); glivectl ask exec -> its `send` line reaches the socket (a
          stand-in gliveD in this process answers hello/open and stamps the line's arrival).
  memory  VmRSS of a fresh gliveD at rest, then with 1,000 and 10,000 idle sessions (opened on
          one client connection, each connected and ready): (RSS - RSS at rest) / sessions.

  bench/run.py [--build DIR] [--quick] [--reps N] [--skip PARTS] [--readme README.md] [--json FILE]

--skip takes a comma list of cpu,latency,startup,rss,notebook: e.g. `--skip cpu,latency,startup`
measures only the memory (the SDK is needed only for the CPU part).

--readme replaces README.md's "## Performance" section with the table and the machine facts.
tests/integration/test_bench.py runs the CPU part small (quick_cpu) and checks RATIO_LIMITS.
Stdlib only; every process it starts is stopped by pid."""
import argparse
import array
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SDK_PKG = os.path.join(ROOT, "tests", "sdk", "node_modules", "@google", "genai")
MODEL = "gemini-live-2.5-flash-preview"  # takes TEXT and AUDIO sessions; the stream ignores the rest

# Issue 11's goals: gliveD + glivectl CPU per message as a fraction of the SDK's.
RATIO_GOALS = {"text": 0.5, "audio": 0.25}
# What `make check` (tests/integration/test_bench.py, the QUICK sizes) accepts: about 2x the
# ratios the quick run measured after the fast paths of issue 11 (text 0.32-0.37, audio
# 0.26-0.33 over runs on 2 cores at load ~5; the SDK's own audio time varies most), so that
# only a wide regression fails it (losing a fast path would: text was 1.15, audio 2.6 without),
# never a noisy machine.
RATIO_LIMITS = {"text": 0.75, "audio": 0.7}

FULL = {"text_parts": 100000, "audio_ms": 200000, "reps": 3,  # 10,000 audio chunks
        "lat_sessions": 100, "lat_rate": 10, "lat_parts": 100, "rss_counts": (1000, 10000)}
QUICK = {"text_parts": 50000, "audio_ms": 100000, "reps": 5,  # 5,000 audio chunks
         "lat_sessions": 20, "lat_rate": 10, "lat_parts": 20, "rss_counts": (200,)}


class BenchError(Exception):
    pass


# ---- what the emulator sends (emulator/stream.c), to check every client got every byte ----

def expected_sha(kind, n):
    h = hashlib.sha256()
    if kind == "text":
        for i in range(n):
            h.update(b"%07d bench text, " % i)
    else:  # n chunks of 480 s16le samples
        pcm = array.array("H", (((k * 7919) ^ (k >> 9)) & 0xFFFF for k in range(n * 480)))
        if sys.byteorder == "big":
            pcm.byteswap()
        h.update(pcm.tobytes())
    return h.hexdigest()


# ---- processes ----

def cpu_clock(pid):
    """The process-wide CPU clock of another process (clock_getcpuclockid): ns of user+sys over
    all its threads, exact, where /proc/PID/stat counts 10 ms ticks."""
    return ((~pid) << 3) | 2  # MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)


def cpu_ns(pid):
    return time.clock_gettime_ns(cpu_clock(pid))


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


class Bench:
    def __init__(self, build, tmp):
        self.build = os.path.abspath(build)
        self.tmp = tmp
        self.procs = []

    def start(self, name, argv, env=None):
        out = open(os.path.join(self.tmp, f"{name}.log"), "wb")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env=dict(os.environ, **(env or {})), cwd=self.tmp)
        p.log = out.name
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=5)

    def stop_all(self):
        for p in reversed(self.procs):
            self.stop(p)

    def wait_file(self, path, p, what):
        deadline = time.monotonic() + 20
        while not os.path.exists(path):
            if p.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"{what} did not start: {open(p.log).read()[-2000:]}")
            time.sleep(0.02)

    def emulator(self):
        port_file = os.path.join(self.tmp, "emulator.port")
        self.tls_dir = os.path.join(self.tmp, "tls")
        self.emu = self.start("emulator", [
            os.path.join(self.build, "glive-emulator"), "--listen", "127.0.0.1:0", "--port-file", port_file,
            "--tls-dir", self.tls_dir, "--log-level", "warn"])
        self.wait_file(port_file, self.emu, "the emulator")
        self.port = int(open(port_file).read())
        self.ca = os.path.join(self.tls_dir, "ca.pem")

    def daemon(self, name):
        sock = os.path.join(self.tmp, f"{name}.sock")
        p = self.start(name, [
            os.path.join(self.build, "gliveD"), "--socket", sock, "--endpoint", f"wss://127.0.0.1:{self.port}",
            "--ca-file", self.ca, "--model", MODEL, "--log-level", "warn",
            # the memory part opens 10,000 sessions, the latency part 100: past the default 64
            "--max-sessions-per-uid", "10000"], env={"GEMINI_API_KEY": "bench-key"})
        self.wait_file(sock, p, "gliveD")
        p.sock = sock
        return p

    # ---- one turn per client ----

    def run_child(self, argv, env=None, stdout=None, timeout=600):
        """Runs a client to its end; returns (exit status, its rusage, wall s, stderr tail)."""
        t0 = time.monotonic()
        err = tempfile.TemporaryFile(dir=self.tmp)
        p = subprocess.Popen(argv, stdout=stdout or subprocess.DEVNULL, stderr=err,
                             stdin=subprocess.DEVNULL, env=dict(os.environ, **(env or {})), cwd=self.tmp)
        deadline = t0 + timeout
        while True:  # wait4 for the child's own CPU (µs, all threads); Popen.wait would discard it
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                os.kill(p.pid, signal.SIGKILL)
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.002)
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return p.returncode, ru, wall, err.read().decode(errors="replace")[-2000:]

    def gliveD_turn(self, d, kind, prompt, session):
        out_path = os.path.join(self.tmp, f"glivectl-{kind}.out")
        argv = [os.path.join(self.build, "glivectl"), "--socket", d.sock, "ask", "--session", session]
        argv += (["--audio"] if kind == "audio" else []) + [prompt]
        with open(out_path, "wb") as out:
            c0 = cpu_ns(d.pid)
            rc, ru, wall, err = self.run_child(argv, stdout=out)
            c1 = cpu_ns(d.pid)
        if rc != 0:
            raise BenchError(f"glivectl ask exited {rc}: {err}")
        with open(out_path, "rb") as f:
            data = f.read()
        if kind == "text":
            data = data[:-1] if data.endswith(b"\n") else data  # ask ends the text with a newline
            parts = data.count(b" bench text, ")
        else:
            parts = len(data) // 960
        return {"parts": parts, "sha256": hashlib.sha256(data).hexdigest(), "wall_s": wall,
                "gliveD_us": (c1 - c0) / 1e3, "glivectl_us": (ru.ru_utime + ru.ru_stime) * 1e6}

    def json_client_turn(self, argv, env, what):
        out = tempfile.TemporaryFile(dir=self.tmp)
        rc, ru, wall, err = self.run_child(argv, env=env, stdout=out)
        out.seek(0)
        text = out.read().decode(errors="replace")
        if rc != 0 or not text.strip():
            raise BenchError(f"{what} exited {rc}: {err}")
        r = json.loads(text.strip().splitlines()[-1])
        r["cpu_us"] = r["user_us"] + r["sys_us"]
        return r

    # The SDK and notebook clients receive the same turn twice in one process and report the
    # second: a long-lived app's steady state (V8 has compiled its hot paths), as gliveD's is.
    def sdk_turn(self, kind, prompt):
        return self.json_client_turn(
            ["node", os.path.join(HERE, "sdk_stream.mjs"), f"https://127.0.0.1:{self.port}", kind, prompt,
             MODEL, prompt], {"NODE_EXTRA_CA_CERTS": self.ca}, "the SDK client")

    def notebook_turn(self, kind, prompt):
        return self.json_client_turn(
            [sys.executable, os.path.join(HERE, "notebook_stream.py"), f"wss://127.0.0.1:{self.port}", kind,
             prompt, MODEL, prompt], {"SSL_CERT_FILE": self.ca}, "the python-websockets client")


def have_sdk():
    return os.path.isdir(SDK_PKG) and shutil.which("node") is not None


def have_websockets():
    try:
        import websockets  # noqa: F401  (Debian's python3-websockets: the seed notebook's library)
        return True
    except ImportError:
        return False


def cpu_bench(b, d, sizes, reps, clients, log=print):
    """Per kind and client: the median CPU µs per message and wall, and the median of the per-run
    ratios to the SDK. Raises BenchError if a client missed a byte."""
    prompts = {"text": f"emu:stream parts={sizes['text_parts']}",
               "audio": f"emu:stream audio_ms={sizes['audio_ms']}"}
    counts = {"text": sizes["text_parts"], "audio": (sizes["audio_ms"] + 19) // 20}
    want = {k: expected_sha(k, counts[k]) for k in counts}
    runners = {"gliveD": lambda k, p: b.gliveD_turn(d, k, p, f"bench-{k}"),
               "sdk": b.sdk_turn, "notebook": b.notebook_turn}
    # warm-up: gliveD's sessions connected (their TLS handshake is not part of a turn), caches
    for k in counts:
        small = "emu:stream parts=100" if k == "text" else "emu:stream audio_ms=2000"
        for c in clients:
            runners[c](k, small)
    runs = {(k, c): [] for k in counts for c in clients}
    for rep in range(reps):
        for k in counts:
            for c in clients:
                r = runners[c](k, prompts[k])
                if r["parts"] != counts[k] or r["sha256"] != want[k]:
                    raise BenchError(f"{c} {k} run {rep + 1}: got {r['parts']} parts, sha256 {r['sha256']}; "
                                     f"want {counts[k]}, {want[k]}")
                r["total_us"] = r["gliveD_us"] + r["glivectl_us"] if c == "gliveD" else r["cpu_us"]
                runs[(k, c)].append(r)
        log(f"  run {rep + 1}/{reps}: " + ", ".join(
            f"{k} {c} {runs[(k, c)][-1]['total_us'] / counts[k]:.2f}" for k in counts for c in clients) + " µs/msg")
    res = {}
    for (k, c), rs in runs.items():
        n = counts[k]
        row = {"messages": n, "per_msg_us": statistics.median(r["total_us"] for r in rs) / n,
               "wall_s": statistics.median(r["wall_s"] for r in rs),
               "all_per_msg_us": [round(r["total_us"] / n, 3) for r in rs]}
        if c == "gliveD":
            row["gliveD_us"] = statistics.median(r["gliveD_us"] for r in rs) / n
            row["glivectl_us"] = statistics.median(r["glivectl_us"] for r in rs) / n
        if "sdk" in clients:
            row["ratio_to_sdk"] = statistics.median(
                r["total_us"] / s["total_us"] for r, s in zip(rs, runs[(k, "sdk")]))
        res[f"{k}/{c}"] = row
    return res


# ---- the line protocol, raw: many sessions on one connection ----

class Line:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.buf = b""
        self.pending = []  # (arrival ns, line) read but not yet taken

    def send(self, objs):
        self.s.sendall(b"".join(json.dumps(o).encode() + b"\n" for o in objs))

    def lines(self, timeout):
        """Yields (arrival ns, message) as lines come, until timeout s without any."""
        self.s.settimeout(timeout)
        while True:
            while self.pending:
                now, line = self.pending.pop(0)
                yield now, json.loads(line)
            try:
                chunk = self.s.recv(1 << 20)
            except socket.timeout:
                raise BenchError(f"gliveD sent nothing for {timeout} s")
            now = time.monotonic_ns()  # the same CLOCK_MONOTONIC the emulator stamps with
            if not chunk:
                raise BenchError("gliveD closed the connection")
            self.buf += chunk
            *done, self.buf = self.buf.split(b"\n")
            self.pending += [(now, line) for line in done]

    def close(self):
        self.s.close()


def open_sessions(c, names, timeout=120):
    """Opens the sessions and waits until every one is ready (connected, setupComplete)."""
    waiting = set(names)
    batch = 500  # requests in flight at a time: bounded, so the replies never fill our socket
    todo = list(names)
    c.send([{"id": n, "op": "open", "session": n, "modality": "TEXT"} for n in todo[:batch]])
    todo = todo[batch:]
    replies = 0
    for _, m in c.lines(timeout):
        if "ok" in m:
            if not m["ok"]:
                raise BenchError(f"open failed: {m}")
            replies += 1
            if todo and replies % batch == 0:
                c.send([{"id": n, "op": "open", "session": n, "modality": "TEXT"} for n in todo[:batch]])
                todo = todo[batch:]
        elif m.get("event") == "state":
            if m["state"] == "ready":
                waiting.discard(m["session"])
            elif m["state"] in ("closed", "reconnecting"):
                raise BenchError(f"session {m['session']}: {m}")
        if not waiting and not todo:
            return


def latency_bench(b, d, sessions, rate, parts):
    c = Line(d.sock)
    names = [f"lat{i}" for i in range(sessions)]
    open_sessions(c, names)
    prompt = f"emu:stream parts={parts} rate={rate} stamp=1"
    # The prompts are spread over one period (1/rate s) so that the sessions' streams interleave
    # evenly, 1,000 messages/s, rather than arriving in bursts of `sessions` every period.
    t0 = time.monotonic()
    for i, n in enumerate(names):
        time.sleep(max(0.0, t0 + i / (rate * sessions) - time.monotonic()))
        c.send([{"id": f"s{n}", "op": "send", "session": n, "text": prompt}])
    lat, done = [], 0
    for now, m in c.lines(30):
        ev = m.get("event")
        if ev == "text":
            lat.append(now - int(m["text"].split("@")[1]))
        elif ev == "turn_complete":
            done += 1
            if done == sessions:
                break
        elif ev in ("interrupted", "error"):
            raise BenchError(f"latency turn: {m}")
    c.close()
    if len(lat) != sessions * parts:
        raise BenchError(f"latency: {len(lat)} stamped parts, want {sessions * parts}")
    lat.sort()
    q = statistics.quantiles(lat, n=100, method="inclusive")
    return {"sessions": sessions, "msgs_per_s": sessions * rate, "samples": len(lat),
            "p50_ms": q[49] / 1e6, "p99_ms": q[98] / 1e6, "max_ms": lat[-1] / 1e6}


def daemon_latency(d):
    """gliveD's own latency histogram (status latency_us), in ms."""
    c = Line(d.sock)
    c.send([{"id": "st", "op": "status"}])
    for _, m in c.lines(10):
        if m.get("id") == "st":
            c.close()
            lu = m["latency_us"]
            return {"writes": lu["writes"], "p50_ms": lu["p50"] / 1000, "p99_ms": lu["p99"] / 1000,
                    "max_ms": lu["max"] / 1000}
    raise BenchError("no status reply")


def startup_bench(b, runs=10):
    """Milliseconds from exec to gliveD accepting on its socket, and from exec to glivectl ask's
    prompt on the socket; medians of `runs`."""
    listen = []
    for i in range(runs):
        sock = os.path.join(b.tmp, f"start{i}.sock")
        t0 = time.monotonic_ns()
        p = b.start(f"gliveD-start{i}", [
            os.path.join(b.build, "gliveD"), "--socket", sock, "--endpoint", f"wss://127.0.0.1:{b.port}",
            "--ca-file", b.ca, "--log-level", "warn"], env={"GEMINI_API_KEY": "bench-key"})
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(sock)
                listen.append((time.monotonic_ns() - t0) / 1e6)
                break
            except OSError:
                if p.poll() is not None or time.monotonic_ns() - t0 > 20e9:
                    raise BenchError(f"gliveD did not start: {open(p.log).read()[-2000:]}")
                time.sleep(0.0001)
            finally:
                s.close()
        b.stop(p)
    # a stand-in gliveD: answers glivectl's requests, stamps the arrival of its send
    ask = []
    for i in range(runs):
        sock = os.path.join(b.tmp, f"fake{i}.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(sock)
        srv.listen(1)
        t0 = time.monotonic_ns()
        p = subprocess.Popen([os.path.join(b.build, "glivectl"), "--socket", sock, "ask", "--session", "s",
                              "Hello?"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        srv.settimeout(20)
        conn, _ = srv.accept()
        buf, sent_at = b"", None
        while sent_at is None:
            chunk = conn.recv(65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                m = json.loads(line)
                op, rid = m.get("op"), m.get("id")
                if op == "send":
                    sent_at = time.monotonic_ns()
                    out = [{"id": rid, "ok": True, "turn": 1, "queued": False},
                           {"event": "turn_complete", "session": "s", "turn": 1}]
                elif op == "open":
                    out = [{"id": rid, "ok": True, "session": "s", "created": True, "state": "ready",
                            "model": MODEL, "modality": "TEXT"}]
                else:
                    out = [{"id": rid, "ok": True}]
                conn.sendall(b"".join(json.dumps(o).encode() + b"\n" for o in out))
        try:
            p.wait(timeout=20)
        finally:
            conn.close()
            srv.close()
        if sent_at is None:
            raise BenchError("glivectl ask never sent its prompt to the stand-in gliveD")
        ask.append((sent_at - t0) / 1e6)
    return {"runs": runs, "listen_ms": statistics.median(listen), "ask_ms": statistics.median(ask)}


def rss_bench(b, counts):
    d = b.daemon("gliveD-rss")
    c = Line(d.sock)
    c.send([{"id": 0, "op": "hello"}])
    next(c.lines(10))
    time.sleep(0.5)
    base = vm_rss_kib(d.pid)
    out, opened = {"rest_kib": base}, 0
    for n in counts:
        open_sessions(c, [f"idle{i}" for i in range(opened, n)], timeout=300)
        opened = n
        time.sleep(1.0)  # let connections settle (TLS buffers of the handshake freed)
        rss = vm_rss_kib(d.pid)
        out[n] = {"rss_kib": rss, "per_session_kib": (rss - base) / n}
    c.close()
    b.stop(d)
    return out


# ---- the report ----

def machine_facts():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return {"nproc": os.cpu_count(), "cpu": model, "load": load}


NAMES = {"gliveD": "gliveD + glivectl ask", "sdk": "@google/genai SDK (node)",
         "notebook": "python-websockets (seed notebook)"}


def table(res, facts_before, facts_after, sizes, reps):
    L = []
    L.append(f"Machine: {facts_before['nproc']} CPUs, {facts_before['cpu']}; load average "
             f"{facts_before['load']} before, {facts_after['load']} after (other work shares these CPUs).")
    if "cpu" in res:
        L.append("")
        L.append(f"CPU per message over one streamed turn (user+sys, median of {reps} runs, wss from the emulator):")
        L.append("")
        L.append("| turn | client | messages | CPU µs/msg | gliveD | glivectl | wall s | ratio to SDK | goal |")
        L.append("|---|---|---|---|---|---|---|---|---|")
    for k, label in (("text", "text, 20 B parts"), ("audio", "audio, 20 ms chunks")):
        for c in ("gliveD", "sdk", "notebook"):
            r = res.get("cpu", {}).get(f"{k}/{c}")
            if not r:
                continue
            g = f"{r['gliveD_us']:.2f}" if c == "gliveD" else ""
            gc = f"{r['glivectl_us']:.2f}" if c == "gliveD" else ""
            ratio = f"{r['ratio_to_sdk']:.2f}x" if "ratio_to_sdk" in r else ""
            goal = f"<= {RATIO_GOALS[k]}x" if c == "gliveD" else ""
            L.append(f"| {label} | {NAMES[c]} | {r['messages']} | {r['per_msg_us']:.2f} | {g} | {gc} | "
                     f"{r['wall_s']:.2f} | {ratio} | {goal} |")
    if "latency" in res:
        la = res["latency"]
        L.append("")
        L.append(f"Latency, emulator queues a part -> its event line is read from gliveD's socket: "
                 f"{la['sessions']} sessions, {la['msgs_per_s']} messages/s in all, {la['samples']} samples: "
                 f"p50 {la['p50_ms']:.2f} ms, p99 {la['p99_ms']:.2f} ms, max {la['max_ms']:.2f} ms.")
        if "daemon" in la:
            dl = la["daemon"]
            L.append(f"Of that, gliveD's own added latency (its timestamps, status latency_us: a message "
                     f"read off the upstream socket -> its event lines written to the client's socket), "
                     f"{dl['writes']} writes: p50 {dl['p50_ms'] * 1000:.0f} µs, "
                     f"p99 {dl['p99_ms'] * 1000:.0f} µs (goal <= 100 µs), max {dl['max_ms'] * 1000:.0f} µs.")
    if "startup" in res:
        st = res["startup"]
        L.append("")
        L.append(f"Start (median of {st['runs']}): gliveD exec -> its socket accepts {st['listen_ms']:.1f} ms "
                 f"(goal <= 10 ms); glivectl ask exec -> its prompt on the socket {st['ask_ms']:.1f} ms "
                 f"(goal <= 2 ms).")
    if "rss" in res:
        rs = res["rss"]
        per = ", ".join(f"{n:,} sessions {rs[n]['rss_kib'] / 1024:.1f} MiB "
                        f"({rs[n]['per_session_kib']:.1f} KiB per session)" for n in rs if n != "rest_kib")
        L.append("")
        L.append(f"gliveD memory (VmRSS) with idle sessions, each connected over wss: at rest "
                 f"{rs['rest_kib'] / 1024:.1f} MiB; {per}.")
    return "\n".join(L)


def update_readme(path, text):
    with open(path) as f:
        doc = f.read()
    section = ("## Performance\n\n`make bench` (`bench/run.py`, about a minute) measured, on this machine:\n\n" +
               text + "\n\n"
               "gliveD's CPU is its own over the turn, glivectl's its whole run; the SDK's and the notebook\n"
               "client's are a second turn in one process (steady state, as a long-lived app's). Every client\n"
               "got every byte (sha256). The goals (issue 11) are the ratios in the table; `make check` fails\n"
               "only when a ratio passes the limits in `bench/run.py` (RATIO_LIMITS, wide: never on absolute\n"
               "times). `make bench BENCH_ARGS=\"--readme README.md\"` replaces this section;\n"
               "`bench/PROFILE.md` says where the time goes. On these two shared CPUs the ratios move from run\n"
               "to run (this session, five-run medians and single runs: text 0.27-0.39x, audio 0.22-0.34x), and\n"
               "the end-to-end latency's p99 between 0.7 and 3.2 ms whether `--read-coalesce` is on or off\n"
               "(gliveD's own p99 stays at 80-98 µs).\n")
    m = re.search(r"^## Performance\n.*?(?=^## |\Z)", doc, re.S | re.M)
    doc = doc[:m.start()] + section + "\n" + doc[m.end():] if m else doc.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(doc.rstrip("\n") + "\n")


def quick_cpu(build, reps=None, log=lambda s: None):
    """The short CPU bench of `make check`: the ratios of gliveD + glivectl to the SDK."""
    tmp = tempfile.mkdtemp(prefix="glive-bench-")
    b = Bench(build, tmp)
    try:
        b.emulator()
        d = b.daemon("gliveD")
        sizes = dict(QUICK)
        res = cpu_bench(b, d, sizes, reps or sizes["reps"], ["gliveD", "sdk"], log=log)
    finally:
        b.stop_all()
    shutil.rmtree(tmp, ignore_errors=True)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--quick", action="store_true", help="small sizes (as make check)")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--readme", help="replace this file's Performance section with the results")
    ap.add_argument("--json", help="write the raw results here")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: cpu,latency,startup,rss,notebook")
    a = ap.parse_args()
    sizes = dict(QUICK if a.quick else FULL)
    reps = a.reps or sizes["reps"]
    skip = set(filter(None, a.skip.split(",")))
    if "cpu" not in skip and not have_sdk():
        sys.exit("bench: the SDK is missing: run `make test-deps` (npm ci in tests/sdk)")
    clients = ["gliveD", "sdk"] + (["notebook"] if have_websockets() and "notebook" not in skip else [])
    tmp = tempfile.mkdtemp(prefix="glive-bench-")
    b = Bench(a.build, tmp)
    before = machine_facts()
    res = {"sizes": sizes, "reps": reps}
    ok = False
    try:
        b.emulator()
        if "cpu" not in skip:
            d = b.daemon("gliveD")
            print(f"bench: CPU, {sizes['text_parts']} text parts and {sizes['audio_ms'] // 20} audio chunks, "
                  f"{reps} runs of {', '.join(clients)}", flush=True)
            res["cpu"] = cpu_bench(b, d, sizes, reps, clients, log=lambda s: print(s, flush=True))
            b.stop(d)
        if "latency" not in skip:
            print(f"bench: latency, {sizes['lat_sessions']} sessions x {sizes['lat_rate']} parts/s", flush=True)
            d = b.daemon("gliveD-lat")  # its latency histogram holds this part only
            res["latency"] = latency_bench(b, d, sizes["lat_sessions"], sizes["lat_rate"], sizes["lat_parts"])
            res["latency"]["daemon"] = daemon_latency(d)
            b.stop(d)
        if "startup" not in skip:
            print("bench: start-up of gliveD and glivectl ask", flush=True)
            res["startup"] = startup_bench(b)
        if "rss" not in skip:
            print(f"bench: memory, {' then '.join(map(str, sizes['rss_counts']))} idle sessions", flush=True)
            res["rss"] = rss_bench(b, sizes["rss_counts"])
        ok = True
    except BenchError as e:
        print(f"bench: FAILED: {e}", file=sys.stderr)
    finally:
        b.stop_all()
    after = machine_facts()
    res["machine"] = {"before": before, "after": after}
    if not ok:
        print(f"  (kept {tmp} for inspection)", file=sys.stderr)
        sys.exit(1)
    shutil.rmtree(tmp, ignore_errors=True)
    text = table(res, before, after, sizes, reps)
    print()
    print(text)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1, default=str)
    if a.readme:
        update_readme(a.readme, text)
        print(f"\nbench: {a.readme}: Performance section replaced")


if __name__ == "__main__":
    main()
