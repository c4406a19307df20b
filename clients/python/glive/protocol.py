"""The line protocol's framing (proto/PROTOCOL.md sections 1 and 2) and the socket rule.

Pure functions and a small decoder, shared by the sync and the asyncio client; no I/O here.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Mapping, Optional

from .errors import ProtocolError

PROTOCOL_VERSION = 1
#: The longest line accepted from gliveD (audio chunks are the long ones).
MAX_LINE = 64 << 20


def default_socket_path(env: Optional[Mapping[str, str]] = None) -> str:
    """gliveD's socket, by the daemon's own rule: ``$GLIVE_SOCKET``, else
    ``$RUNTIME_DIRECTORY/gliveD.sock``, else ``$XDG_RUNTIME_DIR/glive/gliveD.sock``, else
    ``/run/glive/gliveD.sock``. Empty variables count as unset."""
    env = os.environ if env is None else env
    v = env.get("GLIVE_SOCKET")
    if v:
        return v
    v = env.get("RUNTIME_DIRECTORY")
    if v:
        return v + "/gliveD.sock"
    v = env.get("XDG_RUNTIME_DIR")
    if v:
        return v + "/glive/gliveD.sock"
    return "/run/glive/gliveD.sock"


def encode(msg: Mapping[str, Any]) -> bytes:
    """One request line: compact JSON (never a raw newline inside) and ``\\n``. Fields whose
    value is None are left out (the protocol treats null as absent). NaN or infinity raise
    ValueError: they are not JSON."""
    clean = {k: v for k, v in msg.items() if v is not None}
    return (json.dumps(clean, separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")


def parse_line(line: bytes) -> Dict[str, Any]:
    """A line from gliveD (without its line end) as a dict: an event (has ``event``) or a reply
    (has ``ok``). Anything else raises ProtocolError."""
    try:
        msg = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ProtocolError("protocol", f"gliveD sent a line that is not JSON: {e}") from None
    if not isinstance(msg, dict) or ("event" not in msg and "ok" not in msg):
        raise ProtocolError("protocol", "gliveD sent a line that is neither an event nor a reply")
    return msg


def is_event(msg: Mapping[str, Any]) -> bool:
    """True for an event line, False for a reply."""
    return "event" in msg


class LineDecoder:
    """Splits the byte stream into lines: ``\\n`` ends a line, a ``\\r`` before it is dropped,
    blank lines (only spaces and tabs) are skipped. A line longer than ``max_line`` is dropped
    whole (``dropped`` counts them); the decoder stays usable and never holds more than
    ``max_line`` bytes."""

    def __init__(self, max_line: int = MAX_LINE):
        self.max_line = max_line
        self.dropped = 0
        self._buf = bytearray()
        self._skipping = False  # inside a line that is already too long

    def feed(self, data: bytes) -> List[bytes]:
        """Adds bytes; returns the complete non-blank lines they finish, in order."""
        out: List[bytes] = []
        self._buf += data
        start = 0
        while True:
            nl = self._buf.find(b"\n", start)
            if nl < 0:
                break
            line = bytes(self._buf[start:nl])
            start = nl + 1
            if self._skipping:
                self._skipping = False
                continue
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > self.max_line:
                self.dropped += 1
                continue
            if line.strip(b" \t"):
                out.append(line)
        del self._buf[:start]
        if len(self._buf) > self.max_line + 1:  # + 1: room for a \r
            self._buf.clear()
            if not self._skipping:
                self.dropped += 1
            self._skipping = True
        return out
