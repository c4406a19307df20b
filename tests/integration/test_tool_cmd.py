"""`glivectl tool`: a function served by a local command (issue 4).

Two groups of tests:

* test_fake_*   glivectl tool against a FAKE gliveD (a scripted Unix-socket server in this file that
                speaks the issue-4 protocol: tool.register, tool_call, tool_cancel, tool.result).
                They test the client alone and run today.
* test_daemon_* glivectl tool -> the REAL gliveD -> the emulator. They NEED THE DAEMON SIDE OF
                ISSUE 4 (tool.register in daemon/): until gliveD knows the op they are skipped
                (SKIP ... "gliveD has no tool.register yet"), then they run by themselves.

Every process is started with ctx.start (stopped by pid); the commands' own children are checked
by pid files, never by name.
"""
import json
import os
import re
import signal
import socket
import threading
import time

import harness
from harness import Skip, wait_for


def glivectl():
    return os.path.join(harness.BUILD, "glivectl")


def write(ctx, name, text):
    path = os.path.join(ctx.tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def read(ctx, name):
    try:
        with open(os.path.join(ctx.tmp, name)) as f:
            return f.read()
    except FileNotFoundError:
        return None


def gone(pid):
    """True once pid is dead (a zombie counts: a container's init may not reap)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def start_tool(ctx, socket_path, name, command, *opts, proc_name=None):
    """Starts `glivectl --socket S tool --name NAME OPTS -- COMMAND...` and waits until it serves."""
    p = ctx.start(proc_name or f"tool-{name}",
                  [glivectl(), "--socket", socket_path, "tool", "--name", name, *opts, "--", *command])
    wait_for(lambda: "serving" in p.stderr() or not p.alive(), 15, f"glivectl tool {name} to register")
    assert p.alive(), f"glivectl tool {name} exited {p.p.returncode}: {p.stderr()}"
    return p


def stop_ok(p, sig=signal.SIGTERM):
    """Stops glivectl tool by pid: exit 0, and its event loop closed cleanly."""
    rc = p.stop(sig)
    assert rc == 0, f"exit {rc}: {p.stderr()}"
    assert "glivectl: internal" not in p.stderr(), p.stderr()


# ---- a fake gliveD --------------------------------------------------------------------------------


class FakeGliveD:
    """Accepts one connection on PATH and answers like gliveD would: tool.register -> ok (or the
    configured error), tool.result -> ok (or unknown_call for ids in `unknown`). Records every
    request; the test sends events with call()/event()."""

    def __init__(self, ctx, name="fake", register_error=None, unknown=(), refuse=()):
        self.path = os.path.join(ctx.tmp, f"{name}.sock")
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(self.path)
        self.srv.listen(4)
        self.register_error = register_error
        self.unknown = set(unknown)
        self.refuse = set(refuse)  # call ids whose first tool.result gets line_too_long
        self.requests = []
        self.results = {}      # call_id -> the tool.result request
        self.result_times = {}  # call_id -> time.monotonic() when it came
        self.cond = threading.Condition()
        self.conn = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self.conn, _ = self.srv.accept()
            for line in self.conn.makefile("rb"):
                self._handle(json.loads(line))
        except (OSError, ValueError):
            pass

    def _handle(self, m):
        with self.cond:
            self.requests.append(m)
            if m["op"] == "tool.register" and self.register_error:
                code, msg = self.register_error
                r = {"id": m["id"], "ok": False, "error": {"code": code, "message": msg}}
            elif m["op"] == "tool.register":
                r = {"id": m["id"], "ok": True, "session": m["session"],
                     "name": m["declaration"]["name"], "reconnect": False}
            elif m["op"] == "tool.result" and m["call_id"] in self.refuse:
                self.refuse.discard(m["call_id"])
                r = {"id": None, "ok": False, "error": {"code": "line_too_long",
                                                        "message": "line longer than 1048576 bytes"}}
            elif m["op"] == "tool.result":
                self.results[m["call_id"]] = m
                self.result_times[m["call_id"]] = time.monotonic()
                if m["call_id"] in self.unknown:
                    r = {"id": m["id"], "ok": False,
                         "error": {"code": "unknown_call", "message": f"no pending call \"{m['call_id']}\""}}
                else:
                    r = {"id": m["id"], "ok": True}
            else:
                r = {"id": m.get("id"), "ok": False, "error": {"code": "unknown_op", "message": m["op"]}}
            self.conn.sendall((json.dumps(r) + "\n").encode())
            self.cond.notify_all()

    def event(self, **ev):
        self.conn.sendall((json.dumps(ev) + "\n").encode())

    def call(self, call_id, args=None, name="f", session="s1", handler=True):
        self.event(event="tool_call", session=session, turn=1, call_id=call_id, name=name,
                   args={} if args is None else args, index=0, count=1, handler=handler)

    def cancel(self, call_id, name="f", session="s1"):
        self.event(event="tool_cancel", session=session, turn=1, call_id=call_id, name=name,
                   reason="the model cancelled the call")

    def result(self, call_id, timeout=15):
        with self.cond:
            if not self.cond.wait_for(lambda: call_id in self.results, timeout):
                raise AssertionError(f"no tool.result for {call_id} within {timeout}s; got {list(self.results)}")
            return self.results[call_id]

    def response(self, call_id, timeout=15):
        return self.result(call_id, timeout)["response"]

    def hang_up(self):
        self.conn.shutdown(socket.SHUT_RDWR)
        self.conn.close()

    def close(self):
        for s in (self.conn, self.srv):
            try:
                if s:
                    s.close()
            except OSError:
                pass


class fake_gliveD:
    """with fake_gliveD(ctx, ...) as fake: ... (closes its sockets at the end)."""

    def __init__(self, ctx, **kw):
        self.fake = FakeGliveD(ctx, **kw)

    def __enter__(self):
        return self.fake

    def __exit__(self, *exc):
        self.fake.close()
        return False


# One command that does what its args ask: the response conventions, the environment, stdin.
DISPATCH = r'''read -r args
case "$args" in
  *'"json"'*)  echo '{"result":"ok"}' ;;
  *'"text"'*)  printf 'plain text\n\n' ;;
  *'"fail"'*)  echo "some output"; echo boom >&2; exit 3 ;;
  *'"crash"'*) echo "about to crash" >&2; kill -SEGV $$ ;;
  *'"slow"'*)  sleep 30 ;;
  *'"env"'*)   printf '{"id":"%s","tool":"%s","session":"%s"}' "$GLIVE_CALL_ID" "$GLIVE_TOOL" "$GLIVE_SESSION" ;;
  *'"stdin"'*) printf '%s' "$args" ;;
esac'''


def test_fake_register_request_and_serving_line(ctx):
    schema = {"type": "object", "properties": {"room": {"type": "string"}}, "required": ["room"]}
    path = write(ctx, "schema.json", json.dumps(schema))
    with fake_gliveD(ctx) as fake:
        p = start_tool(ctx, fake.path, "turn_on_the_lights", ["true"], "--session", "s2",
                       "--description", "Turns the lights on.", "--parameters", path, "--timeout", "2.5")
        reg = fake.requests[0]
        assert reg["op"] == "tool.register" and isinstance(reg["id"], int), reg
        assert reg["session"] == "s2" and reg["timeout_s"] == 3.5, reg  # 1 s more: glivectl answers first
        assert reg["declaration"] == {"name": "turn_on_the_lights", "description": "Turns the lights on.",
                                      "parameters": schema}, reg
        assert ("[tool] serving turn_on_the_lights in session(s) s2; waiting for calls (Ctrl-C to stop)"
                in p.stderr()), p.stderr()
        stop_ok(p, signal.SIGINT)
        assert "[tool] stopping (SIGINT)" in p.stderr()
    with fake_gliveD(ctx, name="fake2") as fake:  # the defaults: every session, 30 s
        p = start_tool(ctx, fake.path, "g", ["true"], proc_name="tool-g")
        reg = fake.requests[0]
        assert reg["session"] == "*" and reg["timeout_s"] == 31 and reg["declaration"] == {"name": "g"}, reg
        assert "serving g in session(s) *;" in p.stderr()
        stop_ok(p)


def test_fake_response_conventions(ctx):
    with fake_gliveD(ctx) as fake:
        p = start_tool(ctx, fake.path, "f", ["sh", "-c", DISPATCH], "--timeout", "1")
        for k in ("json", "text", "fail", "crash", "slow", "env", "stdin"):
            fake.call(f"c-{k}", {"k": k, "n": [1, "é"]}, session="sess")
        assert fake.response("c-json") == {"result": "ok"}
        assert fake.response("c-text") == {"output": "plain text"}
        assert fake.response("c-fail") == {"error": "sh exited with status 3: boom"}
        assert fake.response("c-crash") == {"error": "sh killed by signal SIGSEGV: about to crash"}
        assert fake.response("c-slow") == {"error": "sh timed out after 1 s"}
        assert fake.response("c-env") == {"id": "c-env", "tool": "f", "session": "sess"}
        assert fake.response("c-stdin") == {"k": "stdin", "n": [1, "é"]}  # stdin: the args
        r = fake.result("c-json")
        assert r["op"] == "tool.result" and r["session"] == "sess" and "error" not in r, r
        err = p.stderr()
        assert '[tool] f({"k":"json","n":[1,"é"]}) -> {"result":"ok"} (' in err, err
        assert re.search(r'-> \{"error":"sh timed out after 1 s"\} \(1\.\d\d s\)', err), err
        stop_ok(p)


def test_fake_calls_run_concurrently(ctx):
    with fake_gliveD(ctx) as fake:
        p = start_tool(ctx, fake.path, "f", ["sh", "-c", "sleep 1; echo done"])
        t0 = time.monotonic()
        for i in range(4):
            fake.call(f"c{i}")
        for i in range(4):
            assert fake.response(f"c{i}") == {"output": "done"}
        assert time.monotonic() - t0 < 3.5  # 4 x 1 s one after the other would be >= 4 s
        stop_ok(p)


def test_fake_cancel_kills_the_process_group_and_sends_nothing(ctx):
    cmd = 'sleep 30 & echo $! > "sleep.$GLIVE_CALL_ID"; wait; echo finished > "done.$GLIVE_CALL_ID"'
    with fake_gliveD(ctx) as fake:
        p = start_tool(ctx, fake.path, "f", ["sh", "-c", cmd])
        fake.call("c1")
        wait_for(lambda: read(ctx, "sleep.c1"), 10, "the command to start")
        sleep_pid = int(read(ctx, "sleep.c1"))
        fake.cancel("c1")
        wait_for(lambda: gone(sleep_pid), 10, "the command's child to be killed")
        wait_for(lambda: "[tool] call c1 cancelled by the model" in p.stderr(), 5, "the cancel log line")
        fake.call("c2", {"k": 1})  # still serving
        wait_for(lambda: read(ctx, "sleep.c2"), 10, "the second command to start")
        os.kill(int(read(ctx, "sleep.c2")), signal.SIGKILL)
        assert fake.response("c2") == {"output": ""}
        assert "c1" not in fake.results and read(ctx, "done.c1") is None
        stop_ok(p)


def test_fake_unknown_call_is_logged_and_ignored(ctx):
    with fake_gliveD(ctx, unknown={"late"}) as fake:
        p = start_tool(ctx, fake.path, "f", ["echo", "hi"])
        fake.call("late")
        fake.result("late")
        fake.call("next")
        assert fake.response("next") == {"output": "hi"}
        wait_for(lambda: "[tool] call late: gliveD no longer waits for it" in p.stderr(), 5, "log line")
        assert p.alive()
        stop_ok(p)


def test_fake_refused_result_is_replaced_by_an_error(ctx):
    with fake_gliveD(ctx, refuse={"c1"}) as fake:
        p = start_tool(ctx, fake.path, "f", ["echo", "hi"])
        fake.call("c1")
        assert fake.response("c1") == {"error": "glivectl could not deliver the result: line_too_long: "
                                                "line longer than 1048576 bytes"}
        assert [r["call_id"] for r in fake.requests if r["op"] == "tool.result"] == ["c1", "c1"]
        assert "glivectl: tool.result for call c1: line_too_long" in p.stderr(), p.stderr()
        stop_ok(p)


def test_fake_ignores_other_functions_and_calls_without_handler(ctx):
    with fake_gliveD(ctx) as fake:
        p = start_tool(ctx, fake.path, "f", ["echo", "hi"])
        fake.call("other", name="g")
        fake.call("client", handler=False)
        fake.event(event="state", session="s1", state="ready")
        fake.event(event="tool_cancel", session="s1", turn=1, call_id="nobody", name="f")
        fake.call("mine")
        assert fake.response("mine") == {"output": "hi"}
        assert set(fake.results) == {"mine"}
        stop_ok(p)


def test_fake_json_prints_events_and_replies(ctx):
    with fake_gliveD(ctx) as fake:
        p = start_tool(ctx, fake.path, "f", ["echo", "hi"], "--json")
        fake.event(event="state", session="s1", state="ready")
        fake.call("c1")
        fake.result("c1")
        wait_for(lambda: p.stdout().count("\n") >= 4, 5, "4 JSON lines")
        lines = [json.loads(x) for x in p.stdout().splitlines()]
        assert lines[0]["ok"] is True and lines[0]["name"] == "f", lines
        assert lines[1] == {"event": "state", "session": "s1", "state": "ready"}, lines
        assert lines[2]["event"] == "tool_call" and lines[2]["call_id"] == "c1", lines
        assert lines[3]["ok"] is True and "event" not in lines[3], lines
        stop_ok(p)


def test_fake_register_refused_exits_1(ctx):
    with fake_gliveD(ctx, register_error=("tool_exists", "function \"f\" is served by client 3")) as fake:
        p = ctx.start("tool", [glivectl(), "--socket", fake.path, "tool", "--name", "f", "--", "true"])
        assert p.wait(15) == 1
        assert "glivectl: tool_exists: function \"f\" is served by client 3" in p.stderr(), p.stderr()


def test_fake_usage_and_connect_errors(ctx):
    p = ctx.start("t1", [glivectl(), "--socket", ctx.tmp + "/nope.sock", "tool", "--name", "f", "--", "true"])
    assert p.wait(15) == 3 and "nope.sock" in p.stderr()
    p = ctx.start("t2", [glivectl(), "tool", "--", "true"])
    assert p.wait(15) == 2 and "missing --name" in p.stderr()
    p = ctx.start("t3", [glivectl(), "tool", "--name", "f", "--parameters", write(ctx, "p.json", "[]"), "--", "true"])
    assert p.wait(15) == 2 and "must hold a JSON object" in p.stderr()
    p = ctx.start("t4", [glivectl(), "tool", "--help"])
    assert p.wait(15) == 0 and "Usage: glivectl tool" in p.stdout()


def test_fake_exec_failure_big_output_and_unread_stdin(ctx):
    with fake_gliveD(ctx, name="a") as a, fake_gliveD(ctx, name="b") as b, fake_gliveD(ctx, name="c") as c:
        pa = start_tool(ctx, a.path, "f", [ctx.tmp + "/no-such-command", "x"], proc_name="tool-a")
        pb = start_tool(ctx, b.path, "f", ["sh", "-c", "head -c 2000000 /dev/zero | tr '\\0' x"],
                        proc_name="tool-b")
        pc = start_tool(ctx, c.path, "f", ["echo", "ignored stdin"], proc_name="tool-c")
        a.call("c1")
        assert a.response("c1") == {"error": f"cannot run {ctx.tmp}/no-such-command: No such file or directory"}
        b.call("c1")
        assert b.response("c1") == {"error": "sh output larger than 1 MiB"}
        c.call("c1", {"big": "y" * 300000})  # more than a pipe holds, never read
        assert c.response("c1") == {"output": "ignored stdin"}
        for p in (pa, pb, pc):
            stop_ok(p)


def test_fake_background_child_holding_stdout_does_not_block_the_answer(ctx):
    cmd = 'sleep 30 & echo $! > bg.pid; echo answered'
    with fake_gliveD(ctx) as fake:
        p = start_tool(ctx, fake.path, "f", ["sh", "-c", cmd], "--timeout", "20")
        fake.call("c1")
        try:
            assert fake.response("c1", timeout=10) == {"output": "answered"}
        finally:
            if read(ctx, "bg.pid"):
                os.kill(int(read(ctx, "bg.pid")), signal.SIGKILL)
        stop_ok(p)


def test_fake_too_many_calls(ctx):
    cmd = 'echo $$ > "pid.$GLIVE_CALL_ID"; exec sleep 30'
    with fake_gliveD(ctx) as fake:
        p = start_tool(ctx, fake.path, "f", ["sh", "-c", cmd], "--timeout", "60")
        for i in range(64):
            fake.call(f"c{i}")
        wait_for(lambda: all(read(ctx, f"pid.c{i}") for i in range(64)), 20, "64 commands running")
        fake.call("c64")
        assert fake.response("c64")["error"].startswith("too many calls in progress"), fake.results
        assert len(fake.results) == 1
        pids = [int(read(ctx, f"pid.c{i}")) for i in range(64)]
        stop_ok(p)
        wait_for(lambda: all(gone(pid) for pid in pids), 10, "every command to be killed")


def test_fake_sigterm_and_hangup_kill_running_commands(ctx):
    cmd = 'sleep 30 & echo $! > "sleep.$GLIVE_CALL_ID"; wait'
    with fake_gliveD(ctx, name="a") as a, fake_gliveD(ctx, name="b") as b:
        pa = start_tool(ctx, a.path, "f", ["sh", "-c", cmd], proc_name="tool-a")
        a.call("a1")
        wait_for(lambda: read(ctx, "sleep.a1"), 10, "the command to start")
        stop_ok(pa)
        assert "[tool] stopping (SIGTERM): killing 1 running call" in pa.stderr(), pa.stderr()
        wait_for(lambda: gone(int(read(ctx, "sleep.a1"))), 10, "the command's child to be killed")
        assert not a.results

        pb = start_tool(ctx, b.path, "f", ["sh", "-c", cmd], proc_name="tool-b")
        b.call("b1")
        wait_for(lambda: read(ctx, "sleep.b1"), 10, "the command to start")
        b.hang_up()
        assert pb.wait(15) == 1
        assert "gliveD closed the connection" in pb.stderr(), pb.stderr()
        wait_for(lambda: gone(int(read(ctx, "sleep.b1"))), 10, "the command's child to be killed")


# ---- against the real gliveD (needs the daemon side of issue 4) -----------------------------------

LIGHTS = ["--function", "turn_on_the_lights", "--function", "turn_off_the_lights"]


def require_tool_register(d):
    """gliveD knows tool.register (a request without fields is a bad_request, not unknown_op)."""
    c = d.client()
    try:
        r = c.request("tool.register")
    finally:
        c.close()
    assert r["error"]["code"] == "bad_request", r


def test_daemon_lights_served_by_glivectl_tool(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    require_tool_register(d)
    on = start_tool(ctx, d.socket, "turn_on_the_lights",
                    ["sh", "-c", 'echo on > lights; echo "{\\"result\\":\\"ok\\"}"'], "--session", "*")
    off = start_tool(ctx, d.socket, "turn_off_the_lights",
                     ["sh", "-c", 'echo off > lights; echo "{\\"result\\":\\"ok\\"}"'], "--session", "*")
    p = d.ctl("ask", "--session", "s2", *LIGHTS, "Turn on the lights")
    assert "OK, I've turned on the lights." in p.stdout_text, p.stdout_text + p.stderr_text
    assert read(ctx, "lights") == "on\n"
    got = emu.log(kind="tool_response")
    assert [(g["name"], g["response"]) for g in got] == [("turn_on_the_lights", {"result": "ok"})], got
    assert "[tool] turn_on_the_lights({}) -> {\"result\":\"ok\"}" in on.stderr(), on.stderr()

    p = d.ctl("ask", "--session", "s2", *LIGHTS, "Turn off the lights")
    assert read(ctx, "lights") == "off\n"
    got = emu.log(kind="tool_response")
    assert [(g["name"], g["response"]) for g in got][-1] == ("turn_off_the_lights", {"result": "ok"}), got
    stop_ok(on)
    stop_ok(off)


TOOL_SCRIPT = {"rules": [
    {"match": "greet", "requires": ["greet"],
     "steps": [{"call": "greet", "args": {"who": "world"}}, {"say": "Greeted."}]},
    {"match": "fail", "requires": ["fail_tool"],
     "steps": [{"call": "fail_tool", "args": {}}, {"say": "It failed."}]},
    {"match": "slow", "requires": ["slow_tool"],
     "steps": [{"call": "slow_tool", "args": {}}, {"say": "It was slow."}]},
    {"match": "parallel", "requires": ["nap"],
     "steps": [{"calls": [{"name": "nap", "args": {"n": 1}}, {"name": "nap", "args": {"n": 2}}]},
               {"say": "Both napped."}]},
    {"match": "cancel", "requires": ["nap"],
     "steps": [{"call": "nap", "args": {"n": 3}, "await": False}, {"cancel": True}, {"say": "Cancelled."}]},
]}


def responses(emu, name):
    return [g["response"] for g in emu.log(kind="tool_response") if g["name"] == name]


def test_daemon_output_error_and_timeout_responses(ctx):
    emu = ctx.emulator(script=TOOL_SCRIPT)
    d = ctx.daemon(emu)
    require_tool_register(d)
    start_tool(ctx, d.socket, "greet", ["sh", "-c", 'read -r a; echo "hello, $a"'])
    start_tool(ctx, d.socket, "fail_tool", ["sh", "-c", "echo boom >&2; exit 3"])
    slow = start_tool(ctx, d.socket, "slow_tool", ["sleep", "10"], "--timeout", "1")

    d.ctl("ask", "--session", "t1", "--function", "greet", "please greet")
    assert responses(emu, "greet") == [{"output": 'hello, {"who":"world"}'}]

    d.ctl("ask", "--session", "t2", "--function", "fail_tool", "this will fail")
    assert responses(emu, "fail_tool") == [{"error": "sh exited with status 3: boom"}]

    t0 = time.monotonic()
    d.ctl("ask", "--session", "t3", "--function", "slow_tool", "something slow")
    assert time.monotonic() - t0 < 8
    # glivectl kills the command at 1 s and answers first (gliveD's own limit is 1 s later)
    assert responses(emu, "slow_tool") == [{"error": "sleep timed out after 1 s"}]
    assert "-> {\"error\":\"sleep timed out after 1 s\"}" in slow.stderr(), slow.stderr()


def test_daemon_parallel_calls_and_cancellation(ctx):
    emu = ctx.emulator(script=TOOL_SCRIPT)
    d = ctx.daemon(emu)
    require_tool_register(d)
    cmd = 'read -r a; echo "start $GLIVE_CALL_ID" >> naps; sleep 1; echo "end $GLIVE_CALL_ID" >> naps; echo "$a"'
    nap = start_tool(ctx, d.socket, "nap", ["sh", "-c", cmd])
    d.ctl("ask", "--session", "p", "--function", "nap", "two naps in parallel")
    naps = read(ctx, "naps").split("\n")
    assert [x.split()[0] for x in naps[:4]] == ["start", "start", "end", "end"], naps  # at once
    got = [g for g in emu.log(kind="tool_response") if g["name"] == "nap"]
    assert sorted(json.dumps(g["response"]) for g in got) == ['{"n": 1}', '{"n": 2}'], got
    assert len(set(g["id"] for g in got)) == 2

    d.ctl("ask", "--session", "c", "--function", "nap", "cancel it")
    wait_for(lambda: "cancelled by the model" in nap.stderr(), 5, "the cancel log line")
    time.sleep(1.5)
    naps = read(ctx, "naps").split()
    assert naps.count("end") == 2, naps  # the cancelled one was killed (maybe before it started)
    assert len([g for g in emu.log(kind="tool_response") if g["name"] == "nap"]) == 2
    stop_ok(nap)


PROMPT6 = "write and run python code to turn on the lights, wait 10s and then turn off the lights"
PROMPT7 = ("Hey, I need you to do three tasks for me.\n1. Turn on the lights.\n"
           "2. Then compute the largest prime palindrome under 100000.\n"
           "3. Then use Google Search to look up information about the largest earthquake in "
           "California the week of Dec 5 2024.")


def start_lights(ctx, d):
    """The lights as two shell commands: state in ./lights, every change appended to ./history."""
    on = start_tool(ctx, d.socket, "turn_on_the_lights",
                    ["sh", "-c", 'echo on > lights; echo on >> history; echo \'{"result":"ok"}\''])
    off = start_tool(ctx, d.socket, "turn_off_the_lights",
                     ["sh", "-c", 'echo off > lights; echo off >> history; echo \'{"result":"ok"}\''])
    return on, off


def test_seeds_3_6_7_with_lights_served_by_glivectl_tool(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    on, off = start_lights(ctx, d)
    wav = os.path.join(ctx.tmp, "s3.wav")
    d.ctl("ask", "--session", "s3", "--wav", wav, *LIGHTS, "Turn on the lights")  # scenario 3
    assert read(ctx, "lights") == "on\n" and os.path.getsize(wav) > 44
    d.ctl("ask", "--session", "s6", "--code-execution", *LIGHTS, "--wav", os.path.join(ctx.tmp, "s6.wav"),
          PROMPT6)  # scenario 6: on, (10 s scaled), off
    assert read(ctx, "history") == "on\non\noff\n" and read(ctx, "lights") == "off\n"
    d.ctl("ask", "--session", "s7", "--code-execution", "--google-search", *LIGHTS,
          "--wav", os.path.join(ctx.tmp, "s7.wav"), PROMPT7)  # scenario 7
    assert read(ctx, "lights") == "on\n"
    got = [(g["name"], g["response"]) for g in emu.log(kind="tool_response")]
    assert got == [("turn_on_the_lights", {"result": "ok"}), ("turn_on_the_lights", {"result": "ok"}),
                   ("turn_off_the_lights", {"result": "ok"}), ("turn_on_the_lights", {"result": "ok"})], got
    stop_ok(on)
    stop_ok(off)
