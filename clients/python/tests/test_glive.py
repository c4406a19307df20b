"""Unit tests of the glive package without gliveD: framing, the socket rule, error mapping,
events, tool answers, the end-of-answer rules, WAV files, and both clients against a scripted
fake daemon on a Unix socket. Run: python3 -m unittest discover -s clients/python/tests"""
import asyncio
import base64
import json
import os
import socket
import struct
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import glive  # noqa: E402
from glive.protocol import LineDecoder, encode, parse_line  # noqa: E402
from glive.tools import Tool, result_fields  # noqa: E402


def ev(**fields):
    return glive.Event(fields)


class SocketRule(unittest.TestCase):
    def test_order_of_the_rule(self):
        env = {"GLIVE_SOCKET": "/a.sock", "RUNTIME_DIRECTORY": "/r", "XDG_RUNTIME_DIR": "/x"}
        self.assertEqual(glive.default_socket_path(env), "/a.sock")
        del env["GLIVE_SOCKET"]
        self.assertEqual(glive.default_socket_path(env), "/r/gliveD.sock")
        del env["RUNTIME_DIRECTORY"]
        self.assertEqual(glive.default_socket_path(env), "/x/glive/gliveD.sock")
        self.assertEqual(glive.default_socket_path({}), "/run/glive/gliveD.sock")

    def test_empty_variables_count_as_unset(self):
        env = {"GLIVE_SOCKET": "", "RUNTIME_DIRECTORY": "", "XDG_RUNTIME_DIR": "/x"}
        self.assertEqual(glive.default_socket_path(env), "/x/glive/gliveD.sock")

    def test_client_uses_the_rule(self):
        old = os.environ.get("GLIVE_SOCKET")
        os.environ["GLIVE_SOCKET"] = "/nonexistent/glive-test.sock"
        try:
            with self.assertRaises(glive.ConnectError) as cm:
                glive.Client()
            self.assertEqual(cm.exception.code, "connect")
            self.assertIn("/nonexistent/glive-test.sock", cm.exception.message)
            self.assertIsInstance(cm.exception, ConnectionError)
        finally:
            if old is None:
                del os.environ["GLIVE_SOCKET"]
            else:
                os.environ["GLIVE_SOCKET"] = old


class Framing(unittest.TestCase):
    def test_encode_is_one_compact_line_without_nulls(self):
        line = encode({"op": "send", "session": "s", "text": "a\nb", "retry": None, "id": 1})
        self.assertTrue(line.endswith(b"\n"))
        self.assertEqual(line.count(b"\n"), 1)
        self.assertEqual(json.loads(line), {"op": "send", "session": "s", "text": "a\nb", "id": 1})
        self.assertNotIn(b" ", line.replace(b"a\\nb", b""))

    def test_encode_refuses_nan(self):
        with self.assertRaises(ValueError):
            encode({"op": "tool.result", "response": {"x": float("nan")}})

    def test_decoder_splits_across_chunks_and_skips_blank_lines(self):
        d = LineDecoder()
        self.assertEqual(d.feed(b'{"a":1}\r\n  \n\t\n{"b"'), [b'{"a":1}'])
        self.assertEqual(d.feed(b':2}'), [])
        self.assertEqual(d.feed(b'\n{"c":3}\n'), [b'{"b":2}', b'{"c":3}'])

    def test_decoder_drops_a_too_long_line_and_goes_on(self):
        d = LineDecoder(max_line=16)
        self.assertEqual(d.feed(b"x" * 40), [])
        self.assertEqual(d.feed(b"y" * 40 + b'\n{"ok":true}\n'), [b'{"ok":true}'])
        self.assertEqual(d.dropped, 1)
        self.assertEqual(d.feed(b"z" * 17 + b'\n{"n":1}\n'), [b'{"n":1}'])
        self.assertEqual(d.dropped, 2)

    def test_parse_line(self):
        self.assertEqual(parse_line(b'{"event":"text","session":"s"}')["event"], "text")
        for bad in (b"nope", b"[1]", b'{"x":1}', b"\xff"):
            with self.assertRaises(glive.ProtocolError) as cm:
                parse_line(bad)
            self.assertEqual(cm.exception.code, "protocol")


class Errors(unittest.TestCase):
    def test_codes_map_to_classes(self):
        cases = {"bad_request": glive.BadRequestError, "bad_json": glive.BadRequestError,
                 "no_session": glive.NoSessionError, "busy": glive.BusyError,
                 "conflict": glive.ConflictError, "unknown_call": glive.UnknownCallError,
                 "tool_exists": glive.ToolExistsError, "upstream": glive.UpstreamError,
                 "closed": glive.SessionClosedError, "no_key": glive.NoKeyError,
                 "shutting_down": glive.ShuttingDownError, "timeout": glive.GliveTimeoutError}
        for code, cls in cases.items():
            e = glive.error_from(code, "m")
            self.assertIs(type(e), cls)
            self.assertEqual((e.code, e.message), (code, "m"))
            self.assertIsInstance(e, glive.GliveError)
        unknown = glive.error_from("brand_new_code", "later")
        self.assertIs(type(unknown), glive.GliveError)
        self.assertEqual(unknown.code, "brand_new_code")
        self.assertIsInstance(glive.error_from("timeout"), TimeoutError)

    def test_reply_error(self):
        from glive.errors import reply_error
        self.assertIsNone(reply_error({"id": 1, "ok": True}))
        e = reply_error({"id": 1, "ok": False, "error": {"code": "no_session", "message": 'no session "x"'}})
        self.assertIsInstance(e, glive.NoSessionError)
        self.assertEqual(str(e), 'no_session: no session "x"')
        self.assertEqual(reply_error({"id": 1, "ok": False}).code, "protocol")


class Events(unittest.TestCase):
    def test_attributes(self):
        e = ev(event="tool_call", session="s", turn=2, call_id="c1", name="f", args={"a": 1})
        self.assertEqual((e.kind, e.session, e.turn, e.call_id, e.args), ("tool_call", "s", 2, "c1", {"a": 1}))
        self.assertIsNone(e.scheduling)
        self.assertEqual(e.get("scheduling", "WHEN_IDLE"), "WHEN_IDLE")
        self.assertEqual(e["name"], "f")
        with self.assertRaises(AttributeError):
            e.turn = 3

    def test_audio(self):
        pcm = struct.pack("<4h", 0, 1000, -1000, 32767)
        e = ev(event="audio", session="s", turn=1, mime="audio/pcm;rate=16000",
               data=base64.b64encode(pcm).decode())
        self.assertEqual((e.pcm, e.rate), (pcm, 16000))
        self.assertEqual(ev(event="audio", mime="audio/pcm", data="").rate, 24000)
        self.assertEqual(ev(event="text", text="x").pcm, b"")

    def test_said(self):
        evs = [ev(event="text", turn=1, text="Sure."), ev(event="tool_call", turn=1),
               ev(event="transcript", turn=2, source="output", text="OK"),
               ev(event="transcript", turn=2, source="input", text="ignored"),
               ev(event="transcript", turn=2, source="output", text=", done.")]
        self.assertEqual(glive.said(evs), "Sure.\nOK, done.")


class ToolAnswers(unittest.TestCase):
    call = ev(event="tool_call", session="s", call_id="c", name="f", behavior="BLOCKING")
    async_call = ev(event="tool_call", session="s", call_id="c", name="f", behavior="NON_BLOCKING")

    def test_return_values(self):
        t = Tool(lambda: None, "f")
        self.assertEqual(result_fields(t, self.call, {"a": 1}),
                         {"session": "s", "call_id": "c", "response": {"a": 1}})
        self.assertEqual(result_fields(t, self.call, None)["response"], {"result": "ok"})
        self.assertEqual(result_fields(t, self.call, 42)["response"], {"result": 42})
        self.assertEqual(result_fields(t, self.call, exc=RuntimeError("bulb broken"))["error"], "bulb broken")
        self.assertEqual(result_fields(t, self.call, exc=KeyError())["error"], "KeyError")
        self.assertIn("not JSON", result_fields(t, self.call, {"x": object()})["error"])
        r = result_fields(t, self.call, glive.ToolResult(error="nope"))
        self.assertEqual(r["error"], "nope")
        self.assertNotIn("response", r)

    def test_scheduling_only_for_non_blocking_calls(self):
        t = Tool(lambda: None, "f", scheduling="SILENT")
        self.assertNotIn("scheduling", result_fields(t, self.call, {}))
        r = result_fields(t, self.async_call, {})
        self.assertEqual((r["scheduling"], r["will_continue"]), ("SILENT", None))
        r = result_fields(t, self.async_call, glive.ToolResult({"p": 1}, scheduling="INTERRUPT", will_continue=True))
        self.assertEqual((r["response"], r["scheduling"], r["will_continue"]), ({"p": 1}, "INTERRUPT", True))
        with self.assertRaises(ValueError):
            Tool(lambda: None, "f", scheduling="LATER")

    def test_declaration_and_arguments(self):
        def lights(room="all", call=None):
            """Turns on the lights."""
        t = Tool(lights, "turn_on_the_lights", parameters={"type": "OBJECT"})
        self.assertEqual(t.declaration, {"name": "turn_on_the_lights", "description": "Turns on the lights.",
                                         "parameters": {"type": "OBJECT"}})
        call = ev(event="tool_call", args={"room": "hall"})
        self.assertEqual(t.arguments(call), {"room": "hall", "call": call})
        self.assertEqual(Tool(lambda: 0, "f").arguments(ev(event="tool_call")), {})


class Tracker(unittest.TestCase):
    def feed(self, tr, *events):
        for e in events:
            if tr.wants(e):
                tr.update(e)
        return tr

    def test_blocking_call_in_one_turn(self):
        tr = glive.TurnTracker("s", 1)
        self.feed(tr, ev(event="tool_call", session="s", turn=1, call_id="c", behavior="BLOCKING"),
                  ev(event="tool_result", session="s", turn=1, call_id="c"))
        self.assertFalse(tr.done)
        self.feed(tr, ev(event="turn_complete", session="s", turn=1))
        self.assertTrue(tr.done)

    def test_non_blocking_call_owes_a_follow_up_turn(self):
        tr = glive.TurnTracker("s", 1)
        self.feed(tr, ev(event="tool_call", session="s", turn=1, call_id="c", behavior="NON_BLOCKING"),
                  ev(event="turn_complete", session="s", turn=1))
        self.assertFalse(tr.done)  # the call is pending
        self.feed(tr, ev(event="tool_result", session="s", turn=1, call_id="c"))
        self.assertFalse(tr.done)  # its answer owes a turn
        self.assertFalse(tr.wants(ev(event="text", session="s", turn=2)))
        self.feed(tr, ev(event="turn_started", session="s", turn=2, of_turn=1, cause="function_response"))
        self.assertTrue(tr.wants(ev(event="text", session="s", turn=2)))
        self.assertFalse(tr.done)
        self.feed(tr, ev(event="turn_complete", session="s", turn=2))
        self.assertTrue(tr.done)
        self.assertEqual(tr.turns, [1, 2])

    def test_silent_answer_and_will_continue(self):
        tr = glive.TurnTracker("s", 1)
        self.feed(tr, ev(event="tool_call", session="s", turn=1, call_id="c", behavior="NON_BLOCKING"),
                  ev(event="turn_complete", session="s", turn=1),
                  ev(event="tool_result", session="s", turn=1, call_id="c", will_continue=True))
        self.assertEqual(tr.calls, {"c": True})
        self.feed(tr, ev(event="tool_result", session="s", turn=1, call_id="c", scheduling="SILENT"))
        self.assertTrue(tr.done)

    def test_local_code_and_cancel(self):
        tr = glive.TurnTracker("s", 1)
        self.feed(tr, ev(event="code", session="s", turn=1, local=True, call_id="r", behavior="BLOCKING"),
                  ev(event="tool_call", session="s", turn=1, call_id="x", behavior="BLOCKING"),
                  ev(event="tool_cancel", session="s", turn=1, call_id="x"),
                  ev(event="turn_complete", session="s", turn=1))
        self.assertFalse(tr.done)
        self.feed(tr, ev(event="code_result", session="s", turn=1, local=True, call_id="r"))
        self.assertTrue(tr.done)

    def test_other_sessions_and_turns_are_not_wanted(self):
        tr = glive.TurnTracker("s", 3)
        self.assertFalse(tr.wants(ev(event="text", session="t", turn=3)))
        self.assertFalse(tr.wants(ev(event="text", session="s", turn=2)))
        self.assertFalse(tr.wants(ev(event="turn_started", session="s", turn=4, of_turn=2)))
        self.assertTrue(tr.wants(ev(event="state", session="s", state="ready")))

    def test_interruptions_and_errors(self):
        tr = self.feed(glive.TurnTracker("s", 1),
                       ev(event="interrupted", session="s", turn=1, final=False, retrying=False))
        self.assertFalse(tr.done)
        self.feed(tr, ev(event="interrupted", session="s", turn=1, final=True, retrying=True))
        self.assertFalse(tr.done)  # sent again
        self.feed(tr, ev(event="interrupted", session="s", turn=1, final=True, retrying=False))
        self.assertTrue(tr.done and tr.interrupted is not None)
        tr = self.feed(glive.TurnTracker("s", 1), ev(event="error", session="s", turn=1, code="upstream", message="1011"))
        self.assertTrue(tr.done)
        self.assertIsInstance(tr.error, glive.UpstreamError)
        tr = self.feed(glive.TurnTracker("s", 1), ev(event="state", session="s", state="closed", reason="bad key"))
        self.assertIsInstance(tr.error, glive.SessionClosedError)


class Wav(unittest.TestCase):
    def test_header_and_roundtrip(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "a.wav")
            pcm = bytes(range(200))
            evs = [ev(event="audio", mime="audio/pcm;rate=24000", data=base64.b64encode(pcm[:120]).decode()),
                   ev(event="text", text="x"),
                   ev(event="audio", mime="audio/pcm;rate=24000", data=base64.b64encode(pcm[120:]).decode())]
            self.assertEqual(glive.write_wav(path, evs), 200)
            with open(path, "rb") as f:
                data = f.read()
            self.assertEqual(len(data), 244)
            self.assertEqual(data[:4] + data[8:16] + data[36:40], b"RIFFWAVEfmt data")
            self.assertEqual(struct.unpack("<I", data[4:8])[0], 236)
            self.assertEqual(struct.unpack("<HHIIHH", data[20:36]), (1, 1, 24000, 48000, 2, 16))
            self.assertEqual(glive.read_wav(path), (24000, pcm))
            glive.write_wav(path, b"")
            self.assertEqual(glive.read_wav(path), (24000, b""))


class FakeDaemon:
    """A Unix-socket server that answers each request line with script(request) -> [lines]."""

    def __init__(self, script):
        self.dir = tempfile.mkdtemp(prefix="glive-unit-")
        self.path = os.path.join(self.dir, "fake.sock")
        self.script = script
        self.requests = []
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(self.path)
        self.srv.listen(1)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        conn, _ = self.srv.accept()
        with conn, conn.makefile("rwb") as f:
            for line in f:
                req = json.loads(line)
                self.requests.append(req)
                for out in self.script(req):
                    f.write(out if isinstance(out, bytes) else (json.dumps(out) + "\n").encode())
                f.flush()

    def close(self):
        self.srv.close()
        self.thread.join(5)
        try:
            os.unlink(self.path)
            os.rmdir(self.dir)
        except OSError:
            pass


def lights_script(behavior="BLOCKING"):
    """open/send/tool.result of seed 2, as gliveD plays them."""
    def script(req):
        op, rid = req["op"], req.get("id")
        if op == "send":
            yield {"id": rid, "ok": True, "turn": 1, "queued": False}
            yield {"event": "state", "session": "s", "state": "ready"}
            yield {"event": "tool_call", "session": "s", "turn": 1, "call_id": "c1", "name": "turn_on_the_lights",
                   "args": {"room": "hall"}, "index": 0, "count": 1, "handler": True, "behavior": behavior}
            if behavior == "NON_BLOCKING":
                yield {"event": "text", "session": "s", "turn": 1, "text": "Sure."}
                yield {"event": "turn_complete", "session": "s", "turn": 1}
        elif op == "tool.result":
            yield {"id": rid, "ok": True}
            yield {"event": "tool_result", "session": "s", "turn": 1, "call_id": "c1", "name": "turn_on_the_lights",
                   "response": req.get("response") or {"error": req.get("error")}, "by": "handler"}
            if behavior == "NON_BLOCKING":
                yield {"event": "turn_started", "session": "s", "turn": 2, "cause": "function_response", "of_turn": 1}
                yield {"event": "text", "session": "s", "turn": 2, "text": "OK, lights on."}
                yield {"event": "turn_complete", "session": "s", "turn": 2, "of_turn": 1}
            else:
                yield {"event": "text", "session": "s", "turn": 1, "text": "OK, lights on."}
                yield {"event": "turn_complete", "session": "s", "turn": 1}
        else:
            yield {"id": rid, "ok": True}
    return script


class SyncClient(unittest.TestCase):
    def test_replies_events_and_errors(self):
        def script(req):
            rid = req.get("id")
            if req["op"] == "hello":
                yield {"event": "state", "session": "s", "state": "ready"}  # an event before the reply
                yield {"id": rid, "ok": True, "daemon": "gliveD", "version": "0.1.0", "protocol": 1}
            elif req["op"] == "close":
                yield {"id": rid, "ok": False, "error": {"code": "no_session", "message": 'no session "x"'}}
            elif req["op"] == "list":
                yield b"not json\n\n"
                yield {"id": None, "ok": False, "error": {"code": "line_too_long", "message": "too long"}}
        fake = FakeDaemon(script)
        try:
            with glive.Client(fake.path) as c:
                self.assertEqual(c.hello(), {"daemon": "gliveD", "version": "0.1.0", "protocol": 1})
                with self.assertRaises(glive.NoSessionError) as cm:
                    c.close_session("x")
                self.assertEqual((cm.exception.code, cm.exception.message), ("no_session", 'no session "x"'))
                with self.assertRaises(glive.BadRequestError) as cm:
                    c.list()
                self.assertEqual(cm.exception.code, "line_too_long")
                state = c.next_event(timeout=5)
                self.assertEqual((state.kind, state.state), ("state", "ready"))
                with self.assertRaises(glive.GliveTimeoutError):
                    c.next_event(timeout=0.05)
            self.assertEqual(fake.requests[0], {"op": "hello", "client": "glive-python", "id": 1})
            self.assertEqual([r["id"] for r in fake.requests], [1, 2, 3])
        finally:
            fake.close()

    def run_lights(self, behavior, fn, scheduling=None):
        fake = FakeDaemon(lights_script(behavior))
        try:
            with glive.Client(fake.path) as c:
                c.add_tool(fn, "turn_on_the_lights", scheduling=scheduling)
                evs = c.send("s", "Turn on the lights").collect()
            return fake.requests, evs
        finally:
            fake.close()

    def test_decorated_tool_answers_blocking_call(self):
        def lights(room):
            return {"lights": "on", "room": room}
        reqs, evs = self.run_lights("BLOCKING", lights, scheduling="WHEN_IDLE")
        self.assertEqual(reqs[0]["op"], "tool.register")
        self.assertEqual(reqs[0]["declaration"], {"name": "turn_on_the_lights"})
        self.assertEqual(reqs[0]["session"], "*")
        result = reqs[2]
        self.assertEqual(result, {"op": "tool.result", "id": 3, "session": "s", "call_id": "c1",
                                  "response": {"lights": "on", "room": "hall"}})  # no scheduling: blocking
        self.assertEqual(glive.said(evs), "OK, lights on.")
        self.assertEqual([e.kind for e in evs][-1], "turn_complete")

    def test_non_blocking_call_and_follow_up_turn_with_exception(self):
        def lights(room):
            raise RuntimeError("bulb broken")
        reqs, evs = self.run_lights("NON_BLOCKING", lights, scheduling="WHEN_IDLE")
        self.assertEqual(reqs[2]["error"], "bulb broken")
        self.assertEqual(reqs[2]["scheduling"], "WHEN_IDLE")
        self.assertEqual(glive.said(evs), "Sure.\nOK, lights on.")
        self.assertEqual([e.turn for e in evs if e.kind == "turn_complete"], [1, 2])


def watch_script(req):
    rid = req.get("id")
    if req["op"] == "subscribe":
        yield {"id": rid, "ok": True, "state": "ready"}
        yield {"event": "text", "session": "other", "turn": 1, "text": "not this session"}
        for t in ("one", "two"):
            yield {"event": "text", "session": "w", "turn": 7, "text": t}
    else:
        yield {"id": rid, "ok": True}


class Subscriptions(unittest.TestCase):
    def test_sync_subscription_sees_its_session_and_unsubscribes(self):
        fake = FakeDaemon(watch_script)
        try:
            with glive.Client(fake.path) as c:
                with c.subscribe("w") as sub:
                    self.assertEqual(sub.state, "ready")
                    self.assertEqual([next(sub).text, sub.next(timeout=5).text], ["one", "two"])
                self.assertEqual(c.next_event(timeout=5).session, "other")  # kept for other readers
            self.assertEqual([r["op"] for r in fake.requests], ["subscribe", "unsubscribe"])
        finally:
            fake.close()

    def test_async_subscription(self):
        fake = FakeDaemon(watch_script)

        async def main():
            async with glive.AsyncClient(fake.path) as c:
                async with await c.subscribe("w") as sub:
                    return [(await sub.next(timeout=5)).text, (await sub.__anext__()).text]
        try:
            self.assertEqual(asyncio.run(main()), ["one", "two"])
            self.assertEqual([r["op"] for r in fake.requests], ["subscribe", "unsubscribe"])
        finally:
            fake.close()


class AsyncClient(unittest.TestCase):
    def test_async_tool_and_follow_up_turn(self):
        fake = FakeDaemon(lights_script("NON_BLOCKING"))

        async def main():
            async with glive.AsyncClient(fake.path) as c:
                @c.tool("turn_on_the_lights", scheduling="INTERRUPT")
                async def lights(room, call):
                    await asyncio.sleep(0)
                    return glive.ToolResult({"room": room, "call": call.call_id}, scheduling="SILENT")
                turn = await c.send("s", "Turn on the lights")
                return await turn.collect()
        try:
            evs = asyncio.run(main())
            self.assertEqual(glive.said(evs), "Sure.\nOK, lights on.")
            result = fake.requests[2]
            self.assertEqual((result["op"], result["response"], result["scheduling"]),
                             ("tool.result", {"room": "hall", "call": "c1"}, "SILENT"))
        finally:
            fake.close()

    def test_async_errors(self):
        def script(req):
            yield {"id": req["id"], "ok": False, "error": {"code": "conflict", "message": "differs"}}
        fake = FakeDaemon(script)

        async def main():
            async with glive.AsyncClient(fake.path) as c:
                with self.assertRaises(glive.ConflictError):
                    await c.open("s", modality="AUDIO")
        try:
            asyncio.run(main())
            self.assertEqual(fake.requests[0], {"op": "open", "session": "s", "modality": "AUDIO", "id": 1})
        finally:
            fake.close()

    def test_async_connect_error(self):
        with self.assertRaises(glive.ConnectError):
            asyncio.run(glive.aio.connect("/nonexistent/glive.sock"))


if __name__ == "__main__":
    unittest.main()
