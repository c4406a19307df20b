"""gliveD over its Unix socket, against the emulator over wss: sessions, turns, tool calls,
several clients, bad requests, signals."""
import json
import os
import re
import signal
import socket
import time

import harness
from harness import LineClient, wait_for

LIGHTS = [{"function_declarations": [{"name": "turn_on_the_lights"}, {"name": "turn_off_the_lights"}]}]


def gliveD_path():
    return os.path.join(harness.BUILD, "gliveD")


def texts(events):
    return [e["text"] for e in events if e["event"] == "text"]


def test_hello_open_send_streams_chunks(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    c = d.client()
    h = c.ok("hello")
    assert h["daemon"] == "gliveD" and h["protocol"] == 1
    r = c.ok("open", session="s1")
    assert r["created"] is True and r["modality"] == "TEXT"
    r = c.ok("send", session="s1", text="Hello?")
    evs = c.turn_events(r["turn"])
    assert texts(evs) == ["Hello", "! How can I help you today?"], evs
    assert evs[-1]["event"] == "turn_complete" and evs[-1]["session"] == "s1"
    # the setup the daemon sent passed the emulator's strict parsing and stated the modality
    assert not emu.log(kind="invalid")
    assert emu.stats()["setups"] == 1


def test_status_reports_the_added_latency_of_event_lines(ctx):
    """latency_us: gliveD's own time from reading a Live API message to writing its event lines
    (measured per write; the values are whatever this machine gives: only their shape is checked)."""
    d = ctx.daemon(ctx.emulator())
    c = d.client()
    before = c.ok("status")["latency_us"]
    assert before["writes"] == 0 and before["p99"] == 0, before
    c.ok("open", session="l")
    for _ in range(3):
        c.turn_events(c.ok("send", session="l", text="Hello?")["turn"])
    lat = c.ok("status")["latency_us"]
    assert lat["writes"] >= 3, lat  # a turn's lines read together are written together
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <= lat["max"], lat


def test_reply_precedes_turn_events_and_turns_are_serialized(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    c = d.client()
    c.ok("open", session="q")
    c.sock.sendall(b'{"id":"a","op":"send","session":"q","text":"Hello?"}\n'
                   b'{"id":"b","op":"send","session":"q","text":"repeat after me: two"}\n')
    seen = [c.read()]
    while seen[-1].get("id") != "a":
        assert seen[-1].get("turn") is None, seen  # no turn event before its reply
        seen.append(c.read())
    assert seen[-1]["ok"], seen
    while not (seen[-1].get("event") == "turn_complete" and seen[-1].get("turn") == 2):
        seen.append(c.read())
    b = next(m for m in seen if m.get("id") == "b")
    assert b["queued"] is True and b["turn"] == 2
    # no event of turn 2 before turn 1 completed: never interleaved
    t1_done = next(i for i, m in enumerate(seen) if m.get("event") == "turn_complete" and m["turn"] == 1)
    assert all(m.get("turn") != 2 for m in seen[:t1_done] if "event" in m)
    prompts = [e["text"] for e in emu.log(kind="prompt")]
    assert prompts == ["Hello?", "repeat after me: two"], prompts


def test_tool_call_roundtrip_by_prompting_client(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    c = d.client()
    c.ok("open", session="t", tools=LIGHTS)
    r = c.ok("send", session="t", text="Turn on the lights")
    call = c.next_event(where=lambda e: e["event"] == "tool_call")
    assert call["name"] == "turn_on_the_lights" and call["call_id"].startswith("function-call-")
    assert call["turn"] == r["turn"] and call["args"] == {}
    c.ok("tool.result", session="t", call_id=call["call_id"], response={"result": {"string_value": "ok"}})
    evs = c.turn_events(r["turn"])
    assert "turned on the lights" in "".join(texts(evs))
    got = emu.log(kind="tool_response")
    assert [(g["id"], g["name"], g["response"]) for g in got] == \
        [(call["call_id"], "turn_on_the_lights", {"result": {"string_value": "ok"}})]
    bad = c.request("tool.result", session="t", call_id=call["call_id"], response={})
    assert bad["error"]["code"] == "unknown_call"


def test_subscriber_sees_other_clients_turn_and_session_outlives_clients(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    a, b = d.client(), d.client()
    a.ok("open", session="shared")
    b.ok("subscribe", session="shared")
    r = a.ok("send", session="shared", text="Hello?")
    a_evs = a.turn_events(r["turn"])
    b_evs = b.turn_events(r["turn"])
    assert texts(a_evs) == texts(b_evs) == ["Hello", "! How can I help you today?"]
    a.close()
    c = d.client()
    r = c.ok("open", session="shared")
    assert r["created"] is False
    r = c.ok("send", session="shared", text="What did I say before?")
    evs = c.turn_events(r["turn"])
    assert "Hello?" in "".join(texts(evs)), evs  # same conversation
    assert texts(b.turn_events(r["turn"]))       # the subscriber saw this one too
    st = emu.stats()
    assert st["connections_total"] == 1 and st["setups"] == 1, st  # one websocket, not two


def test_client_vanishing_mid_turn_does_not_hurt_others(ctx):
    emu = ctx.emulator(script={"rules": [{"match": "slow", "steps": [
        {"say": "first part"}, {"delay_ms": 30000}, {"say": "second part"}]}], "default": [{"echo": True}]})
    d = ctx.daemon(emu)
    watcher = d.client()
    watcher.ok("open", session="v")
    watcher.ok("subscribe", session="v")
    gone = d.client()
    r = gone.ok("send", session="v", text="slow please")
    gone.next_event(where=lambda e: e["event"] == "text")
    gone.sock.close()  # vanish mid-turn
    evs = watcher.turn_events(r["turn"], timeout=20)
    said = "".join(texts(evs))
    assert "first part" in said and "second part" in said and evs[-1]["event"] == "turn_complete", evs
    other = d.client()
    assert other.ok("status")["clients"] >= 2
    assert d.proc.alive()


def test_bad_requests_get_clear_errors(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu, args=["--max-line", "2000"])
    c = d.client()

    def err_of(raw):
        c.send_raw(raw)
        m = c.read()
        while "event" in m:  # e.g. the state events of a session opened above
            m = c.read()
        assert m["ok"] is False, m
        return m["error"]["code"], m["error"]["message"], m.get("id")

    assert err_of(b"{not json\n")[0] == "bad_json"
    assert err_of(b'[1,2]\n')[0] == "bad_request"
    code, msg, rid = err_of(b'{"id":7,"op":"frobnicate"}\n')
    assert (code, rid) == ("unknown_op", 7) and "frobnicate" in msg
    code, msg, _ = err_of(b'{"id":8,"op":"send","text":"x"}\n')
    assert code == "bad_request" and 'missing field "session"' in msg
    code, msg, _ = err_of(b'{"id":9,"op":"send","session":"s","text":5}\n')
    assert code in ("bad_request", "no_session")
    code, msg, _ = err_of(b'{"id":10,"op":"open","session":"bad name"}\n')
    assert code == "bad_request"
    code, msg, _ = err_of(b'{"id":11,"op":"open","session":"x","tools":[{"function_declarations":[{"name":"f","paramters":{}}]}]}\n')
    assert code == "bad_request" and "paramters" in msg
    code, msg, _ = err_of(b'{"id":12,"op":"send","session":"nope","text":"hi"}\n')
    assert code == "no_session"
    code, msg, rid = err_of(b'{"id":13,"op":"send","text":"' + b"x" * 5000 + b'"}\n')
    assert code == "line_too_long" and rid is None
    assert c.ok("hello")["daemon"] == "gliveD"  # the connection carries on
    c.ok("open", session="x")
    code, _, _ = err_of(b'{"id":14,"op":"open","session":"x","modality":"AUDIO"}\n')
    assert code == "conflict"
    assert not emu.log(kind="invalid")  # nothing bad reached the Live API


def test_list_and_status(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    c = d.client()
    c.ok("open", session="one")
    r = c.ok("send", session="one", text="Hello?")
    c.turn_events(r["turn"])
    lst = c.ok("list")["sessions"]
    assert [(s["session"], s["state"], s["turns"]) for s in lst] == [("one", "ready", 1)]
    st = c.ok("status")
    for k in ("uptime_s", "sessions", "clients", "bytes_in", "bytes_out", "messages_in", "messages_out"):
        assert k in st, k
    assert st["sessions"] == 1 and st["clients"] == 1
    assert "test-key" not in json.dumps(st)


def test_close_session_and_sigterm(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    c = d.client()
    c.ok("open", session="c1")
    r = c.ok("send", session="c1", text="Hello?")
    c.turn_events(r["turn"])
    c.ok("close", session="c1")
    assert c.request("send", session="c1", text="x")["error"]["code"] == "no_session"
    wait_for(lambda: emu.stats()["connections_open"] == 0, 5, "upstream close")
    assert [e["code"] for e in emu.log(kind="disconnect")] == [1000]
    assert d.proc.stop(signal.SIGTERM) == 0
    assert not os.path.exists(d.socket)


def test_sigterm_mid_turn_tells_clients(ctx):
    emu = ctx.emulator(script={"rules": [], "default": [{"say": "partial"}, {"delay_ms": 60000}, {"say": "never"}]})
    d = ctx.daemon(emu)
    c = d.client()
    c.ok("open", session="m")
    r = c.ok("send", session="m", text="anything")
    c.next_event(where=lambda e: e["event"] == "text")
    os.kill(d.proc.pid, signal.SIGTERM)
    e = c.next_event(where=lambda e: e["event"] in ("interrupted", "turn_complete"))
    assert e["event"] == "interrupted" and e["turn"] == r["turn"] and "shutting down" in e["reason"]
    assert d.proc.wait(10) == 0


def test_stale_socket_replaced_and_live_daemon_refused(ctx):
    emu = ctx.emulator()
    path = os.path.join(ctx.tmp, "stale.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()  # a socket file nobody listens on: what a crashed daemon leaves
    d = ctx.daemon(emu, socket_path=path)
    assert d.client().ok("hello")
    second = ctx.start("second", [d.proc.argv[0], "--socket", path, "--endpoint", emu.ws_base])
    assert second.wait(10) != 0
    assert "already" in second.stderr()
    assert d.client().ok("hello")  # the first one is unharmed


def test_api_key_never_logged_or_echoed(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu, env={"GEMINI_API_KEY": "sekrit-key-123"})
    c = d.client()
    c.ok("open", session="k")
    r = c.ok("send", session="k", text="Hello?")
    c.turn_events(r["turn"])
    everything = json.dumps(c.ok("status")) + json.dumps(c.ok("list")) + d.proc.stderr()
    assert "sekrit-key-123" not in everything
    assert "key=***" in d.proc.stderr() or "sekrit" not in d.proc.stderr()


def test_default_model_is_current_and_text_sessions_work_on_it(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu, model=None)  # the daemon's default: gemini-3.8-live, AUDIO only
    c = d.client()
    r = c.ok("open", session="m38")
    assert r["model"] == "gemini-3.8-live" and r["modality"] == "TEXT"
    t = c.ok("send", session="m38", text="Hello?")
    evs = c.turn_events(t["turn"])
    assert "Hello! How can I help you today?" in "".join(texts(evs)), evs  # the transcription
    assert emu.log(kind="session")[0]["modalities"] == ["AUDIO"]
    assert not emu.log(kind="server_close")


def test_model_31_sends_text_as_realtime_input(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu, model="gemini-3.1-flash-live-preview")
    c = d.client()
    r = c.ok("open", session="m31")
    assert r["model"].startswith("gemini-3.1")
    for _ in range(2):  # a second clientContent would be closed with 1007 by a 3.1 model
        t = c.ok("send", session="m31", text="Hello?")
        assert c.turn_events(t["turn"])[-1]["event"] == "turn_complete"
    assert [p["via"] for p in emu.log(kind="prompt")] == ["realtimeInput", "realtimeInput"]
    assert not emu.log(kind="server_close")


def test_text_session_on_native_audio_model_gets_transcription_as_text(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu, model="gemini-2.5-flash-native-audio-preview-09-2025")
    c = d.client()
    c.ok("open", session="na", modality="TEXT")
    t = c.ok("send", session="na", text="Hello?")
    evs = c.turn_events(t["turn"])
    assert "Hello! How can I help you today?" in "".join(texts(evs)), evs
    assert not [e for e in evs if e["event"] == "audio"]
    assert not emu.log(kind="server_close")  # the setup asked AUDIO, as the model requires


def test_config_file_and_sighup_reload(ctx):
    emu = ctx.emulator()
    conf = os.path.join(ctx.tmp, "gliveD.json")
    with open(conf, "w") as f:
        json.dump({"log-level": "info", "max-queue": 5}, f)
    d = ctx.daemon(emu, args=["--config", conf, "--log-level", "info"])
    d.client().ok("hello")
    assert "client 2 connected" not in d.proc.stderr()  # a debug line: not at info
    with open(conf, "w") as f:
        json.dump({"log-level": "debug"}, f)
    os.kill(d.proc.pid, signal.SIGHUP)
    wait_for(lambda: "config reloaded" in d.proc.stderr(), 5, "reload log line")
    d.client().ok("hello")
    wait_for(lambda: "connected (pid" in d.proc.stderr(), 5, "debug logging after reload")
    with open(conf, "w") as f:
        f.write("{broken")
    os.kill(d.proc.pid, signal.SIGHUP)
    wait_for(lambda: "config not reloaded" in d.proc.stderr(), 5, "bad config reported")
    assert d.client().ok("hello")  # still serving with the last good config
    bad = ctx.start("badconf", [d.proc.argv[0], "--config", conf, "--socket", ctx.tmp + "/x.sock"])
    assert bad.wait(10) == 2 and "gliveD.json" in bad.stderr()



def test_out_of_range_option_exits_2(ctx):
    sock = ["--socket", ctx.tmp + "/x.sock"]
    bad = [["--max-line=-2"], ["--max-output", "-1"], ["--max-message", "-1"], ["--backoff-min", "0.0001"],
           ["--max-clients", "65537"], ["--max-queue", "1.5"], ["--socket", ""]]
    for i, args in enumerate(bad):
        p = ctx.start(f"bad{i}", [gliveD_path(), *sock, *args])
        name = args[0].split("=")[0]
        assert p.wait(10) == 2 and name in p.stderr(), (args, p.stderr())
    conf = os.path.join(ctx.tmp, "bad.json")
    with open(conf, "w") as f:
        json.dump({"max-line": -2}, f)
    p = ctx.start("badfile", [gliveD_path(), *sock, "--config", conf])
    assert p.wait(10) == 2 and "\"max-line\" wants a whole number of bytes in 1024..67108864" in p.stderr()


def test_sighup_out_of_range_keeps_config(ctx):
    conf = os.path.join(ctx.tmp, "gliveD.json")
    with open(conf, "w") as f:
        json.dump({"max-queue": 5}, f)
    d = ctx.daemon(ctx.emulator(), args=["--config", conf])
    with open(conf, "w") as f:
        json.dump({"max-queue": -1}, f)
    os.kill(d.proc.pid, signal.SIGHUP)
    wait_for(lambda: "config not reloaded" in d.proc.stderr(), 5, "bad config reported")
    assert "\"max-queue\" wants a whole number in 1..10000, not -1" in d.proc.stderr()
    assert d.client().ok("hello")


def test_readme_ranges_match_help(ctx):
    """The option table in README.md says what `gliveD --help` says."""
    p = ctx.start("help", [gliveD_path(), "--help"])
    assert p.wait(10) == 0
    help_text = p.stdout()
    ranges = dict(re.findall(r"^  --([a-z-]+) \S+ .*\(([0-9.]+\.\.[0-9.]+), default", help_text, re.M))
    assert len(ranges) >= 10, ranges  # every ranged option; each must be in the README
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")) as f:
        readme = f.read()
    for row in re.findall(r"^\| (`--.*?) \| ([0-9.]+\.\.[0-9.]+)", readme, re.M):
        for name in re.findall(r"`--([a-z-]+)`", row[0]):
            assert ranges.pop(name) == row[1], (name, row)
    assert not ranges, f"options missing from README.md: {ranges}"

def test_max_clients(ctx):
    d = ctx.daemon(ctx.emulator(), args=["--max-clients", "2"])
    time.sleep(0.2)  # the harness's own readiness probe must be gone first
    a = d.client()
    wait_for(lambda: a.ok("status")["clients"] == 1, 5, "only this client")
    b = d.client()
    assert b.ok("hello")
    third = d.client()
    try:
        third.request("hello", timeout=3)
        raise AssertionError("a third client was served")
    except (EOFError, OSError):
        pass
    assert "too many clients" in d.proc.stderr()
    b.close()
    wait_for(lambda: a.ok("status")["clients"] == 1, 5, "the second client to go")
    assert d.client().ok("hello")


def test_an_api_key_with_control_characters_is_refused_at_start(ctx):
    """A key goes into an HTTP header: CR/LF would inject one; refused at start, never echoed."""
    import harness
    p = ctx.start("badkey", [os.path.join(harness.BUILD, "gliveD"), "--socket",
                             os.path.join(ctx.tmp, "k.sock")], env={"GEMINI_API_KEY": "abc\r\nX-Evil: 1"})
    assert p.wait(10) == 1
    err = p.stderr()
    assert "API key" in err and "refusing it" in err and "X-Evil" not in err, err


def test_the_key_travels_in_a_header_not_the_url(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    c = d.client()
    c.ok("open", session="k")
    wait_for(lambda: c.ok("list")["sessions"][0]["state"] == "ready", 10, "ready")
    paths = [e["path"] for e in emu.log(kind="connect")]
    assert paths and all("key=" not in p for p in paths), paths


def test_a_half_closed_client_gets_its_turns_then_the_close(ctx):
    """socat without waiting, nc -N, a script that writes its requests then reads: after its EOF
    the client still gets the events of its turns, then gliveD closes."""
    emu = ctx.emulator(script={"rules": [{"match": "slow", "steps": [
        {"say": "one"}, {"delay_ms": 30000}, {"say": "two"}]}], "default": [{"echo": True}]})
    d = ctx.daemon(emu)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(d.socket)
    s.sendall(b'{"id":1,"op":"open","session":"h"}\n{"id":2,"op":"send","session":"h","text":"slow"}\n')
    s.shutdown(socket.SHUT_WR)
    s.settimeout(10)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    lines = [json.loads(x) for x in data.decode().splitlines()]
    assert [x.get("id") for x in lines if "id" in x] == [1, 2], lines
    texts = [x["text"].strip() for x in lines if x.get("event") == "text"]
    assert texts == ["one", "two"], lines  # "two" came 0.3 s after the EOF
    assert lines[-1]["event"] == "turn_complete", lines[-1]


def test_a_half_closed_idle_client_is_closed_at_once(ctx):
    d = ctx.daemon(ctx.emulator())
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(d.socket)
    s.sendall(b'{"id":1,"op":"hello"}\n')
    s.shutdown(socket.SHUT_WR)
    s.settimeout(5)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    assert json.loads(data)["ok"] is True


def test_non_reading_subscribers_are_cut_by_the_total_output_budget(ctx):
    """Each subscriber that never reads stays under the per-client bound, but together they
    would not: past --max-output-total the slowest reader is cut; the asker gets every chunk."""
    chunk = "x" * 8000
    emu = ctx.emulator(script={"rules": [{"match": "flood", "steps": [{"chunks": [chunk] * 300}]}],
                               "default": [{"echo": True}]})
    d = ctx.daemon(emu, args=["--max-output-total", "4194304"])  # > the whole turn: the asker alone never needs a cut
    asker = d.client()
    asker.ok("open", session="f")
    deaf = []
    for _ in range(4):
        s = d.client()
        s.ok("subscribe", session="f")
        s.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        deaf.append(s)  # never read again
    turn = asker.ok("send", session="f", text="flood")["turn"]
    evs = asker.turn_events(turn, timeout=30)
    assert sum(len(e["text"]) for e in evs if e["event"] == "text") == 8000 * 300
    assert evs[-1]["event"] == "turn_complete"
    log = d.proc.stderr()
    assert "the slowest reader" in log and "--max-output-total" in log, log[-2000:]
    assert asker.ok("status")["clients"] < 5  # some deaf subscriber was cut


def test_an_idle_session_parks_and_its_next_use_resumes_the_conversation(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu, args=["--idle-timeout", "1"])
    c = d.client()
    c.ok("open", session="i")
    t = c.ok("send", session="i", text="Hello?")["turn"]
    c.turn_events(t)
    wait_for(lambda: emu.log(kind="disconnect"), 5, "the parked connection to close")
    assert [e["code"] for e in emu.log(kind="disconnect")] == [1000]
    assert c.ok("list")["sessions"][0]["state"] == "idle"
    t = c.ok("send", session="i", text="what did i say")["turn"]
    said = "".join(e["text"] for e in c.turn_events(t) if e["event"] == "text")
    assert "Hello?" in said, said  # the conversation was kept
    sessions = emu.log(kind="session")
    assert [s["resumed"] for s in sessions] == [False, True], sessions


def test_restored_sessions_connect_only_when_used(ctx):
    emu = ctx.emulator()
    state = os.path.join(ctx.tmp, "state")
    d = ctx.daemon(emu, args=["--state-dir", state])
    c = d.client()
    c.ok("open", session="r")
    t = c.ok("send", session="r", text="Hello?")["turn"]
    c.turn_events(t)
    time.sleep(0.3)  # the record is written within 100 ms
    d.proc.stop()
    before = emu.stats()["connections_total"]
    d2 = ctx.daemon(emu, args=["--state-dir", state], name="gliveD2")
    c2 = d2.client()
    assert c2.ok("list")["sessions"][0]["state"] == "idle"
    time.sleep(0.3)
    assert emu.stats()["connections_total"] == before  # restored, not connected
    t = c2.ok("send", session="r", text="what did i say")["turn"]
    said = "".join(e["text"] for e in c2.turn_events(t) if e["event"] == "text")
    assert "Hello?" in said, said


def test_logs_carry_priority_prefixes_when_stderr_is_the_journal(ctx):
    """systemd sets JOURNAL_STREAM to stderr's device:inode: lines then start with <N> (the
    journal stamps them itself), and a forged newline in a value stays escaped."""
    import harness
    err_path = os.path.join(ctx.tmp, "journal.err")
    with open(err_path, "wb") as f:
        st = os.fstat(f.fileno())
        env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}", GEMINI_API_KEY="k")
        import subprocess
        p = subprocess.Popen([os.path.join(harness.BUILD, "gliveD"), "--socket",
                              os.path.join(ctx.tmp, "j.sock"), "--log-level", "debug"],
                             stderr=f, stdout=subprocess.DEVNULL, env=env)
        try:
            wait_for(lambda: harness.accepting(os.path.join(ctx.tmp, "j.sock")), 10, "the socket")
            c = harness.LineClient(os.path.join(ctx.tmp, "j.sock"))
            c.request("tool.result", call_id="forged\n<3>gliveD error: fake", error="x")
            c.close()
        finally:
            p.terminate()
            p.wait(10)
    lines = open(err_path, "rb").read().decode().splitlines()
    assert lines and all(re.match(r"^<[3467]>gliveD ", l) for l in lines), lines[:5]
    assert any("<6>gliveD info: listening on" in l for l in lines), lines[:5]
    assert not any(l.startswith("<3>gliveD error: fake") for l in lines), lines
