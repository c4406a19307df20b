// Tool handlers: functions that answer the model's function calls.
import { ToolResult } from './events.js';

export const SCHEDULINGS = ['INTERRUPT', 'WHEN_IDLE', 'SILENT'];

/** A function registered with a client. */
export class Tool {
  constructor(name, handler, { session = '*', description, parameters, declaration, timeout, scheduling, register = true } = {}) {
    if (typeof handler !== 'function') throw new TypeError('a tool handler must be a function');
    if (scheduling !== undefined && scheduling !== null && !SCHEDULINGS.includes(scheduling))
      throw new RangeError(`scheduling must be one of ${SCHEDULINGS.join(', ')}`);
    this.name = name;
    this.handler = handler;
    this.session = session;
    this.timeout = timeout;
    this.scheduling = scheduling;
    this.register = register;
    const decl = declaration ? { ...declaration } : { name };
    if (!declaration) {
      if (description) decl.description = description;
      if (parameters) decl.parameters = parameters;
    }
    decl.name = name;
    this.declaration = decl;
  }

  /** The tool.register request's fields. */
  registerRequest() {
    return { session: this.session, declaration: this.declaration, timeout_s: this.timeout };
  }
}

const isPlainObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof ToolResult);

/**
 * The tool.result request for a handler's return value (or the error it threw): an object is
 * the response; a ToolResult says it all; undefined/null give {result: "ok"}; any other value v
 * gives {result: v}; an error gives `error` = its message. Scheduling (the ToolResult's, else
 * the tool's) and will_continue are sent for NON_BLOCKING calls only.
 */
export function resultFields(tool, call, value, err) {
  const fields = { session: call.session, call_id: call.call_id };
  let scheduling = tool ? tool.scheduling : undefined;
  let willContinue = false;
  if (err !== undefined) {
    fields.error = (err && err.message) || String(err) || 'error';
  } else {
    if (value instanceof ToolResult) {
      scheduling = value.scheduling || scheduling;
      willContinue = !!value.willContinue;
      if (value.error !== undefined && value.error !== null) fields.error = String(value.error);
      value = value.response;
    }
    if (!('error' in fields)) {
      if (value === undefined || value === null) value = { result: 'ok' };
      else if (!isPlainObject(value)) value = { result: value };
      try {
        JSON.stringify(value);
        fields.response = value;
      } catch (e) {
        fields.error = `the handler's answer is not JSON: ${e.message}`;
      }
    }
  }
  if (call.behavior === 'NON_BLOCKING') {
    if (scheduling) fields.scheduling = scheduling;
    if (willContinue) fields.will_continue = true;
  }
  return fields;
}

/**
 * Whether this client answers a tool_call: it has a function of that name, and gliveD routed the
 * call to a registered handler ("handler": true) that this client registered, or to the
 * prompting client ("handler": false) and the call belongs to a turn this client's prompt set
 * going. Each call is answered once.
 */
export function shouldAnswer(ev, tool, ownTurns, answered) {
  if (ev.event !== 'tool_call' || !tool || typeof ev.call_id !== 'string') return false;
  if (answered.has(`${ev.session}\n${ev.call_id}`)) return false;
  if (ev.handler === true) return tool.register;
  return ownTurns.has(`${ev.session}\n${ev.turn}`);
}

/** The functions one client serves, found by (session, name) then ('*', name). */
export class ToolTable {
  constructor() {
    this.byKey = new Map();
  }

  add(tool) {
    this.byKey.set(`${tool.session}\n${tool.name}`, tool);
  }

  remove(name, session = '*') {
    const key = `${session}\n${name}`;
    const t = this.byKey.get(key);
    this.byKey.delete(key);
    return t;
  }

  find(session, name) {
    return this.byKey.get(`${session}\n${name}`) || this.byKey.get(`*\n${name}`);
  }

  /** [{function_declarations: [...]}] of every function (unique by name), for open's tools. */
  declarations() {
    const seen = new Map();
    for (const t of this.byKey.values()) if (!seen.has(t.name)) seen.set(t.name, t.declaration);
    return seen.size ? [{ function_declarations: [...seen.values()] }] : [];
  }
}

/** A bounded set (oldest forgotten first). */
export class Recent {
  constructor(limit = 4096) {
    this.set = new Set();
    this.limit = limit;
  }

  add(key) {
    this.set.add(key);
    if (this.set.size > this.limit) this.set.delete(this.set.values().next().value);
  }

  has(key) {
    return this.set.has(key);
  }
}
