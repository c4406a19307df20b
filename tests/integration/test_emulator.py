"""The emulator over real sockets: protocol, strictness as the real service, auth, transport
behaviour, faults, lifetime and resumption, spoken input and pictures."""
import array
import asyncio
import base64
import hashlib
import math
import operator
import os
import json
import socket
import ssl
import sys
import wave

import websockets

from harness import wait_for
from live import connect, expect_close, prompt, recv_json, run, send, setup, texts, turn, until

LIGHTS = [{"functionDeclarations": [{"name": "turn_on_the_lights"}, {"name": "turn_off_the_lights"}]}]


def test_seed1_text_streams_in_chunks_over_wss(ctx):
    emu = ctx.emulator()

    async def go():
        async with connect(emu) as ws:
            await setup(ws)
            await send(ws, prompt("Hello?"))
            msgs = await turn(ws)
            chunks = texts(msgs)
            assert len(chunks) >= 2, chunks
            assert "".join(chunks) == "Hello! How can I help you today?", chunks
            kinds = [next(iter(m["serverContent"])) for m in msgs if "serverContent" in m]
            assert "generationComplete" in kinds, kinds
            assert msgs[-1]["serverContent"]["turnComplete"] is True
            assert "usageMetadata" in msgs[-1]
    run(go())


def test_seed2_tool_call_roundtrip(ctx):
    emu = ctx.emulator()

    async def go():
        async with connect(emu) as ws:
            await setup(ws, tools=LIGHTS)
            await send(ws, prompt("Turn on the lights"))
            m = await recv_json(ws)
            calls = m["toolCall"]["functionCalls"]
            assert len(calls) == 1 and calls[0]["name"] == "turn_on_the_lights", m
            assert calls[0]["id"].startswith("function-call-") and calls[0]["id"][14:].isdigit()
            assert calls[0].get("args", {}) == {}
            await send(ws, {"tool_response": {"function_responses": [
                {"id": calls[0]["id"], "name": calls[0]["name"], "response": {"result": {"string_value": "ok"}}}]}})
            msgs = await turn(ws)
            assert "turned on the lights" in "".join(texts(msgs)), msgs
    run(go())
    got = emu.log(kind="tool_response")
    assert len(got) == 1 and got[0]["name"] == "turn_on_the_lights"


def test_snake_and_camel_mixed_are_accepted(ctx):
    emu = ctx.emulator()

    async def go():
        async with connect(emu) as ws:
            await send(ws, {"setup": {"model": "models/gemini-live-2.5-flash-preview",
                                      "generation_config": {"responseModalities": ["TEXT"]},
                                      "system_instruction": {"parts": [{"text": "be brief"}]}}})
            assert "setupComplete" in await recv_json(ws)
            await send(ws, {"client_content": {"turns": [{"role": "user", "parts": [{"text": "Hello?"}]}],
                                               "turnComplete": True}})
            msgs = await turn(ws)
            assert texts(msgs)
    run(go())


def close_of(emu, first_msgs, setup_body=None):
    """Sends messages (after an optional setup) and returns the close the server answered."""
    async def go():
        async with connect(emu) as ws:
            if setup_body is not None:
                await send(ws, {"setup": setup_body})
                assert "setupComplete" in await recv_json(ws)
            for m in first_msgs:
                await ws.send(m if isinstance(m, (str, bytes)) else json.dumps(m))
            return await expect_close(ws)
    return run(go())


BASIC = {"model": "models/gemini-live-2.5-flash-preview", "generationConfig": {"responseModalities": ["TEXT"]}}


def test_unknown_field_closes_1007_naming_it(ctx):
    emu = ctx.emulator()
    code, reason = close_of(emu, [{"toolResponse": {"functionResponses": [{"id": "x", "name": "f", "response": {},
                                                                          "bogus": 1}]}}], BASIC)
    assert code == 1007, (code, reason)
    assert 'Unknown name "bogus"' in reason and "tool_response.function_responses[0]" in reason, reason
    code, reason = close_of(emu, [{"setup": {"model": "models/m", "generationConfig": {"temprature": 1}}}])
    assert code == 1007 and '"temprature"' in reason and "setup.generation_config" in reason, reason
    assert len(reason.encode()) <= 123


def test_two_top_level_keys_close_1007(ctx):
    emu = ctx.emulator()
    code, reason = close_of(emu, [{"clientContent": {"turnComplete": True}, "realtimeInput": {"text": "x"}}], BASIC)
    assert code == 1007, (code, reason)


def test_message_before_setup_and_second_setup_close_1007(ctx):
    emu = ctx.emulator()
    code, reason = close_of(emu, [prompt("Hello?")])
    assert code == 1007 and "setup" in reason.lower(), (code, reason)
    code, reason = close_of(emu, [{"setup": BASIC}], BASIC)
    assert code == 1007 and "setup" in reason.lower(), (code, reason)


def test_invalid_json_closes_1007(ctx):
    emu = ctx.emulator()
    code, reason = close_of(emu, ["{not json"], BASIC)
    assert code == 1007 and "Invalid JSON payload" in reason, (code, reason)


def test_gemini_31_rejects_client_content_after_first_turn(ctx):
    emu = ctx.emulator()
    model = "models/gemini-3.1-flash-live-preview"

    async def go():
        async with connect(emu) as ws:
            await setup(ws, model=model, modality="AUDIO")
            await send(ws, {"realtimeInput": {"text": "Hello?"}})
            await turn(ws)
            await send(ws, {"realtimeInput": {"text": "Hello?"}})
            await turn(ws)
            await send(ws, prompt("Hello?"))
            return await expect_close(ws)
    code, reason = run(go())
    assert code == 1007, (code, reason)


def test_native_audio_model_refuses_text_modality(ctx):
    emu = ctx.emulator()
    code, reason = close_of(emu, [{"setup": {"model": "models/gemini-2.5-flash-native-audio-preview-09-2025",
                                             "generationConfig": {"responseModalities": ["TEXT"]}}}])
    assert code == 1007, (code, reason)


def test_denied_model_is_not_found_1008(ctx):
    emu = ctx.emulator(args=["--deny-model", "gemini-2.0-flash-live-001"])
    code, reason = close_of(emu, [{"setup": {"model": "models/gemini-2.0-flash-live-001"}}])
    assert code == 1008 and "is not found for API version" in reason, (code, reason)
    assert len(reason.encode()) <= 123


def test_auth_missing_and_invalid_key(ctx):
    keyfile = ctx.tmp + "/key"
    with open(keyfile, "w") as f:
        f.write("right-key\n")
    emu = ctx.emulator(args=["--api-key-file", keyfile])

    async def closed_with(**kw):
        async with connect(emu, **kw) as ws:
            return await expect_close(ws)
    code, reason = run(closed_with(key=None))
    assert code == 1008 and "unregistered callers" in reason, (code, reason)
    code, reason = run(closed_with(key="wrong"))
    assert code == 1007 and "API key not valid" in reason, (code, reason)

    async def ok_with(**kw):
        async with connect(emu, **kw) as ws:
            await setup(ws)
            return True
    assert run(ok_with(key="right-key"))
    assert run(ok_with(key=None, headers={"x-goog-api-key": "right-key"}))  # the Python SDK's way


def test_paths_all_versions_and_double_slash(ctx):
    emu = ctx.emulator()

    async def ok(**kw):
        async with connect(emu, **kw) as ws:
            await setup(ws)
    for v in ("v1", "v1beta", "v1alpha"):
        run(ok(version=v))
        run(ok(version=v, double_slash=True))

    async def bad():
        try:
            await websockets.connect(emu.ws_base + "/ws/nope", ssl=emu.ssl_context())
        except websockets.InvalidStatusCode as e:
            return e.status_code
    assert run(bad()) == 404


def test_fragmented_client_message_and_ping(ctx):
    emu = ctx.emulator()

    async def go():
        async with connect(emu) as ws:
            await setup(ws)
            pong = await ws.ping(b"hi")
            await asyncio.wait_for(pong, 5)
            text = json.dumps(prompt("Hello?"))
            await ws.send([text[:10], text[10:30], text[30:]])  # three fragments
            msgs = await turn(ws)
            assert "".join(texts(msgs)).startswith("Hello")
    run(go())


def test_oversized_client_message_closes_1009(ctx):
    emu = ctx.emulator(args=["--max-message", "4096"])
    code, _ = close_of(emu, [json.dumps(prompt("x" * 10000))], BASIC)
    assert code == 1009, code


def test_garbage_never_crashes_emulator(ctx):
    emu = ctx.emulator()
    for payload in (b"\x00\xff" * 500, b"GET / HTTP/1.1\r\n\r\n", b"\x16\x03\x01\x00\x05hello",
                    b"GET /ws/x HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as s:
            try:
                s.sendall(payload)
                s.settimeout(3)
                s.recv(100)
            except OSError:
                pass
    # TLS then garbage instead of HTTP
    c = ssl.create_default_context(cafile=emu.ca)
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as raw:
        with c.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(b"\x00" * 20000 + b"\r\n\r\n")
            try:
                s.recv(100)
            except OSError:
                pass
    for bad in ([b"\xff\xfe not utf8"], ["[]"], ["{}"], ['{"setup": []}'], ["null"], ['"x"'], ["[" * 5000]):
        code, _ = close_of(emu, bad)
        assert code == 1007, (bad, code)
    assert emu.proc.alive()
    run(_hello(emu))
    assert emu.stats()["setups"] >= 1


async def _hello(emu):
    async with connect(emu) as ws:
        await setup(ws)
        await send(ws, prompt("Hello?"))
        assert texts(await turn(ws))


def test_plain_ws_mode(ctx):
    emu = ctx.emulator(tls=False)
    run(_hello(emu))


def test_lifetime_goaway_then_1011(ctx):
    emu = ctx.emulator(args=["--lifetime", "1.2", "--goaway-before", "0.6"])

    async def go():
        async with connect(emu) as ws:
            await setup(ws)
            m = await recv_json(ws, timeout=5)
            assert "goAway" in m and m["goAway"]["timeLeft"].endswith("s"), m
            return await expect_close(ws)
    code, reason = run(go())
    assert code == 1011 and reason.startswith("Deadline expired"), (code, reason)
    assert emu.stats()["lifetime_cuts"] == 1


def test_resumption_handle_remembers_conversation(ctx):
    emu = ctx.emulator()

    async def go():
        async with connect(emu) as ws:
            await setup(ws, sessionResumption={})
            first = await recv_json(ws)
            assert first["sessionResumptionUpdate"]["resumable"] is True
            await send(ws, prompt("My favourite colour is teal"))
            msgs = await turn(ws)
            upd = await recv_json(ws)
            handle = upd["sessionResumptionUpdate"]["newHandle"]
        async with connect(emu) as ws:
            await setup(ws, sessionResumption={"handle": handle})
            await recv_json(ws)  # fresh handle
            await send(ws, prompt("What did I say before?"))
            msgs = await turn(ws)
            return "".join(texts(msgs))
    answer = run(go())
    assert "teal" in answer, answer
    assert emu.stats()["resumed"] == 1


def test_unknown_resumption_handle_refused(ctx):
    emu = ctx.emulator()
    code, reason = close_of(emu, [{"setup": dict(BASIC, sessionResumption={"handle": "nope"})}])
    assert code == 1008, (code, reason)


def test_scripted_faults(ctx):
    script = {"rules": [
        {"match": "please drop", "steps": [{"drop": True}]},
        {"match": "please fail", "steps": [{"close": 1011, "reason": "Internal error occurred."}]},
        {"match": "please garble", "steps": [{"malformed": "{\"serverContent\": nope"}]},
    ], "default": [{"echo": True}]}
    emu = ctx.emulator(script=script)

    async def go(text):
        async with connect(emu) as ws:
            await setup(ws)
            await send(ws, prompt(text))
            try:
                while True:
                    m = await asyncio.wait_for(ws.recv(), 10)
                    try:
                        json.loads(m)
                    except ValueError:
                        return "malformed"
            except websockets.ConnectionClosed as e:
                return e.code, e.reason
    assert run(go("please drop"))[0] == 1006
    assert run(go("please fail")) == (1011, "Internal error occurred.")
    assert run(go("please garble")) == "malformed"
    assert emu.proc.alive()


def test_many_connections_at_once(ctx):
    emu = ctx.emulator(tls=False)

    async def one(i):
        async with connect(emu) as ws:
            await setup(ws)
            await send(ws, prompt(f"Hello? {i}"))
            return len(texts(await turn(ws)))

    async def go():
        return await asyncio.gather(*(one(i) for i in range(200)))
    assert all(n >= 1 for n in run(go()))
    wait_for(lambda: emu.stats()["connections_open"] == 0, 10, "connections to close")
    assert emu.stats()["connections_total"] == 200


def test_sigterm_exits_zero(ctx):
    emu = ctx.emulator()
    run(_hello(emu))
    assert emu.proc.stop() == 0


def test_ten_thousand_sessions_at_once(ctx):
    """bench/ws_load.c keeps every session open until all have finished a turn."""
    import harness
    n = 2000 if harness.SANITIZED else 10000  # ASan builds are several times larger and slower
    emu = ctx.emulator(tls=False)
    load = ctx.start("ws-load", [os.path.join(harness.BUILD, "bench", "ws_load"), emu.url(), str(n)])
    assert load.wait(timeout=240) == 0, load.stderr()
    r = json.loads(load.stdout())
    assert r["completed"] == n and r["peak_open"] == n, r
    st = emu.stats()
    assert st["setups"] == n and st["turns"] == n and st["messages"]["invalid"] == 0, st
    wait_for(lambda: emu.stats()["connections_open"] == 0, 30, "all connections closed")
    assert emu.proc.alive()


# ---- Today's models (notes §4b): the rule table, NON_BLOCKING calls, run_python, real shapes ----

M38 = "models/gemini-3.8-live"
FNS = [{"functionDeclarations": [{"name": "turn_on_the_lights"}, {"name": "turn_off_the_lights"}]}]
PY_FNS = [{"functionDeclarations": [
    {"name": "turn_on_the_lights"}, {"name": "turn_off_the_lights"},
    {"name": "run_python", "description": "Runs Python locally; prints are the output.",
     "parameters": {"type": "OBJECT", "properties": {"code": {"type": "STRING"}}, "required": ["code"]}}]}]
SEED6 = "write and run python code to turn on the lights, wait 10s and then turn off the lights"
SEED7 = ("Hey, I need you to do three things for me. 1. Turn on the lights. 2. Then compute the largest "
         "prime palindrome under 100000. 3. Then use Google Search to look up information about the "
         "largest earthquake in California the week of Dec 5 2024. Thanks!")


async def setup38(ws, tools=FNS, **extra):
    """A 3.8 setup: AUDIO only, so the text comes as output transcription."""
    return await setup(ws, model=M38, modality="AUDIO", tools=tools, outputAudioTranscription={}, **extra)


def said(msgs):
    return "".join(m["serverContent"]["outputTranscription"]["text"] for m in msgs
                   if "outputTranscription" in m.get("serverContent", {}))


def sc_keys(msgs):
    return [k for m in msgs for k in m.get("serverContent", {}) if k != "outputTranscription"]


def respond(fc, response=None, **fields):
    r = {"name": fc["name"], "response": {"result": "ok"} if response is None else response}
    if "id" in fc:
        r["id"] = fc["id"]
    r.update(fields)
    return {"toolResponse": {"functionResponses": [r]}}


async def no_message(ws, seconds):
    try:
        m = await asyncio.wait_for(ws.recv(), seconds)
    except asyncio.TimeoutError:
        return True
    raise AssertionError(f"unexpected message: {m[:300]!r}")


def test_rules_code_execution_refused_on_todays_models(ctx):
    emu = ctx.emulator()
    for model in ("gemini-3.8-live", "gemini-3.1-flash-live-preview",
                  "gemini-2.5-flash-native-audio-preview-12-2025"):
        code, reason = close_of(emu, [{"setup": {"model": "models/" + model, "tools": [{"codeExecution": {}}],
                                                 "generationConfig": {"responseModalities": ["AUDIO"]}}}])
        assert code == 1007 and "code_execution" in reason, (model, code, reason)
        assert len(reason.encode()) <= 123

    async def accepted(model):
        async with connect(emu) as ws:
            await setup(ws, model=model, tools=[{"code_execution": {}}])
            return True
    assert run(accepted("models/gemini-live-2.5-flash-preview"))  # the retired half-cascade: yes
    assert run(accepted("models/some-future-model"))  # unknown names: permissive


def test_rules_38_refused_fields_close_1007(ctx):
    emu = ctx.emulator()
    audio = {"responseModalities": ["AUDIO"]}
    cases = [
        ({"generationConfig": dict(audio, thinkingConfig={"thinkingLevel": "LOW"})}, "thinking_level"),
        ({"generationConfig": audio, "proactivity": {"proactiveAudio": False}}, "proactive_audio"),
        ({"generationConfig": dict(audio, enableAffectiveDialog=True)}, "enable_affective_dialog"),
        ({"generationConfig": dict(audio, enable_affective_dialog=False)}, "enable_affective_dialog"),
    ]
    for extra, field in cases:
        code, reason = close_of(emu, [{"setup": dict(extra, model=M38)}])
        assert code == 1007 and field in reason and "invalid argument" in reason, (extra, code, reason)

    async def accepted(body):
        async with connect(emu) as ws:
            await send(ws, {"setup": body})
            return "setupComplete" in await recv_json(ws)
    assert run(accepted({"model": M38, "generationConfig": dict(audio, thinkingConfig={"thinkingBudget": 0}),
                         "proactivity": {"proactiveAudio": True}}))
    # the same fields are fine on a model that has them
    assert run(accepted({"model": "models/gemini-3.1-flash-live-preview",
                         "generationConfig": dict(audio, thinkingConfig={"thinkingLevel": "LOW"})}))


def test_38_non_blocking_call_turn_completes_before_its_response(ctx):
    emu = ctx.emulator()

    async def go():
        async with connect(emu) as ws:
            await setup38(ws)
            await send(ws, prompt("Turn on the lights"))
            first = await turn(ws)  # no toolResponse sent yet: the turn completes anyway
            calls = [m["toolCall"]["functionCalls"] for m in first if "toolCall" in m]
            assert len(calls) == 1 and calls[0][0]["name"] == "turn_on_the_lights", first
            i = next(i for i, m in enumerate(first) if "toolCall" in m)
            assert said(first[i:]) == "Sure, turning on the lights.", first
            assert any("inlineData" in p for m in first[i:]
                       for p in m.get("serverContent", {}).get("modelTurn", {}).get("parts", []))
            assert sc_keys(first)[-2:] == ["generationComplete", "turnComplete"], sc_keys(first)
            await no_message(ws, 0.3)  # the model does not answer before the response
            await send(ws, respond(calls[0][0], {"result": {"string_value": "ok"}}))
            second = await turn(ws)  # a generation no prompt started
            assert said(second) == "OK, I've turned on the lights.", second
            assert sc_keys(second)[-2:] == ["generationComplete", "turnComplete"]
            assert "usageMetadata" in second[-1]
            assert not [m for m in second if "toolCall" in m or "interrupted" in m.get("serverContent", {})]
            # the conversation goes on as usual
            await send(ws, prompt("Hello?"))
            assert said(await turn(ws)) == "Hello! How can I help you today?"
    run(go())
    assert [e["name"] for e in emu.log(kind="tool_response")] == ["turn_on_the_lights"]
    st = emu.stats()
    assert (st["turns"], st["followups"]) == (2, 1), st  # follow-ups are not user turns


def test_38_declared_blocking_waits_within_the_turn(ctx):
    emu = ctx.emulator()
    blocking = [{"functionDeclarations": [{"name": "turn_on_the_lights", "behavior": "BLOCKING"}]}]

    async def go():
        async with connect(emu) as ws:
            await setup38(ws, tools=blocking)
            await send(ws, prompt("Turn on the lights"))
            m = await recv_json(ws)
            fc = m["toolCall"]["functionCalls"][0]
            await no_message(ws, 0.3)  # waiting: no filler, no turnComplete
            await send(ws, respond(fc))
            msgs = await turn(ws)
            assert said(msgs) == "OK, I've turned on the lights.", msgs
            assert not [x for x in msgs if "toolCall" in x]
    run(go())


async def _async_interrupt_call(ws):
    """emu:async-interrupt: a NON_BLOCKING call, then a long generation (2 s at time scale 0.01)."""
    await setup38(ws)
    await send(ws, prompt("emu:async-interrupt"))
    msgs = await until(ws, lambda m: "toolCall" in m)
    await until(ws, lambda m: "outputTranscription" in m.get("serverContent", {}))  # it keeps talking
    return msgs[-1]["toolCall"]["functionCalls"][0]


def test_38_interrupt_response_cuts_the_running_generation(ctx):
    emu = ctx.emulator()

    async def go():
        async with connect(emu) as ws:
            fc = await _async_interrupt_call(ws)
            await send(ws, respond(fc, scheduling="INTERRUPT"))
            cut = await turn(ws)
            keys = sc_keys(cut)
            assert keys[-2:] == ["interrupted", "turnComplete"] and "generationComplete" not in keys, keys
            assert "end of the story" not in said(cut)
            answer = await turn(ws)
            assert said(answer) == "OK, I've turned on the lights.", answer
            assert sc_keys(answer)[-2:] == ["generationComplete", "turnComplete"]
            assert not [m for m in cut + answer if "toolCallCancellation" in m]  # the call was answered
    run(go())
    assert emu.stats()["interrupts"] == 1


def test_38_when_idle_response_waits_for_the_running_generation(ctx):
    emu = ctx.emulator()

    async def go():
        async with connect(emu) as ws:
            fc = await _async_interrupt_call(ws)
            await send(ws, respond(fc))  # scheduling absent: WHEN_IDLE
            first = await turn(ws)
            assert "interrupted" not in sc_keys(first)
            assert said(first).endswith("And that is the end of the story."), said(first)
            answer = await turn(ws)
            assert said(answer) == "OK, I've turned on the lights.", answer
    run(go())


def test_38_silent_response_generates_nothing(ctx):
    emu = ctx.emulator()

    async def go():
        async with connect(emu) as ws:
            await setup38(ws)
            await send(ws, prompt("emu:tool-result"))
            msgs = await turn(ws)
            fc = next(m for m in msgs if "toolCall" in m)["toolCall"]["functionCalls"][0]
            await send(ws, respond(fc, {"state": "on"}, scheduling="SILENT"))
            await no_message(ws, 0.5)
            await send(ws, prompt("Hello?"))
            assert said(await turn(ws)) == "Hello! How can I help you today?"
    run(go())
    assert emu.log(kind="tool_response")[0]["scheduling"] == "SILENT"


def test_38_will_continue_responses_in_sequence(ctx):
    emu = ctx.emulator()

    async def go():
        async with connect(emu) as ws:
            await setup38(ws)
            await send(ws, prompt("Turn on the lights"))
            fc = next(m for m in await turn(ws) if "toolCall" in m)["toolCall"]["functionCalls"][0]
            await send(ws, respond(fc, {"progress": 50}, willContinue=True))
            update = await turn(ws)
            assert said(update) == 'An update from turn_on_the_lights: {"progress":50}', update
            await send(ws, respond(fc, {"progress": 90}, willContinue=True, scheduling="SILENT"))
            await no_message(ws, 0.3)
            await send(ws, respond(fc, {}, willContinue=False))  # the end of the call
            final = await turn(ws)
            assert said(final) == "OK, I've turned on the lights.", final
            await send(ws, respond(fc, {"late": True}))  # no longer pending
            await no_message(ws, 0.3)
    run(go())
    assert emu.stats()["unknown_tool_ids"] == 1
    assert [e.get("willContinue") for e in emu.log(kind="tool_response")] == [True, True, False, None]


def test_38_chained_non_blocking_calls_without_run_python(ctx):
    """Both light functions, no code: each call's answer starts the next generation."""
    emu = ctx.emulator()

    async def go():
        async with connect(emu) as ws:
            await setup38(ws)
            await send(ws, prompt(SEED6))
            names = []
            for _ in range(2):
                msgs = await turn(ws)
                fc = next(m for m in msgs if "toolCall" in m)["toolCall"]["functionCalls"][0]
                names.append(fc["name"])
                await send(ws, respond(fc))
            last = await turn(ws)
            assert "turned off the lights" in said(last), last
            return names
    assert run(go()) == ["turn_on_the_lights", "turn_off_the_lights"]


def _run_python_code(code, stub=False):
    """Runs the model's code with /usr/bin/python3, with a stub default_api for the lights."""
    prelude = ""
    if stub:
        prelude = ("class _Api:\n"
                   "    def turn_on_the_lights(self):\n        return {'result': 'on'}\n"
                   "    def turn_off_the_lights(self):\n        return {'result': 'off'}\n"
                   "default_api = _Api()\n")
    import subprocess
    p = subprocess.run(["/usr/bin/python3", "-c", prelude + code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def _python_turns(emu, text, tools=PY_FNS, outcome="OUTCOME_OK", run_code=True, stub=False, **extra):
    """A 3.8 session with run_python: answers each call (running run_python's code for real) and
    returns (codes sent, every message after the prompt)."""
    async def go():
        async with connect(emu) as ws:
            await setup38(ws, tools=tools, **extra)
            await send(ws, prompt(text))
            codes, msgs = [], []
            while True:
                t = await turn(ws)
                msgs += t
                calls = [fc for m in t if "toolCall" in m for fc in m["toolCall"]["functionCalls"]]
                for fc in calls:
                    if fc["name"] == "run_python":
                        codes.append(fc["args"]["code"])
                        out = _run_python_code(fc["args"]["code"], stub) if run_code else "Traceback...\n"
                        await send(ws, respond(fc, {"outcome": outcome, "output": out}))
                    else:
                        await send(ws, respond(fc))
                if not calls:
                    return codes, msgs
    return run(go())


def test_run_python_seed4_code_really_computes_98689(ctx):
    emu = ctx.emulator()
    codes, msgs = _python_turns(emu, "What is the largest prime palindrome under 100000")
    assert len(codes) == 1 and _run_python_code(codes[0]).strip() == "98689", codes
    assert "The largest prime palindrome under 100000 is 98689." in said(msgs), said(msgs)
    parts = [p for m in msgs for p in m.get("serverContent", {}).get("modelTurn", {}).get("parts", [])]
    assert not [p for p in parts if "executableCode" in p or "codeExecutionResult" in p]


def test_run_python_seed6_switches_lights_with_scaled_sleep(ctx):
    emu = ctx.emulator()  # time scale 0.01: the 10 s wait is written as 0.1
    codes, msgs = _python_turns(emu, SEED6, stub=True)
    assert len(codes) == 1, codes
    code = codes[0]
    assert "default_api.turn_on_the_lights()" in code and "default_api.turn_off_the_lights()" in code
    assert "time.sleep(0.1)" in code, code
    out = _run_python_code(code, stub=True).splitlines()
    assert out == ["{'result': 'on'}", "{'result': 'off'}"], out
    text = said(msgs)
    assert "waited 10 seconds" in text and "{'result': 'off'}" in text, text
    assert not [m for m in msgs if "toolCall" in m and m["toolCall"]["functionCalls"][0]["name"] != "run_python"]


def test_run_python_seed6_sleep_follows_time_scale(ctx):
    emu = ctx.emulator(time_scale=0.2)
    codes, _ = _python_turns(emu, SEED6, run_code=False, stub=True)
    assert "time.sleep(2)" in codes[0], codes


def test_run_python_seed7_lights_call_code_and_search(ctx):
    emu = ctx.emulator()
    codes, msgs = _python_turns(emu, SEED7, tools=PY_FNS + [{"googleSearch": {}}])
    calls = [fc["name"] for m in msgs if "toolCall" in m for fc in m["toolCall"]["functionCalls"]]
    assert calls == ["turn_on_the_lights", "run_python"], calls
    assert _run_python_code(codes[0]).strip() == "98689"
    text = said(msgs)
    assert "98689" in text and "Cape Mendocino" in text and "turned on the lights" in text, text
    assert [m for m in msgs if "groundingMetadata" in m.get("serverContent", {})]


def test_run_python_failure_is_reported(ctx):
    emu = ctx.emulator()
    for outcome in ("OUTCOME_FAILED", "OUTCOME_DEADLINE_EXCEEDED"):
        _, msgs = _python_turns(emu, "What is the largest prime palindrome under 100000", outcome=outcome,
                                run_code=False)
        text = said(msgs)
        assert "failed" in text and outcome in text and "98689" not in text, text


def test_run_python_on_half_cascade_without_code_execution_blocks(ctx):
    """2.5 with run_python declared and no codeExecution: a blocking call, no executableCode."""
    emu = ctx.emulator()

    async def go():
        async with connect(emu) as ws:
            await setup(ws, tools=PY_FNS)
            await send(ws, prompt("What is the largest prime palindrome under 100000"))
            m = await recv_json(ws)
            fc = m["toolCall"]["functionCalls"][0]
            await no_message(ws, 0.3)
            await send(ws, respond(fc, {"outcome": "OUTCOME_OK", "output": _run_python_code(fc["args"]["code"])}))
            msgs = await turn(ws)
            return "".join(texts(msgs)), msgs
    text, msgs = run(go())
    assert text == "The largest prime palindrome under 100000 is 98689.", text


def test_prompt_naming_a_declared_function_calls_it(ctx):
    emu = ctx.emulator()
    tools = [{"functionDeclarations": [{"name": "turn_on_the_lights"}, {"name": "open_garage_door"}]}]

    async def go(text):
        async with connect(emu) as ws:
            await setup(ws, tools=tools)
            await send(ws, prompt(text))
            m = await recv_json(ws)
            if "toolCall" not in m:
                return None, "".join(texts([m] + await turn(ws)))
            fcs = m["toolCall"]["functionCalls"]
            for fc in fcs:
                await send(ws, respond(fc, {"done": True}))
            return [fc["name"] for fc in fcs], "".join(texts(await turn(ws)))
    names, text = run(go("Could you Door GARAGE open?"))
    assert names == ["open_garage_door"] and text == 'I called open_garage_door, and it returned {"done":true}.', text
    names, text = run(go("turn the lights on"))
    assert names == ["turn_on_the_lights"], (names, text)
    names, text = run(go("please switch the lights on"))  # "turn" is missing
    assert names is None and text == "I heard you say: please switch the lights on", text


def test_shape_function_call_without_id(ctx):
    emu = ctx.emulator()

    async def go(model_setup):
        async with connect(emu) as ws:
            await model_setup(ws)
            await send(ws, prompt("emu:no-id-call"))
            msgs = await until(ws, lambda m: "toolCall" in m)
            fc = msgs[-1]["toolCall"]["functionCalls"][0]
            assert "id" not in fc and fc == {"name": "turn_on_the_lights", "args": {}}, fc
            await send(ws, respond(fc, {"result": "ok"}))  # answered by name, without id
            while True:  # 3.8: the call's own turn ends first, then the follow-up answers
                rest = await turn(ws)
                answer = said(rest) + "".join(texts(rest))
                if "answered" in answer:
                    return answer
    assert run(go(lambda ws: setup(ws, tools=FNS))) == 'The lights answered {"result":"ok"}.'
    assert run(go(setup38)) == 'The lights answered {"result":"ok"}.'
    # a response without id that matches no id-less call is still refused
    code, reason = close_of(emu, [{"toolResponse": {"functionResponses": [{"name": "f", "response": {}}]}}], BASIC)
    assert code == 1007 and "id" in reason, (code, reason)


def test_shape_interim_transcription_voice_activity_waiting(ctx):
    emu = ctx.emulator()

    async def go(text):
        async with connect(emu) as ws:
            await setup(ws)
            await send(ws, prompt(text))
            return await turn(ws)
    msgs = run(go("emu:interim"))
    interim = [m["serverContent"]["interimInputTranscription"] for m in msgs
               if "interimInputTranscription" in m.get("serverContent", {})]
    assert interim == [{"text": "emu"}, {"text": "emu:interim"}], msgs
    msgs = run(go("emu:voice-activity"))
    va = [m for m in msgs if "voiceActivity" in m]
    assert va == [{"voiceActivity": {"voiceActivityType": "ACTIVITY_START"}},
                  {"voiceActivity": {"voiceActivityType": "ACTIVITY_END"}}], msgs
    assert msgs.index(va[-1]) < next(i for i, m in enumerate(msgs) if texts([m]))
    msgs = run(go("emu:waiting"))
    last = msgs[-1]["serverContent"]
    assert last == {"turnComplete": True, "waitingForInput": True}, msgs[-1]
    assert "usageMetadata" in msgs[-1] and "Which room" in "".join(texts(msgs))
    msgs = run(go("Hello?"))
    assert "waitingForInput" not in msgs[-1]["serverContent"]


def test_shape_setup_complete_session_id(ctx):
    async def first(emu):
        async with connect(emu) as ws:
            await send(ws, {"setup": BASIC})
            return await recv_json(ws)
    assert run(first(ctx.emulator())) == {"setupComplete": {}}  # the Developer API sends none
    emu = ctx.emulator(name="vertex", args=["--session-id"])
    a, b = run(first(emu)), run(first(emu))
    assert a["setupComplete"]["sessionId"] and a["setupComplete"]["sessionId"] != b["setupComplete"]["sessionId"]
    emu = ctx.emulator(name="scripted", script={"session_id": True, "rules": []})
    assert run(first(emu))["setupComplete"]["sessionId"].startswith("emu-session-")


# ---- The stream step (bench/run.py's server): one long turn in the service's shapes ----

def stream_pcm(first_chunk, chunks):
    """What emulator/stream.c sends as audio: sample k is ((k * 7919) ^ (k >> 9)) & 0xFFFF."""
    out = bytearray()
    for k in range(first_chunk * 480, (first_chunk + chunks) * 480):
        out += (((k * 7919) ^ (k >> 9)) & 0xFFFF).to_bytes(2, "little")
    return bytes(out)


def test_stream_step_text_audio_paced_and_interrupted(ctx):
    import time
    emu = ctx.emulator()

    async def go():
        async with connect(emu) as ws:
            await setup(ws)
            await send(ws, prompt("emu:stream parts=3000"))
            msgs = await turn(ws)
            parts = [m["serverContent"]["modelTurn"]["parts"] for m in msgs[:-2]]
            assert all(len(p) == 1 for p in parts)  # one part per message, as the service sends
            assert [p[0]["text"] for p in parts] == [f"{i:07d} bench text, " for i in range(3000)]
            assert msgs[-2] == {"serverContent": {"generationComplete": True}}
            assert msgs[-1]["usageMetadata"]["responseTokenCount"] == 9000

            # paced and stamped: 10 parts at 50/s, each with its send time (CLOCK_MONOTONIC ns)
            await send(ws, prompt("emu:stream parts=10 rate=50 stamp=1"))
            got = []  # (text, when it arrived)
            while True:
                m = await recv_json(ws)
                got += [(t, time.monotonic_ns()) for t in texts([m])]
                if m.get("serverContent", {}).get("turnComplete"):
                    break
            stamps = [int(t.split("@")[1]) for t, _ in got]
            assert [t.split("@")[0] for t, _ in got] == [f"{i:07d}" for i in range(10)]
            assert stamps == sorted(stamps) and all(s <= r for s, (_, r) in zip(stamps, got))
            assert stamps[-1] - stamps[0] >= 0.8 * 9 / 50 * 1e9, stamps  # paced, not a burst

            # a new prompt interrupts an endless stream; the queue the server keeps is bounded
            await send(ws, prompt("emu:stream parts=100000000"))
            first = await until(ws, lambda m: len(texts([m])) > 0)
            await send(ws, prompt("Hello?"))
            rest = await until(ws, lambda m: m.get("serverContent", {}).get("interrupted"))
            assert len(rest) < 200000, len(rest)
            assert (await recv_json(ws))["serverContent"]["turnComplete"] is True
            assert "".join(texts(await turn(ws))) == "Hello! How can I help you today?"
            assert first

        async with connect(emu) as ws:
            await setup(ws, modality="AUDIO")
            await send(ws, prompt("emu:stream audio_ms=1000"))
            msgs = await turn(ws)
            data = [p["inlineData"] for m in msgs for p in m.get("serverContent", {}).get("modelTurn", {}).get("parts", [])]
            assert len(data) == 50 and {d["mimeType"] for d in data} == {"audio/pcm;rate=24000"}
            pcm = [base64.b64decode(d["data"]) for d in data]
            assert {len(c) for c in pcm} == {960}  # 20 ms of 24 kHz s16le each
            assert b"".join(pcm) == stream_pcm(0, 50)
            assert msgs[-1]["usageMetadata"]["responseTokensDetails"] == [{"modality": "AUDIO", "tokenCount": 25}]
    run(go())
    stats = emu.stats()
    assert stats["interrupts"] == 1, stats


def test_stream_step_script_settings_checked(ctx):
    import subprocess
    import harness
    for bad, why in [({"stream": True, "parts": -1}, '"parts" must be an integer'),
                     ({"stream": True, "stamp": 1}, '"stamp" must be true or false'),
                     ({"stream": 1}, '"stream" must be true'),
                     ({"stream": True, "reason": "x"}, 'does not apply to "stream"')]:
        path = os.path.join(ctx.tmp, "bad.json")
        with open(path, "w") as f:
            json.dump({"rules": [{"match": "x", "steps": [bad]}]}, f)
        p = subprocess.run([os.path.join(harness.BUILD, "glive-emulator"), "--script", path, "--no-tls"],
                           capture_output=True, text=True, timeout=10)
        assert p.returncode != 0 and "rules[0].steps[0]" in p.stderr and why in p.stderr, (bad, p.stderr)


# ---- Spoken input and pictures (docs/emulator-script.md "Spoken input", "Pictures") ----------

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
NATIVE = "models/gemini-2.5-flash-native-audio-preview-12-2025"
PHRASES = {"hello": "Hello?", "lights": "Turn on the lights",
           "palindrome": "What is the largest prime palindrome under 100000", "stop": "Stop, wait a moment"}
NOT_UNDERSTOOD = "I heard you, but I could not make out the words."


def voice(name):
    """The samples of tests/data/voice-NAME.wav (16 kHz s16le mono) and their rate."""
    with wave.open(os.path.join(DATA, f"voice-{name}.wav")) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        pcm = array.array("h", w.readframes(w.getnframes()))
        if sys.byteorder == "big":
            pcm.byteswap()
        return pcm, w.getframerate()


def resample(x, rin, rout, zeros=16):
    """Band-limited resampling by a rational factor: windowed sinc (Blackman), `zeros` zero
    crossings of the narrower band each side, cutoff at 90% of the lower Nyquist frequency. The
    kernel of each fractional phase is computed once; each output is one dot product."""
    g = math.gcd(rin, rout)
    up, down = rout // g, rin // g  # output j sits at input time j * down / up
    c = min(1.0, rout / rin) * 0.9
    half = int(math.ceil(zeros / c))
    kernels = []
    for p in range(up):
        k = []
        for m in range(-half + 1, half + 1):
            d = m - p / up  # distance from the output's time to input sample floor(t) + m
            s = 1.0 if d == 0 else math.sin(math.pi * c * d) / (math.pi * c * d)
            w = 0.42 + 0.5 * math.cos(math.pi * d / half) + 0.08 * math.cos(2 * math.pi * d / half)
            k.append(c * s * w if abs(d) < half else 0.0)
        kernels.append(k)
    xp = [0.0] * half + list(x) + [0.0] * (half + 1)
    out = array.array("h")
    for j in range(len(x) * up // down):
        i0, p = divmod(j * down, up)
        v = sum(map(operator.mul, xp[i0 + 1:i0 + 2 * half + 1], kernels[p]))
        out.append(max(-32768, min(32767, int(round(v)))))
    return out


def silence(ms, rate=16000):
    return array.array("h", bytes(2 * (ms * rate // 1000)))


def tone_pcm(hz, ms, rate, amp=0.3):
    return array.array("h", (int(round(amp * 32767 * math.sin(2 * math.pi * hz * i / rate)))
                             for i in range(ms * rate // 1000)))


def pcm_bytes(*parts, gain=1.0):
    out = array.array("h")
    for p in parts:
        out.extend(p if gain == 1.0 else (max(-32768, min(32767, int(v * gain))) for v in p))
    if sys.byteorder == "big":
        out.byteswap()
    return out.tobytes()


def audio_msg(data, rate=16000, mime=None):
    return {"realtimeInput": {"audio": {"data": base64.b64encode(data).decode(),
                                        "mimeType": mime or f"audio/pcm;rate={rate}"}}}


async def speak(ws, data, rate=16000, chunk=3333):
    """Streams PCM in chunks of `chunk` bytes (odd by default: samples straddle messages)."""
    n = 0
    for off in range(0, len(data), chunk):
        await send(ws, audio_msg(data[off:off + chunk], rate))
        n += 1
    return n


def server_content(msgs, key):
    return [m["serverContent"][key] for m in msgs if key in m.get("serverContent", {})]


def heard(msgs):
    """The input transcription, joined, and whether its last piece said finished."""
    pieces = server_content(msgs, "inputTranscription")
    return "".join(p["text"] for p in pieces), bool(pieces) and pieces[-1].get("finished") is True


def said(msgs):
    return "".join(p["text"] for p in server_content(msgs, "outputTranscription"))


def audio_parts(msgs):
    return [p for m in msgs for p in m.get("serverContent", {}).get("modelTurn", {}).get("parts", [])
            if "inlineData" in p]


def voice_setup(**extra):
    body = dict(model=NATIVE, modality="AUDIO", inputAudioTranscription={}, outputAudioTranscription={})
    body.update(extra)
    return body


def test_voice_input_strictness(ctx):
    emu = ctx.emulator()
    pcm = pcm_bytes(silence(20))
    vad_off = dict(BASIC, realtimeInputConfig={"automaticActivityDetection": {"disabled": True}})
    jpeg = b"\xff\xd8\xff\xe0" + bytes(60)
    png = b"\x89PNG\r\n\x1a\n" + bytes(60)
    refused = [
        ([audio_msg(pcm, mime="audio/wav")], BASIC, "audio/wav"),
        ([audio_msg(pcm, mime="audio/pcm;rate=4000")], BASIC, "rate=4000"),
        ([audio_msg(pcm, mime="audio/pcm;rate=16000;channels=1")], BASIC, "mime_type"),
        ([{"realtimeInput": {"audio": {"data": "AAAA", "mimeType": "audio/pcm", "rate": 16000}}}], BASIC,
         "Unknown name \"rate\" at 'realtime_input.audio'"),
        ([{"realtimeInput": {"video": {"data": base64.b64encode(jpeg).decode(), "mimeType": "image/gif"}}}],
         BASIC, "image/gif"),
        ([{"realtimeInput": {"video": {"data": base64.b64encode(png).decode(), "mimeType": "image/jpeg"}}}],
         BASIC, "Unable to process input image"),
        ([{"realtimeInput": {"activityStart": {}}}], BASIC, "activity_start"),
        ([{"realtimeInput": {"activityEnd": {}}}], BASIC, "activity_end"),
        ([{"realtimeInput": {"audioStreamEnd": True}}], vad_off, "audio_stream_end"),
        ([{"realtimeInput": {"mediaChunks": [{"data": "AAAA", "mimeType": "audio/pcm;rate=16000"}]}}],
         {"model": "models/gemini-3.1-flash-live-preview"}, "media_chunks"),
    ]
    for msgs, body, needle in refused:
        code, reason = close_of(emu, msgs, body)
        assert code == 1007 and needle in reason, (needle, code, reason)
        assert len(reason.encode()) <= 123, reason

    async def accepted():  # the spellings the service takes, then a prompt still answered
        async with connect(emu) as ws:
            await setup(ws)
            for m in ("audio/pcm", "audio/pcm; rate=24000", "AUDIO/PCM;RATE=8000", "audio/pcm;rate=44100"):
                await send(ws, audio_msg(pcm, mime=m))
            await send(ws, {"realtime_input": {"audio": {"data": "", "mime_type": "audio/pcm;rate=16000"}}})
            await send(ws, {"realtimeInput": {"mediaChunks": [{"data": "AAAA", "mimeType": "audio/pcm;rate=16000"}]}})
            await send(ws, {"realtimeInput": {"audioStreamEnd": False}})
            await send(ws, prompt("Hello?"))
            return texts(await turn(ws))
    assert "".join(run(accepted())) == "Hello! How can I help you today?"


def test_voice_tone_logged_with_rate_length_and_dominant_frequency(ctx):
    emu = ctx.emulator()
    rate, hz = 24000, 523.25  # not 16 kHz, and not on an FFT bin

    async def go():
        async with connect(emu) as ws:
            await setup(ws, **voice_setup())
            data = pcm_bytes(silence(300, rate), tone_pcm(hz, 1000, rate), silence(600, rate))
            await speak(ws, data, rate=rate, chunk=4801)
            msgs = await turn(ws)
            return msgs
    msgs = run(go())
    assert said(msgs) == NOT_UNDERSTOOD and heard(msgs) == ("", False), msgs
    (t,) = emu.log(kind="audio_turn")
    # the turn: 300 ms before the tone, the tone, and the 500 ms of silence that ended it
    assert (t["via"], t["rate"], t["duration_ms"], t["speech_ms"]) == ("silence", rate, 1800, 1000), t
    assert t["bytes"] == 1800 * rate // 1000 * 2, t
    assert abs(t["dominant_hz"] - hz) < hz * 0.01, t
    assert t["transcript"] is None and t["voice"] is None and not t["truncated"], t
    starts = emu.log(kind="speech_start")
    assert [(s["via"], s["barge_in"]) for s in starts] == [("speech", False)], starts


def check_recognised(msgs, name):
    got, finished = heard(msgs)
    assert got == PHRASES[name] and finished, (name, got, finished)


async def spoken_turns(ws, name, data, rate):
    """Speaks data, returns the answer's messages (up to turnComplete)."""
    await speak(ws, data, rate=rate)
    return await turn(ws)


def test_voice_recordings_recognised_as_sent_resampled_and_at_48k(ctx):
    emu = ctx.emulator()
    answers = {"hello": "Hello! How can I help you today?", "lights": "I can't control the lights.",
               "palindrome": "I can't run code in this session, so I can't compute that reliably.",
               "stop": "OK, I'm listening."}  # what the typed phrases get without tools
    clips = {n: voice(n)[0] for n in PHRASES}
    # the test's own band-limited resampler: to 48 kHz and back
    up = {n: resample(c, 16000, 48000) for n, c in clips.items()}
    back = {n: resample(u, 48000, 16000) for n, u in up.items()}

    async def go():
        out = []
        async with connect(emu) as ws:
            await setup(ws, **voice_setup())
            for n in PHRASES:  # as shipped, a little louder, silence around it
                out.append((n, await spoken_turns(ws, n, pcm_bytes(silence(230), clips[n], silence(700),
                                                                    gain=1.2), 16000)))
            for n in PHRASES:  # 16 kHz -> 48 kHz -> 16 kHz, softer
                out.append((n, await spoken_turns(ws, n, pcm_bytes(back[n], silence(700), gain=0.7), 16000)))
            for n in ("hello", "lights"):  # heard at 48 kHz as such
                out.append((n, await spoken_turns(ws, n, pcm_bytes(silence(100, 48000), up[n],
                                                                   silence(700, 48000)), 48000)))
        return out
    for name, msgs in run(go(), timeout=120):
        check_recognised(msgs, name)
        assert said(msgs) == answers[name], (name, said(msgs))
        assert audio_parts(msgs) and msgs[-1]["serverContent"]["turnComplete"]
    turns = emu.log(kind="audio_turn")
    assert [t["voice"] for t in turns] == list(PHRASES) * 2 + ["hello", "lights"], turns
    assert all(t["score"] >= 0.75 and t["score"] - t["second"] >= 0.15 for t in turns), turns
    assert [t["rate"] for t in turns[-2:]] == [48000, 48000]
    assert [p["text"] for p in emu.log(kind="prompt")] == [PHRASES[t["voice"]] for t in turns]


def test_voice_unknown_phrase_is_not_made_out(ctx):
    emu = ctx.emulator()
    pcm, _ = voice("unknown")

    async def go():
        async with connect(emu) as ws:
            await setup(ws, **voice_setup())
            return await spoken_turns(ws, "unknown", pcm_bytes(pcm, silence(600)), 16000)
    msgs = run(go())
    assert said(msgs) == NOT_UNDERSTOOD and heard(msgs) == ("", False), msgs
    (t,) = emu.log(kind="audio_turn")
    assert t["transcript"] is None and t["score"] < 0.5, t
    assert emu.log(kind="prompt") == []


def test_voice_lights_call_on_38_is_non_blocking(ctx):
    emu = ctx.emulator()
    pcm, _ = voice("lights")

    async def go():
        async with connect(emu) as ws:
            await setup(ws, **voice_setup(model=M38, tools=FNS))
            await speak(ws, pcm_bytes(pcm, silence(600)))
            first = await turn(ws)
            call = next(m["toolCall"]["functionCalls"][0] for m in first if "toolCall" in m)
            await send(ws, {"toolResponse": {"functionResponses": [
                {"id": call["id"], "name": call["name"], "response": {"ok": True}}]}})
            return first, call, await turn(ws)
    first, call, second = run(go())
    check_recognised(first, "lights")
    assert call["name"] == "turn_on_the_lights"
    assert said(first) == "Sure, turning on the lights.", first
    assert said(second) == "OK, I've turned on the lights.", second


def test_voice_audio_stream_end_ends_the_turn_and_silence_alone_is_no_turn(ctx):
    emu = ctx.emulator()
    pcm, _ = voice("hello")

    async def go():
        async with connect(emu) as ws:
            await setup(ws, **voice_setup())
            n = await speak(ws, pcm_bytes(silence(1000)))  # the microphone hears nothing
            await send(ws, {"realtimeInput": {"audioStreamEnd": True}})
            wait_for(lambda: len(emu.log(kind="realtimeInput")) == n + 1, 10, "the silence processed")
            assert emu.log(kind="audio_turn") == []
            await speak(ws, pcm_bytes(pcm))  # no trailing silence: the turn stays open...
            await asyncio.sleep(0.3)
            assert emu.log(kind="audio_turn") == []
            await send(ws, {"realtimeInput": {"audioStreamEnd": True}})  # ...until the mic pauses
            return await turn(ws)
    msgs = run(go())
    check_recognised(msgs, "hello")
    assert said(msgs) == "Hello! How can I help you today?"
    (t,) = emu.log(kind="audio_turn")
    assert t["via"] == "audio_stream_end" and t["voice"] == "hello", t


def test_voice_silence_duration_ms_is_honoured(ctx):
    emu = ctx.emulator()
    pcm, _ = voice("hello")
    cfg = {"automaticActivityDetection": {"silenceDurationMs": 2000}}

    async def go():
        async with connect(emu) as ws:
            await setup(ws, **voice_setup(realtimeInputConfig=cfg))
            n = await speak(ws, pcm_bytes(pcm, silence(1200)))
            wait_for(lambda: len(emu.log(kind="realtimeInput")) == n, 10, "the audio processed")
            assert emu.log(kind="audio_turn") == []  # 1.5 s of silence at most: not enough
            await speak(ws, pcm_bytes(silence(1000)))
            return await turn(ws)
    msgs = run(go())
    check_recognised(msgs, "hello")
    (s,) = emu.log(kind="session")
    assert s["activity_detection"]["silence_ms"] == 2000, s
    (t,) = emu.log(kind="audio_turn")
    assert t["voice"] == "hello" and t["duration_ms"] >= t["speech_ms"] + 2000, t


def test_voice_manual_activity_delimits_turns(ctx):
    emu = ctx.emulator()
    pcm, _ = voice("lights")
    cfg = {"automaticActivityDetection": {"disabled": True}}

    async def go():
        async with connect(emu) as ws:
            await setup(ws, **voice_setup(realtimeInputConfig=cfg))
            await speak(ws, pcm_bytes(tone_pcm(440, 500, 16000)))  # outside an activity: not heard
            await send(ws, {"realtimeInput": {"activityEnd": {}}})  # no activity open: ignored
            await send(ws, {"realtimeInput": {"activityStart": {}}})
            inside = pcm_bytes(pcm, silence(1500))  # a long pause does not end it
            await speak(ws, inside)
            await asyncio.sleep(0.2)
            assert emu.log(kind="audio_turn") == []
            await send(ws, {"realtimeInput": {"activityEnd": {}}})
            return inside, await turn(ws)
    inside, msgs = run(go())
    check_recognised(msgs, "lights")
    assert said(msgs) == "I can't control the lights."
    (t,) = emu.log(kind="audio_turn")
    assert t["via"] == "activity_end" and t["bytes"] == len(inside), t
    assert len(emu.log(kind="activity_end_ignored")) == 1
    assert [s["via"] for s in emu.log(kind="speech_start")] == ["activity_start"]


def test_voice_barge_in_interrupts_the_answer(ctx):
    # answers take the time of their speech (x --time-scale): 3.8 s for Hello here, ample time
    # to barge in even on a loaded machine
    emu = ctx.emulator(time_scale=2)
    hello, _ = voice("hello")
    stop, _ = voice("stop")

    async def go():
        async with connect(emu) as ws:
            await setup(ws, **voice_setup())
            await speak(ws, pcm_bytes(hello, silence(600)))
            before = await until(ws, lambda m: audio_parts([m]))  # the answer has begun
            await speak(ws, pcm_bytes(stop, silence(600)))
            cut = await until(ws, lambda m: m.get("serverContent", {}).get("interrupted"))
            rest = await turn(ws)  # the interrupted turn's turnComplete
            return before, cut, rest, await turn(ws)
    before, cut, rest, answer = run(go())
    check_recognised(before, "hello")
    first = audio_parts(before + cut)
    assert 1 <= len(first) < 10, len(first)  # the whole answer would be 10 chunks
    assert not server_content(before + cut, "generationComplete")
    assert rest == [{"serverContent": {"turnComplete": True}}], rest  # no more audio of it
    check_recognised(answer, "stop")
    assert said(answer) == "OK, I'm listening."
    starts = emu.log(kind="speech_start")
    assert [s["barge_in"] for s in starts] == [False, True], starts
    assert emu.stats()["interrupts"] == 1


def test_voice_no_interruption_lets_the_answer_finish(ctx):
    emu = ctx.emulator(time_scale=1)
    hello, _ = voice("hello")
    stop, _ = voice("stop")

    async def go():
        async with connect(emu) as ws:
            await setup(ws, **voice_setup(realtimeInputConfig={"activityHandling": "NO_INTERRUPTION"}))
            await speak(ws, pcm_bytes(hello, silence(600)))
            before = await until(ws, lambda m: audio_parts([m]))
            await speak(ws, pcm_bytes(stop, silence(600)))
            return before + await turn(ws), await turn(ws)
    first, second = run(go())
    check_recognised(first, "hello")
    assert said(first) == "Hello! How can I help you today?" and len(audio_parts(first)) == 10
    assert not server_content(first, "interrupted") and server_content(first, "generationComplete")
    check_recognised(second, "stop")  # heard meanwhile, answered after
    assert said(second) == "OK, I'm listening."
    assert [s["barge_in"] for s in emu.log(kind="speech_start")] == [False, False]


def test_voice_endless_speech_keeps_memory_bounded(ctx):
    emu = ctx.emulator()

    async def go():
        async with connect(emu) as ws:
            await setup(ws, **voice_setup())
            second = pcm_bytes(tone_pcm(300, 1000, 16000))
            for _ in range(45):  # 45 s without a pause: more than recognition keeps
                await send(ws, audio_msg(second))
            await send(ws, {"realtimeInput": {"audioStreamEnd": True}})
            return await turn(ws)
    msgs = run(go())
    assert said(msgs) == NOT_UNDERSTOOD
    (t,) = emu.log(kind="audio_turn")
    assert t["truncated"] and t["duration_ms"] == 45000 and abs(t["dominant_hz"] - 300) < 3, t


def test_pictures_are_logged_by_sha256_and_described(ctx):
    emu = ctx.emulator()
    jpeg = b"\xff\xd8\xff\xe0" + hashlib.sha256(b"frame").digest() * 40
    png = b"\x89PNG\r\n\x1a\n" + hashlib.sha256(b"still").digest() * 7

    def b64(b):
        return base64.b64encode(b).decode()

    def sentence(kind, img):
        return f"I see a {kind} picture of {len(img)} bytes whose SHA-256 begins with " \
               f"{hashlib.sha256(img).hexdigest()[:12]}."

    async def go():
        async with connect(emu) as ws:
            await setup(ws)
            await send(ws, {"realtimeInput": {"text": "What is on this picture?"}})
            none = "".join(texts(await turn(ws)))
            await send(ws, {"realtimeInput": {"video": {"data": b64(jpeg), "mimeType": "image/jpeg"}}})
            await send(ws, {"realtimeInput": {"text": "What is on this picture?"}})
            video = "".join(texts(await turn(ws)))
            await send(ws, {"clientContent": {"turns": [{"role": "user", "parts": [
                {"inlineData": {"mimeType": "image/png", "data": b64(png)}},
                {"text": "what is in this image?"}]}], "turnComplete": True}})
            inline = "".join(texts(await turn(ws)))
            await send(ws, {"realtimeInput": {"mediaChunks": [{"mimeType": "image/jpeg", "data": b64(jpeg)}]}})
            return none, video, inline
    none, video, inline = run(go())
    assert none == "I don't see any picture."
    assert video == sentence("JPEG", jpeg), video
    assert inline == sentence("PNG", png), inline
    wait_for(lambda: len(emu.log(kind="image")) == 3, 5, "three pictures logged")
    assert [(i["via"], i["mime"], i["bytes"], i["sha256"]) for i in emu.log(kind="image")] == [
        ("video", "image/jpeg", len(jpeg), hashlib.sha256(jpeg).hexdigest()),
        ("clientContent", "image/png", len(png), hashlib.sha256(png).hexdigest()),
        ("mediaChunks", "image/jpeg", len(jpeg), hashlib.sha256(jpeg).hexdigest())]
