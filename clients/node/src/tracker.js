// When a prompt's answer is over: the rules `glivectl ask` follows (client/glivectl/cmd_ask.c).
//
// A prompt sets going its turn; the turns the model starts to answer its function calls
// (turn_started with of_turn one of ours); the calls themselves until answered or cancelled,
// including code gliveD runs itself (code events with `local`: run_python); and answers to
// NON_BLOCKING calls (unless SILENT) owe a follow-up turn that has not started yet. It is over
// when all of that has ended, or at a final `interrupted` that will not be retried, or an error.
import { errorFrom } from './errors.js';

export class TurnTracker {
  constructor(session, turn) {
    this.session = session;
    this.turns = [];
    this.turnDone = new Map();
    this.calls = new Map(); // pending call_id -> NON_BLOCKING
    this.owedFollowups = 0;
    this.interrupted = null;
    this.error = null;
    if (turn !== undefined && turn !== null) this.start(turn);
  }

  /** The turn number `send` replied. */
  start(turn) {
    if (!this.turnDone.has(turn)) {
      this.turns.push(turn);
      this.turnDone.set(turn, false);
    }
  }

  /** True if the event belongs to this prompt. */
  wants(ev) {
    if (ev.session !== this.session) return false;
    if (ev.event === 'turn_started' && this.turnDone.has(ev.of_turn)) return true;
    return ev.turn === undefined || ev.turn === null || this.turnDone.has(ev.turn);
  }

  /** Takes a wanted event into account. */
  update(ev) {
    const kind = ev.event;
    if (kind === 'turn_started' && this.turnDone.has(ev.of_turn)) {
      this.start(ev.turn);
      this.owedFollowups = 0;
    }
    const local = ev.local === true;
    const id = ev.call_id;
    if ((kind === 'tool_call' || (local && kind === 'code')) && typeof id === 'string') {
      if (!this.calls.has(id)) this.calls.set(id, ev.behavior === 'NON_BLOCKING');
    } else if (kind === 'tool_result' && ev.will_continue !== true) {
      this.answered(id, ev.scheduling);
    } else if (local && kind === 'code_result') {
      this.answered(id, null);
    } else if (kind === 'tool_cancel') {
      this.calls.delete(id);
    } else if (kind === 'turn_complete' && this.turnDone.has(ev.turn)) {
      this.turnDone.set(ev.turn, true);
    } else if (kind === 'interrupted' && ev.final !== false && this.turnDone.has(ev.turn)) {
      if (ev.retrying === true) this.turnDone.set(ev.turn, false); // sent again, same turn number
      else this.interrupted = ev;
    } else if (kind === 'error') {
      this.error = errorFrom(ev.code, ev.message, ev.raw || ev);
    } else if (kind === 'state' && ev.state === 'closed' && ev.reason) {
      this.error = errorFrom('closed', `session "${this.session}" closed: ${ev.reason}`, ev.raw || ev);
    }
  }

  /** A call got its (last) answer: a non-blocking one owes a follow-up unless SILENT. */
  answered(id, scheduling) {
    if (this.calls.has(id)) {
      if (this.calls.get(id) && scheduling !== 'SILENT') this.owedFollowups++;
      this.calls.delete(id);
    }
  }

  /** The prompt's answer is over (also after an error or a final interruption). */
  get done() {
    if (this.error || this.interrupted) return true;
    if (!this.turns.length || this.calls.size || this.owedFollowups) return false;
    for (const d of this.turnDone.values()) if (!d) return false;
    return true;
  }
}
