#!/usr/bin/env python3
"""Writes the hand-made seeds of each fuzz target into fuzz/corpus/NAME/seed-*.

The seeds come from proto/PROTOCOL.md, docs/emulator-script.md and the unit tests; the rest of
each corpus is what libFuzzer found (merged with -merge=1, fuzz/README.md). Run it from the
repository root after changing a seed; existing seed-* files are overwritten, others kept.

  fuzz/seeds.py
"""
import base64
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


def put(target, name, data):
    d = os.path.join(ROOT, "corpus", target)
    os.makedirs(d, exist_ok=True)
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
    for i, d in enumerate(dict.fromkeys(docs)):
        put("live", "test-%03d" % i, d)
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


if __name__ == "__main__":
    line_seeds()
    live_seeds()
