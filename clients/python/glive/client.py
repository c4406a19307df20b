"""The blocking client: one Unix-socket connection to gliveD, no threads.

    import glive

    with glive.Client() as client:                 # the daemon's default socket
        client.open("main")
        for ev in client.send("main", "Hello?"):
            if ev.kind == "text":
                print(ev.text, end="", flush=True)

Replies and events share the connection. A request waits for its reply; events that arrive
meanwhile wait in order until something reads events (a :class:`Turn`, a :class:`Subscription`,
:meth:`Client.events`, :meth:`Client.serve`). Tool handlers run when their ``tool_call`` is read
that way, one at a time, in the thread that reads. Not thread-safe: one client per thread.
"""
from __future__ import annotations

import collections
import logging
import socket
import time
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional

from .errors import (ConnectError, ConnectionClosedError, GliveError, GliveTimeoutError,
                     ProtocolError, reply_error)
from .events import Event
from .protocol import LineDecoder, default_socket_path, encode, is_event, parse_line
from .tools import Recent, Tool, ToolTable, result_fields, should_answer
from .tracker import TurnTracker
from .wav import WavWriter

log = logging.getLogger("glive")

#: Events kept for later readers (beyond it the oldest are dropped, with a warning).
BACKLOG_MAX = 10000


def _deadline(timeout: Optional[float]) -> Optional[float]:
    return None if timeout is None else time.monotonic() + timeout


def said(events: List[Event]) -> str:
    """What the model said in these events: ``text`` events and output ``transcript`` events
    (what an AUDIO answer says), joined; a newline between the texts of different turns."""
    parts: List[str] = []
    last = None
    for ev in events:
        if ev.kind == "text" or (ev.kind == "transcript" and ev.source != "input"):
            if parts and ev.turn != last:
                parts.append("\n")
            parts.append(ev.text or "")
            last = ev.turn
    return "".join(parts)


class Client:
    """A connection to gliveD.

    ``path``: the socket (default: :func:`glive.default_socket_path`). ``timeout``: seconds a
    request waits for its reply (None: forever). ``name``: sent by :meth:`hello`.
    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path: Optional[str] = None, *, timeout: Optional[float] = 30.0,
                 name: str = "glive-python", connect: bool = True):
        self.path = path or default_socket_path()
        self.timeout = timeout
        self.name = name
        self._sock: Optional[socket.socket] = None
        self._decoder = LineDecoder()
        self._lines: Deque[bytes] = collections.deque()
        self._inbox: Deque[Event] = collections.deque()      # read, not yet processed
        self._backlog: Deque[Event] = collections.deque()    # processed, for readers
        self._next_id = 0
        self._eof = False
        self._tools = ToolTable()
        self._own_turns = Recent()
        self._answered = Recent()
        if connect:
            self.connect()

    # ---- the connection ------------------------------------------------------------------

    def connect(self) -> "Client":
        """Connects to the socket; ConnectError if it cannot."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.path)
        except OSError as e:
            s.close()
            raise ConnectError("connect", f"cannot connect to {self.path}: {e.strerror or e} "
                               "(is gliveD running?)") from None
        self._sock = s
        return self

    def close(self) -> None:
        """Closes the connection (the sessions live on in gliveD; handlers are unregistered)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._eof = True

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_message(self, deadline: Optional[float]) -> Dict[str, Any]:
        while not self._lines:
            if self._eof or self._sock is None:
                raise ConnectionClosedError("eof", "gliveD closed the connection")
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise GliveTimeoutError("timeout", "nothing came from gliveD in time")
                self._sock.settimeout(left)
            else:
                self._sock.settimeout(None)
            try:
                data = self._sock.recv(1 << 16)
            except socket.timeout:
                continue
            except OSError as e:
                self._eof = True
                raise ConnectionClosedError("eof", f"connection to gliveD lost: {e}") from None
            if not data:
                self._eof = True
                continue
            dropped = self._decoder.dropped
            self._lines.extend(self._decoder.feed(data))
            if self._decoder.dropped != dropped:
                log.warning("glive: dropped a line from gliveD over %d bytes", self._decoder.max_line)
        line = self._lines.popleft()
        try:
            return parse_line(line)
        except ProtocolError as e:
            log.warning("glive: %s", e.message)
            return {}

    # ---- requests --------------------------------------------------------------------------

    def request(self, op: str, fields: Optional[Dict[str, Any]] = None, /, *,
                timeout: Optional[float] = -1.0, check: bool = True, **kw: Any) -> Dict[str, Any]:
        """Sends one request and returns its reply (a dict). Fields come from ``fields`` and
        keywords; None values are left out. With ``check`` (default) a failed reply raises its
        GliveError subclass. ``timeout``: seconds (default: the client's)."""
        if self._sock is None or self._eof:
            raise ConnectionClosedError("eof", "not connected to gliveD")
        self._next_id += 1
        rid = self._next_id
        msg = dict(fields or {}, **kw)
        msg.update(op=op, id=rid)
        try:
            self._sock.settimeout(None)
            self._sock.sendall(encode(msg))
        except OSError as e:
            self._eof = True
            raise ConnectionClosedError("eof", f"cannot write to gliveD: {e}") from None
        deadline = _deadline(self.timeout if timeout == -1.0 else timeout)
        while True:
            m = self._read_message(deadline)
            if not m:
                continue
            if is_event(m):
                self._inbox.append(Event(m))
            elif m.get("id") == rid or (m.get("id") is None and m.get("ok") is False):
                break
            # else: the reply to an earlier request that timed out: dropped
        if check:
            err = reply_error(m)
            if err is not None:
                raise err
        return m

    def hello(self) -> Dict[str, Any]:
        """``hello``: ``{"daemon": "gliveD", "version": ..., "protocol": 1}``."""
        return self._fields(self.request("hello", client=self.name))

    def open(self, session: str, *, model: Optional[str] = None, modality: Optional[str] = None,
             system_instruction: Any = None, tools: Optional[List[Dict[str, Any]]] = None,
             generation_config: Optional[Dict[str, Any]] = None,
             compression: Optional[bool] = None) -> Dict[str, Any]:
        """``open``: creates the session or attaches to it. Returns ``session``, ``created``,
        ``state``, ``model``, ``modality``. ConflictError if it exists with another config."""
        return self._fields(self.request(
            "open", session=session, model=model, modality=modality,
            system_instruction=system_instruction, tools=tools,
            generation_config=generation_config, compression=compression))

    def close_session(self, session: str) -> None:
        """``close``: ends the session in gliveD (for every client)."""
        self.request("close", session=session)

    def list(self) -> List[Dict[str, Any]]:
        """``list``: one dict per session (state, model, turns, pending calls...)."""
        return self.request("list").get("sessions") or []

    def status(self) -> Dict[str, Any]:
        """``status``: uptime, counters, ``session_list``, registered ``tools``..."""
        return self._fields(self.request("status"))

    @staticmethod
    def _fields(reply: Dict[str, Any]) -> Dict[str, Any]:
        return {k: v for k, v in reply.items() if k not in ("id", "ok")}

    # ---- prompts and events ----------------------------------------------------------------

    def send(self, session: str, text: str, *, retry: bool = False,
             timeout: Optional[float] = None) -> "Turn":
        """``send``: prompts the session and returns the :class:`Turn`, an iterator of the
        events of the answer. It ends when the turn and what it caused have ended (function
        calls, the turns that answer them); ``timeout`` bounds that (None: no bound).
        ``retry``: gliveD re-sends the prompt if the connection is lost mid-turn."""
        reply = self.request("send", session=session, text=text, retry=True if retry else None)
        turn = reply.get("turn")
        if not isinstance(turn, int):
            raise ProtocolError("protocol", 'the reply to "send" has no turn number', reply)
        self._own_turns.add((session, turn))
        return Turn(self, session, reply, timeout)

    def subscribe(self, session: str) -> "Subscription":
        """``subscribe``: every event of the session, whoever prompted, as an iterator."""
        reply = self.request("subscribe", session=session)
        return Subscription(self, session, reply.get("state"))

    def unsubscribe(self, session: str) -> None:
        """``unsubscribe``."""
        self.request("unsubscribe", session=session)

    def next_event(self, timeout: Optional[float] = None,
                   where: Optional[Callable[[Event], bool]] = None) -> Event:
        """The next event on the connection (matching ``where``, if given; others stay for other
        readers). GliveTimeoutError after ``timeout`` seconds; ConnectionClosedError at the end."""
        return self._next(where or (lambda ev: True), _deadline(timeout))

    def events(self, timeout: Optional[float] = None) -> Iterator[Event]:
        """Every event on the connection, until gliveD closes it (or nothing came for
        ``timeout`` seconds: GliveTimeoutError)."""
        while True:
            try:
                yield self.next_event(timeout)
            except ConnectionClosedError:
                return

    def serve(self, timeout: Optional[float] = None) -> None:
        """Answers tool calls until gliveD closes the connection, or for ``timeout`` seconds.
        For a process that only serves functions."""
        deadline = _deadline(timeout)
        try:
            self._next(lambda ev: False, deadline, keep=False)
        except GliveTimeoutError:
            return
        except ConnectionClosedError:
            return

    def _next(self, where: Callable[[Event], bool], deadline: Optional[float],
              keep: bool = True) -> Event:
        while True:
            for i, ev in enumerate(self._backlog):
                if where(ev):
                    del self._backlog[i]
                    return ev
            if self._inbox:
                ev = self._inbox.popleft()
                self._process(ev)
                if where(ev):
                    return ev
                if keep:
                    if len(self._backlog) >= BACKLOG_MAX:
                        log.warning("glive: %d unread events: dropping the oldest", BACKLOG_MAX)
                        self._backlog.popleft()
                    self._backlog.append(ev)
                continue
            m = self._read_message(deadline)
            if m and is_event(m):
                self._inbox.append(Event(m))

    def _process(self, ev: Event) -> None:
        """Runs once per event, in order: keeps the book of own turns, answers tool calls."""
        if ev.kind == "turn_started" and (ev.session, ev.of_turn) in self._own_turns:
            self._own_turns.add((ev.session, ev.turn))
        elif ev.kind == "tool_call":
            tool = self._tools.find(ev.session, ev.name)
            if should_answer(ev, tool, self._own_turns, self._answered):
                self._answered.add((ev.session, ev.call_id))
                self._run_tool(tool, ev)

    # ---- tools -------------------------------------------------------------------------------

    def tool(self, name: Any = None, session: str = "*", *, description: Optional[str] = None,
             parameters: Optional[Dict[str, Any]] = None,
             declaration: Optional[Dict[str, Any]] = None, timeout: Optional[float] = None,
             scheduling: Optional[str] = None, register: bool = True) -> Any:
        """Decorator: the function answers the model's calls of ``name`` (default: its own name).

            @client.tool("turn_on_the_lights", session="*")
            def lights(room="all"):
                return {"lights": "on"}

        It is registered with gliveD at once (``tool.register``; ToolExistsError if another
        connection serves it): ``session="*"`` serves every session that declares the function
        at ``open``; a session name declares it in that session. The declaration is
        ``declaration``, else ``{"name", "description" (default: the docstring), "parameters"}``.
        ``timeout``: seconds gliveD waits for an answer. ``register=False``: not registered; the
        function answers calls routed to this client as the prompting client.

        The function gets the call's ``args`` as keyword arguments (and the ``tool_call``
        :class:`Event` as ``call`` if it has a parameter of that name). Its return value is the
        response: a dict; None (``{"result": "ok"}``); another value v (``{"result": v}``); or a
        :class:`ToolResult` (with ``scheduling``/``will_continue``/``error``). An exception
        becomes ``{"error": "<its text>"}``. ``scheduling`` (``"INTERRUPT"``, ``"WHEN_IDLE"``,
        ``"SILENT"``) is the default for NON_BLOCKING calls.
        """
        if callable(name):  # @client.tool without parentheses
            self.add_tool(name)
            return name

        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.add_tool(fn, name, session, description=description, parameters=parameters,
                          declaration=declaration, timeout=timeout, scheduling=scheduling,
                          register=register)
            return fn
        return decorate

    def add_tool(self, fn: Callable[..., Any], name: Optional[str] = None, session: str = "*",
                 **options: Any) -> Dict[str, Any]:
        """The non-decorator form of :meth:`tool`; returns the ``tool.register`` reply (empty
        with ``register=False``)."""
        t = Tool(fn, name or fn.__name__, session, **options)
        if t.is_async:
            raise TypeError("the blocking Client takes plain functions; use glive.AsyncClient "
                            "for async def handlers")
        reply: Dict[str, Any] = {}
        if t.register:
            reply = self._fields(self.request("tool.register", t.register_request()))
        self._tools.add(t)
        return reply

    def remove_tool(self, name: str, session: str = "*") -> None:
        """``tool.unregister`` (for a registered function) and forgets the function."""
        t = self._tools.remove(name, session)
        if t is not None and t.register:
            self.request("tool.unregister", session=session, name=name)

    def tool_declarations(self) -> List[Dict[str, Any]]:
        """``[{"function_declarations": [...]}]`` of this client's functions, for ``open``'s
        ``tools`` (a session must declare a function that is served with ``session="*"``)."""
        return self._tools.declarations()

    def tool_result(self, call_id: str, response: Optional[Dict[str, Any]] = None, *,
                    error: Optional[str] = None, session: Optional[str] = None,
                    scheduling: Optional[str] = None,
                    will_continue: Optional[bool] = None) -> None:
        """``tool.result``: answers a call by hand (``response`` object, or ``error`` text)."""
        if response is None and error is None:
            raise ValueError("tool_result needs response or error")
        self.request("tool.result", call_id=call_id, response=response, error=error,
                     session=session, scheduling=scheduling, will_continue=will_continue)

    def _run_tool(self, tool: Tool, call: Event) -> None:
        try:
            value = tool.fn(**tool.arguments(call))
            fields = result_fields(tool, call, value)
        except Exception as e:  # the model gets {"error": ...}; the client goes on
            log.info("glive: tool %s raised %r", tool.name, e)
            fields = result_fields(tool, call, exc=e)
        try:
            self.request("tool.result", fields)
        except (GliveError, ValueError) as e:
            if isinstance(e, ConnectionClosedError):
                raise
            log.warning("glive: answer to %s (%s) refused: %s", tool.name, call.call_id, e)


class Turn:
    """The answer to one prompt: iterate it for its :class:`Event` objects.

    ``turn`` is the turn number, ``queued`` whether it waited behind another turn. Iteration ends
    when the prompt's turn and what it caused have ended (see glive.tracker): on models that
    answer function calls in turns of their own (NON_BLOCKING calls, 3.8 Live) that includes
    those turns. A turn's ``error`` event raises its GliveError; a final ``interrupted`` is
    yielded and ends it (``interrupted`` then holds it).
    """

    def __init__(self, client: Client, session: str, reply: Dict[str, Any],
                 timeout: Optional[float] = None):
        self.client = client
        self.session = session
        self.turn: int = reply["turn"]
        self.queued: bool = bool(reply.get("queued"))
        self.tracker = TurnTracker(session, self.turn)
        self._deadline = _deadline(timeout)

    @property
    def done(self) -> bool:
        return self.tracker.done

    @property
    def interrupted(self) -> Optional[Event]:
        return self.tracker.interrupted

    @property
    def turns(self) -> List[int]:
        """The turn numbers so far: the prompt's, then those answering its calls."""
        return list(self.tracker.turns)

    def __iter__(self) -> "Turn":
        return self

    def __next__(self) -> Event:
        if self.tracker.done:
            raise StopIteration
        ev = self.client._next(self.tracker.wants, self._deadline)
        self.tracker.update(ev)
        if self.tracker.error is not None:
            raise self.tracker.error
        return ev

    def collect(self) -> List[Event]:
        """Reads the rest of the answer; returns its events."""
        return list(self)

    def text(self) -> str:
        """Reads the rest of the answer; returns what the model said (text, or the transcript
        of its audio)."""
        return said(self.collect())

    def save_wav(self, path: str) -> List[Event]:
        """Reads the rest of the answer, writing its audio to a WAV file (24 kHz s16le mono);
        returns the events."""
        out = []
        with WavWriter(path) as w:
            for ev in self:
                w.write_event(ev)
                out.append(ev)
        return out

    def answer(self, call: Event, response: Optional[Dict[str, Any]] = None, *,
               error: Optional[str] = None, scheduling: Optional[str] = None,
               will_continue: Optional[bool] = None) -> None:
        """Answers one of this turn's ``tool_call`` events by hand."""
        self.client.tool_result(call.call_id, response, error=error, session=call.session,
                                scheduling=scheduling, will_continue=will_continue)


class Subscription:
    """Every event of one session, whoever prompted (``subscribe``); an endless iterator (it
    stops when gliveD closes the connection). ``state`` is the session's state when it began.
    ``close()`` (or leaving the ``with`` block) unsubscribes."""

    def __init__(self, client: Client, session: str, state: Optional[str]):
        self.client = client
        self.session = session
        self.state = state
        self._open = True

    def __iter__(self) -> "Subscription":
        return self

    def __next__(self) -> Event:
        if not self._open:
            raise StopIteration
        try:
            return self.client._next(lambda ev: ev.session == self.session, None)
        except ConnectionClosedError:
            self._open = False
            raise StopIteration from None

    def next(self, timeout: Optional[float] = None) -> Event:
        """The next event, waiting at most ``timeout`` seconds (GliveTimeoutError)."""
        return self.client._next(lambda ev: ev.session == self.session, _deadline(timeout))

    def close(self) -> None:
        if self._open:
            self._open = False
            try:
                self.client.unsubscribe(self.session)
            except GliveError:
                pass

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(path: Optional[str] = None, **options: Any) -> Client:
    """A connected :class:`Client` (``path`` default: the daemon's socket rule)."""
    return Client(path, **options)
