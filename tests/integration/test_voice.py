"""Voice and vision in (issue 9) through the real binaries: glivectl talk and the audio/image ops
against the emulator (which recognises the recordings in tests/data/), over real sockets."""
import base64
import math
import os
import struct
import time
import wave

import harness
from harness import wait_for

DATA = os.path.join(os.path.dirname(__file__), "..", "data")


def voice(name):
    return os.path.abspath(os.path.join(DATA, f"voice-{name}.wav"))


def read_pcm(path):
    with wave.open(path) as w:
        return w.getframerate(), w.getnchannels(), w.readframes(w.getnframes())


def write_wav(path, rate, frames, channels=1):
    with wave.open(path, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


def upsample_stereo(src, dst, factor=3):
    """16 kHz mono -> 48 kHz stereo by linear interpolation: gliveD must bring it back."""
    rate, _, pcm = read_pcm(src)
    s = struct.unpack(f"<{len(pcm) // 2}h", pcm)
    out = bytearray()
    for i in range(len(s)):
        a, b = s[i], s[i + 1] if i + 1 < len(s) else s[i]
        for k in range(factor):
            v = int(a + (b - a) * k / factor)
            out += struct.pack("<hh", v, v)
    write_wav(dst, rate * factor, bytes(out), channels=2)


def test_talk_a_spoken_question_gets_a_spoken_answer_with_both_transcripts(ctx):
    d = ctx.daemon(ctx.emulator())
    out = os.path.join(ctx.tmp, "a.wav")
    p = d.ctl("talk", "--in", voice("hello"), "--out", out)
    assert "[you] Hello?" in p.stderr_text, p.stderr_text
    assert "[model] Hello! How can I help you today?" in p.stderr_text, p.stderr_text
    rate, channels, pcm = read_pcm(out)
    assert rate == 24000 and channels == 1 and len(pcm) > 24000, (rate, channels, len(pcm))


def test_talk_resamples_any_rate_and_downmixes_stereo(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    src = os.path.join(ctx.tmp, "hello48.wav")
    upsample_stereo(voice("hello"), src)
    p = d.ctl("talk", "--in", src, "--fast")
    assert "[you] Hello?" in p.stderr_text, p.stderr_text
    turns = emu.log(kind="audio_turn")
    assert turns and turns[0]["rate"] == 16000 and turns[0]["transcript"] == "Hello?", turns


def test_talk_the_seeds_tool_scenario_spoken(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu, model=None)  # 3.8 Live: the call is NON_BLOCKING, answered in a follow-up
    p = d.ctl("talk", "--in", voice("lights"), "--fast", "--function", "turn_on_the_lights")
    assert "[you] Turn on the lights" in p.stderr_text, p.stderr_text
    assert "[tool] turn_on_the_lights" in p.stderr_text, p.stderr_text
    assert "OK, I've turned on the lights." in p.stderr_text, p.stderr_text
    assert [g["name"] for g in emu.log(kind="tool_response")] == ["turn_on_the_lights"]


def stream(c, session, path, pace=True):
    rate, _, pcm = read_pcm(path)
    step = rate // 50 * 2  # 20 ms
    t0 = time.monotonic()
    for i in range(0, len(pcm), step):
        c.ok("audio", session=session, data=base64.b64encode(pcm[i:i + step]).decode(), rate=rate)
        if pace:
            delay = t0 + (i + step) / 2 / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)


def test_barge_in_stops_the_answer(ctx):
    emu = ctx.emulator(time_scale=1.0)  # the answer's audio plays at real pace: time to barge in
    d = ctx.daemon(emu)
    c = d.client()
    c.ok("open", session="b", modality="AUDIO", input_transcription=True, output_transcription=True)
    stream(c, "b", voice("palindrome"), pace=False)
    c.ok("audio.end", session="b")
    started = c.next_event(timeout=15, where=lambda e: e["event"] == "turn_started")
    assert started["cause"] == "audio"
    c.next_event(timeout=15, where=lambda e: e["event"] == "audio" and e.get("turn") == started["turn"])
    stream(c, "b", voice("stop"))  # the user speaks over the answer
    c.ok("audio.end", session="b")
    cut = c.next_event(timeout=15, where=lambda e: e["event"] == "interrupted")
    assert cut["turn"] == started["turn"] and cut["final"] is False, cut
    after = c.turn_events(started["turn"], timeout=15)
    assert not [e for e in after if e["event"] == "audio"], after  # the audio stopped at once
    assert emu.log(kind="speech_start")[-1]["barge_in"] is True


def test_an_image_reaches_the_service_byte_exact(ctx):
    import hashlib
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    png = bytes.fromhex("89504e470d0a1a0a") + os.urandom(200)
    c = d.client()
    c.ok("open", session="i")
    wait_for(lambda: c.ok("list")["sessions"][0]["state"] == "ready", 10, "ready")
    c.ok("image", session="i", data=base64.b64encode(png).decode(), mime="image/png")
    t = c.ok("send", session="i", text="what is on this picture?")["turn"]
    said = "".join(e["text"] for e in c.turn_events(t) if e["event"] == "text")
    digest = hashlib.sha256(png).hexdigest()
    assert digest[:12] in said and str(len(png)) in said, said
    assert emu.log(kind="image")[0]["sha256"] == digest


def test_activity_marks_drive_the_turn_with_vad_off(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    c = d.client()
    c.ok("open", session="m", vad=False, input_transcription=True)
    wait_for(lambda: c.ok("list")["sessions"][0]["state"] == "ready", 10, "ready")
    c.ok("activity.start", session="m")
    stream(c, "m", voice("hello"), pace=False)
    r = c.request("audio.end", session="m")
    assert r["error"]["code"] == "bad_request"  # with vad off, activity.end ends the turn
    c.ok("activity.end", session="m")
    started = c.next_event(timeout=15, where=lambda e: e["event"] == "turn_started")
    evs = c.turn_events(started["turn"])
    heard = "".join(e["text"] for e in evs if e["event"] == "transcript" and e["source"] == "input")
    assert heard == "Hello?", evs
    assert emu.log(kind="audio_turn")[0]["via"] == "activity_end"


def test_audio_and_image_ops_refuse_what_would_break_the_session(ctx):
    d = ctx.daemon(ctx.emulator())
    c = d.client()
    c.ok("open", session="v")
    bad = [
        ({"data": "AAE"}, "multiple of 4"),
        ({"data": "AA=="}, "even number of bytes"),
        ({"data": "!!!!"}, "not base64"),
        ({"data": "AAAA", "rate": 7999}, "8000..192000"),
    ]
    for fields, why in bad:
        r = c.request("audio", session="v", **fields)
        assert not r["ok"] and r["error"]["code"] == "bad_request" and why in r["error"]["message"], r
    r = c.request("image", session="v", data="AAAA", mime="image/gif")
    assert r["error"]["code"] == "bad_request" and "image/jpeg" in r["error"]["message"], r
    r = c.request("activity.start", session="v")
    assert r["error"]["code"] == "bad_request" and "vad" in r["error"]["message"], r
    r = c.request("send", session="v", text="x", parts=[{"text": "y"}])
    assert r["error"]["code"] == "bad_request", r


def test_audio_after_a_goaway_reaches_the_new_connection_once(ctx):
    """goAway mid-conversation: the audio streamed while gliveD drains, reconnects and resumes
    waits (bounded) and reaches the new connection, every byte once. (An utterance the cut itself
    splits: the next test.)"""
    emu = ctx.emulator(script={"rules": [{"match": "go away", "steps": [{"goaway_ms": 100}, {"say": "bye"}]}],
                               "default": [{"echo": True}]})
    d = ctx.daemon(emu)
    c = d.client()
    c.ok("open", session="g")
    t = c.ok("send", session="g", text="go away")["turn"]
    c.turn_events(t)
    rate, _, pcm = read_pcm(voice("hello"))
    chunks = [pcm[i:i + 640] for i in range(0, len(pcm), 640)]
    for ch in chunks:  # across the goAway and the resumed connection
        c.ok("audio", session="g", data=base64.b64encode(ch).decode())
    c.ok("audio.end", session="g")
    turn = wait_for(lambda: emu.log(kind="audio_turn"), 15, "the spoken turn")[0]
    assert turn["bytes"] == len(pcm), (turn["bytes"], len(pcm))  # every byte once
    assert turn["transcript"] == "Hello?"
    assert emu.stats()["connections_total"] == 2 and turn["conn"] == 2, (emu.stats(), turn)


def test_an_utterance_a_goaway_cuts_in_two_reaches_the_next_connection_whole_once(ctx):
    """The goAway comes while the user is speaking: the service forgets what the old connection
    took after its newest handle, so gliveD sends that part again first on the resumed
    connection; the emulator hears the whole question there, every byte once."""
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    c = d.client()
    c.ok("open", session="g")
    wait_for(lambda: c.ok("list")["sessions"][0]["state"] == "ready", 10, "ready")
    rate, _, pcm = read_pcm(voice("hello"))
    chunks = [pcm[i:i + 640] for i in range(0, len(pcm), 640)]
    half = len(chunks) // 2
    for ch in chunks[:half]:
        c.ok("audio", session="g", data=base64.b64encode(ch).decode(), rate=rate)
    wait_for(lambda: emu.stats()["messages"]["realtimeInput"] >= half, 10, "the first half on conn 1")
    assert emu.get("/emulator/goaway?ms=2000")["goaways"] == 1
    wait_for(lambda: emu.stats()["setups"] == 2 and c.ok("list")["sessions"][0]["state"] == "ready",
             10, "resumed on a new connection")
    for ch in chunks[half:]:
        c.ok("audio", session="g", data=base64.b64encode(ch).decode(), rate=rate)
    c.ok("audio.end", session="g")
    turn = wait_for(lambda: emu.log(kind="audio_turn"), 15, "the spoken turn")
    assert len(turn) == 1, turn
    assert turn[0]["conn"] == 2 and turn[0]["bytes"] == len(pcm), (turn, len(pcm))  # whole, once
    assert turn[0]["transcript"] == "Hello?", turn
    cut = emu.log(kind="audio_cut")  # the premise: connection 1 lost the utterance's beginning
    assert len(cut) == 1 and cut[0]["conn"] == 1 and 0 < cut[0]["bytes"] < len(pcm), cut
    assert "sent again first on the next one" in d.proc.stderr()


def test_watch_shows_both_transcripts_of_a_spoken_turn(ctx):
    d = ctx.daemon(ctx.emulator())
    d.ctl("talk", "--in", voice("hello"), "--out", os.path.join(ctx.tmp, "a.wav"))  # opens "talk"
    glivectl = d.proc.argv[0].replace("gliveD", "glivectl")
    w = ctx.start("watch", [glivectl, "--socket", d.socket, "watch", "talk"])
    c = d.client()
    wait_for(lambda: c.ok("list")["sessions"][0]["subscribers"] == 1, 10, "watch subscribed")
    d.ctl("talk", "--in", voice("hello"), "--out", os.path.join(ctx.tmp, "b.wav"))
    wait_for(lambda: "[turn 2 complete]" in w.stdout(), 10, "watch output")
    out = w.stdout()
    assert "[turn 2 started: audio]" in out, out
    heard = "".join(l.split("] ", 1)[1] for l in out.splitlines() if l.startswith("[transcript input"))
    said = "".join(l.split("] ", 1)[1] for l in out.splitlines() if l.startswith("[transcript output"))
    assert heard == "Hello?" and said == "Hello! How can I help you today?", out
    assert w.stop() == 0


def test_ask_image_sends_the_picture_with_the_question_in_one_turn(ctx):
    import hashlib
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    jpg = os.path.join(ctx.tmp, "photo.jpg")  # told by its first bytes, whatever its name
    body = bytes.fromhex("ffd8ffe0") + os.urandom(300)
    with open(jpg, "wb") as f:
        f.write(body)
    p = d.ctl("ask", "--session", "pic", "--image", jpg, "what is on this picture?")
    digest = hashlib.sha256(body).hexdigest()
    assert digest[:12] in p.stdout_text and str(len(body)) in p.stdout_text, p.stdout_text
    assert emu.log(kind="image")[0]["sha256"] == digest
    img = emu.log(kind="image")[0]
    assert img["mime"] == "image/jpeg" and img["via"] == "clientContent", img  # in the turn itself
    # neither PNG nor JPEG, missing, too big: usage errors naming the file, nothing sent
    txt = os.path.join(ctx.tmp, "notes.png")
    with open(txt, "w") as f:
        f.write("not a picture")
    big = os.path.join(ctx.tmp, "big.png")
    with open(big, "wb") as f:
        f.write(bytes.fromhex("89504e470d0a1a0a") + b"\0" * (7 << 20))
    for path, why in ((txt, "neither a PNG nor a JPEG"), (ctx.tmp + "/none.jpg", "No such file"),
                      (big, "more than 7 MiB")):
        p = d.ctl("ask", "--session", "pic", "--image", path, "and this one?", check=False)
        assert p.returncode == 2 and path in p.stderr_text and why in p.stderr_text, p.stderr_text
    assert len(emu.log(kind="image")) == 1
