"""Tool handlers: functions that answer the model's function calls (shared by both clients)."""
from __future__ import annotations

import inspect
import json
from typing import Any, Callable, Dict, Optional

from .events import Event, ToolResult

SCHEDULINGS = ("INTERRUPT", "WHEN_IDLE", "SILENT")


class Tool:
    """A function registered with a client: ``name``, the ``session`` it serves (``"*"``: every
    session that declares it), its ``declaration`` and default ``scheduling``."""

    def __init__(self, fn: Callable[..., Any], name: str, session: str = "*", *,
                 description: Optional[str] = None, parameters: Optional[Dict[str, Any]] = None,
                 declaration: Optional[Dict[str, Any]] = None, timeout: Optional[float] = None,
                 scheduling: Optional[str] = None, register: bool = True):
        if scheduling is not None and scheduling not in SCHEDULINGS:
            raise ValueError(f"scheduling must be one of {', '.join(SCHEDULINGS)}")
        self.fn = fn
        self.name = name
        self.session = session
        self.timeout = timeout
        self.scheduling = scheduling
        self.register = register
        if declaration is None:
            declaration = {"name": name}
            doc = description if description is not None else inspect.getdoc(fn)
            if doc:
                declaration["description"] = doc.strip()
            if parameters is not None:
                declaration["parameters"] = parameters
        self.declaration = dict(declaration, name=name)
        self.is_async = inspect.iscoroutinefunction(fn)
        try:
            self.wants_call = "call" in inspect.signature(fn).parameters
        except (TypeError, ValueError):
            self.wants_call = False

    def register_request(self) -> Dict[str, Any]:
        """The ``tool.register`` request's fields."""
        return {"session": self.session, "declaration": self.declaration, "timeout_s": self.timeout}

    def arguments(self, call: Event) -> Dict[str, Any]:
        """The keyword arguments of a call: its ``args``, plus ``call`` if the function has such
        a parameter."""
        kw = dict(call.args) if isinstance(call.args, dict) else {}
        if self.wants_call:
            kw["call"] = call
        return kw


def result_fields(tool: Optional[Tool], call: Event, value: Any = None,
                  exc: Optional[BaseException] = None) -> Dict[str, Any]:
    """The ``tool.result`` request for a handler's return value (or the exception it raised).

    dict: the response; ToolResult: as it says; None: ``{"result": "ok"}``; any other JSON value
    v: ``{"result": v}``; an exception: ``error`` = its text. Scheduling (the ToolResult's, else
    the tool's) and will_continue are sent for NON_BLOCKING calls only."""
    fields: Dict[str, Any] = {"session": call.session, "call_id": call.call_id}
    scheduling = tool.scheduling if tool else None
    will_continue = False
    if exc is not None:
        fields["error"] = str(exc) or type(exc).__name__
    else:
        if isinstance(value, ToolResult):
            scheduling = value.scheduling or scheduling
            will_continue = value.will_continue
            if value.error is not None:
                fields["error"] = str(value.error)
            value = value.response
        if "error" not in fields:
            if value is None:
                value = {"result": "ok"}
            elif not isinstance(value, dict):
                value = {"result": value}
            try:  # the reply must be JSON: say so to the model instead of failing the request
                json.dumps(value, allow_nan=False)
                fields["response"] = value
            except (TypeError, ValueError) as e:
                fields["error"] = f"the handler's answer is not JSON: {e}"
    if call.behavior == "NON_BLOCKING":
        fields["scheduling"] = scheduling
        fields["will_continue"] = True if will_continue else None
    return fields


def should_answer(ev: Event, tool: Optional[Tool], own_turns: "Recent", answered: "Recent") -> bool:
    """Whether this client answers a ``tool_call``: with a function of that name, when gliveD
    routed the call to a registered handler (``handler``: true) that this client registered, or
    to the prompting client (``handler``: false) and the call belongs to a turn this client's
    prompt set going. Each call is answered once."""
    if ev.kind != "tool_call" or tool is None or not isinstance(ev.call_id, str):
        return False
    if (ev.session, ev.call_id) in answered:
        return False
    if ev.handler is True:
        return tool.register
    return (ev.session, ev.turn) in own_turns


class ToolTable:
    """The functions one client serves, found by (session, name) then ("*", name)."""

    def __init__(self) -> None:
        self._by_key: Dict[tuple, Tool] = {}

    def add(self, tool: Tool) -> None:
        self._by_key[(tool.session, tool.name)] = tool

    def remove(self, name: str, session: str = "*") -> Optional[Tool]:
        return self._by_key.pop((session, name), None)

    def find(self, session: Optional[str], name: Optional[str]) -> Optional[Tool]:
        return self._by_key.get((session, name)) or self._by_key.get(("*", name))

    def __iter__(self):
        return iter(list(self._by_key.values()))

    def declarations(self) -> list:
        """``[{"function_declarations": [...]}]`` of every function, unique by name: the
        ``tools`` of an ``open`` that declares them."""
        seen: Dict[str, Dict[str, Any]] = {}
        for t in self._by_key.values():
            seen.setdefault(t.name, t.declaration)
        return [{"function_declarations": list(seen.values())}] if seen else []


class Recent:
    """A bounded set (oldest forgotten first): own turns, answered calls."""

    def __init__(self, limit: int = 4096):
        self._d: Dict[Any, None] = {}
        self._limit = limit

    def add(self, key: Any) -> None:
        self._d[key] = None
        if len(self._d) > self._limit:
            del self._d[next(iter(self._d))]

    def __contains__(self, key: Any) -> bool:
        return key in self._d
