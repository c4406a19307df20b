"""Live audio devices for glivectl (issues 9 and 12): `talk --mic --play`, `ask --play`,
`chat --play` through ALSA, without a sound card. Two kinds of test PCM stand in for the devices,
defined in an asoundrc that ALSA_CONFIG_PATH loads after the system's alsa.conf, for glivectl
only:

- ALSA's `file` plugin over `null` (glivetest, glivetest_play, glivetest_mic): playback writes
  what glivectl wrote to a file, capture reads a file (its `infile`) as the microphone. The null
  PCM has no clock (alsa-lib 1.2.8, checked by hand and in pcm_file.c / pcm_null.c): capture
  gives frames as fast as they are read, and past the end of the infile it counts frames without
  filling them (glivectl reads them as silence); playback takes every frame at once, so nothing
  ever waits in the device and the file holds exactly what glivectl wrote.
- tests/alsa/pcm_glivetest_clock.c (glivetest_paced), a plugin built with the tests that plays
  and records at the real rate, by the clock, as a sound card does: the file holds what was
  played, so what a barge-in dropped in the device is missing from it."""
import os
import signal
import time
import wave

import harness
from harness import wait_for

DATA = os.path.join(os.path.dirname(__file__), "..", "data")
ALSA_CONF = "/usr/share/alsa/alsa.conf"


def CLOCK_PLUGIN():
    return os.path.join(harness.BUILD, "tests", "alsa", "libasound_module_pcm_glivetest_clock.so")


def voice(name):
    return os.path.abspath(os.path.join(DATA, f"voice-{name}.wav"))


def wav_pcm(path):
    with wave.open(path) as w:
        return w.getframerate(), w.readframes(w.getnframes())


class Devices:
    """The test's PCMs: `glivetest_play` (playback into played.raw), `glivetest_mic` (capture from
    a raw s16le file) and `glivetest`, both in one as the `default` of a desktop is."""

    def __init__(self, ctx, mic_wav=None, tag="a", mic_pcm=None):
        self.dir = os.path.join(ctx.tmp, f"alsa-{tag}")
        os.makedirs(self.dir)
        self.played = os.path.join(self.dir, "played.raw")
        self.question = os.path.join(self.dir, "question.raw")
        if mic_wav:
            rate, pcm = wav_pcm(mic_wav)
            assert rate == 16000, rate
            with open(self.question, "wb") as f:
                f.write(pcm)
        else:
            with open(self.question, "wb") as f:
                f.write(mic_pcm or b"")
        conf = os.path.join(self.dir, "asoundrc")
        with open(conf, "w") as f:
            f.write(f'pcm.glivetest_play {{ type file; slave.pcm "null"; file "{self.played}"; format "raw" }}\n'
                    f'pcm.glivetest_mic {{ type file; slave.pcm "null"; file "/dev/null"; '
                    f'infile "{self.question}"; format "raw" }}\n'
                    'pcm.glivetest { type asym; playback.pcm "glivetest_play"; capture.pcm "glivetest_mic" }\n'
                    f'pcm_type.glivetest_clock {{ lib "{CLOCK_PLUGIN()}" }}\n'
                    f'pcm.glivetest_paced {{ type glivetest_clock; outfile "{self.played}"; '
                    f'infile "{self.question}" }}\n')
        if not os.path.exists(ALSA_CONF):
            raise harness.Skip(f"no {ALSA_CONF} (libasound2-data)")
        self.env = {"ALSA_CONFIG_PATH": f"{ALSA_CONF}:{conf}"}

    def played_bytes(self):
        with open(self.played, "rb") as f:
            return f.read()


def glivectl(d):
    return d.proc.argv[0].replace("gliveD", "glivectl")


def ctl(ctx, d, dev, name, *args, stdin=None, timeout=60):
    """glivectl ARGS with the test's ALSA configuration, started and stopped by pid."""
    p = ctx.start(name, [glivectl(d), "--socket", d.socket] + list(args), env=dev.env, stdin=stdin)
    try:
        p.wait(timeout=timeout)
    finally:
        p.stop()
    return p


def test_talk_mic_play_a_spoken_question_and_its_spoken_answer_through_the_devices(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    dev = Devices(ctx, mic_wav=voice("hello"))
    # 0.74 s of speech, then silence (the file plugin past its infile): the emulator's VAD ends
    # the turn after 500 ms of it
    p = ctl(ctx, d, dev, "talk-mic", "talk", "--session", "live", "--mic", "--play", "--device", "glivetest",
            "--seconds", "2")
    err = p.stderr()
    assert p.rc == 0, err
    assert '[listening on "glivetest" at 16000 Hz' in err, err
    assert "[you] Hello?" in err and "[model] Hello! How can I help you today?" in err, err
    turn = emu.log(kind="audio_turn")[0]
    assert turn["transcript"] == "Hello?" and turn["rate"] == 16000, turn
    played = dev.played_bytes()
    # the same question from the WAV, the answer written by --out: the same bytes were played
    out = os.path.join(ctx.tmp, "answer.wav")
    d.ctl("talk", "--session", "file", "--in", voice("hello"), "--fast", "--out", out)
    rate, answer = wav_pcm(out)
    assert rate == 24000 and len(answer) > 24000, (rate, len(answer))
    assert played == answer, (len(played), len(answer))


def test_talk_play_barge_in_stops_the_answer(ctx):
    # the full answer to the palindrome question, fast
    d0 = ctx.daemon(ctx.emulator(name="emu-fast"), name="gliveD-fast")
    full = os.path.join(ctx.tmp, "full.wav")
    d0.ctl("talk", "--in", voice("palindrome"), "--fast", "--out", full)
    _, answer = wav_pcm(full)
    # the same at the answer's real pace, with the user speaking over it
    emu = ctx.emulator(time_scale=1.0)
    d = ctx.daemon(emu)
    dev = Devices(ctx)
    p = ctx.start("talk-play", [glivectl(d), "--socket", d.socket, "talk", "--session", "b", "--in",
                                voice("palindrome"), "--fast", "--play", "--device", "glivetest_play",
                                "--out", os.path.join(ctx.tmp, "cut.wav")], env=dev.env)
    wait_for(lambda: os.path.exists(dev.played) and os.path.getsize(dev.played) > 0, 20, "the answer playing")
    c = d.client()
    stream_paced(c, "b", voice("stop"))
    c.ok("audio.end", session="b")
    p.wait(timeout=30)
    p.stop()
    err = p.stderr()
    assert p.rc == 0, err
    assert "[interrupted" in err, err
    played = dev.played_bytes()
    _, cut = wav_pcm(os.path.join(ctx.tmp, "cut.wav"))
    assert 0 < len(played) < len(answer), (len(played), len(answer))
    assert played == answer[:len(played)], "the played audio is the start of the answer"
    assert played == cut, (len(played), len(cut))  # nothing after the interruption
    assert emu.log(kind="speech_start")[-1]["barge_in"] is True


def stream_paced(c, session, path):
    import base64
    rate, pcm = wav_pcm(path)
    step = rate // 50 * 2
    t0 = time.monotonic()
    for i in range(0, len(pcm), step):
        c.ok("audio", session=session, data=base64.b64encode(pcm[i:i + step]).decode(), rate=rate)
        delay = t0 + (i + step) / 2 / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def test_ask_play_plays_the_answer_that_ask_wav_writes(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    dev = Devices(ctx)
    wav = os.path.join(ctx.tmp, "a.wav")
    d.ctl("ask", "--session", "w", "--wav", wav, "Hello?")
    p = ctl(ctx, d, dev, "ask-play", "ask", "--session", "p", "--play", "--device", "glivetest_play", "Hello?")
    assert p.rc == 0, p.stderr()
    rate, answer = wav_pcm(wav)
    assert rate == 24000 and len(answer) > 0
    assert dev.played_bytes() == answer, (len(dev.played_bytes()), len(answer))
    assert "[transcript]" in p.stderr(), p.stderr()


def test_chat_play_plays_each_answer(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    dev = Devices(ctx)
    wav = os.path.join(ctx.tmp, "a.wav")
    d.ctl("ask", "--session", "w", "--wav", wav, "Hello?")
    d.ctl("ask", "--session", "w", "--wav", os.path.join(ctx.tmp, "b.wav"), "Hello?")
    stdin = open(os.path.join(ctx.tmp, "lines"), "w+b")
    stdin.write(b"Hello?\nHello?\n")
    stdin.seek(0)
    p = ctl(ctx, d, dev, "chat-play", "chat", "--session", "c", "--play", "--device", "glivetest_play",
            stdin=stdin)
    assert p.rc == 0, p.stderr()
    _, a = wav_pcm(wav)
    _, b = wav_pcm(os.path.join(ctx.tmp, "b.wav"))
    assert dev.played_bytes() == a + b, (len(dev.played_bytes()), len(a), len(b))


def test_audio_device_errors_are_one_line_and_exit_1(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    dev = Devices(ctx)
    cases = [
        ("talk", "--mic", "--device", "nope"),
        ("talk", "--in", voice("hello"), "--play", "--device", "nope"),
        ("ask", "--play", "--device", "nope", "Hello?"),
        ("chat", "--play", "--device", "nope"),
    ]
    for i, args in enumerate(cases):
        p = ctl(ctx, d, dev, f"err{i}", *args)
        lines = p.stderr().splitlines()
        assert p.rc == 1 and lines == ['glivectl: cannot open audio device "nope": No such file or directory'], \
            (args, p.rc, lines)
    assert not emu.log(kind="prompt") and not emu.log(kind="audio_turn")  # nothing was sent
    # usage: --device without a device to use it, --mic with --in, --seconds without --mic
    for i, args in enumerate([("ask", "--device", "glivetest", "Hello?"),
                              ("talk", "--mic", "--in", voice("hello")),
                              ("talk", "--seconds", "2", "--in", voice("hello")),
                              ("talk", "--device", "glivetest", "--in", voice("hello"))]):
        p = ctl(ctx, d, dev, f"usage{i}", *args)
        lines = p.stderr().splitlines()
        assert p.rc == 2 and lines[0].startswith("glivectl ") and "--" in lines[0], (args, p.rc, lines)
        assert len(lines) == 1 or lines[1] == f"Try 'glivectl {args[0]} --help'.", lines


def test_play_on_a_text_session_is_refused(ctx):
    d = ctx.daemon(ctx.emulator())
    dev = Devices(ctx)
    d.ctl("open", "--session", "t")  # TEXT
    p = ctl(ctx, d, dev, "ask-text", "ask", "--session", "t", "--play", "--device", "glivetest_play", "Hi")
    assert p.rc == 1 and "conflict" in p.stderr(), p.stderr()
    assert not os.path.exists(dev.played) or dev.played_bytes() == b""


# ---- on the paced device ------------------------------------------------------------------------

def test_paced_ask_play_plays_the_whole_answer_then_exits(ctx):
    """A real-rate device: ask waits for the end of the answer to be played, not just received."""
    d = ctx.daemon(ctx.emulator())
    dev = Devices(ctx)
    wav = os.path.join(ctx.tmp, "a.wav")
    d.ctl("ask", "--session", "w", "--wav", wav, "Hello?")
    _, answer = wav_pcm(wav)
    t0 = time.monotonic()
    p = ctl(ctx, d, dev, "ask-paced", "ask", "--session", "p", "--play", "--device", "glivetest_paced", "Hello?")
    took = time.monotonic() - t0
    assert p.rc == 0, p.stderr()
    assert dev.played_bytes() == answer, (len(dev.played_bytes()), len(answer))
    assert took >= len(answer) / 2 / 24000 - 0.1, took  # played at its pace, to its end


def silence(seconds, rate=16000):
    return b"\0\0" * int(seconds * rate)


def test_paced_talk_mic_play_barge_in_by_voice_drops_what_the_device_holds(ctx):
    """The conversation as a person has it: the question, a pause, and the user speaking over the
    spoken answer through the microphone; the answer stops, and what the device still held is
    never played (the played file is shorter than what glivectl received, written by --out)."""
    emu = ctx.emulator(time_scale=1.0)
    d = ctx.daemon(emu)
    _, question = wav_pcm(voice("palindrome"))
    _, stop = wav_pcm(voice("stop"))
    dev = Devices(ctx, mic_pcm=question + silence(1.5) + stop)
    out = os.path.join(ctx.tmp, "received.wav")
    p = ctl(ctx, d, dev, "talk-paced", "talk", "--session", "live", "--mic", "--play", "--device",
            "glivetest_paced", "--out", out, "--seconds", "8", timeout=60)
    err = p.stderr()
    assert p.rc == 0, err
    assert "[you] What is the largest prime palindrome under 100000" in err, err
    assert "[interrupted" in err, err
    assert "[you] Stop, wait a moment" in err, err
    assert emu.log(kind="speech_start")[1]["barge_in"] is True, emu.log(kind="speech_start")
    _, received = wav_pcm(out)
    played = dev.played_bytes()
    dropped = len(received) - len(played)
    # at most the device's 200 ms buffer and a few chunks on their way
    assert 0 < dropped <= 24000 * 2 * 0.5, (len(received), len(played))
    print(f"  (received {len(received)} bytes, played {len(played)}: {dropped / 48:.0f} ms dropped at the barge-in)")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_paced_talk_mic_idles_cheaply_and_ends_on_sigterm_without_a_turn(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    dev = Devices(ctx)  # the microphone hears silence
    p = ctx.start("talk-idle", [glivectl(d), "--socket", d.socket, "talk", "--mic", "--play", "--device",
                                "glivetest_paced"], env=dev.env)
    wait_for(lambda: "[listening" in p.stderr(), 10, "listening")
    time.sleep(0.5)
    c0, t0 = cpu_seconds(p.pid), time.monotonic()
    time.sleep(3)
    share = (cpu_seconds(p.pid) - c0) / (time.monotonic() - t0)
    os.kill(p.pid, signal.SIGTERM)
    p.wait(timeout=10)
    p.stop()
    assert p.rc == 0 and "[stopped listening" in p.stderr(), p.stderr()
    limit = 0.25 if harness.SANITIZED else 0.05
    assert share < limit, f"glivectl used {share:.1%} of a CPU while listening to silence"
    print(f"  (glivectl listening: {share:.2%} of a CPU, 50 chunks a second to gliveD)")
