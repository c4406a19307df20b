"""When a prompt's answer is over: the rules ``glivectl ask`` follows (client/glivectl/cmd_ask.c).

A prompt sets going its turn; the turns the model starts to answer its function calls
(``turn_started`` with ``of_turn`` one of ours); the calls themselves until answered or cancelled,
including code gliveD runs itself (``code`` events with ``local``: run_python); and answers to
NON_BLOCKING calls (unless SILENT) owe a follow-up turn that has not started yet. It is over when
all of that has ended, or at a final ``interrupted`` that will not be retried, or an ``error``.
"""
from __future__ import annotations

from typing import Dict, List, Optional

from .errors import GliveError, error_from
from .events import Event


class TurnTracker:
    """Pure bookkeeping for one prompt: feed it the connection's events with ``wants`` and
    ``update``; ``done`` says when the prompt's answer is over."""

    def __init__(self, session: str, turn: Optional[int] = None):
        self.session = session
        self.turns: List[int] = []
        self._done: Dict[int, bool] = {}
        self.calls: Dict[str, bool] = {}  # pending call_id -> NON_BLOCKING
        self.owed_followups = 0
        self.interrupted: Optional[Event] = None
        self.error: Optional[GliveError] = None
        if turn is not None:
            self.start(turn)

    def start(self, turn: int) -> None:
        """The turn number ``send`` replied."""
        if turn not in self._done:
            self.turns.append(turn)
            self._done[turn] = False

    def wants(self, ev: Event) -> bool:
        """True if the event belongs to this prompt: its session, and one of its turns (or no
        turn: ``state``), or a ``turn_started`` answering one of its calls."""
        if ev.session != self.session:
            return False
        if ev.kind == "turn_started" and ev.of_turn in self._done:
            return True
        return ev.turn is None or ev.turn in self._done

    def update(self, ev: Event) -> None:
        """Takes a wanted event into account."""
        kind = ev.kind
        if kind == "turn_started" and ev.of_turn in self._done:
            self.start(ev.turn)
            self.owed_followups = 0
        local_code = ev.local is True
        cid = ev.call_id
        if (kind == "tool_call" or (local_code and kind == "code")) and isinstance(cid, str):
            if cid not in self.calls:
                self.calls[cid] = ev.behavior == "NON_BLOCKING"
        elif kind == "tool_result" and ev.will_continue is not True:
            self.answered(cid, ev.scheduling)
        elif local_code and kind == "code_result":
            self.answered(cid, None)
        elif kind == "tool_cancel":
            self.calls.pop(cid, None)
        elif kind == "turn_complete" and ev.turn in self._done:
            self._done[ev.turn] = True
        elif kind == "interrupted" and ev.final is not False and ev.turn in self._done:
            if ev.retrying is True:  # sent again on the next connection, same turn number
                self._done[ev.turn] = False
            else:
                self.interrupted = ev
        elif kind == "error":
            self.error = error_from(ev.code, ev.message, ev.raw)
        elif kind == "state" and ev.state == "closed" and ev.reason:
            self.error = error_from("closed", f'session "{self.session}" closed: {ev.reason}', ev.raw)

    def answered(self, call_id: Optional[str], scheduling: Optional[str]) -> None:
        """A call got its (last) answer: a non-blocking one owes a follow-up unless SILENT."""
        if call_id in self.calls:
            if self.calls.pop(call_id) and scheduling != "SILENT":
                self.owed_followups += 1

    @property
    def done(self) -> bool:
        """The prompt's answer is over (also after an error or a final interruption)."""
        if self.error is not None or self.interrupted is not None:
            return True
        return (bool(self.turns) and all(self._done.values()) and not self.calls
                and self.owed_followups == 0)
