"""The seven seed scenarios (shared/seed-scenarios.md) end to end: glivectl -> gliveD -> emulator
over wss, asserting what the user sees and what the Live API received."""
import base64
import json
import os
import struct
import subprocess
import time

PROMPT5 = "What was the largest earthquake in California the week of Dec 5 2024?"
PROMPT6 = "write and run python code to turn on the lights, wait 10s and then turn off the lights"
PROMPT7 = ("Hey, I need you to do three tasks for me.\n1. Turn on the lights.\n"
           "2. Then compute the largest prime palindrome under 100000.\n"
           "3. Then use Google Search to look up information about the largest earthquake in "
           "California the week of Dec 5 2024.")
LIGHTS = ["--function", "turn_on_the_lights", "--function", "turn_off_the_lights"]


def events_of(p):
    return [json.loads(line) for line in p.stdout_text.splitlines() if line.startswith("{")]


def kinds(evs):
    return [e.get("event") for e in evs if "event" in e]


def read_wav(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt ", data[:16]
    riff_size, = struct.unpack("<I", data[4:8])
    fmt, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[20:36])
    assert (fmt, channels, rate, bits) == (1, 1, 24000, 16), (fmt, channels, rate, bits)
    assert data[36:40] == b"data"
    size, = struct.unpack("<I", data[40:44])
    assert size == len(data) - 44 and riff_size == len(data) - 8, (size, len(data), riff_size)
    return data[44:]


def pcm_of(evs):
    return b"".join(base64.b64decode(e["data"]) for e in evs if e.get("event") == "audio")


def test_seed1_hello_streams_text(ctx):
    d = ctx.daemon(ctx.emulator())
    p = d.ctl("ask", "--session", "s1", "Hello?")
    assert p.stdout_text.strip() == "Hello! How can I help you today?", p.stdout_text
    evs = events_of(d.ctl("ask", "--session", "s1", "--json", "Hello?"))
    assert [e["text"] for e in evs if e.get("event") == "text"] == ["Hello", "! How can I help you today?"]
    assert kinds(evs)[-1] == "turn_complete"


def test_seed1_text_is_printed_as_it_arrives(ctx):
    emu = ctx.emulator(time_scale=1, script={"rules": [], "default": [
        {"chunks": ["First chunk."]}, {"delay_ms": 3000}, {"chunks": [" Second chunk."]}]})
    d = ctx.daemon(emu)
    p = subprocess.Popen([d.proc.argv[0].replace("gliveD", "glivectl"), "--socket", d.socket, "ask", "Hello?"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = os.read(p.stdout.fileno(), 100)
        assert first.startswith(b"First chunk."), first
        assert p.poll() is None  # still running: the rest has not even been generated yet
        rest = p.stdout.read()
        assert p.wait(10) == 0 and rest.strip() == b"Second chunk.", rest
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
        p.stderr.close()


def test_seed2_lights_tool_call_roundtrip(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    p = d.ctl("ask", "--session", "s2", "--json", *LIGHTS, "Turn on the lights")
    evs = events_of(p)
    call = next(e for e in evs if e.get("event") == "tool_call")
    assert call["name"] == "turn_on_the_lights" and call["args"] == {}
    assert call["call_id"].startswith("function-call-") and call["call_id"][14:].isdigit()
    assert "turned on the lights" in "".join(e["text"] for e in evs if e.get("event") == "text")
    got = emu.log(kind="tool_response")
    assert [(g["id"], g["name"], g["response"]) for g in got] == \
        [(call["call_id"], "turn_on_the_lights", {"result": {"string_value": "ok"}})]
    plain = d.ctl("ask", "--session", "s2", *LIGHTS, "Turn on the lights")
    assert "OK, I've turned on the lights." in plain.stdout_text
    assert "turn_on_the_lights" in plain.stderr_text  # the [tool] line


def test_seed3_lights_audio_to_wav(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    wav = os.path.join(ctx.tmp, "lights.wav")
    evs = events_of(d.ctl("ask", "--session", "s3", "--wav", wav, "--json", *LIGHTS, "Turn on the lights"))
    assert "tool_call" in kinds(evs) and "audio" in kinds(evs)
    pcm = read_wav(wav)
    assert len(pcm) > 0 and pcm == pcm_of(evs)
    assert all(e["mime"] == "audio/pcm;rate=24000" for e in evs if e.get("event") == "audio")
    assert len(emu.log(kind="tool_response")) == 1


def test_seed4_prime_palindrome_code_execution_audio(ctx):
    d = ctx.daemon(ctx.emulator())
    wav = os.path.join(ctx.tmp, "prime.wav")
    p = d.ctl("ask", "--session", "s4", "--wav", wav, "--json", "--code-execution",
              "What is the largest prime palindrome under 100000")
    evs = events_of(p)
    code = [e for e in evs if e.get("event") == "code"]
    result = [e for e in evs if e.get("event") == "code_result"]
    assert code and code[0]["language"] == "PYTHON"
    assert result and "98689" in result[0]["output"] and result[0]["outcome"] == "OUTCOME_OK"
    assert read_wav(wav) == pcm_of(evs) and len(pcm_of(evs)) > 0
    readable = d.ctl("ask", "--session", "s4b", "--code-execution", "What is the largest prime palindrome under 100000")
    assert "98689" in readable.stdout_text


def test_seed5_search_grounding_text_and_audio(ctx):
    d = ctx.daemon(ctx.emulator())
    p = d.ctl("ask", "--session", "s5", "--google-search", PROMPT5)
    assert "Cape Mendocino" in p.stdout_text and "7.0" in p.stdout_text
    assert "Sources:" in p.stdout_text + p.stderr_text
    wav = os.path.join(ctx.tmp, "quake.wav")
    evs = events_of(d.ctl("ask", "--session", "s5a", "--google-search", "--wav", wav, "--json", PROMPT5))
    g = [e for e in evs if e.get("event") == "grounding"]
    assert g and g[0]["metadata"]["groundingChunks"], g
    assert read_wav(wav) == pcm_of(evs)


def test_seed6_compositional_lights_with_wait(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    wav = os.path.join(ctx.tmp, "compose.wav")
    t0 = time.monotonic()
    evs = events_of(d.ctl("ask", "--session", "s6", "--code-execution", *LIGHTS, "--wav", wav, "--json", PROMPT6))
    names = [e["name"] for e in evs if e.get("event") == "tool_call"]
    assert names == ["turn_on_the_lights", "turn_off_the_lights"], names
    assert [g["name"] for g in emu.log(kind="tool_response")] == names
    assert read_wav(wav) == pcm_of(evs) and kinds(evs)[-1] == "turn_complete"
    assert time.monotonic() - t0 < 30  # the 10 s wait is time-scaled in tests


def test_seed7_three_tasks(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    wav = os.path.join(ctx.tmp, "three.wav")
    evs = events_of(d.ctl("ask", "--session", "s7", "--code-execution", "--google-search", *LIGHTS,
                          "--wav", wav, "--json", PROMPT7))
    k = kinds(evs)
    assert "tool_call" in k and "audio" in k and k[-1] == "turn_complete", k
    assert k.index("tool_call") < k.index("audio")
    assert any("98689" in e.get("output", "") for e in evs if e.get("event") == "code_result")
    assert any(e.get("event") == "grounding" for e in evs)
    assert read_wav(wav) == pcm_of(evs)


def test_watch_sees_another_clients_turn(ctx):
    d = ctx.daemon(ctx.emulator())
    d.ctl("ask", "--session", "w", "Hello?")
    glivectl = d.proc.argv[0].replace("gliveD", "glivectl")
    w = ctx.start("watch", [glivectl, "--socket", d.socket, "watch", "--json", "w"])
    d.client().ok("status")
    time.sleep(0.3)  # let watch subscribe
    d.ctl("ask", "--session", "w", "repeat after me: watched")
    from harness import wait_for
    wait_for(lambda: "turn_complete" in w.stdout(), 10, "watch output")
    assert "watched" in w.stdout()
    assert w.stop() == 0


def test_glivectl_errors_exit_nonzero_with_message(ctx):
    d = ctx.daemon(ctx.emulator())
    p = subprocess.run([d.proc.argv[0].replace("gliveD", "glivectl"), "--socket", ctx.tmp + "/nope.sock",
                        "status"], capture_output=True, text=True)
    assert p.returncode == 3 and "nope.sock" in p.stderr
    d.ctl("ask", "--session", "e", "Hello?")
    p = d.ctl("ask", "--session", "e", "--audio", "--wav", ctx.tmp + "/x.wav", "Hello?", check=False)
    assert p.returncode == 1 and "conflict" in p.stderr_text
    p = d.ctl("ask", check=False)
    assert p.returncode == 2
