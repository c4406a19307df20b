#!/usr/bin/env python3
"""Writes the hand-made seeds of each fuzz target into fuzz/corpus/NAME/seed-*.

The seeds come from proto/PROTOCOL.md, docs/emulator-script.md and the unit tests; the rest of
each corpus is what libFuzzer found (merged with -merge=1, fuzz/README.md). Run it from the
repository root after changing a seed: it rewrites every seed-* file (the seeds taken from the
tests are named by a hash of their content, so they stay put when tests move); other files are
kept.

  fuzz/seeds.py
"""
import base64
import hashlib
import json
import os
import re
import struct

ROOT = os.path.dirname(os.path.abspath(__file__))


def c_strings(path):
    """Every C string literal of a source file (adjacent literals joined), decoded to bytes."""
    text = open(os.path.join(ROOT, "..", path), encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    out = []
    for m in re.finditer(r'"(?:[^"\\\n]|\\.)*"(?:\s*"(?:[^"\\\n]|\\.)*")*', text):
        parts = re.findall(r'"((?:[^"\\\n]|\\.)*)"', m.group(0))
        out.append(b"".join(c_unescape(p) for p in parts))
    return out


def c_unescape(s):
    b, i = bytearray(), 0
    raw = s.encode()
    simple = {ord("n"): 10, ord("t"): 9, ord("r"): 13, ord("0"): 0, ord("\\"): 92, ord('"'): 34,
              ord("'"): 39, ord("a"): 7, ord("b"): 8, ord("f"): 12, ord("v"): 11, ord("?"): 63}
    while i < len(raw):
        c = raw[i]
        if c != 92:
            b.append(c)
            i += 1
            continue
        e = raw[i + 1]
        if e == ord("x"):
            j = i + 2
            while j < len(raw) and chr(raw[j]) in "0123456789abcdefABCDEF":
                j += 1
            b.append(int(raw[i + 2:j], 16) & 0xFF)
            i = j
        elif chr(e) in "01234567" and i + 2 < len(raw) and chr(raw[i + 2]) in "01234567":
            j = i + 1
            while j < len(raw) and j < i + 4 and chr(raw[j]) in "01234567":
                j += 1
            b.append(int(raw[i + 1:j], 8) & 0xFF)
            i = j
        else:
            b.append(simple.get(e, e))
            i += 2
    return bytes(b)


def json_docs(path, want=None):
    """The literals of a test file that are JSON objects or arrays (optionally: want(value))."""
    docs = []
    for b in c_strings(path):
        try:
            v = json.loads(b.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(v, (dict, list)) and (want is None or want(v)) and b not in docs:
            docs.append(b)
    return docs


CLEARED = set()


def put(target, name, data):
    d = os.path.join(ROOT, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if target not in CLEARED:  # seed-* files are all ours: start from none
        CLEARED.add(target)
        for f in os.listdir(d):
            if f.startswith("seed-"):
                os.remove(os.path.join(d, f))
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# ---- fuzz_line: byte 0 = line limit (>= 0xc0: the 1 MiB default), byte 1 = feed size, stream.
def line_seeds():
    proto = [  # proto/PROTOCOL.md's session example, and one request per op
        '{"id":1,"op":"hello"}',
        '{"id":2,"op":"open","session":"lights","tools":[{"function_declarations":[{"name":"turn_on_the_lights"}]}]}',
        '{"id":3,"op":"send","session":"lights","text":"Turn on the lights"}',
        '{"id":4,"op":"tool.result","session":"lights","call_id":"function-call-123","response":{"result":"ok"}}',
        '{"op":"frobnicate"}',
        '{"id":"a","op":"open","session":"main","model":"gemini-3.8-live","modality":"AUDIO",'
        '"system_instruction":"Be brief.","generation_config":{"response_modalities":["TEXT"]},"compression":false}',
        '{"id":null,"op":"list"}',
        '{"id":true,"op":"status"}',
        '{"id":1.5,"op":"subscribe","session":"s.1_-"}',
        '{"op":"unsubscribe","session":"main"}',
        '{"op":"close","session":"main"}',
        '{"op":"send","session":"main","text":"hi","retry":true}',
        '{"op":"tool.register","session":"*","declaration":{"name":"f","parameters":{"type":"OBJECT"}},"timeout_s":0.5}',
        '{"op":"tool.unregister","session":"main","name":"f"}',
        '{"op":"tool.result","call_id":"c1","error":"boom","scheduling":"SILENT","will_continue":true}',
    ]
    put("line", "protocol", b"\xc0\x3f" + "\n".join(proto).encode() + b"\n")
    put("line", "crlf-blank", b"\xc0\x00" + b'{"op":"hello"}\r\n\r\n  \t \n{"op":"list"}\r\n{"op":"x"}')
    put("line", "too-long", b"\x10\x03" + b'{"op":"hello","session":"0123456789"}\n{"op":"a"}\r\n' + b"x" * 40)
    put("line", "exact-limit", b"\x0e\x07" + b'{"op":"hello"}\r\n{"op":"hello"}\r\r\n')
    put("line", "bad-requests", b"\xc0\x05" + "\n".join([
        "[1,2]", '{"op":5}', '{"op":""}', '{"id":{},"op":"a"}', '{"id":[1],"op":"a"}', '{"id":1}',
        '{"op":"a","op":"b"}', '{"op":"a",', 'nul\x00byte', '{"op":"\\u0000"}',
        '{"op":"send","session":".x","text":1}', '{"op":"send","session":"a b"}',
        '{"op":"send","session":"' + "s" * 65 + '"}', '{"op":"s","session":"\\u00e9"}',
        '{"op":"s","session":null,"text":null,"timeout":1e400}',
    ]).encode() + b"\n")
    put("line", "utf8", b"\xc0\x01" + b'{"op":"\xc3\xa9","text":"\xe2\x82\xac"}\n\xff\xfe{"op":"a"}\n{"op":"\xed\xa0\x80"}\n')
    put("line", "reserved-keys", b"\xc0\x09" + b'{"id":7,"op":"x","ok":false,"error":1,"event":"e","session":"s"}\n')



# ---- fuzz_live: one document, read as a server message and as a client's JSON pieces.
def live_seeds():
    docs = json_docs("tests/unit/test_live.c") + json_docs("tests/unit/test_codec_agreement.c")
    for d in dict.fromkeys(docs):
        put("live", "test-" + hashlib.sha1(d).hexdigest()[:10], d)
    put("live", "open", json.dumps({  # an open request's pieces, as build_setup() reads them
        "model": "gemini-3.8-live", "audio": True, "manual": True, "resumption": True,
        "handle": "CiQ5", "compression": True, "trigger": 25600, "target": 12800, "in": True,
        "out": True, "system_instruction": {"role": "system", "parts": [{"text": "Be brief."}]},
        "generation_config": {"response_modalities": ["AUDIO"], "temperature": 0.5,
                              "thinking_config": {"thinking_budget": "0"}},
        "tools": [{"function_declarations": [{"name": "turn_on_the_lights", "behavior": "NON_BLOCKING",
                                              "parameters": {"type": "OBJECT", "properties": {
                                                  "room": {"type": "STRING"}}}}]},
                  {"code_execution": {}}],
        "declaration": {"name": "f", "parameters_json_schema": {"type": "object"}},
        "responses": [{"id": "c1", "name": "f", "response": {"ok": True}, "will_continue": True,
                       "scheduling": "SILENT"}]}, separators=(",", ":")))
    put("live", "server-all", json.dumps({
        "setupComplete": {"sessionId": "s"}, "voiceActivity": {"voiceActivityType": "ACTIVITY_START"},
        "serverContent": {"modelTurn": {"parts": [{"text": "a", "thought": True},
                                                  {"inlineData": {"mimeType": "audio/pcm", "data": "AAA="}},
                                                  {"executableCode": {"language": "PYTHON", "code": "1"}},
                                                  {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "1"}}]},
                          "inputTranscription": {"text": "hi", "finished": True},
                          "interimInputTranscription": {"text": "h"},
                          "outputTranscription": {"text": "o"}, "groundingMetadata": {},
                          "interrupted": True, "generationComplete": True, "turnComplete": True,
                          "turnCompleteReason": "NEED_MORE_INPUT", "waitingForInput": True},
        "usageMetadata": {"totalTokenCount": 3},
        "toolCall": {"functionCalls": [{"id": "c", "name": "f", "args": {"a": 1}}, {"name": "g"}]},
        "toolCallCancellation": {"ids": ["c"]}, "goAway": {"timeLeft": 12.5},
        "sessionResumptionUpdate": {"newHandle": "h", "resumable": True}, "somethingNew": 1},
        separators=(",", ":")))
    put("live", "server-nul", b'{"serverContent":{"modelTurn":{"parts":[{"text":"a\\u0000b"}]}}}')


# RFC 6455's example key and its accept value (the fuzz targets' fixed key).
KEY, ACCEPT = "dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
UPGRADE = ("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: " + KEY + "\r\nSec-WebSocket-Version: 13\r\n\r\n")
LIVE_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
SWITCH = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Accept: " + ACCEPT + "\r\n\r\n")


# ---- fuzz_http: byte 0 = 0 request, 1 response, 2 URL (+ extra header lines).
def http_seeds():
    put("http", "upgrade", b"\x00" + UPGRADE.encode())
    put("http", "upgrade-live", b"\x00" + ("GET " + LIVE_PATH + "?key=k HTTP/1.1\r\nHost: 127.0.0.1:8443\r\n"
        "upgrade: WebSocket\r\nconnection: keep-alive, Upgrade\r\nsec-websocket-key: " + KEY +
        "\r\nsec-websocket-version: 13\r\nx-goog-api-key: k\r\n\r\n\x81\x82abcd").encode())
    put("http", "plain-get", b"\x00GET /emulator/stats HTTP/1.1\r\nHost: x\r\n\r\n")
    put("http", "no-version", b"\x00GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
    put("http", "garbage", b"\x00\x16\x03\x01garbage\r\n\r\n")
    put("http", "post-folded", b"\x00POST /a?b=c&d HTTP/1.0\r\nX: 1\r\n  folded\r\nEmpty:\r\n\r\n")
    put("http", "switch", b"\x01" + SWITCH.encode())
    put("http", "switch-bad", b"\x01HTTP/1.1 101 OK\r\nUpgrade: h2c\r\nSec-WebSocket-Accept: x\r\n\r\n")
    put("http", "refused", b"\x01HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\nConnection: close\r\n\r\nnope\n")
    put("http", "url-live", b"\x02wss://generativelanguage.googleapis.com" + LIVE_PATH.encode() + b"?key=k")
    put("http", "url-v6", b"\x02ws://[::1]:8080/x?y\nx-goog-api-key: k\nUser-Agent: gliveD")
    put("http", "url-port", b"\x02ws://127.0.0.1:65535")


def frame(opcode, payload, fin=True, mask=b"", rsv=0):
    """One websocket frame; a 4-byte mask makes it a client's (masked) frame."""
    if isinstance(payload, str):
        payload = payload.encode()
    b = bytes([(0x80 if fin else 0) | rsv | opcode])
    m = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        b += bytes([m | n])
    elif n < 65536:
        b += bytes([m | 126]) + struct.pack(">H", n)
    else:
        b += bytes([m | 127]) + struct.pack(">Q", n)
    if mask:
        b += mask
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return b + payload


def close_payload(code, reason=b""):
    return struct.pack(">H", code) + reason


# ---- fuzz_ws: byte 0 = mode (bit 0 client, bits 1-2 end: EOF/close/abort/reset, bit 3 refuse,
# bit 4 max_message 64, bit 5 max_output 64 KiB, bit 6 HTTP handler), byte 1 = feed size/16.
def ws_seeds():
    M = b"\x01\x02\x03\x04"
    up = UPGRADE.encode()
    sw = SWITCH.encode()
    # server side: test_transport.c's raw exchanges, then what the handlers react to
    put("ws", "srv-fragments-ping", b"\x00\xff" + up + frame(1, "Hel", False, M) + frame(9, "pp", True, M)
        + frame(0, "lo", True, M))
    put("ws", "srv-close-done", b"\x00\x00" + up + frame(8, close_payload(1000, b"done"), True, M))
    put("ws", "srv-unmasked", b"\x00\x03" + up + b"\x81\x02hi")
    put("ws", "srv-echo-close", b"\x02\x01" + up + frame(1, "echo", True, M) + frame(2, b"e\x00\xff", True, M)
        + frame(1, "c" + "\u00e9" * 80, True, M))
    put("ws", "srv-abort", b"\x04\x02" + up + frame(1, "abort", True, M) + frame(1, "late", True, M))
    put("ws", "srv-big-send", b"\x26\x00" + up + frame(2, "send", True, M) + frame(8, close_payload(1001), True, M))
    put("ws", "srv-too-big", b"\x10\xff" + up + frame(2, b"x" * 200, True, M))
    put("ws", "srv-64bit-len", b"\x00\xff" + up + frame(2, b"y" * 70000, True, M)[:80])
    put("ws", "srv-bad-opcode", b"\x06\xff" + up + frame(3, "?", True, M) + frame(1, "z", True, M, rsv=0x40))
    put("ws", "srv-refused", b"\x08\x00" + up)
    put("ws", "srv-http", b"\x40\x00GET /emulator/stats HTTP/1.1\r\nHost: x\r\n\r\n")
    put("ws", "srv-post", b"\x40\x00POST /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n")
    put("ws", "srv-garbage", b"\x00\x00\x16\x03\x01garbage\r\n\r\n")
    # client side: the Live API's 101, then its (unmasked) frames
    live = json.dumps({"serverContent": {"modelTurn": {"parts": [{"text": "Hello"}]}}}).encode()
    put("ws", "cli-live-turn", b"\x01\x00" + sw + frame(2, b"{\"setupComplete\":{}}") + frame(2, live)
        + frame(1, "e" + "x" * 10) + frame(9, "") + frame(10, "gl") + frame(8, close_payload(1000, b"bye")))
    put("ws", "cli-fragmented", b"\x03\x05" + sw + frame(1, "Hel", False) + frame(0, "lo", True))
    put("ws", "cli-close-1007", b"\x01\xff" + sw + frame(8, close_payload(1007, b"Invalid JSON payload received.")))
    put("ws", "cli-masked", b"\x05\x00" + sw + frame(1, "hi", True, M))
    put("ws", "cli-bad-accept", b"\x01\x00" + sw.replace(ACCEPT.encode(), b"AAAAAAAAAAAAAAAAAAAAAAAAAAA="))
    put("ws", "cli-403", b"\x01\x00HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
    put("ws", "cli-close-empty", b"\x07\x00" + sw + frame(8, b""))


# ---- fuzz_strict: one client message as glive-emulator reads it.
def strict_seeds():
    client = lambda v: isinstance(v, dict) and len(v) >= 1  # noqa: E731
    docs = json_docs("tests/unit/test_strict.c", client) + json_docs("tests/unit/test_codec_agreement.c", client)
    for d in dict.fromkeys(docs):
        put("strict", "test-" + hashlib.sha1(d).hexdigest()[:10], d)
    put("strict", "syntax", b'{"setup":{"model":"m",}}')
    put("strict", "deep", b'{"setup":{"tools":[{"function_declarations":[{"parameters":' * 1 +
        b'{"items":' * 40 + b'{}' + b'}' * 40 + b'}]}]}}')
    put("strict", "realtime-two", b'{"realtimeInput":{"text":"a","audio_stream_end":true}}')
    put("strict", "tool-response", b'{"tool_response":{"function_responses":{"id":"c","name":"f",'
        b'"response":{"x":[1,null,{"y":"\\u00e9"}]},"will_continue":"yes","scheduling":2}}}')
    put("strict", "numbers", b'{"setup":{"model":"m","generation_config":{"temperature":"NaN","top_k":"7",'
        b'"seed":-2147483648,"top_p":3.5e38,"max_output_tokens":1e3},"context_window_compression":'
        b'{"trigger_tokens":"-9223372036854775808","sliding_window":{"target_tokens":9.2e18}}}}')
    put("strict", "bytes", b'{"realtimeInput":{"audio":{"mime_type":"audio/pcm","data":"AAE-_w"}}}')


# ---- fuzz_config: file content, NUL, then argv[1..] separated by NULs.
def config_seeds():
    def cfg(text, *args):
        return text.encode() + b"".join(b"\0" + a.encode() for a in args)
    full = json.dumps({"socket": "/run/glive/g.sock", "endpoint": "wss://127.0.0.1:8443/",
                       "ca-file": "ca.pem", "state-dir": "st", "model": "gemini-3.8-live",
                       "api-key-file": "k", "api-version": "v1alpha", "log-level": "debug",
                       "max-line": 1024, "max-output": "65536", "max-clients": 1, "max-message": 4096,
                       "max-queue": 10000, "ping-interval": 0.1, "pong-timeout": "3600",
                       "backoff-min": 0.29, "backoff-max": ".5", "tool-timeout": 86400,
                       "code-exec": "local", "code-sandbox": "none", "code-timeout": 1})
    put("config", "full-file", cfg(full, "--config", "c.json"))
    put("config", "argv-wins", cfg('{"model":"a","backoff-min":20}', "--config=c.json", "--model", "b",
                                   "--backoff-max=25", "--backoff-min", "1"))
    put("config", "argv-only", cfg("", "--endpoint", "ws://localhost:9", "--max-line=67108864",
                                   "--ping-interval", "3600", "--code-exec", "off", "--log-level=warn"))
    put("config", "bad-numbers", cfg('{"max-line":-2,"ping-interval":1e3}', "--config", "c.json"))
    put("config", "bad-argv", cfg("", "--max-line", "10k", "--api-key", "SECRET"))
    put("config", "api-key-in-file", cfg('{"api-key":"x"}', "--config", "c.json"))
    put("config", "not-object", cfg("[1,2]", "--config", "c.json"))
    put("config", "syntax", cfg('{"model":"m",\n"x"', "--config", "c.json"))
    put("config", "help", cfg("", "--help"))
    put("config", "version", cfg("", "--version=1"))
    put("config", "unknown", cfg('{"max-lines":1}', "--config", "c.json", "--bogus"))
    put("config", "types", cfg('{"model":5,"max-line":"1024","log-level":true,"code-exec":null}',
                               "--config", "c.json"))


# ---- fuzz_view: the bytes gliveD sends a client; libglive reads them as events and as views.
def view_seeds():
    # the unit test's lines (VIEW_LINES in tests/unit/test_client.c): the fast path's exact
    # shapes, escapes, odd fields, invalid base64, raw control characters
    text = open(os.path.join(ROOT, "..", "tests/unit/test_client.c"), encoding="utf-8").read()
    m = re.search(r"#define VIEW_LINES(.*?)\n\n", text, flags=re.S)
    lines = b"".join(c_unescape(x) for x in re.findall(r'"((?:[^"\\\n]|\\.)*)"', m.group(1)))
    put("view", "unit-test-lines", lines)
    pcm = base64.b64encode(bytes(range(256)) * 4).decode()  # 1,024 bytes: the AVX2 blocks
    put("view", "audio", '{"event":"audio","session":"s","mime":"audio/pcm;rate=24000","data":"%s",'
                         '"turn":12}\n' % pcm)
    put("view", "audio-no-turn", '{"event":"audio","session":"s","mime":"audio/pcm","data":"AAEC"}\n')
    put("view", "text", '{"event":"text","session":"my.s-1","text":"Hello! \\u00e9\\n\\"q\\"","turn":3}\n'
                        '{"event":"text","session":"s","text":"","turn":999999999999999999}\n')
    put("view", "others", '{"id":1,"ok":true}\n{"event":"turn_complete","session":"s","turn":1}\n'
                          '{"event":"state","session":"s","state":"ready"}\nnot json\n')


if __name__ == "__main__":
    line_seeds()
    live_seeds()
    http_seeds()
    ws_seeds()
    strict_seeds()
    config_seeds()
    view_seeds()
