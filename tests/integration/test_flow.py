"""Flow control (issue 11, "a slow client keeps its own answer"): a turn's asker that reads slower
than the Live API sends makes its session stop reading the service until it catches up, so it
gets every byte and the daemon's memory stays bounded; a subscriber that lags is cut as before;
an asker that reads nothing at all is cut after --sender-timeout."""
import base64
import hashlib
import json
import socket
import time

import harness
from harness import rss_kib, wait_for

CHUNKS = 8000  # 160 s of 24 kHz audio in 20 ms chunks: about 11 MB of event lines
MAX_OUTPUT = 4 << 20  # the daemon's --max-output here: the flow marks are 1 MiB and 256 KiB


def stream_pcm(chunks):
    """What emulator/stream.c sends: sample k is ((k * 7919) ^ (k >> 9)) & 0xFFFF."""
    out = bytearray()
    for k in range(chunks * 480):
        out += (((k * 7919) ^ (k >> 9)) & 0xFFFF).to_bytes(2, "little")
    return bytes(out)


class RawAsker(harness.LineClient):
    """Opens an AUDIO session, asks for the stream, then reads at a chosen pace (bytes/s; None:
    as fast as it can), keeping every line of the turn. `on_tick` runs between reads."""

    def __init__(self, path, session):
        super().__init__(path)
        self.session = session
        self.lines = []

    def ask_stream(self, chunks):
        self.ok("open", session=self.session, modality="AUDIO")
        return self.ok("send", session=self.session, text=f"emu:stream audio_ms={chunks * 20}")["turn"]

    def read_turn(self, turn, pace=None, on_tick=None, timeout=120):
        """Reads until the turn's turn_complete; returns (event lines of the turn, bytes, seconds)."""
        self.sock.setblocking(False)
        got, t0, deadline = 0, time.monotonic(), time.monotonic() + timeout
        data = bytearray(self.buf)
        self.buf = b""
        done = False
        while not done:
            assert time.monotonic() < deadline, f"turn {turn} not complete in {timeout} s ({got} bytes)"
            want = 65536
            if pace:
                want = max(1, min(want, int(pace * (time.monotonic() - t0)) - got))
            try:
                chunk = self.sock.recv(want)
                if not chunk:
                    raise EOFError(f"gliveD closed the connection after {got} bytes")
                got += len(chunk)
                data += chunk
            except BlockingIOError:
                time.sleep(0.002)
            if pace:
                time.sleep(0.002)
            if on_tick:
                on_tick()
            while True:
                nl = data.find(b"\n")
                if nl < 0:
                    break
                m = json.loads(bytes(data[:nl]))
                del data[:nl + 1]
                if m.get("turn") == turn:
                    self.lines.append(m)
                    if m.get("event") in ("turn_complete", "interrupted", "error"):
                        done = True
                        break
        self.buf = bytes(data)
        self.sock.setblocking(True)
        return self.lines, got, time.monotonic() - t0

    def close(self):
        self.sock.close()


def pcm_of(lines):
    return b"".join(base64.b64decode(m["data"]) for m in lines if m["event"] == "audio")


def session_info(d, name):
    c = d.client()
    try:
        return [s for s in c.ok("list")["sessions"] if s["session"] == name][0]
    finally:
        c.close()


def test_an_asker_reading_at_a_tenth_of_the_pace_gets_every_byte_in_bounded_memory(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu, args=["--max-output", str(MAX_OUTPUT)])
    want = hashlib.sha256(stream_pcm(CHUNKS)).hexdigest()

    # the pace of the turn through gliveD, read as fast as a client can (about 160 MB/s here: the
    # emulator, not this reader, sets it)
    fast = RawAsker(d.socket, "fast")
    lines, nbytes, secs = fast.read_turn(fast.ask_stream(CHUNKS))
    assert lines[-1]["event"] == "turn_complete", lines[-1]
    assert hashlib.sha256(pcm_of(lines)).hexdigest() == want
    pace = nbytes / secs
    fast.close()

    # the same turn, read at a tenth of that pace: without flow control gliveD would queue the
    # answer for it until --max-output and cut it
    base = rss_kib(d.proc.pid)
    peak = [base]

    def sample():
        peak[0] = max(peak[0], rss_kib(d.proc.pid))

    slow = RawAsker(d.socket, "slow")
    turn = slow.ask_stream(CHUNKS)
    lines, nbytes, secs = slow.read_turn(turn, pace=pace / 10, on_tick=sample)
    assert lines[-1]["event"] == "turn_complete", lines[-1]
    assert hashlib.sha256(pcm_of(lines)).hexdigest() == want, "the slow asker lost audio"
    assert nbytes > 2 * MAX_OUTPUT  # it really read more than gliveD may hold for it
    info = session_info(d, "slow")
    assert info["flow_waits"] >= 1, info  # it did wait for its asker
    assert "waiting_for_client" not in info, info
    assert "is not reading" not in d.proc.stderr()
    if not harness.SANITIZED:  # ASan's quarantine keeps freed memory: RSS says nothing there
        grew = peak[0] - base
        assert grew < MAX_OUTPUT // 1024, f"gliveD grew {grew} KiB while the slow asker read"
    slow.close()


def test_an_asker_that_reads_nothing_is_cut_after_the_sender_timeout_and_the_turn_goes_on(ctx):
    emu = ctx.emulator()
    # the turn (2.7 MB of lines) fits the subscriber's --max-output: only the asker can be cut
    d = ctx.daemon(emu, args=["--max-output", str(MAX_OUTPUT), "--sender-timeout", "1"])
    watcher = d.client()
    watcher.ok("open", session="s", modality="AUDIO")
    watcher.ok("subscribe", session="s")
    asker = RawAsker(d.socket, "s")
    turn = asker.ask_stream(2000)
    # the asker never reads again; the subscriber reads everything: the turn waits for the
    # asker until it is cut, then goes on for the subscriber
    events = watcher.turn_events(turn, timeout=60)
    assert events[-1]["event"] == "turn_complete", events[-1]
    assert "has read nothing for" in d.proc.stderr()
    assert "--sender-timeout" in d.proc.stderr()
    pcm = b"".join(base64.b64decode(e["data"]) for e in events if e["event"] == "audio")
    assert pcm == stream_pcm(2000)  # the subscriber lost nothing either
    # the session goes on: a new turn for the subscriber
    r = watcher.ok("send", session="s", text="emu:stream audio_ms=200")
    assert [e["event"] for e in watcher.turn_events(r["turn"])].count("audio") == 10
    assert session_info(d, "s")["flow_waits"] >= 1
    asker.close()
    watcher.close()


def test_a_lagging_subscriber_is_still_cut_and_the_asker_keeps_its_answer(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu, args=["--max-output", str(1 << 20)])
    lagger = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lagger.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    lagger.connect(d.socket)
    lagger.sendall(b'{"op":"open","session":"s","modality":"AUDIO","id":1}\n'
                   b'{"op":"subscribe","session":"s","id":2}\n')
    asker = RawAsker(d.socket, "s")
    turn = asker.ask_stream(3000)  # about 4 MB of event lines: four times the lagger's bound
    lines, _, _ = asker.read_turn(turn)
    assert lines[-1]["event"] == "turn_complete", lines[-1]
    assert hashlib.sha256(pcm_of(lines)).hexdigest() == hashlib.sha256(stream_pcm(3000)).hexdigest()
    wait_for(lambda: "is not reading" in d.proc.stderr(), 10, "the lagging subscriber cut")
    lagger.close()
    asker.close()
