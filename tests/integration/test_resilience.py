"""Sessions that never die (issue 5): a scripted conversation of 22 turns runs through each fault;
asserted: every accepted prompt reached the emulator exactly once or was reported to its client,
and every completed turn's text reached the subscriber exactly once, in order."""
import json
import os
import signal
import time

from harness import wait_for

N_TURNS = 22
FAULT_AT = 9
ECHO = {"match": "repeat after me", "steps": [{"delay_ms": 1000}, {"echo": True}]}


def script(fault_steps):
    rules = [ECHO]
    if fault_steps is not None:
        rules.insert(0, {"match": "FAULT", "once": True, "steps": fault_steps})
    return {"rules": rules + [{"match": "before", "steps": [{"recall": True}]}],
            "default": [{"echo": True}]}


def prompts():
    ps = [f"repeat after me: turn {i:02d}" for i in range(N_TURNS)]
    ps[FAULT_AT] = "FAULT here"
    return ps


def converse(d, emu, session="conv", retry=False, during=None, timeout=60):
    """Queues every prompt at once, then waits until each turn ended; returns outcomes."""
    a, sub = d.client(), d.client()
    a.ok("open", session=session)
    sub.ok("subscribe", session=session)
    turns = {}
    for p in prompts():
        r = a.ok("send", session=session, text=p, retry=retry)
        turns[r["turn"]] = p
    outcome = {}
    deadline = time.monotonic() + timeout
    while len(outcome) < len(turns):
        if during:
            during(outcome)
        e = a.next_event(timeout=max(0.1, deadline - time.monotonic()))
        t = e.get("turn")
        if t in turns and (e["event"] in ("turn_complete", "error") or
                           (e["event"] == "interrupted" and not e.get("retrying"))):
            outcome.setdefault(t, e)
    sub_text = []  # what the subscriber got, in order, up to the end of the last turn
    last = max(turns)
    while True:
        e = sub.next_event(timeout=10)
        if e["event"] == "text":
            sub_text.append((e["turn"], e["text"]))
        if e.get("turn") == last and e["event"] in ("turn_complete", "error") or \
                (e.get("turn") == last and e["event"] == "interrupted" and not e.get("retrying")):
            break
    return turns, outcome, sub_text, a, sub


def check_exactly_once(emu, turns, outcome, sub_text, retried=()):
    sent = [p["text"] for p in emu.log(kind="prompt")]
    completed = [t for t in sorted(turns) if outcome[t]["event"] == "turn_complete"]
    for t, p in turns.items():
        n = sent.count(p)
        if p in retried:  # the client asked for a retry: once more than the interruptions
            assert n == 2, f"retried turn {t} ({p}) reached the emulator {n} times"
        elif outcome[t]["event"] == "turn_complete":
            assert n == 1, f"turn {t} ({p}) completed but reached the emulator {n} times"
        else:
            assert n <= 1, f"turn {t} ({p}) reached the emulator {n} times"
    # the subscriber: each completed turn's text exactly once, turns in order
    by_turn = {}
    order = []
    for t, text in sub_text:
        by_turn.setdefault(t, []).append(text)
        if t not in order:
            order.append(t)
    for t in completed:
        said = "".join(by_turn.get(t, []))
        if turns[t].startswith("repeat after me"):
            assert said == f"You said: {turns[t]}", f"turn {t}: subscriber got {said!r}"
    assert [t for t in order if t in completed] == completed, "completed turns out of order"
    return completed


def test_fault_goaway_mid_turn(ctx):
    emu = ctx.emulator(script=script([{"say": "part one"}, {"goaway_ms": 3000}, {"say": " part two"}]))
    d = ctx.daemon(emu)
    turns, outcome, sub_text, a, _ = converse(d, emu)
    completed = check_exactly_once(emu, turns, outcome, sub_text)
    assert len(completed) == N_TURNS  # the turn in progress finished before the cut
    assert emu.stats()["goaways"] == 1 and emu.stats()["resumed"] >= 1
    info = a.ok("list")["sessions"][0]
    assert info["goaways"] == 1 and info["reconnects"] >= 1 and info["last_goaway"]["time_left_ms"] == 30, info


def test_fault_goaway_between_turns(ctx):
    emu = ctx.emulator(script=script(None), args=["--lifetime", "0.3", "--goaway-before", "0.12"])
    d = ctx.daemon(emu)
    turns, outcome, sub_text, _, _ = converse(d, emu)
    completed = check_exactly_once(emu, turns, outcome, sub_text)
    assert len(completed) == N_TURNS, {t: o["event"] for t, o in outcome.items()}
    st = emu.stats()
    assert st["goaways"] >= 1 and st["resumed"] >= 1, st
    # after a goAway no new prompt goes to the old connection: in the daemon's own log, no prompt
    # is sent between receiving a goAway and the resumed connection being ready (a prompt can
    # still cross a goAway on the wire: that one was sent before the goAway arrived)
    draining = False
    for line in d.proc.stderr().splitlines():
        if "session conv: goAway" in line:
            draining = True
        elif "session conv: ready" in line:
            draining = False
        elif "session conv: > " in line and ('"clientContent"' in line or '"realtimeInput"' in line):
            assert not draining, f"a prompt went to a connection after its goAway: {line}"


def run_fault(ctx, steps, daemon_args=(), retry=False):
    emu = ctx.emulator(script=script(steps))
    d = ctx.daemon(emu, args=["--backoff-min", "0.05", "--backoff-max", "0.2"] + list(daemon_args))
    turns, outcome, sub_text, a, _ = converse(d, emu, retry=retry)
    completed = check_exactly_once(emu, turns, outcome, sub_text, retried={"FAULT here"} if retry else ())
    fault_turn = next(t for t, p in turns.items() if p == "FAULT here")
    return emu, d, turns, outcome, completed, fault_turn, a


def test_fault_tcp_drop_mid_turn(ctx):
    emu, d, turns, outcome, completed, ft, _ = run_fault(ctx, [{"say": "partial"}, {"drop": True}])
    assert outcome[ft]["event"] == "interrupted" and "lost" in outcome[ft]["reason"]
    assert len(completed) == N_TURNS - 1
    assert emu.stats()["resumed"] >= 1


def test_fault_tcp_drop_with_retry_requested(ctx):
    emu, d, turns, outcome, completed, ft, _ = run_fault(ctx, [{"say": "partial"}, {"drop": True}], retry=True)
    # the retried FAULT prompt ran again (the once-rule now falls through to the echo)
    assert outcome[ft]["event"] == "turn_complete"
    assert [p["text"] for p in emu.log(kind="prompt")].count("FAULT here") == 2


def test_fault_close_1011(ctx):
    emu, d, turns, outcome, completed, ft, _ = run_fault(
        ctx, [{"say": "Working"}, {"close": 1011, "reason": "Internal error occurred."}])
    assert outcome[ft]["event"] == "interrupted" and "1011" in outcome[ft]["reason"]
    assert len(completed) == N_TURNS - 1


def test_fault_close_1008_is_reported_not_retried(ctx):
    emu = ctx.emulator(script=script([{"close": 1008, "reason": "Policy violation."}]))
    d = ctx.daemon(emu, args=["--backoff-min", "0.05", "--backoff-max", "0.2"])
    turns, outcome, sub_text, a, _ = converse(d, emu)
    check_exactly_once(emu, turns, outcome, sub_text)
    after = [t for t in sorted(turns) if t > min(t for t, p in turns.items() if p == "FAULT here")]
    assert all(outcome[t]["event"] == "error" and outcome[t]["code"] == "upstream" for t in after)
    conns = emu.stats()["connections_total"]
    time.sleep(0.5)
    assert emu.stats()["connections_total"] == conns  # no reconnect loop
    r = a.ok("send", session="conv", text="repeat after me: again")  # the user tries again
    assert a.turn_events(r["turn"])[-1]["event"] == "turn_complete"


def test_fault_stalled_server(ctx):
    emu, d, turns, outcome, completed, ft, _ = run_fault(
        ctx, [{"say": "partial"}, {"stall": True}], daemon_args=["--ping-interval", "0.2", "--pong-timeout", "0.6"])
    assert outcome[ft]["event"] == "interrupted" and "pong" in outcome[ft]["reason"]
    assert len(completed) == N_TURNS - 1


def test_fault_malformed_server_json(ctx):
    emu, d, turns, outcome, completed, ft, _ = run_fault(ctx, [{"say": "partial"}, {"malformed": "{nope"}])
    assert outcome[ft]["event"] == "interrupted"
    assert len(completed) == N_TURNS - 1


def test_fault_oversized_server_frame(ctx):
    emu, d, turns, outcome, completed, ft, _ = run_fault(
        ctx, [{"say": "partial"}, {"oversize": 3000000}], daemon_args=["--max-message", "1000000"])
    assert outcome[ft]["event"] == "interrupted"
    assert len(completed) == N_TURNS - 1
    assert "larger than" in d.proc.stderr()


def restart_during(ctx, emu, d, bad_tls_first):
    """A `during` hook: once the FAULT turn hangs, kill the emulator; optionally bring up one
    with a different CA (TLS fails on reconnect) before the right one."""
    state = {"done": False}

    def hook(outcome):
        if state["done"] or "FAULT here" not in [p["text"] for p in emu.log(kind="prompt")]:
            return
        state["done"] = True
        state["before"] = emu.log(kind="prompt")
        emu.proc.stop(signal.SIGKILL)
        if bad_tls_first:
            wrong = emu.restart("emulator-wrong-ca", tls_dir=os.path.join(ctx.tmp, "other-ca"))
            wait_for(lambda: "certificate" in d.proc.stderr(), 10, "a TLS failure on reconnect")
            wrong.proc.stop()
        state["new"] = emu.restart("emulator-2")
    return hook, state


def test_fault_tls_failure_on_reconnect_and_emulator_restarted(ctx):
    emu = ctx.emulator(script=script([{"say": "partial"}, {"delay_ms": 600000}]))
    d = ctx.daemon(emu, args=["--backoff-min", "0.05", "--backoff-max", "0.3"])
    hook, state = restart_during(ctx, emu, d, bad_tls_first=True)
    turns, outcome, sub_text, a, _ = converse(d, emu, during=hook)
    new = state["new"]
    ft = next(t for t, p in turns.items() if p == "FAULT here")
    assert outcome[ft]["event"] == "interrupted"
    # prompts reached exactly one of the two emulators, once
    sent = [p["text"] for p in state["before"] + new.log(kind="prompt")]
    for t, p in turns.items():
        if outcome[t]["event"] == "turn_complete":
            assert sent.count(p) == 1, p
    assert sum(1 for o in outcome.values() if o["event"] == "turn_complete") == N_TURNS - 1
    # the new emulator did not know the handle: the daemon said so and started fresh
    info = a.ok("list")["sessions"][0]
    assert "fresh" in info.get("notice", ""), info
    assert [e["resumed"] for e in new.log(kind="session")][-1] is False


def test_emulator_restarted_mid_conversation(ctx):
    emu = ctx.emulator(script=script([{"say": "partial"}, {"delay_ms": 600000}]))
    d = ctx.daemon(emu, args=["--backoff-min", "0.05", "--backoff-max", "0.3"])
    before = []

    def hook(outcome, state={"done": False}):
        if state["done"]:
            return
        log = emu.log(kind="prompt")
        if "FAULT here" not in [p["text"] for p in log]:
            return
        before.extend(log)
        state["done"] = True
        emu.proc.stop(signal.SIGKILL)
        state["new"] = emu.restart("emulator-2")
        hook.new = state["new"]
    turns, outcome, sub_text, a, _ = converse(d, emu, during=hook)
    sent = [p["text"] for p in before + hook.new.log(kind="prompt")]
    for t, p in turns.items():
        n = sent.count(p)
        assert n == 1 if outcome[t]["event"] == "turn_complete" else n <= 1, (p, n)
    assert sum(1 for o in outcome.values() if o["event"] == "turn_complete") == N_TURNS - 1


def test_sigkill_daemon_and_resume_from_state_dir(ctx):
    emu = ctx.emulator(script=script(None))
    state = os.path.join(ctx.tmp, "state")
    d = ctx.daemon(emu, args=["--state-dir", state])
    c = d.client()
    c.ok("open", session="keep", tools=[{"function_declarations": [{"name": "f1"}]}])
    r = c.ok("send", session="keep", text="my favourite colour is teal")
    c.turn_events(r["turn"])
    path = os.path.join(state, "sessions", "keep.json")
    wait_for(lambda: os.path.exists(path) and json.load(open(path)).get("handle"), 1.0,
             "the handle on disk within a second")
    handle = json.load(open(path))["handle"]
    d.proc.stop(signal.SIGKILL)
    d2 = ctx.daemon(emu, args=["--state-dir", state], name="gliveD-2", socket_path=d.socket)
    c2 = d2.client()
    assert c2.ok("list")["sessions"][0]["state"] == "idle"  # restored; it connects when used
    r = c2.ok("open", session="keep")
    assert r["created"] is False
    r = c2.ok("send", session="keep", text="what did I say before?")
    assert "teal" in "".join(e["text"] for e in c2.turn_events(r["turn"]) if e["event"] == "text")
    sessions = emu.log(kind="session")
    assert sessions[-1]["resumed"] is True and sessions[-1]["functions"] == ["f1"]
    assert emu.stats()["resumed"] == 1
    assert handle  # the handle that was on disk is the one that resumed (the emulator knew it)


def test_expired_handle_starts_fresh_and_says_so(ctx):
    emu = ctx.emulator(script=script(None))
    state = os.path.join(ctx.tmp, "state")
    os.makedirs(os.path.join(state, "sessions"))
    with open(os.path.join(state, "sessions", "old.json"), "w") as f:
        json.dump({"name": "old", "model": "gemini-live-2.5-flash-preview", "modality": "TEXT",
                   "handle": "long-expired-handle", "handle_time": 1}, f)
    d = ctx.daemon(emu, args=["--state-dir", state])
    c = d.client()
    assert c.ok("list")["sessions"][0]["state"] == "idle"  # restored; it connects when used
    r = c.ok("send", session="old", text="repeat after me: hello again")
    assert c.turn_events(r["turn"])[-1]["event"] == "turn_complete"
    info = c.ok("list")["sessions"][0]
    assert "fresh" in info["notice"] and info["handle_age_s"] is not None


def test_compression_and_resumption_in_every_setup(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    c = d.client()
    c.ok("open", session="a")
    c.ok("open", session="b", compression=False)
    for s in ("a", "b"):
        r = c.ok("send", session=s, text="Hello?")
        c.turn_events(r["turn"])
    got = {e["conn"]: e for e in emu.log(kind="session")}
    assert sorted((e["resumption"], e["compression"]) for e in got.values()) == [(True, False), (True, True)]
    st = c.ok("status")["session_list"]
    for s in st:
        for k in ("connection_age_s", "reconnects", "handle_age_s", "queued", "goaways"):
            assert k in s, k


def test_busy_when_queue_full(ctx):
    emu = ctx.emulator(script={"rules": [], "default": [{"delay_ms": 100000}, {"echo": True}]})
    d = ctx.daemon(emu, args=["--max-queue", "3"])
    c = d.client()
    c.ok("open", session="q")
    replies = [c.request("send", session="q", text=f"p{i}") for i in range(6)]
    busy = [r for r in replies if not r["ok"]]
    assert len(busy) >= 2 and all(r["error"]["code"] == "busy" for r in busy), replies
    assert "--max-queue" in busy[0]["error"]["message"]


def test_tool_call_in_flight_when_connection_drops(ctx):
    emu = ctx.emulator(script={"rules": [
        {"match": "call then drop", "once": True,
         "steps": [{"call": "f1", "args": {}, "await": False}, {"delay_ms": 30000}, {"drop": True}]},
    ], "default": [{"echo": True}]})
    d = ctx.daemon(emu, args=["--backoff-min", "0.05"])
    h = d.client()
    h.ok("tool.register", session="*", declaration={"name": "f1"})
    c = d.client()
    c.ok("open", session="tc", tools=[{"function_declarations": [{"name": "f1"}]}])
    r = c.ok("send", session="tc", text="call then drop")
    call = h.next_event(where=lambda e: e["event"] == "tool_call")
    cancel = h.next_event(where=lambda e: e["event"] == "tool_cancel", timeout=10)
    assert cancel["call_id"] == call["call_id"] and "lost" in cancel["reason"], cancel
    end = c.turn_events(r["turn"])[-1]
    assert end["event"] == "interrupted"
    late = h.request("tool.result", call_id=call["call_id"], response={"late": 1})
    assert late["error"]["code"] == "unknown_call"  # nothing waits for it any more
    r = c.ok("send", session="tc", text="repeat after me: still here")
    assert c.turn_events(r["turn"])[-1]["event"] == "turn_complete"  # on the resumed connection
    assert emu.log(kind="tool_response") == [] and emu.stats()["resumed"] == 1
