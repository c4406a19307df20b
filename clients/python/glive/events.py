"""Typed events and tool answers."""
from __future__ import annotations

import base64
import re
from typing import Any, Dict, Optional

#: The rate of gliveD's audio when an event's mime type does not say (24 kHz s16le mono).
DEFAULT_RATE = 24000


def rate_of(mime: Optional[str], default: int = DEFAULT_RATE) -> int:
    """The sample rate in a mime type such as ``audio/pcm;rate=24000``."""
    m = re.search(r"rate=(\d+)", mime or "")
    return int(m.group(1)) if m and int(m.group(1)) > 0 else default


class Event:
    """One event line from gliveD (proto/PROTOCOL.md section 4).

    ``kind`` is its name (``"text"``, ``"audio"``, ``"tool_call"``, ``"turn_complete"``...);
    every field is an attribute: ``ev.session``, ``ev.turn``, ``ev.text``, ``ev.call_id``,
    ``ev.args``... A field the event does not have reads as None (the protocol treats null and
    absent alike, and new fields may appear). ``raw`` is the decoded JSON object; ``ev["text"]``
    and ``ev.get("text", "")`` work too. Audio events also have ``pcm`` (the decoded s16le bytes)
    and ``rate``.
    """

    __slots__ = ("raw",)

    def __init__(self, raw: Dict[str, Any]):
        object.__setattr__(self, "raw", raw)

    @property
    def kind(self) -> str:
        return self.raw.get("event", "")

    @property
    def pcm(self) -> bytes:
        """An ``audio`` event's PCM (s16le mono); b"" for other events."""
        data = self.raw.get("data") if self.kind == "audio" else None
        return base64.b64decode(data) if isinstance(data, str) else b""

    @property
    def rate(self) -> int:
        """An ``audio`` event's sample rate (from ``mime``; 24000 when it does not say)."""
        return rate_of(self.raw.get("mime"))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self.raw.get(name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("events are read-only")

    def get(self, name: str, default: Any = None) -> Any:
        v = self.raw.get(name)
        return default if v is None else v

    def __getitem__(self, name: str) -> Any:
        return self.raw[name]

    def __contains__(self, name: str) -> bool:
        return self.raw.get(name) is not None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and other.raw == self.raw

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = {k: v for k, v in self.raw.items() if k not in ("event", "data")}
        if "data" in self.raw:
            fields["data"] = f"<{len(self.raw['data'])} base64 chars>"
        return f"Event({self.kind!r}, {fields!r})"


class ToolResult:
    """What a tool handler may return to say more than the response object.

    ``response`` goes to the model (a dict; other values are wrapped as ``{"result": value}``),
    or ``error`` (a string: the model gets ``{"error": ...}``). ``scheduling``
    (``"INTERRUPT"``, ``"WHEN_IDLE"``, ``"SILENT"``) and ``will_continue`` apply to NON_BLOCKING
    calls only and are left out for blocking ones.
    """

    __slots__ = ("response", "error", "scheduling", "will_continue")

    def __init__(self, response: Any = None, *, error: Optional[str] = None,
                 scheduling: Optional[str] = None, will_continue: bool = False):
        self.response = response
        self.error = error
        self.scheduling = scheduling
        self.will_continue = will_continue

    def __repr__(self) -> str:
        return (f"ToolResult(response={self.response!r}, error={self.error!r}, "
                f"scheduling={self.scheduling!r}, will_continue={self.will_continue!r})")
