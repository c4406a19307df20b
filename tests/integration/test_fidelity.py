"""Clients nobody here wrote, pointed at the emulator: the official @google/genai SDK (Node) and
the seed notebook's raw-websocket code (Python). If they work against the emulator, the emulator
speaks the protocol as they expect it."""
import base64
import json
import os
import shutil
import subprocess

from harness import Skip

SDK_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sdk")


def run_sdk(emu, base, scenarios):
    if not os.path.isdir(os.path.join(SDK_DIR, "node_modules", "@google", "genai")):
        raise Skip("@google/genai not installed (scripts/install-deps.sh --test)")
    env = dict(os.environ)
    if emu.tls:
        env["NODE_EXTRA_CA_CERTS"] = emu.ca
    p = subprocess.run(["node", os.path.join(SDK_DIR, "sdk_scenarios.mjs"), base] + [str(s) for s in scenarios],
                       capture_output=True, text=True, timeout=60, env=env)
    results = {}
    for line in p.stdout.splitlines():
        r = json.loads(line)
        assert "error" not in r, f"SDK scenario {r['scenario']}: {r['error']}\n{p.stderr[-2000:]}"
        results[r["scenario"]] = r["messages"] if "messages" in r else r
    assert p.returncode == 0 and len(results) == len(scenarios), p.stderr[-3000:]
    return results


def parts(msgs):
    return [p for m in msgs for p in (m.get("serverContent") or {}).get("modelTurn", {}).get("parts", [])]


def check_sdk_results(r):
    s1 = [p["text"] for p in parts(r[1]) if "text" in p]
    assert len(s1) >= 2 and "".join(s1) == "Hello! How can I help you today?", s1
    assert r[1][0].get("setupComplete") is not None
    calls = [m["toolCall"] for m in r[2] if m.get("toolCall")]
    assert len(calls) == 1 and calls[0]["functionCalls"][0]["name"] == "turn_on_the_lights"
    assert calls[0]["functionCalls"][0]["id"].startswith("function-call-")
    assert "turned on the lights" in "".join(p.get("text", "") for p in parts(r[2]))
    p4 = parts(r[4])
    code = [p["executableCode"] for p in p4 if "executableCode" in p]
    results = [p["codeExecutionResult"] for p in p4 if "codeExecutionResult" in p]
    audio = [p["inlineData"] for p in p4 if "inlineData" in p]
    assert code and results and "98689" in results[0]["output"], p4
    assert audio and all(a["mimeType"] == "audio/pcm;rate=24000" for a in audio)
    pcm = b"".join(base64.b64decode(a["data"]) for a in audio)
    assert len(pcm) > 24000 and len(pcm) % 2 == 0


def test_official_sdk_over_wss(ctx):
    emu = ctx.emulator()
    check_sdk_results(run_sdk(emu, emu.http_base, [1, 2, 4]))
    log = emu.get("/emulator/log")
    paths = {e["path"] for e in log if e["kind"] == "connect"}
    # the SDK builds the path with a double slash and defaults to API version v1
    assert paths == {"//ws/google.ai.generativelanguage.v1.GenerativeService.BidiGenerateContent"}, paths
    assert not [e for e in log if e["kind"] == "invalid"]


def test_official_sdk_over_plain_ws(ctx):
    emu = ctx.emulator(tls=False)
    check_sdk_results(run_sdk(emu, emu.http_base, [1, 2, 4]))


def test_official_sdk_on_gemini_38(ctx):
    """Today's default model through the SDK: (a) codeExecution is refused with a 1007 close that
    the SDK reports; (b) a function call is NON_BLOCKING: the turn completes before the SDK sends
    its toolResponse, and the answer comes in a generation of its own."""
    emu = ctx.emulator()
    r = run_sdk(emu, emu.http_base, [38, 39])
    rejected = r[38]["rejected"]
    assert "1007" in rejected and "code_execution" in rejected, rejected
    msgs = r[39]
    kinds = []
    for m in msgs:
        if m.get("_sent"):
            kinds.append("sent")
        elif m.get("toolCall"):
            kinds.append("toolCall")
        elif (m.get("serverContent") or {}).get("turnComplete"):
            kinds.append("turnComplete")
    assert kinds == ["toolCall", "turnComplete", "sent", "turnComplete"], kinds
    sent = next(i for i, m in enumerate(msgs) if m.get("_sent"))

    def said(ms):
        return "".join((m.get("serverContent") or {}).get("outputTranscription", {}).get("text", "") for m in ms)
    assert said(msgs[:sent]) == "Sure, turning on the lights.", said(msgs[:sent])
    assert said(msgs[sent:]) == "OK, I've turned on the lights.", said(msgs[sent:])
    assert [(e["name"], e["id"].startswith("function-call-")) for e in emu.log(kind="tool_response")] == \
        [("turn_on_the_lights", True)]
    assert not [e for e in emu.log() if e["kind"] == "invalid"]


def run_notebook(ctx, emu, scenario):
    env = dict(os.environ, SSL_CERT_FILE=emu.ca)
    p = subprocess.run(["/usr/bin/python3", os.path.join(SDK_DIR, "seed_notebook.py"), emu.ws_base, str(scenario)],
                       capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout)


def test_seed_notebook_raw_websocket_scenarios_1_and_2(ctx):
    emu = ctx.emulator()
    r1 = run_notebook(ctx, emu, 1)
    assert r1["text"] == "Hello! How can I help you today?", r1
    r2 = run_notebook(ctx, emu, 2)
    assert r2["tool_calls"][0]["name"] == "turn_on_the_lights" and r2["tool_calls"][0]["id"].startswith("function-call-")
    assert "turned on the lights" in r2["text"], r2
