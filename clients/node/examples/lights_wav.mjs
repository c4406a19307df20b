#!/usr/bin/env node
// Seed scenario 3: the lights, answered in AUDIO, saved as a WAV (24 kHz s16le mono).
//   node lights_wav.mjs WAVFILE [SESSION] [--events EVENTS.jsonl]
// Prints the transcript of the spoken answer; --events also writes every event as a JSON line.
import fs from 'node:fs';
import { connect, said } from 'glive';

const args = process.argv.slice(2);
let eventsPath = null;
const i = args.indexOf('--events');
if (i >= 0) [, eventsPath] = args.splice(i, 2);
const [wavPath, session = 'lights-audio'] = args;

const client = await connect();
try {
  await client.tool('turn_on_the_lights', () => ({ lights: 'on' }), { description: 'Turns on the lights in the room.' });
  await client.open(session, { modality: 'AUDIO', tools: client.toolDeclarations() });
  const events = await (await client.send(session, 'Turn on the lights')).saveWav(wavPath);
  console.log(said(events));
  if (eventsPath) fs.writeFileSync(eventsPath, events.map((ev) => JSON.stringify(ev.raw) + '\n').join(''));
} finally {
  client.close();
}
