// Unit tests of the glive package without gliveD: framing, the socket rule, error mapping,
// events, tool answers, the end-of-answer rules, WAV files, and the client against a scripted
// fake daemon on a Unix socket. Run: node --test clients/node/test/
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import {
  BadRequestError, Client, ConflictError, ConnectError, Event, GliveError, LineDecoder,
  NoSessionError, ProtocolError, SessionClosedError, TimeoutError, Tool, ToolResult, TurnTracker,
  UpstreamError, connect, defaultSocketPath, encode, errorFrom, parseLine, readWav, replyError,
  resultFields, said, writeWav,
} from '../src/index.js';

const ev = (fields) => new Event(fields);

test('socket rule: GLIVE_SOCKET, RUNTIME_DIRECTORY, XDG_RUNTIME_DIR, /run/glive', () => {
  const env = { GLIVE_SOCKET: '/a.sock', RUNTIME_DIRECTORY: '/r', XDG_RUNTIME_DIR: '/x' };
  assert.equal(defaultSocketPath(env), '/a.sock');
  delete env.GLIVE_SOCKET;
  assert.equal(defaultSocketPath(env), '/r/gliveD.sock');
  delete env.RUNTIME_DIRECTORY;
  assert.equal(defaultSocketPath(env), '/x/glive/gliveD.sock');
  assert.equal(defaultSocketPath({}), '/run/glive/gliveD.sock');
  assert.equal(defaultSocketPath({ GLIVE_SOCKET: '', RUNTIME_DIRECTORY: '', XDG_RUNTIME_DIR: '/x' }), '/x/glive/gliveD.sock');
});

test('the client uses the rule; connect errors carry code "connect" and the path', async () => {
  const old = process.env.GLIVE_SOCKET;
  process.env.GLIVE_SOCKET = '/nonexistent/glive-test.sock';
  try {
    await assert.rejects(connect(), (e) => e instanceof ConnectError && e.code === 'connect' &&
      e.message.includes('/nonexistent/glive-test.sock'));
  } finally {
    if (old === undefined) delete process.env.GLIVE_SOCKET;
    else process.env.GLIVE_SOCKET = old;
  }
});

test('encode: one compact line, null and undefined fields left out', () => {
  const line = encode({ op: 'send', session: 's', text: 'a\nb', retry: undefined, model: null, id: 1 });
  assert.ok(line.endsWith('\n'));
  assert.equal(line.split('\n').length, 2);
  assert.deepEqual(JSON.parse(line), { op: 'send', session: 's', text: 'a\nb', id: 1 });
});

test('LineDecoder: chunks, CRLF, blank lines, too-long lines', () => {
  const d = new LineDecoder();
  assert.deepEqual(d.feed('{"a":1}\r\n  \n\t\n{"b"').map(String), ['{"a":1}']);
  assert.deepEqual(d.feed(':2}'), []);
  assert.deepEqual(d.feed('\n{"c":3}\n').map(String), ['{"b":2}', '{"c":3}']);
  const small = new LineDecoder(16);
  assert.deepEqual(small.feed('x'.repeat(40)), []);
  assert.deepEqual(small.feed('y'.repeat(40) + '\n{"ok":true}\n').map(String), ['{"ok":true}']);
  assert.equal(small.dropped, 1);
  assert.deepEqual(small.feed('z'.repeat(17) + '\n{"n":1}\n').map(String), ['{"n":1}']);
  assert.equal(small.dropped, 2);
});

test('parseLine refuses what is not a protocol line', () => {
  assert.equal(parseLine(Buffer.from('{"event":"text","session":"s"}')).event, 'text');
  for (const bad of ['nope', '[1]', '{"x":1}', 'null'])
    assert.throws(() => parseLine(bad), (e) => e instanceof ProtocolError && e.code === 'protocol');
});

test('error codes map to classes; unknown codes stay GliveError', () => {
  const cases = {
    bad_request: BadRequestError, line_too_long: BadRequestError, no_session: NoSessionError,
    conflict: ConflictError, closed: SessionClosedError, upstream: UpstreamError, timeout: TimeoutError,
  };
  for (const [code, Cls] of Object.entries(cases)) {
    const e = errorFrom(code, 'm');
    assert.ok(e instanceof Cls && e instanceof GliveError && e instanceof Error);
    assert.equal(e.code, code);
    assert.equal(e.message, 'm');
    assert.equal(e.name, Cls.name);
  }
  const u = errorFrom('brand_new_code', 'later');
  assert.equal(u.constructor, GliveError);
  assert.equal(u.code, 'brand_new_code');
  assert.equal(errorFrom('toString').constructor, GliveError);
  assert.equal(replyError({ id: 1, ok: true }), null);
  const r = replyError({ id: 1, ok: false, error: { code: 'no_session', message: 'no session "x"' } });
  assert.ok(r instanceof NoSessionError);
  assert.equal(replyError({ id: 1, ok: false }).code, 'protocol');
});

test('events: fields, kind, audio pcm and rate, said()', () => {
  const e = ev({ event: 'tool_call', session: 's', turn: 2, call_id: 'c', args: { a: 1 } });
  assert.equal(e.kind, 'tool_call');
  assert.deepEqual([e.session, e.turn, e.call_id, e.args], ['s', 2, 'c', { a: 1 }]);
  assert.equal(e.scheduling, undefined);
  const pcm = Buffer.from([0, 0, 0xe8, 0x03, 0x18, 0xfc]);
  const a = ev({ event: 'audio', mime: 'audio/pcm;rate=16000', data: pcm.toString('base64') });
  assert.deepEqual([a.pcm, a.rate], [pcm, 16000]);
  assert.equal(ev({ event: 'audio', mime: 'audio/pcm', data: '' }).rate, 24000);
  assert.equal(ev({ event: 'x', rate: 5, kind: 'k' }).rate, 5); // fields win over getters, no throw
  assert.equal(said([ev({ event: 'text', turn: 1, text: 'Sure.' }),
    ev({ event: 'transcript', turn: 2, source: 'output', text: 'OK' }),
    ev({ event: 'transcript', turn: 2, source: 'input', text: 'no' }),
    ev({ event: 'transcript', turn: 2, source: 'output', text: ', done.' })]), 'Sure.\nOK, done.');
});

test('tool answers: return values, errors, scheduling only for NON_BLOCKING calls', () => {
  const call = ev({ event: 'tool_call', session: 's', call_id: 'c', behavior: 'BLOCKING' });
  const acall = ev({ event: 'tool_call', session: 's', call_id: 'c', behavior: 'NON_BLOCKING' });
  const t = new Tool('f', () => {}, { scheduling: 'SILENT' });
  assert.deepEqual(resultFields(t, call, { a: 1 }), { session: 's', call_id: 'c', response: { a: 1 } });
  assert.deepEqual(resultFields(t, call, undefined).response, { result: 'ok' });
  assert.deepEqual(resultFields(t, call, [1, 2]).response, { result: [1, 2] });
  assert.equal(resultFields(t, call, undefined, new Error('bulb broken')).error, 'bulb broken');
  assert.match(resultFields(t, call, { n: 1n }).error, /not JSON/);
  assert.equal(resultFields(t, acall, {}).scheduling, 'SILENT');
  const r = resultFields(t, acall, new ToolResult({ p: 1 }, { scheduling: 'INTERRUPT', willContinue: true }));
  assert.deepEqual([r.response, r.scheduling, r.will_continue], [{ p: 1 }, 'INTERRUPT', true]);
  assert.equal(resultFields(t, call, new ToolResult(null, { error: 'nope' })).error, 'nope');
  assert.throws(() => new Tool('f', () => {}, { scheduling: 'LATER' }), RangeError);
  assert.deepEqual(new Tool('f', () => {}, { description: 'd', parameters: { type: 'OBJECT' } }).declaration,
    { name: 'f', description: 'd', parameters: { type: 'OBJECT' } });
});

function feed(tr, ...events) {
  for (const e of events) if (tr.wants(e)) tr.update(e);
  return tr;
}

test('tracker: a blocking call ends with its turn', () => {
  const tr = feed(new TurnTracker('s', 1),
    ev({ event: 'tool_call', session: 's', turn: 1, call_id: 'c', behavior: 'BLOCKING' }),
    ev({ event: 'tool_result', session: 's', turn: 1, call_id: 'c' }));
  assert.equal(tr.done, false);
  feed(tr, ev({ event: 'turn_complete', session: 's', turn: 1 }));
  assert.equal(tr.done, true);
});

test('tracker: a NON_BLOCKING call owes a follow-up turn (of_turn)', () => {
  const tr = feed(new TurnTracker('s', 1),
    ev({ event: 'tool_call', session: 's', turn: 1, call_id: 'c', behavior: 'NON_BLOCKING' }),
    ev({ event: 'turn_complete', session: 's', turn: 1 }),
    ev({ event: 'tool_result', session: 's', turn: 1, call_id: 'c' }));
  assert.equal(tr.done, false);
  assert.equal(tr.wants(ev({ event: 'text', session: 's', turn: 2 })), false);
  feed(tr, ev({ event: 'turn_started', session: 's', turn: 2, of_turn: 1, cause: 'function_response' }));
  assert.equal(tr.done, false);
  feed(tr, ev({ event: 'turn_complete', session: 's', turn: 2 }));
  assert.equal(tr.done, true);
  assert.deepEqual(tr.turns, [1, 2]);
});

test('tracker: SILENT, will_continue, local code, cancel, interruptions, errors', () => {
  let tr = feed(new TurnTracker('s', 1),
    ev({ event: 'tool_call', session: 's', turn: 1, call_id: 'c', behavior: 'NON_BLOCKING' }),
    ev({ event: 'turn_complete', session: 's', turn: 1 }),
    ev({ event: 'tool_result', session: 's', turn: 1, call_id: 'c', will_continue: true }));
  assert.equal(tr.done, false);
  feed(tr, ev({ event: 'tool_result', session: 's', turn: 1, call_id: 'c', scheduling: 'SILENT' }));
  assert.equal(tr.done, true);
  tr = feed(new TurnTracker('s', 1),
    ev({ event: 'code', session: 's', turn: 1, local: true, call_id: 'r' }),
    ev({ event: 'tool_call', session: 's', turn: 1, call_id: 'x' }),
    ev({ event: 'tool_cancel', session: 's', turn: 1, call_id: 'x' }),
    ev({ event: 'turn_complete', session: 's', turn: 1 }));
  assert.equal(tr.done, false);
  feed(tr, ev({ event: 'code_result', session: 's', turn: 1, local: true, call_id: 'r' }));
  assert.equal(tr.done, true);
  tr = feed(new TurnTracker('s', 1), ev({ event: 'interrupted', session: 's', turn: 1, final: true, retrying: true }));
  assert.equal(tr.done, false);
  feed(tr, ev({ event: 'interrupted', session: 's', turn: 1, final: true, retrying: false }));
  assert.ok(tr.done && tr.interrupted);
  tr = feed(new TurnTracker('s', 1), ev({ event: 'error', session: 's', turn: 1, code: 'upstream', message: '1011' }));
  assert.ok(tr.done && tr.error instanceof UpstreamError);
  tr = feed(new TurnTracker('s', 1), ev({ event: 'state', session: 's', state: 'closed', reason: 'bad key' }));
  assert.ok(tr.error instanceof SessionClosedError);
  assert.equal(new TurnTracker('s', 3).wants(ev({ event: 'text', session: 't', turn: 3 })), false);
});

test('WAV: header, sizes, round trip', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glive-node-'));
  try {
    const p = path.join(dir, 'a.wav');
    const pcm = Buffer.from(Array.from({ length: 200 }, (_, i) => i));
    const evs = [ev({ event: 'audio', mime: 'audio/pcm;rate=24000', data: pcm.subarray(0, 120).toString('base64') }),
      ev({ event: 'text', text: 'x' }),
      ev({ event: 'audio', mime: 'audio/pcm;rate=24000', data: pcm.subarray(120).toString('base64') })];
    assert.equal(writeWav(p, evs), 200);
    const d = fs.readFileSync(p);
    assert.equal(d.length, 244);
    assert.equal(d.toString('ascii', 0, 4) + d.toString('ascii', 8, 16) + d.toString('ascii', 36, 40), 'RIFFWAVEfmt data');
    assert.equal(d.readUInt32LE(4), 236);
    assert.deepEqual([d.readUInt16LE(20), d.readUInt16LE(22), d.readUInt32LE(24), d.readUInt32LE(28), d.readUInt16LE(32), d.readUInt16LE(34)],
      [1, 1, 24000, 48000, 2, 16]);
    const back = readWav(p);
    assert.equal(back.rate, 24000);
    assert.ok(back.pcm.equals(pcm));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** A Unix-socket server answering each request line with script(request) -> [lines]. */
async function fakeDaemon(script) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glive-node-'));
  const sockPath = path.join(dir, 'fake.sock');
  const requests = [];
  const server = net.createServer((conn) => {
    const dec = new LineDecoder();
    conn.on('data', (chunk) => {
      for (const line of dec.feed(chunk)) {
        const req = JSON.parse(line);
        requests.push(req);
        for (const out of script(req)) conn.write(typeof out === 'string' ? out : JSON.stringify(out) + '\n');
      }
    });
  });
  await new Promise((resolve) => server.listen(sockPath, resolve));
  return {
    path: sockPath,
    requests,
    close: () => new Promise((resolve) => server.close(() => { fs.rmSync(dir, { recursive: true, force: true }); resolve(); })),
  };
}

function* lightsScript(behavior, req) {
  const id = req.id;
  if (req.op === 'send') {
    yield { id, ok: true, turn: 1, queued: false };
    yield { event: 'tool_call', session: 's', turn: 1, call_id: 'c1', name: 'turn_on_the_lights', args: { room: 'hall' },
      index: 0, count: 1, handler: true, behavior };
    if (behavior === 'NON_BLOCKING') {
      yield { event: 'text', session: 's', turn: 1, text: 'Sure.' };
      yield { event: 'turn_complete', session: 's', turn: 1 };
    }
  } else if (req.op === 'tool.result') {
    yield { id, ok: true };
    yield { event: 'tool_result', session: 's', turn: 1, call_id: 'c1', name: 'turn_on_the_lights', response: req.response, by: 'handler' };
    if (behavior === 'NON_BLOCKING') {
      yield { event: 'turn_started', session: 's', turn: 2, cause: 'function_response', of_turn: 1 };
      yield { event: 'text', session: 's', turn: 2, text: 'OK, lights on.' };
      yield { event: 'turn_complete', session: 's', turn: 2, of_turn: 1 };
    } else {
      yield { event: 'text', session: 's', turn: 1, text: 'OK, lights on.' };
      yield { event: 'turn_complete', session: 's', turn: 1 };
    }
  } else {
    yield { id, ok: true };
  }
}

test('client: replies by id, failed replies reject with their code, id-less errors', async () => {
  const fake = await fakeDaemon(function* (req) {
    if (req.op === 'hello') {
      yield { event: 'state', session: 's', state: 'ready' };
      yield { id: req.id, ok: true, daemon: 'gliveD', version: '0.1.0', protocol: 1 };
    } else if (req.op === 'close') {
      yield { id: req.id, ok: false, error: { code: 'no_session', message: 'no session "x"' } };
    } else if (req.op === 'list') {
      yield 'not json\n\n';
      yield { id: null, ok: false, error: { code: 'line_too_long', message: 'too long' } };
    } else if (req.op === 'open') {
      yield { id: req.id, ok: false, error: { code: 'conflict', message: 'differs' } };
    }
  });
  const client = await connect(fake.path);
  try {
    assert.deepEqual(await client.hello(), { daemon: 'gliveD', version: '0.1.0', protocol: 1 });
    await assert.rejects(client.closeSession('x'), (e) => e instanceof NoSessionError && e.code === 'no_session' && e.message === 'no session "x"');
    await assert.rejects(client.list(), (e) => e instanceof BadRequestError && e.code === 'line_too_long');
    await assert.rejects(client.open('s', { modality: 'AUDIO', systemInstruction: 'be brief' }), ConflictError);
    assert.deepEqual(fake.requests[0], { client: 'glive-node', op: 'hello', id: 1 });
    assert.deepEqual(fake.requests[3], { session: 's', modality: 'AUDIO', system_instruction: 'be brief', op: 'open', id: 4 });
  } finally {
    client.close();
    await fake.close();
  }
});

for (const behavior of ['BLOCKING', 'NON_BLOCKING']) {
  test(`client: a handler answers a ${behavior} call; the Turn follows the answer`, async () => {
    const fake = await fakeDaemon((req) => lightsScript(behavior, req));
    const client = new Client(fake.path);
    await client.connect();
    try {
      await client.tool('turn_on_the_lights', async ({ room }, call) => {
        if (behavior === 'NON_BLOCKING') throw new Error(`no bulb in the ${room} (${call.call_id})`);
        return { lights: 'on', room };
      }, { scheduling: 'WHEN_IDLE' });
      const evs = await (await client.send('s', 'Turn on the lights')).collect();
      assert.equal(fake.requests[0].op, 'tool.register');
      assert.deepEqual(fake.requests[0].declaration, { name: 'turn_on_the_lights' });
      const result = fake.requests[2];
      if (behavior === 'BLOCKING') {
        assert.deepEqual(result, { session: 's', call_id: 'c1', response: { lights: 'on', room: 'hall' }, op: 'tool.result', id: 3 });
        assert.equal(said(evs), 'OK, lights on.');
      } else {
        assert.equal(result.error, 'no bulb in the hall (c1)');
        assert.equal(result.scheduling, 'WHEN_IDLE');
        assert.equal(said(evs), 'Sure.\nOK, lights on.');
      }
      assert.equal(evs.at(-1).kind, 'turn_complete');
    } finally {
      client.close();
      await fake.close();
    }
  });
}

test('client: a request times out with TimeoutError', async () => {
  const fake = await fakeDaemon(function* () {});
  const client = await connect(fake.path, { timeout: 0.05 });
  try {
    await assert.rejects(client.status(), (e) => e instanceof TimeoutError && e.code === 'timeout');
  } finally {
    client.close();
    await fake.close();
  }
});

test('client: a subscription sees its session only and unsubscribes on close', async () => {
  const fake = await fakeDaemon(function* (req) {
    if (req.op === 'subscribe') {
      yield { id: req.id, ok: true, state: 'ready' };
      yield { event: 'text', session: 'other', turn: 1, text: 'not this session' };
      for (const t of ['one', 'two']) yield { event: 'text', session: 'w', turn: 7, text: t };
    } else {
      yield { id: req.id, ok: true };
    }
  });
  const client = await connect(fake.path);
  try {
    const sub = await client.subscribe('w');
    assert.equal(sub.state, 'ready');
    const got = [];
    for await (const e of sub) {
      got.push(e.text);
      if (got.length === 2) break; // calls return(): unsubscribes
    }
    assert.deepEqual(got, ['one', 'two']);
    await client.status();
    assert.deepEqual(fake.requests.map((r) => r.op), ['subscribe', 'unsubscribe', 'status']);
  } finally {
    client.close();
    await fake.close();
  }
});
