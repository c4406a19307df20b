"""The asyncio client: one connection, read by a background task.

    import asyncio, glive

    async def main():
        async with glive.AsyncClient() as client:
            await client.open("main")
            turn = await client.send("main", "Hello?")
            async for ev in turn:
                if ev.kind == "text":
                    print(ev.text, end="", flush=True)

    asyncio.run(main())

Every event goes to every reader interested in it (each :class:`AsyncTurn` and
:class:`AsyncSubscription` has its own queue, filled from the moment it was created). Tool calls
are answered as soon as they arrive, each in a task of its own (``async def`` handlers run on the
loop, plain functions in the default executor); a ``tool_cancel`` cancels the running task.
"""
from __future__ import annotations

import asyncio
import collections
import functools
import logging
from typing import (Any, AsyncIterator, Callable, Deque, Dict, List, Optional, Set)

from .client import said
from .errors import (ConnectError, ConnectionClosedError, GliveError, GliveTimeoutError,
                     ProtocolError, reply_error)
from .events import Event
from .protocol import MAX_LINE, default_socket_path, encode, is_event, parse_line
from .tools import Recent, Tool, ToolTable, result_fields, should_answer
from .tracker import TurnTracker
from .wav import WavWriter

log = logging.getLogger("glive")

_EOF = object()


class _Listener:
    def __init__(self, where: Callable[[Event], bool]):
        self.where = where
        self.queue: "asyncio.Queue[Any]" = asyncio.Queue()


class AsyncClient:
    """A connection to gliveD for asyncio programs.

    ``path``: the socket (default: :func:`glive.default_socket_path`); ``timeout``: seconds a
    request waits for its reply (None: forever); ``name``: sent by :meth:`hello`. Use
    ``async with AsyncClient() as c`` or ``c = await glive.aio.connect()`` and ``await
    c.close()``.
    """

    def __init__(self, path: Optional[str] = None, *, timeout: Optional[float] = 30.0,
                 name: str = "glive-python-asyncio"):
        self.path = path or default_socket_path()
        self.timeout = timeout
        self.name = name
        self._reader: Optional[asyncio.StreamReader] = None
        self._writer: Optional[asyncio.StreamWriter] = None
        self._task: Optional[asyncio.Task] = None
        self._pending: "collections.OrderedDict[int, tuple]" = collections.OrderedDict()
        self._listeners: List[_Listener] = []
        self._next_id = 0
        self._closed: Optional[GliveError] = None
        self._tools = ToolTable()
        self._to_register: Deque[Tool] = collections.deque()
        self._own_turns = Recent()
        self._answered = Recent()
        self._tool_tasks: Dict[tuple, asyncio.Task] = {}
        self._bg: Set[asyncio.Task] = set()

    # ---- the connection ------------------------------------------------------------------

    async def connect(self) -> "AsyncClient":
        """Connects (ConnectError if it cannot) and starts reading."""
        try:
            self._reader, self._writer = await asyncio.open_unix_connection(self.path, limit=MAX_LINE)
        except OSError as e:
            raise ConnectError("connect", f"cannot connect to {self.path}: {e.strerror or e} "
                               "(is gliveD running?)") from None
        self._closed = None
        self._task = asyncio.ensure_future(self._read_loop())
        return self

    async def close(self) -> None:
        """Closes the connection; running tool tasks are cancelled."""
        for t in list(self._tool_tasks.values()):
            t.cancel()
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except (OSError, ConnectionError):
                pass
            self._writer = None
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            self._task = None
        self._shut(ConnectionClosedError("eof", "the connection was closed"))

    async def __aenter__(self) -> "AsyncClient":
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def wait_closed(self) -> None:
        """Waits until gliveD closes the connection."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _read_loop(self) -> None:
        assert self._reader is not None
        err: GliveError = ConnectionClosedError("eof", "gliveD closed the connection")
        try:
            while True:
                try:
                    line = await self._reader.readline()
                except ValueError:  # over the limit: asyncio drops it
                    log.warning("glive: dropped a line from gliveD over %d bytes", MAX_LINE)
                    continue
                if not line:
                    break
                line = line.rstrip(b"\n").rstrip(b"\r")
                if not line.strip(b" \t"):
                    continue
                try:
                    msg = parse_line(line)
                except ProtocolError as e:
                    log.warning("glive: %s", e.message)
                    continue
                if is_event(msg):
                    self._dispatch(Event(msg))
                else:
                    self._reply(msg)
        except (OSError, ConnectionError) as e:
            err = ConnectionClosedError("eof", f"connection to gliveD lost: {e}")
        finally:
            self._shut(err)

    def _shut(self, err: GliveError) -> None:
        if self._closed is None:
            self._closed = err
        for fut, _ in self._pending.values():
            if not fut.done():
                fut.set_exception(self._closed)
        self._pending.clear()
        for li in self._listeners:
            li.queue.put_nowait(_EOF)

    def _reply(self, msg: Dict[str, Any]) -> None:
        rid = msg.get("id")
        if rid is None and msg.get("ok") is False and self._pending:
            rid = next(iter(self._pending))  # the daemon could not read the oldest one's id
        entry = self._pending.pop(rid, None) if isinstance(rid, int) else None
        if entry is None:
            return  # the reply to a request that timed out
        fut, on_reply = entry
        if on_reply is not None and msg.get("ok") is True:
            on_reply(msg)  # before any later line is read (own turns)
        if not fut.done():
            fut.set_result(msg)

    def _dispatch(self, ev: Event) -> None:
        kind = ev.kind
        if kind == "turn_started" and (ev.session, ev.of_turn) in self._own_turns:
            self._own_turns.add((ev.session, ev.turn))
        elif kind == "tool_call":
            tool = self._tools.find(ev.session, ev.name)
            if should_answer(ev, tool, self._own_turns, self._answered):
                key = (ev.session, ev.call_id)
                self._answered.add(key)
                task = asyncio.ensure_future(self._run_tool(tool, ev))
                self._tool_tasks[key] = task
                task.add_done_callback(lambda _t, k=key: self._tool_tasks.pop(k, None))
        elif kind == "tool_cancel":
            task = self._tool_tasks.get((ev.session, ev.call_id))
            if task is not None:
                task.cancel()
        for li in list(self._listeners):
            if li.where(ev):
                li.queue.put_nowait(ev)

    def _listen(self, where: Callable[[Event], bool]) -> _Listener:
        li = _Listener(where)
        self._listeners.append(li)
        if self._closed is not None:
            li.queue.put_nowait(_EOF)
        return li

    def _unlisten(self, li: _Listener) -> None:
        if li in self._listeners:
            self._listeners.remove(li)

    # ---- requests --------------------------------------------------------------------------

    async def request(self, op: str, fields: Optional[Dict[str, Any]] = None, /, *,
                      timeout: Optional[float] = -1.0, check: bool = True,
                      _on_reply: Optional[Callable[[Dict[str, Any]], None]] = None,
                      **kw: Any) -> Dict[str, Any]:
        """Sends one request and returns its reply (a dict); see ``Client.request``. Functions
        declared with :meth:`tool` since the last request are registered first."""
        if not op.startswith("tool.register"):
            await self.register_tools()
        if self._closed is not None or self._writer is None:
            raise self._closed or ConnectionClosedError("eof", "not connected to gliveD")
        self._next_id += 1
        rid = self._next_id
        msg = dict(fields or {}, **kw)
        msg.update(op=op, id=rid)
        data = encode(msg)
        fut = asyncio.get_running_loop().create_future()
        self._pending[rid] = (fut, _on_reply)
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (OSError, ConnectionError) as e:
            self._pending.pop(rid, None)
            raise ConnectionClosedError("eof", f"cannot write to gliveD: {e}") from None
        t = self.timeout if timeout == -1.0 else timeout
        try:
            reply = await asyncio.wait_for(asyncio.shield(fut), t)
        except asyncio.TimeoutError:
            self._pending.pop(rid, None)
            raise GliveTimeoutError("timeout", f"no reply to {op} in {t} s") from None
        if check:
            err = reply_error(reply)
            if err is not None:
                raise err
        return reply

    @staticmethod
    def _fields(reply: Dict[str, Any]) -> Dict[str, Any]:
        return {k: v for k, v in reply.items() if k not in ("id", "ok")}

    async def hello(self) -> Dict[str, Any]:
        """``hello``: ``{"daemon": "gliveD", "version": ..., "protocol": 1}``."""
        return self._fields(await self.request("hello", client=self.name))

    async def open(self, session: str, *, model: Optional[str] = None,
                   modality: Optional[str] = None, system_instruction: Any = None,
                   tools: Optional[List[Dict[str, Any]]] = None,
                   generation_config: Optional[Dict[str, Any]] = None,
                   compression: Optional[bool] = None) -> Dict[str, Any]:
        """``open``: creates the session or attaches to it (see ``Client.open``)."""
        return self._fields(await self.request(
            "open", session=session, model=model, modality=modality,
            system_instruction=system_instruction, tools=tools,
            generation_config=generation_config, compression=compression))

    async def close_session(self, session: str) -> None:
        """``close``: ends the session in gliveD."""
        await self.request("close", session=session)

    async def list(self) -> List[Dict[str, Any]]:
        """``list``: one dict per session."""
        return (await self.request("list")).get("sessions") or []

    async def status(self) -> Dict[str, Any]:
        """``status``."""
        return self._fields(await self.request("status"))

    # ---- prompts and events ----------------------------------------------------------------

    async def send(self, session: str, text: str, *, retry: bool = False,
                   timeout: Optional[float] = None) -> "AsyncTurn":
        """``send``: returns the :class:`AsyncTurn`, an async iterator of the answer's events
        (see ``Client.send``)."""
        li = self._listen(lambda ev: ev.session == session)

        def own(reply: Dict[str, Any]) -> None:
            if isinstance(reply.get("turn"), int):
                self._own_turns.add((session, reply["turn"]))
        try:
            reply = await self.request("send", session=session, text=text,
                                       retry=True if retry else None, _on_reply=own)
            if not isinstance(reply.get("turn"), int):
                raise ProtocolError("protocol", 'the reply to "send" has no turn number', reply)
        except BaseException:
            self._unlisten(li)
            raise
        return AsyncTurn(self, session, reply, li, timeout)

    async def subscribe(self, session: str) -> "AsyncSubscription":
        """``subscribe``: every event of the session, whoever prompted, as an async iterator."""
        li = self._listen(lambda ev: ev.session == session)
        try:
            reply = await self.request("subscribe", session=session)
        except BaseException:
            self._unlisten(li)
            raise
        return AsyncSubscription(self, session, reply.get("state"), li)

    async def unsubscribe(self, session: str) -> None:
        """``unsubscribe``."""
        await self.request("unsubscribe", session=session)

    async def events(self) -> AsyncIterator[Event]:
        """Every event on the connection from now on, until gliveD closes it."""
        li = self._listen(lambda ev: True)
        try:
            while True:
                ev = await li.queue.get()
                if ev is _EOF:
                    return
                yield ev
        finally:
            self._unlisten(li)

    async def serve(self) -> None:
        """Registers pending functions, then answers tool calls until gliveD closes the
        connection. For a process that only serves functions."""
        await self.register_tools()
        await self.wait_closed()

    # ---- tools -------------------------------------------------------------------------------

    def tool(self, name: Any = None, session: str = "*", *, description: Optional[str] = None,
             parameters: Optional[Dict[str, Any]] = None,
             declaration: Optional[Dict[str, Any]] = None, timeout: Optional[float] = None,
             scheduling: Optional[str] = None, register: bool = True) -> Any:
        """Decorator, as ``Client.tool``; the function may be ``async def``. It is registered
        with gliveD before the client's next request (or by ``await register_tools()``)."""
        if callable(name):
            self.add_tool(name)
            return name

        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.add_tool(fn, name, session, description=description, parameters=parameters,
                          declaration=declaration, timeout=timeout, scheduling=scheduling,
                          register=register)
            return fn
        return decorate

    def add_tool(self, fn: Callable[..., Any], name: Optional[str] = None, session: str = "*",
                 **options: Any) -> Tool:
        """The non-decorator form of :meth:`tool`."""
        t = Tool(fn, name or fn.__name__, session, **options)
        self._tools.add(t)
        if t.register:
            self._to_register.append(t)
        return t

    async def register_tools(self) -> None:
        """Sends ``tool.register`` for every function declared since; raises the first
        refusal (e.g. ToolExistsError)."""
        while self._to_register:
            t = self._to_register.popleft()
            try:
                await self.request("tool.register", t.register_request())
            except GliveError:
                self._tools.remove(t.name, t.session)
                raise

    async def remove_tool(self, name: str, session: str = "*") -> None:
        """``tool.unregister`` and forgets the function."""
        t = self._tools.remove(name, session)
        if t is not None and t.register and t not in self._to_register:
            await self.request("tool.unregister", session=session, name=name)
        elif t is not None and t in self._to_register:
            self._to_register.remove(t)

    def tool_declarations(self) -> List[Dict[str, Any]]:
        """``[{"function_declarations": [...]}]`` of this client's functions, for ``open``."""
        return self._tools.declarations()

    async def tool_result(self, call_id: str, response: Optional[Dict[str, Any]] = None, *,
                          error: Optional[str] = None, session: Optional[str] = None,
                          scheduling: Optional[str] = None,
                          will_continue: Optional[bool] = None) -> None:
        """``tool.result``: answers a call by hand."""
        if response is None and error is None:
            raise ValueError("tool_result needs response or error")
        await self.request("tool.result", call_id=call_id, response=response, error=error,
                           session=session, scheduling=scheduling, will_continue=will_continue)

    async def _run_tool(self, tool: Tool, call: Event) -> None:
        try:
            if tool.is_async:
                value = await tool.fn(**tool.arguments(call))
            else:
                loop = asyncio.get_running_loop()
                value = await loop.run_in_executor(None, functools.partial(tool.fn, **tool.arguments(call)))
            fields = result_fields(tool, call, value)
        except asyncio.CancelledError:
            return  # tool_cancel: gliveD no longer waits for it
        except Exception as e:
            log.info("glive: tool %s raised %r", tool.name, e)
            fields = result_fields(tool, call, exc=e)
        try:
            await self.request("tool.result", fields)
        except (GliveError, ValueError) as e:
            if not isinstance(e, ConnectionClosedError):
                log.warning("glive: answer to %s (%s) refused: %s", tool.name, call.call_id, e)


class AsyncTurn:
    """The answer to one prompt: ``async for ev in turn``. Same rules as ``glive.Turn``:
    ``turn``, ``queued``, ``done``, ``interrupted``, ``turns``; ``error`` events raise."""

    def __init__(self, client: AsyncClient, session: str, reply: Dict[str, Any],
                 listener: _Listener, timeout: Optional[float] = None):
        self.client = client
        self.session = session
        self.turn: int = reply["turn"]
        self.queued: bool = bool(reply.get("queued"))
        self.tracker = TurnTracker(session, self.turn)
        self._li = listener
        self._deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout

    @property
    def done(self) -> bool:
        return self.tracker.done

    @property
    def interrupted(self) -> Optional[Event]:
        return self.tracker.interrupted

    @property
    def turns(self) -> List[int]:
        return list(self.tracker.turns)

    def __aiter__(self) -> "AsyncTurn":
        return self

    async def __anext__(self) -> Event:
        while True:
            if self.tracker.done:
                self.client._unlisten(self._li)
                raise StopAsyncIteration
            ev = await _get(self._li, self._deadline)
            if ev is _EOF:
                self.client._unlisten(self._li)
                raise self.client._closed or ConnectionClosedError("eof", "gliveD closed the connection")
            if not self.tracker.wants(ev):
                continue
            self.tracker.update(ev)
            if self.tracker.error is not None:
                self.client._unlisten(self._li)
                raise self.tracker.error
            return ev

    def close(self) -> None:
        """Stops collecting this turn's events (after leaving an ``async for`` early)."""
        self.client._unlisten(self._li)

    async def collect(self) -> List[Event]:
        """Reads the rest of the answer; returns its events."""
        return [ev async for ev in self]

    async def text(self) -> str:
        """Reads the rest; returns what the model said (text, or the transcript of its audio)."""
        return said(await self.collect())

    async def save_wav(self, path: str) -> List[Event]:
        """Reads the rest, writing its audio to a WAV file; returns the events."""
        out = []
        with WavWriter(path) as w:
            async for ev in self:
                w.write_event(ev)
                out.append(ev)
        return out

    async def answer(self, call: Event, response: Optional[Dict[str, Any]] = None, *,
                     error: Optional[str] = None, scheduling: Optional[str] = None,
                     will_continue: Optional[bool] = None) -> None:
        """Answers one of this turn's ``tool_call`` events by hand."""
        await self.client.tool_result(call.call_id, response, error=error, session=call.session,
                                      scheduling=scheduling, will_continue=will_continue)


class AsyncSubscription:
    """Every event of one session (``async for``); ends when gliveD closes the connection.
    ``await close()`` unsubscribes."""

    def __init__(self, client: AsyncClient, session: str, state: Optional[str], listener: _Listener):
        self.client = client
        self.session = session
        self.state = state
        self._li = listener
        self._open = True

    def __aiter__(self) -> "AsyncSubscription":
        return self

    async def __anext__(self) -> Event:
        if not self._open:
            raise StopAsyncIteration
        ev = await self._li.queue.get()
        if ev is _EOF:
            self._open = False
            self.client._unlisten(self._li)
            raise StopAsyncIteration
        return ev

    async def next(self, timeout: Optional[float] = None) -> Event:
        """The next event, waiting at most ``timeout`` seconds (GliveTimeoutError)."""
        loop = asyncio.get_running_loop()
        ev = await _get(self._li, None if timeout is None else loop.time() + timeout)
        if ev is _EOF:
            raise self.client._closed or ConnectionClosedError("eof", "gliveD closed the connection")
        return ev

    async def close(self) -> None:
        if self._open:
            self._open = False
            self.client._unlisten(self._li)
            try:
                await self.client.unsubscribe(self.session)
            except GliveError:
                pass

    async def __aenter__(self) -> "AsyncSubscription":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def _get(li: _Listener, deadline: Optional[float]) -> Any:
    if deadline is None:
        return await li.queue.get()
    left = deadline - asyncio.get_running_loop().time()
    try:
        return await asyncio.wait_for(li.queue.get(), max(left, 0))
    except asyncio.TimeoutError:
        raise GliveTimeoutError("timeout", "the answer did not end in time") from None


async def connect(path: Optional[str] = None, **options: Any) -> AsyncClient:
    """A connected :class:`AsyncClient`."""
    return await AsyncClient(path, **options).connect()
