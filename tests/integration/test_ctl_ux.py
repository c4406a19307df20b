"""glivectl for people (issue 12): open/close, `ask -`, chat (piped and on a terminal), the status
lines of ask (queued, connecting, reconnecting, the Live API unreachable: the prompt is dropped),
--audio refusing a terminal, one-line usage errors with "did you mean", rounded numbers, the
sessions table, and the bash/zsh completion scripts. glivectl -> the real gliveD -> the emulator."""
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import termios
import time

import harness
from harness import Skip, wait_for

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPLETION = os.path.join(REPO, "client", "glivectl", "completion")
FAST_BACKOFF = ["--backoff-min", "0.05", "--backoff-max", "0.3"]


def glivectl():
    return os.path.join(harness.BUILD, "glivectl")


def run(*argv, stdin=None, env=None, timeout=30):
    p = subprocess.run(list(argv), capture_output=True, timeout=timeout, input=stdin,
                       env=dict(os.environ, **(env or {})))
    p.out = p.stdout.decode(errors="replace")
    p.err = p.stderr.decode(errors="replace")
    return p


def prompts_seen(emu):
    return [e["text"] for e in emu.log(kind="prompt")]


class Pty:
    """A program on a terminal of its own: what it writes is read back, keys are typed."""

    def __init__(self, argv, env):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: only exec, never back into the test
            try:
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.out = b""

    def editing(self, timeout=10):
        """Waits until the line editor has the terminal (not canonical: keys go to it one by one).
        libedit may show its prompt before that; a key typed meanwhile is the tty driver's (^D
        an EOF the switch loses, ^C a SIGINT and the line flushed)."""
        wait_for(lambda: not termios.tcgetattr(self.fd)[3] & termios.ICANON, timeout, "raw terminal")

    def read_until(self, needle, timeout=30):
        """Waits for needle in what the program wrote since the last needle found (a prompt seen
        earlier does not count for the next one). Returns that output."""
        deadline = time.monotonic() + timeout
        while needle.encode() not in self.out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {needle!r} on the terminal within {timeout}s: {self.out!r}")
            r, _, _ = select.select([self.fd], [], [], min(left, 0.2))
            if r:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:  # EIO: the program is gone
                    raise AssertionError(f"terminal closed before {needle!r}: {self.out!r}")
                self.out += chunk
        head, _, self.out = self.out.partition(needle.encode())
        self.seen = getattr(self, "seen", b"") + head + needle.encode()
        return (head + needle.encode()).decode(errors="replace")

    def type(self, data):
        os.write(self.fd, data)

    def wait(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:  # keep draining, or a full terminal buffer would block the program
                r, _, _ = select.select([self.fd], [], [], 0.1)
                if r:
                    self.out += os.read(self.fd, 65536)
            except OSError:
                pass
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.fd)
        raise AssertionError(f"still running after {timeout}s: {self.out!r}; before: {getattr(self, 'seen', b'')[-600:]!r}")


# ---- open, close, ask - ---------------------------------------------------------------------


def test_open_attach_and_close(ctx):
    d = ctx.daemon(ctx.emulator())
    p = d.ctl("open", "--session", "k", "--keep-connected", "--system", "Be brief")
    assert re.match(r"^k: created, \w+, gemini-live-2.5-flash-preview, TEXT\n$", p.stdout_text), p.stdout_text
    p = d.ctl("open", "--session", "k")  # no config fields: attaches whatever the config
    assert p.stdout_text.startswith("k: attached, "), p.stdout_text
    entry = next(s for s in d.client().ok("list")["sessions"] if s["session"] == "k")
    assert entry["keep_connected"] is True
    # keep_connected is not the session's configuration: an attach changes it, no conflict
    assert d.ctl("open", "--session", "k", "--no-keep-connected").stdout_text.startswith("k: attached, ")
    entry = next(s for s in d.client().ok("list")["sessions"] if s["session"] == "k")
    assert "keep_connected" not in entry, entry
    d.ctl("open", "--session", "k", "--keep-connected")
    entry = next(s for s in d.client().ok("list")["sessions"] if s["session"] == "k")
    assert entry["keep_connected"] is True
    assert d.ctl("ask", "--session", "k", "Hello?").stdout_text == "Hello! How can I help you today?\n"
    p = d.ctl("open", "--session", "k", "--audio", check=False)
    assert p.returncode == 1 and "conflict" in p.stderr_text, p.stderr_text
    assert d.ctl("close", "--session", "k").stdout_text == "k: closed\n"
    assert "k" not in [s["session"] for s in d.client().ok("list")["sessions"]]
    p = d.ctl("close", "--session", "k", check=False)
    assert p.returncode == 1 and "no_session" in p.stderr_text, p.stderr_text
    p = d.ctl("open", "--session", "j", "--json")
    assert '"ok":true' in p.stdout_text and '"created":true' in p.stdout_text, p.stdout_text


def test_ask_dash_reads_the_prompt_from_stdin(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    p = d.ctl("ask", "--session", "s", "-", stdin=b"repeat after me: from stdin\n\n")
    assert p.stdout_text == "You said: repeat after me: from stdin\n", p.stdout_text
    p = d.ctl("ask", "--session", "s", "--", "-")  # after --, a lone dash is the prompt itself
    assert p.stdout_text == "I heard you say: -\n", p.stdout_text
    p = d.ctl("ask", "--session", "s", "-", stdin=b"\n", check=False)
    assert p.returncode == 2 and "the prompt on stdin is empty" in p.stderr_text, p.stderr_text
    assert prompts_seen(emu) == ["repeat after me: from stdin", "-"]


# ---- usage errors, numbers, the sessions table ------------------------------------------------


def test_usage_errors_are_one_line_and_a_hint(ctx):
    cases = [
        (["stauts"], 'glivectl: unknown command "stauts" (did you mean "status"?)', "glivectl --help"),
        (["ask", "--sesion", "x", "hi"], 'unknown option "--sesion" for ask (did you mean "--session"?)',
         "glivectl ask --help"),
        (["chat", "--wav", "x.wav"], 'unknown option "--wav" for chat', "glivectl chat --help"),
        (["sessions", "--jsn"], 'unknown option "--jsn" (did you mean "--json"?)', "glivectl sessions --help"),
        (["tool", "--nmae", "f", "--", "true"], 'did you mean "--name"?', "glivectl tool --help"),
        (["--socke", "x", "status"], 'did you mean "--socket"?', "glivectl --help"),
        (["ask"], "glivectl ask: missing PROMPT", "glivectl ask --help"),
        (["watch"], "glivectl watch: missing SESSION", "glivectl watch --help"),
        (["open", "extra"], 'glivectl open: unexpected argument "extra"', "glivectl open --help"),
        ([], "missing COMMAND (one of: ask, chat, open, close, watch, sessions, status, tool, talk)", "glivectl --help"),
    ]
    for argv, msg, hint in cases:
        p = run(glivectl(), "--socket", os.path.join(ctx.tmp, "none.sock"), *argv)
        lines = p.err.splitlines()
        assert p.returncode == 2, (argv, p.returncode, p.err)
        assert len(lines) == 2 and msg in lines[0] and lines[1] == f"Try '{hint}'.", (argv, p.err)
        assert "Usage:" not in p.err and p.out == "", (argv, p.err)
    for cmd in ("ask", "chat", "open", "close"):  # --help still prints the whole usage, on stdout
        p = run(glivectl(), cmd, "--help")
        assert p.returncode == 0 and p.out.startswith(f"Usage: glivectl {cmd}"), p.out


def test_audio_refuses_a_terminal_as_stdout(ctx):
    d = ctx.daemon(ctx.emulator())
    master, slave = pty.openpty()
    try:
        p = subprocess.run([glivectl(), "--socket", d.socket, "ask", "--audio", "Hello?"], stdout=slave,
                           stderr=subprocess.PIPE, timeout=30)
    finally:
        os.close(slave)
        os.close(master)
    err = p.stderr.decode()
    assert p.returncode == 2, err
    assert "--audio writes raw PCM to stdout, which is a terminal" in err and "--wav FILE" in err, err
    assert d.client().ok("list")["sessions"] == []  # refused before anything was asked of gliveD
    pcm = d.ctl("ask", "--audio", "Hello?").stdout  # a pipe is fine
    assert len(pcm) > 1000


def test_status_rounds_numbers_and_sessions_shows_tokens_and_activity(ctx):
    d = ctx.daemon(ctx.emulator())
    d.ctl("ask", "--session", "s1", "Hello?")
    time.sleep(0.05)  # connection_age_s: a real with a fraction by now
    status = d.ctl("status").stdout_text
    assert "connection_age_s" in status, status
    assert not re.search(r"\d\.\d{3,}", status), status  # 12.7, not 12.718999999999999
    raw = d.ctl("status", "--json").stdout_text  # --json stays as gliveD said it
    assert '"connection_age_s":' in raw
    lines = d.ctl("sessions").stdout_text.splitlines()
    assert lines[0].split() == ["SESSION", "STATE", "MODEL", "MODALITY", "TURNS", "SUBSCRIBERS", "TOKENS",
                                "LAST-ACTIVITY"], lines
    row = lines[1].split()
    assert row[0] == "s1" and row[4] == "1" and row[6].isdigit() and int(row[6]) > 0, lines  # tokens
    assert row[7] == "now" or row[7].endswith(" ago"), lines


# ---- what ask says while it waits -------------------------------------------------------------


def test_ask_says_connecting_and_quiet_or_json_do_not(ctx):
    d = ctx.daemon(ctx.emulator())
    p = d.ctl("ask", "--session", "a", "Hello?")
    assert "[connecting to the Live API]" in p.stderr_text, p.stderr_text
    p = d.ctl("ask", "--session", "b", "--quiet", "Hello?")
    assert p.stderr_text == "" and p.stdout_text == "Hello! How can I help you today?\n", p.stderr_text
    p = d.ctl("ask", "--session", "c", "--json", "Hello?")
    assert p.stderr_text == "", p.stderr_text
    p = d.ctl("ask", "--session", "a", "Hello?")  # connected already: nothing to say
    assert p.stderr_text == "", p.stderr_text


def test_ask_says_its_place_in_the_queue(ctx):
    script = {"rules": [{"match": "slow", "steps": [{"say": "Thinking."}, {"delay_ms": 1500},
                                                    {"say": "Done."}]}],
              "default": [{"say": "I heard you say: {prompt}"}]}
    d = ctx.daemon(ctx.emulator(script=script, time_scale=1))
    d.ctl("open", "--session", "q")
    first = ctx.start("first", [glivectl(), "--socket", d.socket, "ask", "--session", "q", "slow one"])
    wait_for(lambda: "Thinking." in first.stdout(), 10, "the first answer to start")
    p = d.ctl("ask", "--session", "q", "second")
    assert "[queued: position 1; the session is answering another prompt]" in p.stderr_text, p.stderr_text
    assert p.stdout_text == "I heard you say: second\n"
    assert first.wait(10) == 0 and first.stdout() == "Thinking. Done.\n", first.stdout()


def test_ask_gives_up_at_once_when_the_live_api_is_unreachable_and_the_prompt_is_dropped(ctx):
    emu = ctx.emulator()
    emu.proc.stop()  # its port is now closed: gliveD's first connection is refused
    d = ctx.daemon(emu, args=FAST_BACKOFF)
    # chat gives up the same way, says so, and goes on with its next line
    c = d.ctl("chat", "--session", "u", stdin=b"repeat after me: not sent either\n/quit\n", check=False)
    assert c.returncode == 1 and "cannot reach the Live API" in c.stderr_text, c.stderr_text
    t0 = time.monotonic()
    p = d.ctl("ask", "--session", "u2", "repeat after me: never sent", check=False)
    took = time.monotonic() - t0
    assert p.returncode == 1, (p.returncode, p.stderr_text)
    assert took < 2, f"took {took:.1f}s"
    assert "glivectl: cannot reach the Live API: " in p.stderr_text, p.stderr_text
    assert "(the prompt was not sent)" in p.stderr_text and "refused" in p.stderr_text, p.stderr_text

    # back at once: no later failure of gliveD's has to tell it that ask has gone
    emu2 = emu.restart("emulator-back")
    wait_for(lambda: all(s["state"] == "ready" for s in d.client().ok("list")["sessions"]), 15,
             "the sessions to connect")
    assert d.ctl("ask", "--session", "u", "repeat after me: after").stdout_text == "You said: repeat after me: after\n"
    assert prompts_seen(emu2) == ["repeat after me: after"], prompts_seen(emu2)  # the others were dropped


def test_ask_waits_through_reconnecting_and_says_so(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu, args=FAST_BACKOFF)
    d.ctl("ask", "--session", "r", "Hello?")  # the session has reached the service once
    emu.proc.stop()
    wait_for(lambda: any(s["session"] == "r" and s["state"] == "reconnecting"
                         for s in d.client().ok("list")["sessions"]), 10, "gliveD to notice")
    a = ctx.start("ask", [glivectl(), "--socket", d.socket, "--timeout", "30", "ask", "--session", "r",
                          "repeat after me: through it"])
    wait_for(lambda: "next in" in a.stderr(), 10, "a reconnecting line")
    assert a.alive(), a.stderr()  # it waits: the service was reachable before
    assert re.search(r"\[reconnecting: .*refused.*; attempt \d+ failed, next in \d+(\.\d)? s\]", a.stderr()), a.stderr()
    emu2 = emu.restart("emulator-back")
    assert a.wait(20) == 0, a.stderr()
    assert a.stdout() == "You said: repeat after me: through it\n", a.stdout()
    assert "[ready" in a.stderr(), a.stderr()
    assert prompts_seen(emu2) == ["repeat after me: through it"]


def test_ask_gives_up_a_prompt_still_unsent_at_the_timeout(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu, args=["--backoff-min", "5", "--backoff-max", "5"])
    d.ctl("ask", "--session", "t", "Hello?")
    emu.proc.stop()
    wait_for(lambda: any(s["session"] == "t" and s["state"] == "reconnecting"
                         for s in d.client().ok("list")["sessions"]), 10, "gliveD to notice")
    p = d.ctl("--timeout", "1", "ask", "--session", "t", "too late", check=False)
    assert p.returncode == 1, p.stderr_text
    assert "[reconnecting: " in p.stderr_text, p.stderr_text  # said at once, from list's last_close
    assert "the Live API was not reached within 1 s (the prompt was not sent)" in p.stderr_text, p.stderr_text


# ---- chat -----------------------------------------------------------------------------------


def test_chat_reads_lines_from_a_pipe(ctx):
    emu = ctx.emulator()
    d = ctx.daemon(emu)
    lines = b"Hello?\n\n/help\n/frob\n/clse\n//slashed\nrepeat after me: two\n/audio x.wav\n/quit\nnot sent\n"
    p = d.ctl("chat", "--session", "c", stdin=lines)
    assert p.stdout_text == ("Hello! How can I help you today?\nI heard you say: /slashed\n"
                             "You said: repeat after me: two\n"), p.stdout_text
    err = p.stderr_text
    assert "/audio FILE.wav" in err and "/quit" in err  # /help
    assert "[unknown command /frob; " in err and "(did you mean /close?)" in err, err
    assert "answers in TEXT: there is no audio to save" in err, err
    assert prompts_seen(emu) == ["Hello?", "/slashed", "repeat after me: two"]
    assert "c" in [s["session"] for s in d.client().ok("list")["sessions"]]  # /quit keeps it

    # end of input leaves too; the conversation goes on where it was
    p = d.ctl("chat", "--session", "c", stdin=b"what did I say?")
    assert "repeat after me: two" in p.stdout_text, p.stdout_text

    p = d.ctl("chat", "--session", "c", stdin=b"/close\n")
    assert "[session c closed]" in p.stderr_text
    assert "c" not in [s["session"] for s in d.client().ok("list")["sessions"]]


def test_chat_saves_audio_with_the_audio_command(ctx):
    d = ctx.daemon(ctx.emulator())
    wav = os.path.join(ctx.tmp, "a.wav")
    p = d.ctl("chat", "--session", "v", "--audio",
              stdin=f"Hello?\n/audio {wav}\nrepeat after me: saved\n/audio off\nHello?\n".encode())
    assert "[audio not saved: /audio FILE.wav saves it]" in p.stderr_text, p.stderr_text
    assert f"[audio saved to {wav}: " in p.stderr_text, p.stderr_text
    assert "[transcript] You said: repeat after me: saved" in p.stderr_text
    with open(wav, "rb") as f:
        data = f.read()
    assert data[:4] == b"RIFF" and len(data) > 44 + 24000  # about a second of speech, one answer only
    import struct
    size, = struct.unpack("<I", data[40:44])
    assert size == len(data) - 44


def test_chat_failed_prompt_and_lost_daemon_set_the_exit_status(ctx):
    d = ctx.daemon(ctx.emulator(args=["--deny-model", "retired-model"]))
    p = d.ctl("chat", "--session", "e", "--model", "retired-model", stdin=b"Hello?\n", check=False)
    assert p.returncode == 1, (p.returncode, p.stderr_text)
    assert "not found" in p.stderr_text, p.stderr_text
    p = run(glivectl(), "--socket", os.path.join(ctx.tmp, "none.sock"), "chat", stdin=b"Hello?\n")
    assert p.returncode == 3 and "none.sock" in p.err


def test_chat_on_a_terminal_edits_lines_and_keeps_history(ctx):
    d = ctx.daemon(ctx.emulator())
    state = os.path.join(ctx.tmp, "state")
    env = dict(os.environ, XDG_STATE_HOME=state, TERM="xterm", LC_ALL="C.UTF-8")
    t = Pty([glivectl(), "--socket", d.socket, "chat", "--session", "tty"], env)
    assert "[session tty: created," in t.read_until("tty> ")
    t.editing()
    t.type(b"Hello?\r")
    t.read_until("How can I help you today?")
    t.read_until("tty> ")
    t.editing()
    t.type(b"\x1b[A\r")  # up: the line before, again
    t.read_until("How can I help you today?")
    t.read_until("tty> ")
    t.editing()
    t.type(b"draft line\x03")  # Ctrl-C drops the line, a new prompt comes
    t.read_until("tty> ")
    # A SIGINT at once after the prompt, maybe before libedit reads the terminal: el_gets must
    # end all the same (edit_getc sees the flag; libedit's own read would block).
    os.kill(t.pid, signal.SIGINT)
    t.read_until("tty> ")
    t.editing()
    t.type("Grüße?\r".encode())  # a character of two bytes, read one byte at a time
    t.read_until("I heard you say: Grüße?")
    t.read_until("tty> ")
    t.editing()
    t.type(b"\x04")  # Ctrl-D leaves
    assert t.wait() == 0, t.seen + t.out
    hist_path = os.path.join(state, "glive", "chat_history")
    assert os.stat(hist_path).st_mode & 0o077 == 0, oct(os.stat(hist_path).st_mode)  # the user's only
    with open(hist_path) as f:
        hist = f.read()
    assert "Hello?" in hist and "draft" not in hist, hist
    assert "Grüße?" in hist or "Gr\\303\\274\\303\\237e?" in hist, hist  # libedit's vis(3) form
    assert not any(m in (t.seen + t.out).decode(errors="replace") for m in harness.SANITIZER_MARKS), t.out


# ---- completion -----------------------------------------------------------------------------


def help_options(cmd):
    text = run(glivectl(), cmd, "--help").out
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", text)) | ({"-q"} if "-q," in text else set())


def help_commands():
    top = run(glivectl(), "--help").out
    return re.findall(r"^  ([a-z]+) {2,}\S", top.split("Commands:")[1], re.M)


def bash_complete(words, env):
    script = (f"source {COMPLETION}/glivectl.bash\n"
              "COMP_WORDS=(\"$@\"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=()\n"
              "_glivectl; printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    p = run("bash", "-c", script, "bash", *words, env=env)
    assert p.returncode == 0, p.err
    return set(p.out.split())


def test_completion_scripts_parse_and_offer_every_command_and_option(ctx):
    bash = os.path.join(COMPLETION, "glivectl.bash")
    zsh = os.path.join(COMPLETION, "_glivectl")
    p = run("bash", "-n", bash)
    assert p.returncode == 0, p.err
    d = ctx.daemon(ctx.emulator())
    d.ctl("open", "--session", "kitchen")
    env = {"PATH": harness.BUILD + ":" + os.environ["PATH"], "GLIVE_SOCKET": d.socket}
    cmds = help_commands()
    assert {"ask", "chat", "open", "close"} <= set(cmds)
    assert bash_complete(["glivectl", ""], env) == set(cmds) | {"help"}
    assert bash_complete(["glivectl", "--socket", d.socket, "c"], env) == {"chat", "close"}
    for cmd in cmds:
        offered = bash_complete(["glivectl", cmd, "-"], env)
        assert help_options(cmd) <= offered, (cmd, help_options(cmd) - offered)
    assert bash_complete(["glivectl", "watch", ""], env) == {"kitchen"}
    assert bash_complete(["glivectl", "ask", "--session", "k"], env) == {"kitchen"}
    assert bash_complete(["glivectl", "tool", "--scheduling", ""], env) == {"INTERRUPT", "WHEN_IDLE", "SILENT"}

    zsh_bin = shutil.which("zsh")
    if not zsh_bin:
        raise Skip("bash completion checked; zsh is not installed, so _glivectl was not")
    p = run(zsh_bin, "-n", zsh)
    assert p.returncode == 0, p.err
    text = open(zsh).read()
    for cmd in cmds:
        assert f"'{cmd}:" in text, f"_glivectl lacks the command {cmd}"
        for opt in help_options(cmd):
            assert opt in text, f"_glivectl lacks {cmd} {opt}"
    # and a real zsh completes with it: the commands, then a session name from gliveD
    zdot = os.path.join(ctx.tmp, "zdot")
    os.makedirs(zdot)
    with open(os.path.join(zdot, ".zshrc"), "w") as f:
        f.write(f"fpath=({COMPLETION} $fpath)\nautoload -U compinit\ncompinit -u -d {zdot}/.zcompdump\n"
                "zstyle ':completion:*' list-prompt ''\nPROMPT='%% '\n")
    zenv = dict(os.environ, ZDOTDIR=zdot, TERM="dumb", **env)
    t = Pty([zsh_bin, "-i"], zenv)
    t.read_until("% ")
    t.type(b"glivectl \t")
    listing = t.read_until("% glivectl ")  # the list, then the command line again
    for cmd in cmds:
        assert re.search(rf"\b{cmd}\s+-- ", listing), (cmd, listing)
    t.type(b"\x15glivectl watch \t")
    t.read_until("kitchen")
    t.type(b"\x15exit\r")
    t.wait()
