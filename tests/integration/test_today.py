"""Today's Live models (issue 8) through the real binaries: gliveD on its default model,
gemini-3.8-live, against the emulator playing that model: no server-side code execution (gliveD
runs run_python itself), NON_BLOCKING function calls (answers arrive in turns no prompt started),
and the message shapes recorded from the real service."""
import json
import os
import time

import harness
from harness import wait_for

LIGHTS = ["--function", "turn_on_the_lights", "--function", "turn_off_the_lights"]
LIGHTS_TOOLS = [{"function_declarations": [{"name": "turn_on_the_lights"}, {"name": "turn_off_the_lights"}]}]
PROMPT4 = "What is the largest prime palindrome under 100000"
PROMPT6 = "write and run python code to turn on the lights, wait 10s and then turn off the lights"
PROMPT7 = ("Hey, I need you to do three tasks for me.\n1. Turn on the lights.\n"
           "2. Then compute the largest prime palindrome under 100000.\n"
           "3. Then use Google Search to look up information about the largest earthquake in "
           "California the week of Dec 5 2024.\nThanks!")


def today(ctx, script=None, args=(), emu_args=()):
    """Emulator + gliveD on the daemon's own default model (3.8 Live)."""
    emu = ctx.emulator(script=script, args=emu_args)
    return emu, ctx.daemon(emu, model=None, args=args)


def events_of(p):
    return [json.loads(line) for line in p.stdout_text.splitlines() if line.startswith("{")]


def said(evs, turn=None):
    """What the model said: text, or the output transcription of its audio."""
    return "".join(e["text"] for e in evs if e.get("event") in ("text", "transcript")
                   and e.get("source", "output") == "output" and (turn is None or e.get("turn") == turn))


# ---- the seed scenarios on 3.8 Live ----

def test_seed2_follow_up_reaches_ask(ctx):
    emu, d = today(ctx)
    p = d.ctl("ask", "--session", "s2", *LIGHTS, "Turn on the lights")
    assert "Sure, turning on the lights." in p.stdout_text, p.stdout_text
    assert "OK, I've turned on the lights." in p.stdout_text, p.stdout_text  # in a later generation
    assert [g["name"] for g in emu.log(kind="tool_response")] == ["turn_on_the_lights"]


def test_seed4_prime_palindrome_by_local_python(ctx):
    emu, d = today(ctx)
    evs = events_of(d.ctl("ask", "--session", "s4", "--code-execution", "--json", PROMPT4))
    code = [e for e in evs if e.get("event") == "code"]
    result = [e for e in evs if e.get("event") == "code_result"]
    assert code and code[0]["local"] is True and "def is_prime" in code[0]["code"], code
    assert result and result[0]["local"] and result[0]["outcome"] == "OUTCOME_OK", result
    assert result[0]["output"].strip() == "98689" and result[0]["call_id"] == code[0]["call_id"]
    follow = [e for e in evs if e.get("event") == "turn_started"]
    assert follow and follow[0]["cause"] == "function_response", follow
    assert "98689" in said(evs, follow[0]["turn"])
    session = emu.log(kind="session")[0]
    assert "run_python" in session["functions"] and "code_execution" not in session["functions"]
    answers = emu.log(kind="tool_response")
    assert [a["name"] for a in answers] == ["run_python"]
    assert answers[0]["response"] == {"outcome": "OUTCOME_OK", "output": "98689\n"}


def test_seed6_lights_on_wait_off_through_a_tool_handler(ctx):
    emu, d = today(ctx)
    lights = os.path.join(ctx.tmp, "lights")
    for name, state in (("turn_on_the_lights", "on"), ("turn_off_the_lights", "off")):
        ctx.start(f"tool-{state}", [os.path.join(harness.BUILD, "glivectl"), "--socket", d.socket,
                                    "tool", "--name", name, "--",
                                    "sh", "-c", f"echo {state} $(date +%s.%N) >> {lights}"])
    wait_for(lambda: len(d.client().ok("status")["tools"]) == 2, 10, "two handlers")
    t0 = time.monotonic()
    evs = events_of(d.ctl("ask", "--session", "s6", "--code-execution", *LIGHTS, "--json", PROMPT6))
    calls = [e for e in evs if e.get("event") == "tool_call"]
    assert [c["name"] for c in calls] == ["turn_on_the_lights", "turn_off_the_lights"], calls
    code = [e for e in evs if e.get("event") == "code"][0]
    assert all(c["via"] == "run_python" and c["parent_call_id"] == code["call_id"] for c in calls)
    assert all(c["handler"] is True for c in calls)
    with open(lights) as f:
        rows = [line.split() for line in f]
    assert [r[0] for r in rows] == ["on", "off"], rows
    assert float(rows[1][1]) - float(rows[0][1]) >= 10 * 0.01, rows  # 10 s x the time scale
    assert "turned off the lights" in said(evs)
    assert time.monotonic() - t0 < 30


def test_seed7_three_tasks(ctx):
    emu, d = today(ctx)
    evs = events_of(d.ctl("ask", "--session", "s7", "--code-execution", "--google-search", *LIGHTS,
                          "--json", PROMPT7))
    kinds = [e.get("event") for e in evs]
    assert "tool_call" in kinds and "grounding" in kinds, kinds
    assert any(e.get("output", "").strip() == "98689" for e in evs if e.get("event") == "code_result")
    text = said(evs)
    assert "98689" in text and "lights" in text and "Cape Mendocino" in text, text


# ---- asynchronous (NON_BLOCKING) calls ----

def open_lights(c, session="a"):
    c.ok("open", session=session, tools=LIGHTS_TOOLS)


def first_call(c):
    return c.next_event(where=lambda e: e["event"] == "tool_call")


def test_when_idle_answer_makes_a_turn_for_the_asker(ctx):
    emu, d = today(ctx)
    c = d.client()
    open_lights(c)
    turn = c.ok("send", session="a", text="Turn on the lights")["turn"]
    call = first_call(c)
    assert call["behavior"] == "NON_BLOCKING" and call["turn"] == turn
    evs = c.turn_events(turn)  # the turn ends before the call is answered
    assert evs[-1]["event"] == "turn_complete" and "Sure, turning on the lights." in said(evs)
    c.ok("tool.result", call_id=call["call_id"], response={"result": "ok"})
    started = c.next_event(where=lambda e: e["event"] == "turn_started")
    assert started["cause"] == "function_response" and started["of_turn"] == turn
    evs = c.turn_events(started["turn"])
    assert "OK, I've turned on the lights." in said(evs)
    assert evs[-1]["cause"] == "function_response" and evs[-1]["of_turn"] == turn


def test_silent_answer_makes_no_turn(ctx):
    emu, d = today(ctx)
    c = d.client()
    open_lights(c)
    turn = c.ok("send", session="a", text="Turn on the lights")["turn"]
    call = first_call(c)
    c.turn_events(turn)
    c.ok("tool.result", call_id=call["call_id"], response={"result": "ok"}, scheduling="SILENT")
    wait_for(lambda: emu.log(kind="tool_response"), 5, "the answer at the emulator")
    assert emu.log(kind="tool_response")[0]["scheduling"] == "SILENT"
    time.sleep(0.5)
    assert not [e for e in c.events if e["event"] == "turn_started"], c.events
    # the session is free: the next prompt runs at once
    t2 = c.ok("send", session="a", text="Hello?")["turn"]
    assert c.turn_events(t2)[-1]["event"] == "turn_complete"


def test_interrupt_answer_cuts_the_running_generation(ctx):
    emu, d = today(ctx)
    c = d.client()
    open_lights(c)
    turn = c.ok("send", session="a", text="emu:async-interrupt")["turn"]
    call = first_call(c)
    c.next_event(where=lambda e: e["event"] in ("text", "transcript") and "long story" in e["text"])
    c.ok("tool.result", call_id=call["call_id"], response={"result": "ok"}, scheduling="INTERRUPT")
    evs = c.turn_events(turn)
    cut = [e for e in evs if e["event"] == "interrupted"]
    assert cut and cut[0]["final"] is False and "INTERRUPT" in cut[0]["reason"], evs
    rest = c.turn_events(turn) if evs[-1]["event"] == "interrupted" else evs
    assert rest[-1]["event"] == "turn_complete"
    assert "end of the story" not in said(evs + rest)
    started = c.next_event(where=lambda e: e["event"] == "turn_started")
    assert "OK, I've turned on the lights." in said(c.turn_events(started["turn"]))


def test_will_continue_answers_in_sequence(ctx):
    emu, d = today(ctx)
    c = d.client()
    open_lights(c)
    turn = c.ok("send", session="a", text="Turn on the lights")["turn"]
    call = first_call(c)
    c.turn_events(turn)
    c.ok("tool.result", call_id=call["call_id"], response={"progress": 50}, will_continue=True)
    update = c.next_event(where=lambda e: e["event"] == "turn_started")
    assert "An update from turn_on_the_lights" in said(c.turn_events(update["turn"]))
    c.ok("tool.result", call_id=call["call_id"], response={"result": "ok"})  # still pending
    final = c.next_event(where=lambda e: e["event"] == "turn_started")
    assert "OK, I've turned on the lights." in said(c.turn_events(final["turn"]))
    r = c.request("tool.result", call_id=call["call_id"], response={"result": "again"})
    assert r["error"]["code"] == "unknown_call"
    got = emu.log(kind="tool_response")
    assert [g.get("willContinue") for g in got] == [True, None], got


DROP_SCRIPT = {"rules": [
    {"match": "lights", "steps": [{"call": "turn_on_the_lights", "args": {}, "meanwhile": "On it."},
                                  {"say": "Done: {tool:turn_on_the_lights}"}]},
    {"match": "drop now", "steps": [{"drop": True}]},
], "default": [{"echo": True}]}


def test_a_call_outliving_its_turn_is_cancelled_when_the_connection_is_lost(ctx):
    emu, d = today(ctx, script=DROP_SCRIPT)
    c = d.client()
    open_lights(c)
    turn = c.ok("send", session="a", text="lights please")["turn"]
    call = first_call(c)
    c.turn_events(turn)  # complete, the call still pending
    c.ok("send", session="a", text="drop now")
    cancel = c.next_event(where=lambda e: e["event"] == "tool_cancel")
    assert cancel["call_id"] == call["call_id"] and "lost" in cancel["reason"], cancel
    r = c.request("tool.result", call_id=call["call_id"], response={"result": "late"})
    assert r["error"]["code"] == "unknown_call"


def test_a_call_outliving_its_turn_times_out_on_its_deadline(ctx):
    emu, d = today(ctx, script=DROP_SCRIPT)
    h = d.client()
    h.ok("tool.register", session="*", declaration={"name": "turn_on_the_lights"}, timeout_s=0.3)
    c = d.client()
    open_lights(c)
    turn = c.ok("send", session="a", text="lights please")["turn"]
    c.turn_events(turn)
    res = c.next_event(where=lambda e: e["event"] == "tool_result")
    assert res["by"] == "daemon" and "did not answer in time" in res["response"]["error"], res
    got = wait_for(lambda: emu.log(kind="tool_response"), 5, "the daemon's answer")
    assert "did not answer in time" in got[0]["response"]["error"]


# ---- real message shapes ----

def test_an_id_less_call_is_answered_by_name(ctx):
    emu, d = today(ctx)
    c = d.client()
    open_lights(c)
    c.ok("send", session="a", text="emu:no-id-call")
    call = first_call(c)
    assert call["server_id"] is None and call["call_id"].startswith("gld-"), call
    c.ok("tool.result", call_id=call["call_id"], response={"result": "ok"})
    got = wait_for(lambda: emu.log(kind="tool_response"), 5, "the answer")
    assert got[0]["id"] is None and got[0]["name"] == "turn_on_the_lights", got  # by name alone


def test_interim_transcription_voice_activity_and_waiting_for_input(ctx):
    emu, d = today(ctx)
    c = d.client()
    c.ok("open", session="a")
    t = c.ok("send", session="a", text="emu:interim")["turn"]
    evs = c.turn_events(t)
    interim = [e for e in evs if e["event"] == "transcript" and e.get("interim")]
    assert interim and interim[0]["source"] == "input" and interim[0]["text"] == "emu", evs
    t = c.ok("send", session="a", text="emu:voice-activity")["turn"]
    evs = c.turn_events(t)
    assert [e["type"] for e in evs if e["event"] == "voice_activity"] == ["ACTIVITY_START", "ACTIVITY_END"]
    t = c.ok("send", session="a", text="emu:waiting")["turn"]
    evs = c.turn_events(t)
    assert evs[-1]["event"] == "turn_complete" and evs[-1]["waiting_for_input"] is True, evs[-1]


def test_the_services_session_id_shows_in_list(ctx):
    emu, d = today(ctx, emu_args=["--session-id"])
    c = d.client()
    c.ok("open", session="a")
    wait_for(lambda: c.ok("list")["sessions"][0]["state"] == "ready", 10, "ready")
    assert c.ok("list")["sessions"][0]["session_id"].startswith("emu-session-")


# ---- the sandbox, seen from a client ----

SPIN_SCRIPT = {"rules": [
    {"match": "spin", "steps": [{"call": "run_python", "args": {"code": "while True:\n    pass\n"},
                                 "meanwhile": "Running."}, {"say": "It said {tool:run_python}"}]},
], "default": [{"echo": True}]}


def peek_script(state, port):
    """The model runs code that looks for the daemon's state dir, the emulator, and the key."""
    code = ("import os, socket\n"
            f"print(os.path.exists({state!r}))\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), 1)\n"
            "    print('network')\n"
            "except OSError:\n"
            "    print('no network')\n"
            "print(sorted(k for k in os.environ if 'KEY' in k))\n")
    return {"rules": [{"match": "peek", "steps": [
        {"call": "run_python", "args": {"code": code}, "meanwhile": "Looking."},
        {"say": "It said {tool:run_python}"}]}], "default": [{"echo": True}]}


def test_runaway_code_hits_its_deadline_and_the_daemon_stays_responsive(ctx):
    emu, d = today(ctx, script=SPIN_SCRIPT, args=["--code-timeout", "2"])
    c, other = d.client(), d.client()
    c.ok("open", session="a", tools=[{"code_execution": {}}])
    turn = c.ok("send", session="a", text="spin")["turn"]
    c.next_event(where=lambda e: e["event"] == "code")
    t0 = time.monotonic()
    for _ in range(10):  # meanwhile the daemon answers at once
        s = time.monotonic()
        other.ok("status")
        assert time.monotonic() - s < 0.5
    res = c.next_event(timeout=15, where=lambda e: e["event"] == "code_result")
    assert res["outcome"] == "OUTCOME_DEADLINE_EXCEEDED" and res["local"], res
    assert 1.5 < time.monotonic() - t0 + 0.5
    got = wait_for(lambda: emu.log(kind="tool_response"), 5, "the answer")
    assert got[0]["response"]["outcome"] == "OUTCOME_DEADLINE_EXCEEDED"
    assert turn


def test_code_sees_no_network_no_state_and_no_key(ctx):
    state = os.path.join(ctx.tmp, "state")
    os.makedirs(state)
    probe = ctx.emulator(name="target")  # a server the code must not reach
    emu, d = today(ctx, script=peek_script(state, probe.port), args=["--state-dir", state])
    c = d.client()
    c.ok("open", session="a", tools=[{"code_execution": {}}])
    c.ok("send", session="a", text="peek")
    res = c.next_event(timeout=15, where=lambda e: e["event"] == "code_result")
    assert res["outcome"] == "OUTCOME_OK", res
    assert res["output"].split("\n")[:3] == ["False", "no network", "[]"], res
