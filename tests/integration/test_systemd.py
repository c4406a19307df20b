"""gliveD under systemd's protocols, without a running systemd: socket activation through
systemd-socket-activate (the daemon serves the passed socket and never unlinks it), and Type=notify
read from a fake NOTIFY_SOCKET (a path and an abstract address): READY=1 once the socket
listens, STATUS= lines, WATCHDOG=1 every half of WATCHDOG_USEC, STOPPING=1."""
import os
import shutil
import signal
import socket
import stat
import time

import harness
from harness import LineClient, Skip, wait_for


def gliveD_argv(emu, *extra):
    return [os.path.join(harness.BUILD, "gliveD"), "--endpoint", emu.ws_base, "--ca-file", emu.ca,
            "--model", "gemini-live-2.5-flash-preview", "--log-level", "debug",
            "--code-exec", "off"] + list(extra)


def test_socket_activation_serves_the_passed_socket_and_leaves_it_in_place(ctx):
    if not shutil.which("systemd-socket-activate"):
        raise Skip("systemd-socket-activate is not installed")
    emu = ctx.emulator()
    sock = os.path.join(ctx.tmp, "activated.sock")
    # -E passes the key through; gliveD's own --socket points elsewhere: the passed socket wins
    p = ctx.start("activate", ["systemd-socket-activate", "-l", sock, "-E", "GEMINI_API_KEY"] +
                  gliveD_argv(emu, "--socket", os.path.join(ctx.tmp, "unused.sock")),
                  env={"GEMINI_API_KEY": "test-key"})
    # it binds, then listens, then says so: only then is a connection not refused
    wait_for(lambda: f"Listening on {sock}" in p.stderr() or not p.alive(), 10, "the socket")
    c = LineClient(sock)  # this connection starts gliveD (systemd-socket-activate execs it)
    assert c.ok("hello")["daemon"] == "gliveD"
    c.ok("open", session="a")
    turn = c.ok("send", session="a", text="Hello?")["turn"]
    assert any(e["event"] == "turn_complete" for e in c.turn_events(turn))
    err = p.stderr()
    assert "listening on %s (the socket systemd passed)" % sock in err, err
    assert not os.path.exists(os.path.join(ctx.tmp, "unused.sock"))
    c.close()
    assert p.stop() == 0, p.stderr()
    st = os.lstat(sock)  # the socket belongs to whoever passed it: still there
    assert stat.S_ISSOCK(st.st_mode)
    assert "stopped listening on %s" % sock in p.stderr()


class NotifySocket:
    """A fake systemd notify socket: a datagram socket at a path or an abstract address."""

    def __init__(self, ctx, abstract):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"glive-test-notify-{os.getpid()}-{time.monotonic_ns()}"
            self.s.bind("\0" + name)
            self.env = "@" + name
        else:
            path = os.path.join(ctx.tmp, "notify.sock")
            self.s.bind(path)
            self.env = path
        self.msgs = []

    def read(self, timeout=0.2):
        self.s.settimeout(timeout)
        try:
            while True:
                self.msgs.append(self.s.recv(4096).decode())
                self.s.settimeout(0.01)
        except socket.timeout:
            pass
        return self.msgs

    def wait(self, pred, timeout=10, what="a notify message"):
        return wait_for(lambda: [m for m in self.read() if pred(m)], timeout, what)


def notified_daemon(ctx, abstract, env=None):
    n = NotifySocket(ctx, abstract)
    emu = ctx.emulator()
    d = ctx.daemon(emu, args=["--code-exec", "off"], env=dict(env or {}, NOTIFY_SOCKET=n.env))
    return n, d


def check_ready_status_stopping(ctx, abstract):
    n, d = notified_daemon(ctx, abstract)
    ready = n.wait(lambda m: "READY=1" in m, what="READY=1")[0]
    assert ready.split("\n") == ["READY=1", "STATUS=0 sessions, 0 clients"], ready
    c = d.client()
    c.ok("open", session="s")
    n.wait(lambda m: m == "STATUS=1 session, 1 client", what="STATUS with the session")
    assert not [m for m in n.msgs if "WATCHDOG" in m]  # not asked for
    os.kill(d.proc.pid, signal.SIGHUP)
    n.wait(lambda m: m.startswith("RELOADING=1\nMONOTONIC_USEC="), what="RELOADING=1")
    n.wait(lambda m: m.startswith("READY=1\nSTATUS="), what="READY=1 after the reload")
    c.close()
    assert d.proc.stop() == 0
    n.wait(lambda m: m.startswith("STOPPING=1"), what="STOPPING=1")


def test_notify_ready_status_reload_stopping_on_a_path(ctx):
    check_ready_status_stopping(ctx, abstract=False)


def test_notify_ready_status_reload_stopping_on_an_abstract_address(ctx):
    check_ready_status_stopping(ctx, abstract=True)


def test_watchdog_pings_every_half_of_watchdog_usec(ctx):
    n, d = notified_daemon(ctx, abstract=True, env={"WATCHDOG_USEC": "200000"})  # 0.2 s
    n.wait(lambda m: "READY=1" in m, what="READY=1")
    n.read()
    n.msgs.clear()
    t0 = time.monotonic()
    time.sleep(1.5)
    pings = [m for m in n.read() if m == "WATCHDOG=1"]
    # every 0.1 s: about 15 in that time (a loaded machine may delay some, never add any)
    assert 5 <= len(pings) <= 18, (len(pings), time.monotonic() - t0)
    assert "systemd watchdog: a ping every 100 ms" in d.proc.stderr()


def test_watchdog_of_another_pid_is_not_ours(ctx):
    n, d = notified_daemon(ctx, abstract=False, env={"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"})
    n.wait(lambda m: "READY=1" in m, what="READY=1")
    time.sleep(0.5)
    assert not [m for m in n.read() if "WATCHDOG" in m]
