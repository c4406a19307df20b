"""Hostile clients against one daemon (issue 10) while a normal client has a turn: the normal
turn completes, the daemon answers, and its memory stays bounded."""
import json
import os
import resource
import socket
import time

import harness
from harness import rss_kib, wait_for


def raw(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def test_hostile_clients_cannot_hurt_a_normal_turn(ctx):
    chunk = "y" * 4000
    emu = ctx.emulator(script={"rules": [{"match": "long answer", "steps": [{"chunks": [chunk] * 400}]}],
                               "default": [{"echo": True}]})
    d = ctx.daemon(emu, args=["--max-clients", "3000", "--max-output-total", "33554432",
                              "--max-sessions-per-uid", "40"])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    base = rss_kib(d.proc.pid)
    normal = d.client()
    normal.ok("open", session="normal")
    wait_for(lambda: normal.ok("list")["sessions"][0]["state"] == "ready", 10, "ready")
    hostile = []
    try:
        # garbage and a 100 MB line (bounded by --max-line: the line is discarded)
        g = raw(d.socket)
        g.sendall(b"\x00\xff garbage {{{\n" * 100)
        big = raw(d.socket)
        big.setblocking(False)
        sent = 0
        block = b"x" * (1 << 20)
        deadline = time.monotonic() + 10
        while sent < 100 << 20 and time.monotonic() < deadline:
            try:
                sent += big.send(block)
            except BlockingIOError:
                time.sleep(0.001)
            except OSError:
                break
        hostile += [g, big]
        # 60 subscribers that never read
        for _ in range(60):
            s = raw(d.socket)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b'{"op":"subscribe","session":"normal"}\n')
            hostile.append(s)
        # half-closed sockets
        for _ in range(20):
            s = raw(d.socket)
            s.sendall(b'{"op":"hello"}\n')
            s.shutdown(socket.SHUT_WR)
            hostile.append(s)
        # one client opening sessions as fast as it can: refused past --max-sessions-per-uid
        opener = d.client()
        refused = 0
        for i in range(200):
            r = opener.request("open", session=f"many{i}")
            refused += not r["ok"] and r["error"]["code"] == "refused"
        assert refused >= 200 - 40 + 1, refused
        # 2000 connections at once
        for _ in range(2000):
            try:
                hostile.append(raw(d.socket))
            except OSError:
                break
        # meanwhile the normal turn completes, whole
        t = normal.ok("send", session="normal", text="long answer")["turn"]
        evs = normal.turn_events(t, timeout=60)
        assert evs[-1]["event"] == "turn_complete", evs[-1]
        assert sum(len(e["text"]) for e in evs if e["event"] == "text") == 4000 * 400
        assert normal.ok("status")["version"]
        grew = rss_kib(d.proc.pid) - base
        print(f"  gliveD RSS grew by {grew} KiB under the hostile load")
        bound = 150 * 1024 * (4 if harness.SANITIZED else 1)  # ASan's shadow memory and quarantine
        assert grew < bound, f"gliveD grew by {grew} KiB"
    finally:
        for s in hostile:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
