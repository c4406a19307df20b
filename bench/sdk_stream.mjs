// The official @google/genai SDK receiving one benchmark turn (the emulator's emu:stream), the
// way an app would use it: every part of every message read, text hashed, audio base64-decoded.
//   node bench/sdk_stream.mjs BASE_URL text|audio PROMPT [MODEL [WARMUP_PROMPT]]
// BASE_URL is https://127.0.0.1:PORT for wss (trust the emulator's CA with NODE_EXTRA_CA_CERTS).
// Prints one JSON line: {"parts", "sha256" (of the concatenated text or PCM), "user_us",
// "sys_us", "wall_s"}. CPU and wall are this process's from the prompt to turnComplete: node's
// start, the SDK's import, the connection and the warm-up turn (if given) are left out, as
// gliveD's session is already open and warm.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

// The SDK lives in tests/sdk/node_modules (npm ci there); resolve its node ESM entry from its
// own exports map rather than hard-coding a dist path.
const pkgDir = new URL('../tests/sdk/node_modules/@google/genai/', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', pkgDir)));
const { GoogleGenAI, Modality } = await import(new URL(pkg.exports['.'].node.import, pkgDir));

const [baseUrl, kind, prompt, model = 'gemini-live-2.5-flash-preview', warmup] = process.argv.slice(2);
const audio = kind === 'audio';
const ai = new GoogleGenAI({ apiKey: 'bench-key', httpOptions: { baseUrl } });
let turn = null; // the turn being received: {hash, parts, cpu0, t0, resolve}

function onmessage(m) {
  const sc = m.serverContent;
  if (!sc || !turn) return;
  for (const p of (sc.modelTurn && sc.modelTurn.parts) || []) {
    if (audio && p.inlineData) turn.hash.update(Buffer.from(p.inlineData.data, 'base64'));
    else if (!audio && p.text !== undefined) turn.hash.update(p.text);
    else continue;
    turn.parts++;
  }
  if (sc.turnComplete) {
    const cpu = process.cpuUsage(turn.cpu0);
    const wall = Number(process.hrtime.bigint() - turn.t0) / 1e9;
    const t = turn;
    turn = null;
    t.resolve({ parts: t.parts, sha256: t.hash.digest('hex'), user_us: cpu.user, sys_us: cpu.system, wall_s: wall });
  }
}

// One turn: the prompt sent, every part read, until turnComplete.
function ask(session, text) {
  return new Promise((resolve) => {
    turn = { hash: createHash('sha256'), parts: 0, resolve, cpu0: process.cpuUsage(), t0: process.hrtime.bigint() };
    session.sendClientContent({ turns: [{ role: 'user', parts: [{ text }] }], turnComplete: true });
  });
}

let session;
try {
  const failed = new Promise((_, reject) => {
    setTimeout(() => reject(new Error('timed out')), 600000).unref();
    ai.live.connect({
      model,
      config: { responseModalities: [audio ? Modality.AUDIO : Modality.TEXT] },
      callbacks: {
        onmessage,
        onerror: (e) => reject(new Error(String(e.message || e))),
        onclose: (e) => { if (e.code !== 1000 && e.code !== 1005) reject(new Error(`closed ${e.code} ${e.reason}`)); },
      },
    }).then((s) => { session = s; }, reject);
  });
  const run = (async () => {
    while (!session) await new Promise((r) => setTimeout(r, 1));
    // A warm-up turn first, as a long-lived app has had: V8 compiles the hot paths while
    // it runs, so the measured turn costs what it costs in steady state, not in start-up.
    if (warmup) await ask(session, warmup);
    return ask(session, prompt);
  })();
  console.log(JSON.stringify(await Promise.race([run, failed])));
  session.close();
  process.exit(0);
} catch (e) {
  console.error(`sdk_stream: ${e.message}`);
  process.exit(1);
}
