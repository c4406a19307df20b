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
from live import connect, expect_close, prompt, recv_json, run, send, setup, texts, turn

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
