#!/usr/bin/env node
// A process that only serves functions: every session that declares turn_on_the_lights or
// turn_off_the_lights gets its calls answered here, whoever sent the prompt.
//   node lights_handler.mjs
//   glivectl ask --function turn_on_the_lights "Turn on the lights"      # from anywhere
import { connect } from 'glive';

const state = { lights: 'off' };
const client = await connect();
for (const [name, value] of [['turn_on_the_lights', 'on'], ['turn_off_the_lights', 'off']]) {
  await client.tool(name, () => {
    state.lights = value;
    console.error(`[tool] lights ${value}`);
    return { ...state };
  });
}
console.log('serving');
await client.closed; // until gliveD goes away
