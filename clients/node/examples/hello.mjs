#!/usr/bin/env node
// Seed scenario 1: prints the answer to a prompt as it streams in.
//   node hello.mjs [SESSION [PROMPT]]        (socket: $GLIVE_SOCKET or the daemon's default)
import { connect } from 'glive';

const session = process.argv[2] || 'hello';
const prompt = process.argv[3] || 'Hello?';

const client = await connect();
try {
  await client.open(session);
  for await (const ev of await client.send(session, prompt))
    if (ev.kind === 'text') process.stdout.write(ev.text);
  process.stdout.write('\n');
} finally {
  client.close();
}
