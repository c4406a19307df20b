#!/usr/bin/env node
// Seed scenario 2: the model turns on the lights by calling a Node function.
//   node lights.mjs [SESSION]
// Works on models that wait for the function (blocking calls) and on those that go on and answer
// in a turn of their own (NON_BLOCKING calls, 3.8 Live): the Turn follows both.
import { connect } from 'glive';

const session = process.argv[2] || 'lights';
const client = await connect();
try {
  await client.tool('turn_on_the_lights', async () => {
    console.error('[tool] turn_on_the_lights() -> on');
    return { lights: 'on' };
  }, { session: '*', description: 'Turns on the lights in the room.', scheduling: 'WHEN_IDLE' });

  await client.open(session, { tools: client.toolDeclarations() }); // the session declares it
  for await (const ev of await client.send(session, 'Turn on the lights')) {
    if (ev.kind === 'text') process.stdout.write(ev.text);
    else if (ev.kind === 'turn_complete') process.stdout.write('\n');
  }
} finally {
  client.close();
}
