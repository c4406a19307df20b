"""Errors: every failure is a :class:`GliveError` carrying the protocol's error code.

Codes from gliveD (proto/PROTOCOL.md section 5) map to the subclasses below; codes made by the
library itself are ``connect`` (cannot reach the socket), ``eof`` (gliveD closed the
connection), ``timeout`` and ``protocol`` (a line that is not a protocol line). An unknown code
gives a plain :class:`GliveError`, so new codes never break a client.
"""
from __future__ import annotations

from typing import Any, Dict, Optional


class GliveError(Exception):
    """A failed request, a turn's ``error`` event, or a connection problem.

    ``code`` is the protocol's error code (``"no_session"``, ``"conflict"``...), ``message``
    the human-readable text, ``reply`` the whole reply or event it came from (or None).
    """

    def __init__(self, code: str, message: str = "", reply: Optional[Dict[str, Any]] = None):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.reply = reply


class BadRequestError(GliveError):
    """``bad_request``, ``bad_json``, ``line_too_long``, ``unknown_op``: the request was refused
    as written; nothing changed."""


class NoSessionError(GliveError):
    """``no_session``: no session by that name."""


class BusyError(GliveError):
    """``busy``: too many prompts already wait on the session (or the tool table is full)."""


class ConflictError(GliveError):
    """``conflict``: ``open`` of an existing session with a different configuration."""


class UnknownCallError(GliveError):
    """``unknown_call``: ``tool.result`` for a call that is not pending (answered, cancelled,
    timed out)."""


class ToolExistsError(GliveError):
    """``tool_exists``: another connection already serves that function."""


class NoKeyError(GliveError):
    """``no_key``: gliveD has no API key."""


class SessionClosedError(GliveError):
    """``closed``: the session was closed, or closed itself because retrying cannot help."""


class UpstreamError(GliveError):
    """``upstream``: the Live API closed the connection or failed."""


class ShuttingDownError(GliveError):
    """``shutting_down``: gliveD is stopping."""


class InternalError(GliveError):
    """``internal``: out of memory or a bug in gliveD."""


class ConnectError(GliveError, ConnectionError):
    """``connect``: the socket cannot be reached (is gliveD running?)."""


class ConnectionClosedError(GliveError, ConnectionError):
    """``eof``: gliveD closed the connection."""


class GliveTimeoutError(GliveError, TimeoutError):
    """``timeout``: nothing arrived in time."""


class ProtocolError(GliveError):
    """``protocol``: gliveD sent a line that is not a protocol line."""


ERROR_CLASSES = {
    "bad_request": BadRequestError,
    "bad_json": BadRequestError,
    "line_too_long": BadRequestError,
    "unknown_op": BadRequestError,
    "no_session": NoSessionError,
    "busy": BusyError,
    "conflict": ConflictError,
    "unknown_call": UnknownCallError,
    "tool_exists": ToolExistsError,
    "no_key": NoKeyError,
    "closed": SessionClosedError,
    "upstream": UpstreamError,
    "shutting_down": ShuttingDownError,
    "internal": InternalError,
    "connect": ConnectError,
    "eof": ConnectionClosedError,
    "timeout": GliveTimeoutError,
    "protocol": ProtocolError,
}


def error_from(code: Any, message: Any = "", reply: Optional[Dict[str, Any]] = None) -> GliveError:
    """The exception for a protocol error code: the mapped subclass, else GliveError."""
    code = code if isinstance(code, str) and code else "protocol"
    message = message if isinstance(message, str) else ""
    return ERROR_CLASSES.get(code, GliveError)(code, message, reply)


def reply_error(reply: Dict[str, Any]) -> Optional[GliveError]:
    """None for a reply with ``"ok": true``; else the exception its ``error`` describes."""
    if reply.get("ok") is True:
        return None
    err = reply.get("error")
    if not isinstance(err, dict):
        return ProtocolError("protocol", "a failed reply without an error object", reply)
    return error_from(err.get("code"), err.get("message"), reply)
