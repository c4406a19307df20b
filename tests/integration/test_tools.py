"""Tool handlers (issue 4), daemon side: any connection registers a function and serves the
model's calls; the model is never left waiting. Asserted on what the emulator received."""
import threading
import time

from harness import wait_for

LIGHTS = [{"function_declarations": [{"name": "turn_on_the_lights"}, {"name": "turn_off_the_lights"}]}]
PAIR_SCRIPT = {"rules": [
    {"match": "both", "steps": [{"calls": [{"name": "f1", "args": {}}, {"name": "f2", "args": {"x": 1}}]},
                                {"say": "f1 said {tool:f1} and f2 said {tool:f2}"}]},
    {"match": "one", "steps": [{"call": "f1", "args": {}}, {"say": "f1 said {tool:f1}"}]},
    {"match": "before", "steps": [{"recall": True}]},
], "default": [{"echo": True}]}
F1F2 = [{"function_declarations": [{"name": "f1"}, {"name": "f2", "parameters": {
    "type": "object", "properties": {"x": {"type": "integer"}}}}]}]


def texts(evs):
    return "".join(e["text"] for e in evs if e["event"] == "text")


def handler(d, name, session="*", timeout_s=None):
    h = d.client()
    decl = {"name": name, "description": f"test function {name}"}
    args = {"session": session, "declaration": decl}
    if timeout_s:
        args["timeout_s"] = timeout_s
    r = h.ok("tool.register", **args)
    assert r["name"] == name
    return h


def test_registered_handler_serves_calls(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    h = handler(d, "turn_on_the_lights")
    asker, sub = d.client(), d.client()
    asker.ok("open", session="l", tools=LIGHTS)
    sub.ok("subscribe", session="l")
    r = asker.ok("send", session="l", text="Turn on the lights")
    call = h.next_event(where=lambda e: e["event"] == "tool_call")
    assert call["handler"] is True and call["session"] == "l" and call["name"] == "turn_on_the_lights"
    h.ok("tool.result", call_id=call["call_id"], response={"state": "on"})  # no session needed
    evs = asker.turn_events(r["turn"])
    asked = [e for e in evs if e["event"] == "tool_call"]
    assert asked and asked[0]["handler"] is True  # the asker is told, not asked to answer
    res = [e for e in evs if e["event"] == "tool_result"]
    assert res and res[0]["by"] == "handler" and res[0]["response"] == {"state": "on"}
    sub_evs = sub.turn_events(r["turn"])
    assert [e["event"] for e in sub_evs if e["event"].startswith("tool")] == ["tool_call", "tool_result"]
    got = emu.log(kind="tool_response")
    assert [(g["name"], g["response"]) for g in got] == [("turn_on_the_lights", {"state": "on"})]
    assert "turned on the lights" in texts(evs)


def test_parallel_calls_dispatched_at_once_answered_in_one_tool_response(ctx):
    emu = ctx.emulator(script=PAIR_SCRIPT)
    d = ctx.daemon(emu)
    h1, h2 = handler(d, "f1"), handler(d, "f2")
    asker = d.client()
    asker.ok("open", session="p", tools=F1F2)
    r = asker.ok("send", session="p", text="do both")
    c1 = h1.next_event(where=lambda e: e["event"] == "tool_call")
    c2 = h2.next_event(where=lambda e: e["event"] == "tool_call")  # before f1 is answered
    assert (c1["index"], c1["count"], c2["index"], c2["count"]) == (0, 2, 1, 2)
    assert c2["args"] == {"x": 1}
    h2.ok("tool.result", call_id=c2["call_id"], response={"v": 2})
    time.sleep(0.2)
    assert emu.stats()["messages"]["toolResponse"] == 0  # waits for every call of the toolCall
    h1.ok("tool.result", call_id=c1["call_id"], response={"v": 1})
    evs = asker.turn_events(r["turn"])
    assert 'f1 said {"v":1} and f2 said {"v":2}' in texts(evs), texts(evs)
    st = emu.stats()
    assert st["messages"]["toolResponse"] == 1 and st["tool_responses"] == 2, st
    got = {g["name"]: g for g in emu.log(kind="tool_response")}
    assert got["f1"]["id"] == c1["call_id"] and got["f2"]["id"] == c2["call_id"]


def test_handler_timeout_answers_model_with_error(ctx):
    emu = ctx.emulator(script=PAIR_SCRIPT)
    d = ctx.daemon(emu)
    h = handler(d, "f1", timeout_s=0.3)
    asker = d.client()
    asker.ok("open", session="to", tools=F1F2)
    r = asker.ok("send", session="to", text="just one")
    call = h.next_event(where=lambda e: e["event"] == "tool_call")
    cancel = h.next_event(where=lambda e: e["event"] == "tool_cancel", timeout=5)
    assert cancel["call_id"] == call["call_id"] and "in time" in cancel["reason"]
    evs = asker.turn_events(r["turn"])
    assert evs[-1]["event"] == "turn_complete"
    res = [e for e in evs if e["event"] == "tool_result"]
    assert res[0]["by"] == "daemon" and "in time" in res[0]["response"]["error"]
    got = emu.log(kind="tool_response")
    assert len(got) == 1 and "did not answer in time" in got[0]["response"]["error"]
    late = h.request("tool.result", call_id=call["call_id"], response={"late": True})
    assert late["error"]["code"] == "unknown_call"  # dropped, logged
    assert len(emu.log(kind="tool_response")) == 1


def test_handler_crash_answers_model_with_error(ctx):
    emu = ctx.emulator(script=PAIR_SCRIPT)
    d = ctx.daemon(emu)
    h = handler(d, "f1")
    asker = d.client()
    asker.ok("open", session="cr", tools=F1F2)
    r = asker.ok("send", session="cr", text="just one")
    h.next_event(where=lambda e: e["event"] == "tool_call")
    h.close()  # the handler process dies mid-call
    evs = asker.turn_events(r["turn"])
    assert evs[-1]["event"] == "turn_complete"
    got = emu.log(kind="tool_response")
    assert len(got) == 1 and "disconnected" in got[0]["response"]["error"], got


def test_unregistered_function_answered_with_error(ctx):
    emu = ctx.emulator(script=PAIR_SCRIPT)
    d = ctx.daemon(emu)
    asker = d.client()
    h = handler(d, "f1", session="un")  # declares f1 in session "un" (not declared at open)
    asker.ok("open", session="un")
    h.ok("tool.unregister", session="un", name="f1")  # the declaration stays, the handler goes
    r = asker.ok("send", session="un", text="just one")
    evs = asker.turn_events(r["turn"])
    assert evs[-1]["event"] == "turn_complete"
    res = [e for e in evs if e["event"] == "tool_result"]
    assert res and res[0]["by"] == "daemon" and "no handler" in res[0]["response"]["error"]
    got = emu.log(kind="tool_response")
    assert len(got) == 1 and "no handler is registered for function f1" in got[0]["response"]["error"]


def test_server_cancellation_reaches_handler_and_late_result_dropped(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    h = handler(d, "turn_on_the_lights")
    asker = d.client()
    asker.ok("open", session="cx", tools=LIGHTS)
    r = asker.ok("send", session="cx", text="emu:cancel")
    call = h.next_event(where=lambda e: e["event"] == "tool_call")
    cancel = h.next_event(where=lambda e: e["event"] == "tool_cancel")
    assert cancel["call_id"] == call["call_id"] and cancel["reason"] == "cancelled by the model"
    evs = asker.turn_events(r["turn"])
    assert "cancelled" in texts(evs) and evs[-1]["event"] == "turn_complete"
    late = h.request("tool.result", call_id=call["call_id"], response={"late": True})
    assert late["error"]["code"] == "unknown_call"
    assert "dropping a result" in d.proc.stderr()
    assert emu.log(kind="tool_response") == []


def test_register_on_live_session_keeps_conversation(ctx):
    emu = ctx.emulator(script=PAIR_SCRIPT)
    d = ctx.daemon(emu)
    c = d.client()
    c.ok("open", session="live")
    r = c.ok("send", session="live", text="my favourite colour is teal")
    c.turn_events(r["turn"])
    h = handler(d, "f1", session="live")
    wait_for(lambda: emu.stats()["connections_total"] == 2, 5, "the session to be re-established")
    r = c.ok("send", session="live", text="what did I say before?")
    evs = c.turn_events(r["turn"])
    assert "teal" in texts(evs), evs  # the resumed session remembers
    st = emu.stats()
    assert st["resumed"] == 1 and st["setups"] == 2, st
    # the new setup declares the handler's function, and the model can call it
    r = c.ok("send", session="live", text="just one")
    call = h.next_event(where=lambda e: e["event"] == "tool_call")
    h.ok("tool.result", call_id=call["call_id"], response={"ok": 1})
    assert '{"ok":1}' in texts(c.turn_events(r["turn"]))


def test_register_waits_for_running_turn(ctx):
    emu = ctx.emulator(time_scale=1, script={"rules": [
        {"match": "slow", "steps": [{"say": "one"}, {"delay_ms": 800}, {"say": "two"}]}],
        "default": [{"echo": True}]})
    d = ctx.daemon(emu)
    c = d.client()
    c.ok("open", session="w")
    r = c.ok("send", session="w", text="slow")
    c.next_event(where=lambda e: e["event"] == "text")
    reply = {}
    t = threading.Thread(target=lambda: reply.update(handler(d, "f1", session="w").ok("status")))
    t.start()
    evs = c.turn_events(r["turn"])
    t.join(10)
    assert evs[-1]["event"] == "turn_complete" and "two" in texts(evs)  # not broken by the change
    wait_for(lambda: emu.stats()["setups"] == 2, 5, "re-establishment after the turn")
    assert [e["code"] for e in emu.log(kind="disconnect")] == [1000]


def test_tool_exists_and_bad_declarations(ctx):
    d = ctx.daemon(ctx.emulator())
    h = handler(d, "f1")
    other = d.client()
    r = other.request("tool.register", session="*", declaration={"name": "f1"})
    assert r["error"]["code"] == "tool_exists"
    r = other.request("tool.register", session="*", declaration={"name": "1bad"})
    assert r["error"]["code"] == "bad_request"
    r = other.request("tool.register", session="*", declaration={"name": "g", "parameters": "x"})
    assert r["error"]["code"] == "bad_request"
    r = other.request("tool.register", session="*", declaration={"name": "g", "paramters": {}})
    assert r["error"]["code"] == "bad_request" and "paramters" in r["error"]["message"]
    r = other.request("tool.register", session="bad name", declaration={"name": "g"})
    assert r["error"]["code"] == "bad_request"
    assert h.ok("tool.register", session="*", declaration={"name": "f1", "description": "v2"})
