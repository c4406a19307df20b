// The client: one Unix-socket connection to gliveD.
//
//   import { connect } from 'glive';
//   const client = await connect();                 // the daemon's default socket
//   await client.open('main');
//   for await (const ev of await client.send('main', 'Hello?'))
//     if (ev.kind === 'text') process.stdout.write(ev.text);
//   client.close();
//
// Every event goes to every reader interested in it (each Turn and Subscription has its own
// queue, filled from the moment it was created). Tool calls are answered as soon as they arrive
// (handlers run concurrently); a tool_cancel aborts the handler's AbortSignal.
import net from 'node:net';
import {
  ConnectError, ConnectionClosedError, GliveError, ProtocolError, TimeoutError, replyError,
} from './errors.js';
import { Event, said } from './events.js';
import { LineDecoder, defaultSocketPath, encode, isEvent, parseLine } from './protocol.js';
import { Recent, Tool, ToolTable, resultFields, shouldAnswer } from './tools.js';
import { TurnTracker } from './tracker.js';
import { WavWriter } from './wav.js';

const EOF = Symbol('eof');

/** An event queue with one async reader. */
class Listener {
  constructor(where) {
    this.where = where;
    this.items = [];
    this.waiter = null;
  }

  push(item) {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(item);
    } else {
      this.items.push(item);
    }
  }

  /** The next item, or throws TimeoutError once `deadline` (ms since epoch, or null) passes. */
  next(deadline) {
    if (this.items.length) return Promise.resolve(this.items.shift());
    return new Promise((resolve, reject) => {
      let timer = null;
      if (deadline !== null && deadline !== undefined) {
        timer = setTimeout(() => {
          this.waiter = null;
          reject(new TimeoutError('timeout', 'the answer did not end in time'));
        }, Math.max(0, deadline - Date.now()));
      }
      this.waiter = (item) => {
        if (timer) clearTimeout(timer);
        resolve(item);
      };
    });
  }
}

const key = (session, x) => `${session}\n${x}`;

function pick(opts, camel, snake) {
  return opts[camel] !== undefined ? opts[camel] : opts[snake];
}

export class Client {
  /**
   * @param {string} [path] the socket (default: defaultSocketPath())
   * @param {object} [opts] timeout: seconds a request waits for its reply (null: forever;
   *   default 30); name: sent by hello()
   */
  constructor(path, { timeout = 30, name = 'glive-node' } = {}) {
    this.path = path || defaultSocketPath();
    this.timeout = timeout;
    this.name = name;
    this.sock = null;
    this.decoder = new LineDecoder();
    this.pending = new Map(); // id -> {resolve, reject, onReply}
    this.listeners = new Set();
    this.nextId = 0;
    this.closedError = null;
    this.tools = new ToolTable();
    this.ownTurns = new Recent();
    this.answered = new Recent();
    this.running = new Map(); // session\ncall_id -> AbortController
    this.closed = new Promise((resolve) => { this._resolveClosed = resolve; });
  }

  // ---- the connection ---------------------------------------------------------------------

  /** Connects (ConnectError if it cannot); resolves to the client. */
  connect() {
    return new Promise((resolve, reject) => {
      const sock = net.createConnection({ path: this.path });
      const fail = (e) => {
        reject(new ConnectError('connect', `cannot connect to ${this.path}: ${e.code || e.message} (is gliveD running?)`));
      };
      sock.once('error', fail);
      sock.once('connect', () => {
        sock.removeListener('error', fail);
        this.sock = sock;
        this.closedError = null;
        sock.on('data', (chunk) => this._onData(chunk));
        sock.on('error', (e) => this._shut(new ConnectionClosedError('eof', `connection to gliveD lost: ${e.message}`)));
        sock.on('close', () => this._shut(new ConnectionClosedError('eof', 'gliveD closed the connection')));
        resolve(this);
      });
    });
  }

  /** Closes the connection (the sessions live on in gliveD; handlers are unregistered). */
  close() {
    for (const ac of this.running.values()) ac.abort();
    if (this.sock) this.sock.destroy();
    this._shut(new ConnectionClosedError('eof', 'the connection was closed'));
  }

  _shut(err) {
    if (this.closedError) return;
    this.closedError = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    for (const li of this.listeners) li.push(EOF);
    this._resolveClosed();
  }

  _onData(chunk) {
    const before = this.decoder.dropped;
    const lines = this.decoder.feed(chunk);
    if (this.decoder.dropped !== before) process.emitWarning(`glive: dropped a line from gliveD over ${this.decoder.maxLine} bytes`);
    for (const line of lines) {
      let msg;
      try {
        msg = parseLine(line);
      } catch (e) {
        process.emitWarning(`glive: ${e.message}`);
        continue;
      }
      if (isEvent(msg)) this._dispatch(new Event(msg));
      else this._reply(msg);
    }
  }

  _reply(msg) {
    let id = msg.id;
    if ((id === null || id === undefined) && msg.ok === false && this.pending.size)
      id = this.pending.keys().next().value; // gliveD could not read the oldest one's id
    const p = this.pending.get(id);
    if (!p) return; // the reply to a request that timed out
    this.pending.delete(id);
    if (p.onReply && msg.ok === true) p.onReply(msg); // before any later line (own turns)
    p.resolve(msg);
  }

  _dispatch(ev) {
    if (ev.event === 'turn_started' && this.ownTurns.has(key(ev.session, ev.of_turn))) {
      this.ownTurns.add(key(ev.session, ev.turn));
    } else if (ev.event === 'tool_call') {
      const tool = this.tools.find(ev.session, ev.name);
      if (shouldAnswer(ev, tool, this.ownTurns, this.answered)) {
        this.answered.add(key(ev.session, ev.call_id));
        this._runTool(tool, ev);
      }
    } else if (ev.event === 'tool_cancel') {
      const ac = this.running.get(key(ev.session, ev.call_id));
      if (ac) ac.abort();
    }
    for (const li of this.listeners) if (li.where(ev)) li.push(ev);
  }

  _listen(where) {
    const li = new Listener(where);
    this.listeners.add(li);
    if (this.closedError) li.push(EOF);
    return li;
  }

  _unlisten(li) {
    this.listeners.delete(li);
  }

  // ---- requests ---------------------------------------------------------------------------

  /**
   * Sends one request and resolves to its reply. Fields that are null/undefined are left out.
   * A failed reply rejects with its GliveError subclass unless check is false.
   * @param {string} op
   * @param {object} [fields]
   * @param {object} [opts] timeout (seconds; default the client's), check (default true)
   */
  request(op, fields = {}, { timeout, check = true, onReply } = {}) {
    if (this.closedError || !this.sock) return Promise.reject(this.closedError || new ConnectionClosedError('eof', 'not connected to gliveD'));
    const id = ++this.nextId;
    const line = encode({ ...fields, op, id });
    const t = timeout === undefined ? this.timeout : timeout;
    return new Promise((resolve, reject) => {
      let timer = null;
      const done = (fn) => (v) => {
        if (timer) clearTimeout(timer);
        fn(v);
      };
      this.pending.set(id, { resolve: done(resolve), reject: done(reject), onReply });
      if (t !== null && t !== undefined) {
        timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new TimeoutError('timeout', `no reply to ${op} in ${t} s`));
        }, t * 1000);
      }
      this.sock.write(line);
    }).then((reply) => {
      if (check) {
        const err = replyError(reply);
        if (err) throw err;
      }
      return reply;
    });
  }

  static _fields(reply) {
    const { id, ok, ...rest } = reply;
    return rest;
  }

  /** hello: {daemon: "gliveD", version, protocol: 1}. */
  async hello() {
    return Client._fields(await this.request('hello', { client: this.name }));
  }

  /**
   * open: creates the session or attaches to it. opts: model, modality ("TEXT" | "AUDIO"),
   * systemInstruction, tools, generationConfig, compression (snake_case names work too).
   * Resolves to {session, created, state, model, modality}; ConflictError if it exists with
   * another config.
   */
  async open(session, opts = {}) {
    return Client._fields(await this.request('open', {
      session,
      model: opts.model,
      modality: opts.modality,
      system_instruction: pick(opts, 'systemInstruction', 'system_instruction'),
      tools: opts.tools,
      generation_config: pick(opts, 'generationConfig', 'generation_config'),
      compression: opts.compression,
    }));
  }

  /** close: ends the session in gliveD (for every client). */
  async closeSession(session) {
    await this.request('close', { session });
  }

  /** list: one object per session. */
  async list() {
    return (await this.request('list')).sessions || [];
  }

  /** status: uptime, counters, session_list, registered tools... */
  async status() {
    return Client._fields(await this.request('status'));
  }

  // ---- prompts and events -----------------------------------------------------------------

  /**
   * send: prompts the session; resolves to the Turn, an async iterator of the answer's events.
   * It ends when the turn and what it caused have ended (function calls, the turns that answer
   * them). opts: retry (gliveD re-sends the prompt if the connection is lost mid-turn),
   * timeout (seconds for the whole answer; default none).
   */
  async send(session, text, { retry = false, timeout = null } = {}) {
    const li = this._listen((ev) => ev.session === session);
    let reply;
    try {
      reply = await this.request('send', { session, text, retry: retry ? true : undefined }, {
        onReply: (r) => { if (Number.isInteger(r.turn)) this.ownTurns.add(key(session, r.turn)); },
      });
      if (!Number.isInteger(reply.turn)) throw new ProtocolError('protocol', 'the reply to "send" has no turn number', reply);
    } catch (e) {
      this._unlisten(li);
      throw e;
    }
    return new Turn(this, session, reply, li, timeout);
  }

  /** subscribe: every event of the session, whoever prompted; resolves to a Subscription. */
  async subscribe(session) {
    const li = this._listen((ev) => ev.session === session);
    try {
      const reply = await this.request('subscribe', { session });
      return new Subscription(this, session, reply.state, li);
    } catch (e) {
      this._unlisten(li);
      throw e;
    }
  }

  /** unsubscribe. */
  async unsubscribe(session) {
    await this.request('unsubscribe', { session });
  }

  /** Every event on the connection from now on, until gliveD closes it. */
  async *events() {
    const li = this._listen(() => true);
    try {
      for (;;) {
        const ev = await li.next(null);
        if (ev === EOF) return;
        yield ev;
      }
    } finally {
      this._unlisten(li);
    }
  }

  // ---- tools ------------------------------------------------------------------------------

  /**
   * Serves the model's calls of function `name` with handler(args, call, {signal}); resolves to
   * the tool.register reply. opts: session ("*", default: every session that declares it at
   * open; or a session name: declares it there), description, parameters, declaration,
   * timeout (seconds gliveD waits), scheduling ("INTERRUPT" | "WHEN_IDLE" | "SILENT": the
   * default for NON_BLOCKING calls), register (false: not registered; answers calls routed to
   * this client as the prompting client).
   *
   * The handler's value is the response: an object; undefined ({result: "ok"}); another value v
   * ({result: v}); or a ToolResult. A throw becomes {error: message}. `signal` aborts when the
   * model cancels the call.
   */
  async tool(name, handler, opts = {}) {
    const t = new Tool(name, handler, opts);
    let reply = {};
    if (t.register) reply = Client._fields(await this.request('tool.register', t.registerRequest()));
    this.tools.add(t);
    return reply;
  }

  /** tool.unregister (for a registered function) and forgets the function. */
  async removeTool(name, session = '*') {
    const t = this.tools.remove(name, session);
    if (t && t.register) await this.request('tool.unregister', { session, name });
  }

  /** [{function_declarations: [...]}] of this client's functions, for open's tools. */
  toolDeclarations() {
    return this.tools.declarations();
  }

  /** tool.result: answers a call by hand. opts: error, session, scheduling, willContinue. */
  async toolResult(callId, response, { error, session, scheduling, willContinue } = {}) {
    if (response === undefined && error === undefined) throw new TypeError('toolResult needs a response or an error');
    await this.request('tool.result', {
      call_id: callId, response, error, session, scheduling, will_continue: willContinue,
    });
  }

  async _runTool(tool, call) {
    const k = key(call.session, call.call_id);
    const ac = new AbortController();
    this.running.set(k, ac);
    let fields;
    try {
      const value = await tool.handler(call.args && typeof call.args === 'object' ? call.args : {}, call, { signal: ac.signal });
      fields = resultFields(tool, call, value);
    } catch (e) {
      fields = resultFields(tool, call, undefined, e === undefined ? new Error('error') : e);
    } finally {
      this.running.delete(k);
    }
    if (ac.signal.aborted) return; // tool_cancel: gliveD no longer waits for it
    try {
      await this.request('tool.result', fields);
    } catch (e) {
      if (!(e instanceof ConnectionClosedError)) process.emitWarning(`glive: answer to ${tool.name} (${call.call_id}) refused: ${e.message}`);
    }
  }
}

/**
 * The answer to one prompt: `for await (const ev of turn)`. `turn` is the turn number, `queued`
 * whether it waited behind another turn. It ends when the prompt's turn and what it caused have
 * ended (on models that answer function calls in turns of their own, NON_BLOCKING calls on 3.8
 * Live, that includes those turns). An error event rejects with its GliveError; a final
 * interrupted is yielded and ends it (`interrupted` then holds it).
 */
export class Turn {
  constructor(client, session, reply, listener, timeout) {
    this.client = client;
    this.session = session;
    this.turn = reply.turn;
    this.queued = !!reply.queued;
    this.tracker = new TurnTracker(session, reply.turn);
    this.li = listener;
    this.deadline = timeout === null || timeout === undefined ? null : Date.now() + timeout * 1000;
  }

  get done() {
    return this.tracker.done;
  }

  get interrupted() {
    return this.tracker.interrupted;
  }

  /** The turn numbers so far: the prompt's, then those answering its calls. */
  get turns() {
    return [...this.tracker.turns];
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  async next() {
    for (;;) {
      if (this.tracker.done) {
        this.close();
        return { done: true, value: undefined };
      }
      let ev;
      try {
        ev = await this.li.next(this.deadline);
      } catch (e) {
        this.close();
        throw e;
      }
      if (ev === EOF) {
        this.close();
        throw this.client.closedError || new ConnectionClosedError('eof', 'gliveD closed the connection');
      }
      if (!this.tracker.wants(ev)) continue;
      this.tracker.update(ev);
      if (this.tracker.error) {
        this.close();
        throw this.tracker.error;
      }
      return { done: false, value: ev };
    }
  }

  /** Called when a for-await loop is left early: stops collecting events. */
  async return() {
    this.close();
    return { done: true, value: undefined };
  }

  /** Stops collecting this turn's events. */
  close() {
    this.client._unlisten(this.li);
  }

  /** Reads the rest of the answer; resolves to its events. */
  async collect() {
    const out = [];
    for await (const ev of this) out.push(ev);
    return out;
  }

  /** Reads the rest; resolves to what the model said (text, or the transcript of its audio). */
  async text() {
    return said(await this.collect());
  }

  /** Reads the rest, writing its audio to a WAV file (24 kHz s16le mono); resolves to the events. */
  async saveWav(path) {
    const w = new WavWriter(path);
    const out = [];
    try {
      for await (const ev of this) {
        w.writeEvent(ev);
        out.push(ev);
      }
    } finally {
      w.close();
    }
    return out;
  }

  /** Answers one of this turn's tool_call events by hand. */
  answer(call, response, opts = {}) {
    return this.client.toolResult(call.call_id, response, { ...opts, session: call.session });
  }
}

/**
 * Every event of one session, whoever prompted: `for await (const ev of sub)`; ends when gliveD
 * closes the connection. `state` is the session's state when it began; close() unsubscribes.
 */
export class Subscription {
  constructor(client, session, state, listener) {
    this.client = client;
    this.session = session;
    this.state = state;
    this.li = listener;
    this.open = true;
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  async next(timeout) {
    if (!this.open) return { done: true, value: undefined };
    const ev = await this.li.next(timeout === undefined || timeout === null ? null : Date.now() + timeout * 1000);
    if (ev === EOF) {
      this.open = false;
      this.client._unlisten(this.li);
      return { done: true, value: undefined };
    }
    return { done: false, value: ev };
  }

  async return() {
    await this.close();
    return { done: true, value: undefined };
  }

  /** Unsubscribes. */
  async close() {
    if (!this.open) return;
    this.open = false;
    this.client._unlisten(this.li);
    try {
      await this.client.unsubscribe(this.session);
    } catch (e) {
      if (!(e instanceof GliveError)) throw e;
    }
  }
}

/** A connected Client (path default: the daemon's socket rule). */
export function connect(path, opts) {
  return new Client(path, opts).connect();
}
