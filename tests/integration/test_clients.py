"""The client libraries (issue 12): clients/python (the glive package) and clients/node, each
through its example programs against the emulator and gliveD, on gliveD's default model
(3.8 Live: NON_BLOCKING calls answered in a turn of their own) and on gemini-live-2.5-flash-preview
(blocking calls answered in the same turn); plus each library's own unit tests."""
import base64
import json
import os
import shutil
import struct
import subprocess
import sys
import time

import harness
from harness import wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYDIR = os.path.join(ROOT, "clients", "python")
NODEDIR = os.path.join(ROOT, "clients", "node")
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
MODEL_2_5 = "gemini-live-2.5-flash-preview"
SURE = "Sure, turning on the lights."
DONE = "OK, I've turned on the lights."


def node():
    n = shutil.which("node")
    if not n:
        raise harness.Skip("node is not installed")
    return n


def python_example(name, *args):
    return [PY, os.path.join(PYDIR, "examples", name)] + list(args)


def node_example(name, *args):
    return [node(), os.path.join(NODEDIR, "examples", name)] + list(args)


def run(ctx, d, name, argv, timeout=30):
    """Runs a client program against gliveD d (found by $GLIVE_SOCKET, the libraries' socket
    rule); returns its stdout. Stopped by pid like every process the test starts."""
    p = ctx.start(name, argv, env={"GLIVE_SOCKET": d.socket, "PYTHONPATH": PYDIR})
    try:
        rc = p.wait(timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{name} did not finish in {timeout} s; stdout: {p.stdout()!r}; "
                             f"stderr: {p.stderr()[-2000:]}")
    assert rc == 0, f"{name} exited {rc}: {p.stderr()[-3000:]}"
    return p.stdout()


def read_wav(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt " and data[36:40] == b"data", data[:44]
    riff, = struct.unpack("<I", data[4:8])
    fmt, channels, rate, byte_rate, block, bits = struct.unpack("<HHIIHH", data[20:36])
    assert (fmt, channels, rate, byte_rate, block, bits) == (1, 1, 24000, 48000, 2, 16)
    size, = struct.unpack("<I", data[40:44])
    assert size == len(data) - 44 and riff == len(data) - 8, (size, riff, len(data))
    return data[44:]


def answers(emu):
    return [(a["name"], a["response"]) for a in emu.log(kind="tool_response")]


# ---- the libraries' own unit tests -----------------------------------------------------------

def test_python_unit_tests(ctx):
    p = subprocess.run([PY, "-m", "unittest", "discover", "-s", os.path.join(PYDIR, "tests"), "-v"],
                       capture_output=True, text=True, timeout=120, cwd=ctx.tmp)
    assert p.returncode == 0 and "\nOK" in p.stderr, p.stderr[-4000:]
    ran = int(p.stderr.split("\nRan ")[1].split()[0])
    assert ran >= 25, ran


def test_node_unit_tests(ctx):
    tests = sorted(os.path.join(NODEDIR, "test", f) for f in os.listdir(os.path.join(NODEDIR, "test"))
                   if f.endswith(".test.js"))
    p = subprocess.run([node(), "--test"] + tests, capture_output=True, text=True, timeout=120, cwd=ctx.tmp)
    assert p.returncode == 0 and "# fail 0" in p.stdout, p.stdout[-4000:] + p.stderr[-2000:]
    passed = int(p.stdout.split("# pass ")[1].split()[0])
    assert passed >= 15, passed


def test_python_package_installs_with_pip_offline(ctx):
    if subprocess.run([PY, "-m", "pip", "--version"], capture_output=True).returncode != 0:
        raise harness.Skip("pip is not installed (python3-pip)")
    src = os.path.join(ctx.tmp, "src")
    shutil.copytree(PYDIR, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = os.path.join(ctx.tmp, "site")
    p = subprocess.run([PY, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                        "--disable-pip-version-check", "--target", site, src],
                       capture_output=True, text=True, timeout=120, cwd=ctx.tmp)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    p = subprocess.run([PY, "-c", "import glive, sys; print(glive.__version__, glive.__file__)"],
                       capture_output=True, text=True, timeout=30, cwd=ctx.tmp, env=dict(os.environ, PYTHONPATH=site))
    assert p.returncode == 0 and p.stdout.startswith("0.1.0 " + site), p.stdout + p.stderr


# ---- seed 1: streamed text -------------------------------------------------------------------

def test_seed1_hello_both_libraries(ctx):
    d = ctx.daemon(ctx.emulator(), model=None)
    assert run(ctx, d, "py-hello", python_example("hello.py", "s1py")) == "Hello! How can I help you today?\n"
    assert run(ctx, d, "node-hello", node_example("hello.mjs", "s1node")) == "Hello! How can I help you today?\n"


def test_seed1_text_is_printed_as_it_arrives(ctx):
    """The iterators hand each text event over as it comes: the first chunk is out while the
    model has not generated the second."""
    emu = ctx.emulator(time_scale=1, script={"rules": [], "default": [
        {"chunks": ["First chunk."]}, {"delay_ms": 1500}, {"chunks": [" Second chunk."]}]})
    d = ctx.daemon(emu, model=None)
    progs = {"py-stream": python_example("hello.py", "st-py"), "node-stream": node_example("hello.mjs", "st-node")}
    procs = {n: ctx.start(n, argv, env={"GLIVE_SOCKET": d.socket, "PYTHONPATH": PYDIR}) for n, argv in progs.items()}
    for n, p in procs.items():
        wait_for(lambda: "First chunk." in p.stdout() or not p.alive(), 10, f"{n}'s first chunk")
        assert p.alive() and "Second" not in p.stdout(), (n, p.stdout(), p.stderr())
    for n, p in procs.items():
        assert p.wait(10) == 0, p.stderr()
        assert p.stdout() == "First chunk. Second chunk.\n", (n, p.stdout())


# ---- seed 2: a function served by the program ------------------------------------------------

def check_lights_text(out, model_2_5=False):
    assert DONE in out, out
    if not model_2_5:  # 3.8: the call's answer comes in a turn of its own, after the first one
        assert out.index(SURE) < out.index(DONE), out


def test_seed2_python_tool_on_default_model(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu, model=None)
    check_lights_text(run(ctx, d, "py-lights", python_example("lights.py", "s2py")))
    assert answers(emu) == [("turn_on_the_lights", {"lights": "on"})]
    check_lights_text(run(ctx, d, "py-lights-async", python_example("lights_async.py", "s2pya")))
    assert answers(emu)[1:] == [("turn_on_the_lights", {"lights": "on"})]
    session = [s for s in d.client().ok("list")["sessions"] if s["session"] == "s2py"][0]
    assert session["pending_tool_calls"] == 0 and session["model"] == "gemini-3.8-live", session


def test_seed2_node_tool_on_default_model(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu, model=None)
    check_lights_text(run(ctx, d, "node-lights", node_example("lights.mjs", "s2node")))
    assert answers(emu) == [("turn_on_the_lights", {"lights": "on"})]


def test_seed2_both_libraries_on_gemini_2_5(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu, model=MODEL_2_5)
    check_lights_text(run(ctx, d, "py-lights", python_example("lights.py", "p")), model_2_5=True)
    check_lights_text(run(ctx, d, "py-lights-async", python_example("lights_async.py", "pa")), model_2_5=True)
    check_lights_text(run(ctx, d, "node-lights", node_example("lights.mjs", "n")), model_2_5=True)
    assert answers(emu) == [("turn_on_the_lights", {"lights": "on"})] * 3
    assert {s["model"] for s in d.client().ok("list")["sessions"]} == {MODEL_2_5}


def test_seed2_handler_processes_serve_glivectl_prompts(ctx):
    """A process that only serves functions (Python sync and asyncio, Node), prompted by
    glivectl: the handler is another connection than the prompting one."""
    emu = ctx.emulator()
    d = ctx.daemon(emu, model=None)
    handlers = [("py-handler", python_example("lights_handler.py")),
                ("py-handler-async", python_example("lights_handler.py", "--async")),
                ("node-handler", node_example("lights_handler.mjs"))]
    for i, (name, argv) in enumerate(handlers):
        h = ctx.start(name, argv, env={"GLIVE_SOCKET": d.socket, "PYTHONPATH": PYDIR})
        wait_for(lambda: "serving" in h.stdout() or not h.alive(), 10, f"{name} registered")
        assert h.alive(), h.stderr()
        tools = d.client().ok("status")["tools"]
        assert sorted(t["name"] for t in tools) == ["turn_off_the_lights", "turn_on_the_lights"], tools
        out = d.ctl("ask", "--session", f"h{i}", "--function", "turn_on_the_lights", "Turn on the lights").stdout_text
        check_lights_text(out)
        assert answers(emu)[i] == ("turn_on_the_lights", {"lights": "on"}), answers(emu)
        h.stop()
        assert "[tool] lights on" in h.stderr(), h.stderr()
        wait_for(lambda: not d.client().ok("status")["tools"], 10, "the handler's registrations to end")


# ---- seed 3: the answer in AUDIO, to a WAV ---------------------------------------------------

def check_wav(ctx, d, emu, name, argv, model_2_5=False):
    events_path = os.path.join(ctx.tmp, f"{name}.jsonl")
    wav = os.path.join(ctx.tmp, f"{name}.wav")
    out = run(ctx, d, name, argv(wav, events_path))
    check_lights_text(out, model_2_5)  # the transcript of the spoken answer
    evs = [json.loads(line) for line in open(events_path)]
    audio = [e for e in evs if e["event"] == "audio"]
    assert audio and all(e["mime"] == "audio/pcm;rate=24000" for e in audio)
    assert read_wav(wav) == b"".join(base64.b64decode(e["data"]) for e in audio)
    if not model_2_5:  # both turns' audio: the first one's and the follow-up's
        assert len({e["turn"] for e in audio}) == 2, {e["turn"] for e in audio}
    assert answers(emu)[-1] == ("turn_on_the_lights", {"lights": "on"})


def test_seed3_audio_to_wav_both_libraries(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu, model=None)
    check_wav(ctx, d, emu, "py-wav", lambda w, e: python_example("lights_wav.py", w, "s3py", "--events", e))
    check_wav(ctx, d, emu, "node-wav", lambda w, e: node_example("lights_wav.mjs", w, "s3node", "--events", e))


def test_seed3_audio_to_wav_on_gemini_2_5(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu, model=MODEL_2_5)
    check_wav(ctx, d, emu, "py-wav", lambda w, e: python_example("lights_wav.py", w, "s3py", "--events", e), True)
    check_wav(ctx, d, emu, "node-wav", lambda w, e: node_example("lights_wav.mjs", w, "s3node", "--events", e), True)
