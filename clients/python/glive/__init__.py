"""glive: Python client of gliveD, the daemon that keeps Gemini Live API sessions.

Standard library only. ``glive.Client`` blocks; ``glive.AsyncClient`` is for asyncio. Both speak
gliveD's line protocol (proto/PROTOCOL.md in the gliveD repository) over its Unix socket.

    import glive

    with glive.Client() as client:
        client.open("main")
        print(client.send("main", "Hello?").text())
"""
import logging as _logging

from .aio import AsyncClient, AsyncSubscription, AsyncTurn
from .client import Client, Subscription, Turn, connect, said
from .errors import (BadRequestError, BusyError, ConflictError, ConnectError,
                     ConnectionClosedError, GliveError, GliveTimeoutError, InternalError,
                     NoKeyError, NoSessionError, ProtocolError, SessionClosedError,
                     ShuttingDownError, ToolExistsError, UnknownCallError, UpstreamError,
                     error_from)
from .events import DEFAULT_RATE, Event, ToolResult, rate_of
from .protocol import PROTOCOL_VERSION, default_socket_path
from .tracker import TurnTracker
from .wav import WavWriter, read_wav, write_wav

__version__ = "0.1.0"

_logging.getLogger("glive").addHandler(_logging.NullHandler())

__all__ = [
    "AsyncClient", "AsyncSubscription", "AsyncTurn", "Client", "Subscription", "Turn",
    "connect", "said", "Event", "ToolResult", "TurnTracker", "WavWriter", "read_wav", "write_wav",
    "rate_of", "DEFAULT_RATE", "PROTOCOL_VERSION", "default_socket_path", "error_from",
    "GliveError", "BadRequestError", "BusyError", "ConflictError", "ConnectError",
    "ConnectionClosedError", "GliveTimeoutError", "InternalError", "NoKeyError",
    "NoSessionError", "ProtocolError", "SessionClosedError", "ShuttingDownError",
    "ToolExistsError", "UnknownCallError", "UpstreamError",
]
