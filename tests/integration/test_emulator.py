"""The emulator over real sockets: protocol, strictness as the real service, auth, transport
behaviour, faults, lifetime and resumption."""
import asyncio
import base64
import os
import json
import socket
import ssl

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


def test_realtime_audio_turn(ctx):
    emu = ctx.emulator()

    async def go():
        async with connect(emu) as ws:
            await setup(ws, model="models/gemini-2.5-flash-native-audio-preview-09-2025", modality="AUDIO",
                        outputAudioTranscription={})
            pcm = base64.b64encode(b"\x00\x01" * 16000).decode()  # one second of 16 kHz s16le
            for _ in range(2):
                await send(ws, {"realtimeInput": {"audio": {"data": pcm, "mimeType": "audio/pcm;rate=16000"}}})
            await send(ws, {"realtime_input": {"audio_stream_end": True}})
            msgs = await turn(ws)
            said = "".join(m["serverContent"]["outputTranscription"]["text"] for m in msgs
                           if "outputTranscription" in m.get("serverContent", {}))
            audio = [p for m in msgs for p in m.get("serverContent", {}).get("modelTurn", {}).get("parts", [])
                     if "inlineData" in p]
            return said, audio
    said, audio = run(go())
    assert "2.0 seconds" in said, said
    assert audio and audio[0]["inlineData"]["mimeType"] == "audio/pcm;rate=24000"


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
