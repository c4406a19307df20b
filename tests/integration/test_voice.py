"""Voice and vision in (issue 9) through the real binaries: glivectl talk and the audio/image ops
against the emulator, over real sockets."""
import base64
import math
import os
import struct
import wave

from harness import wait_for


def write_wav(path, rate, seconds, hz=440.0, channels=1):
    n = int(rate * seconds)
    with wave.open(path, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = bytearray()
        for i in range(n):
            s = int(8000 * math.sin(2 * math.pi * hz * i / rate))
            frames += struct.pack("<h", s) * channels
        w.writeframes(bytes(frames))


def test_talk_streams_a_wav_at_any_rate_and_writes_the_spoken_answer(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    src, out = os.path.join(ctx.tmp, "q.wav"), os.path.join(ctx.tmp, "a.wav")
    write_wav(src, 44100, 1.0, channels=2)  # stereo at 44.1 kHz: downmixed, resampled to 16 kHz
    p = d.ctl("talk", "--in", src, "--fast", "--out", out)
    assert "[model] I heard 1.0 seconds of audio." in p.stderr_text, p.stderr_text
    with wave.open(out) as w:
        assert w.getframerate() == 24000 and w.getnchannels() == 1 and w.getnframes() > 0
    assert emu.stats()["messages"]["realtimeInput"] >= 2


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


def test_audio_before_the_connection_waits_and_is_not_lost(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    c = d.client()
    c.ok("open", session="w")
    pcm = struct.pack("<320h", *([1000] * 320))  # 20 ms at 16 kHz
    for _ in range(5):
        c.ok("audio", session="w", data=base64.b64encode(pcm).decode())
    wait_for(lambda: emu.stats()["messages"]["realtimeInput"] >= 1, 10, "the audio to arrive")
    c.ok("audio.end", session="w")
    wait_for(lambda: emu.stats()["messages"]["realtimeInput"] >= 2, 10, "audioStreamEnd")
