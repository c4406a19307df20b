"""Who may do what (issue 10), through the real binaries: a second uid (nobody, 65534, made with
`setpriv --reuid 65534 --regid 65534 --clear-groups`) is refused, then let in by the socket group,
a supplementary group, or --allow-uid; sessions of one uid are invisible and untouchable to
another unless opened with shared: true. The tests need root (setpriv to another uid)."""
import array
import json
import os
import shutil
import socket
import stat
import subprocess

import harness
from harness import LineClient, Skip, wait_for

NOBODY = 65534
LIGHTS = [{"function_declarations": [{"name": "turn_on_the_lights"}]}]
# The child connects as the uid setpriv gave it and hands the connected socket back (argv[2]):
# the kernel recorded its credentials at connect (SO_PEERCRED, SO_PEERGROUPS), so the parent
# then speaks for that uid. It prints the errno name if connect fails.
CHILD = """
import array, errno, socket, sys
back = socket.socket(fileno=int(sys.argv[2]))
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno)); sys.exit(1)
back.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [s.fileno()]))])
"""


def need_root():
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        raise Skip("needs root and setpriv (util-linux) to act as a second uid")


class FdClient(LineClient):
    """A LineClient over a socket someone else connected."""

    def __init__(self, sock):
        self.sock, self.buf, self.events, self.next_id = sock, b"", [], 0


def connect_as(path, uid=NOBODY, gid=NOBODY, groups=None):
    """A client connected by a process of uid/gid with exactly `groups` (none: --clear-groups);
    raises PermissionError if the file permissions keep it out."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    ids = ["--reuid", str(uid), "--regid", str(gid)]
    ids += ["--groups", ",".join(map(str, groups))] if groups else ["--clear-groups"]
    p = subprocess.run(["setpriv"] + ids + ["/usr/bin/python3", "-I", "-c", CHILD, path,
                                            str(theirs.fileno())],
                       pass_fds=[theirs.fileno()], capture_output=True, text=True, timeout=30)
    theirs.close()
    if p.returncode != 0:
        ours.close()
        if "EACCES" in p.stdout:
            raise PermissionError(p.stdout.strip())
        raise AssertionError(f"child: {p.returncode} {p.stdout} {p.stderr}")
    fds = array.array("i")
    _, anc, _, _ = ours.recvmsg(1, socket.CMSG_SPACE(fds.itemsize))
    ours.close()
    fds.frombytes(anc[0][2][:fds.itemsize])
    return FdClient(socket.socket(fileno=fds[0]))


def reachable(ctx):
    """The temp dir (0700, root's) must not be what keeps the second uid out."""
    os.chmod(ctx.tmp, 0o711)


def refused_line(c):
    """The one line a refused peer gets, then EOF."""
    c.sock.settimeout(5)
    data = b""
    while True:
        chunk = c.sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return json.loads(data.split(b"\n")[0])


def test_a_second_uid_is_refused_then_let_in_by_the_socket_group_or_allow_uid(ctx):
    need_root()
    reachable(ctx)
    emu = ctx.emulator()
    # --allow-uid for someone else: the socket is 0666, so nobody reaches gliveD and is refused
    d = ctx.daemon(emu, args=["--allow-uid", "12345"], name="g1")
    assert stat.S_IMODE(os.stat(d.socket).st_mode) == 0o666
    r = refused_line(connect_as(d.socket))
    assert r["ok"] is False and r["id"] is None and r["error"]["code"] == "refused", r
    assert "you are uid 65534" in r["error"]["message"], r
    wait_for(lambda: "rejected a connection from uid 65534" in d.proc.stderr(), 5, "the log line")
    d.proc.stop()

    # the default socket group (glive) does not exist here: said so, and the socket stays 0600
    d = ctx.daemon(emu, name="g2")
    assert stat.S_IMODE(os.stat(d.socket).st_mode) == 0o600
    assert 'socket group "glive" does not exist' in d.proc.stderr()
    try:
        connect_as(d.socket)
        raise AssertionError("nobody reached a 0600 socket")
    except PermissionError:
        pass
    d.proc.stop()

    # the socket group: nobody's own group (primary), or a supplementary one (SO_PEERGROUPS)
    d = ctx.daemon(emu, args=["--socket-group", "nogroup"], name="g3")
    st = os.stat(d.socket)
    assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == NOBODY, st
    assert connect_as(d.socket).ok("hello")["daemon"] == "gliveD"
    assert connect_as(d.socket, uid=NOBODY, gid=12345, groups=[NOBODY]).ok("hello")
    try:
        connect_as(d.socket, uid=NOBODY, gid=12345)  # in neither: the file keeps it out
        raise AssertionError("a non-member reached the socket")
    except PermissionError:
        pass
    d.proc.stop()

    # --allow-uid and --allow-group, by name
    for args in (["--allow-uid", "nobody"], ["--allow-group", "nogroup"]):
        d = ctx.daemon(emu, args=args, name="g4" + args[0][8:])
        assert connect_as(d.socket).ok("hello")["daemon"] == "gliveD"
        d.proc.stop()


def tool_call(c, turn):
    return c.next_event(where=lambda e: e["event"] == "tool_call" and e["turn"] == turn)


def test_sessions_of_one_uid_are_invisible_and_untouchable_to_another_unless_shared(ctx):
    need_root()
    reachable(ctx)
    emu = ctx.emulator()
    d = ctx.daemon(emu, args=["--allow-uid", str(NOBODY)])
    owner, other = d.client(), connect_as(d.socket)  # root and nobody
    owner.ok("open", session="private", tools=LIGHTS)
    # a "*" handler of the other uid, registered first: it must not get the private session's calls
    other.ok("tool.register", session="*", declaration={"name": "turn_on_the_lights"})
    assert other.ok("list")["sessions"] == []
    st = other.ok("status")
    assert st["sessions"] == 0 and st["session_list"] == [], st
    assert [t["session"] for t in owner.ok("status")["tools"]] == ["*"]  # root sees every handler
    gone = {"code": "no_session", "message": 'no session "private" (open it first)'}
    for op, extra in (("send", {"text": "hi"}), ("subscribe", {}), ("unsubscribe", {}), ("close", {})):
        r = other.request(op, session="private", **extra)
        assert r["ok"] is False and r["error"] == gone, (op, r)
    r = other.request("open", session="private")
    assert r["error"]["code"] == "conflict" and "taken" in r["error"]["message"], r

    # its function calls: the asker is asked (no handler may serve it), the other uid gets nothing
    turn = owner.ok("send", session="private", text="Turn on the lights")["turn"]
    call = tool_call(owner, turn)
    assert call["handler"] is False, call
    for fields in ({"session": "private"}, {}):
        r = other.request("tool.result", call_id=call["call_id"], response={"hijacked": True}, **fields)
        assert r["ok"] is False and r["error"]["code"] == ("no_session" if fields else "unknown_call"), r
    owner.ok("tool.result", session="private", call_id=call["call_id"], response={"state": "on"})
    evs = owner.turn_events(turn)
    res = [e for e in evs if e["event"] == "tool_result"]
    assert res and res[0]["by"] == "client" and res[0]["response"] == {"state": "on"}, evs
    assert not [e for e in other.events if e.get("session") == "private"], other.events
    assert [g["response"] for g in emu.log(kind="tool_response")] == [{"state": "on"}]
    # the other uid's registration under the same name collides with nothing of the owner's
    assert owner.ok("tool.register", session="private", declaration={"name": "turn_on_the_lights"})
    assert other.ok("status")["tools"] == [{"session": "*", "name": "turn_on_the_lights",
                                            "client": other.ok("status")["tools"][0]["client"],
                                            "timeout_ms": 30000}]

    # shared: true makes it everyone's: seen, attached, prompted, watched, and closed by others
    owner.ok("open", session="common", shared=True)
    seen = other.ok("list")["sessions"]
    assert [(s["session"], s["shared"], s["owner_uid"]) for s in seen] == [("common", True, 0)], seen
    assert other.ok("open", session="common")["created"] is False
    other.ok("subscribe", session="common")
    t2 = other.ok("send", session="common", text="Hello from nobody")["turn"]
    assert any(e["event"] == "turn_complete" for e in other.turn_events(t2))
    other.ok("close", session="common")
    assert [s["session"] for s in owner.ok("list")["sessions"]] == ["private"]

    # root (the owner here) sees and may use every uid's sessions; the other uid still not root's
    other.ok("open", session="theirs")
    seen = {s["session"]: s["owner_uid"] for s in owner.ok("list")["sessions"]}
    assert seen == {"private": 0, "theirs": NOBODY}, seen
    owner.ok("subscribe", session="theirs")
    assert [s["session"] for s in other.ok("list")["sessions"]] == ["theirs"]


def test_the_shared_flag_survives_a_restart(ctx):
    need_root()
    reachable(ctx)
    emu = ctx.emulator()
    state = os.path.join(ctx.tmp, "state")
    args = ["--allow-uid", str(NOBODY), "--state-dir", state]
    d = ctx.daemon(emu, args=args, name="a")
    c = d.client()
    c.ok("open", session="common", shared=True)
    c.ok("open", session="mine")
    wait_for(lambda: os.path.exists(os.path.join(state, "sessions", "common.json")), 5, "the record")
    wait_for(lambda: json.load(open(os.path.join(state, "sessions", "common.json"))).get("shared"), 5,
             "shared in the record")
    c.close()
    d.proc.stop()
    d = ctx.daemon(emu, args=args, name="b")
    other = connect_as(d.socket)
    assert [s["session"] for s in other.ok("list")["sessions"]] == ["common"]


def test_a_daemon_outside_its_socket_group_keeps_a_private_socket_and_says_so(ctx):
    need_root()
    reachable(ctx)
    os.chmod(ctx.tmp, 0o777)  # nobody's daemon makes its socket here
    sock = os.path.join(ctx.tmp, "nobody.sock")
    d = ctx.start("gliveD", ["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY),
                             "--clear-groups", os.path.join(harness.BUILD, "gliveD"), "--socket", sock,
                             "--socket-group", "root", "--code-exec", "off"],
                  env={"GEMINI_API_KEY": "k"})
    wait_for(lambda: harness.accepting(sock) or not d.alive(), 10, "the socket")
    st = os.stat(sock)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == NOBODY, st
    wait_for(lambda: "is not in it, so it cannot give the socket that group" in d.stderr(), 5, "why")
    assert "warn" not in d.stderr(), d.stderr()
    assert connect_as(sock).ok("hello")  # its own uid
