// Runs seed scenarios through the official @google/genai SDK against glive-emulator.
// usage: node sdk_scenarios.mjs BASE_URL SCENARIO...   (BASE_URL http://127.0.0.1:P or https://...)
// Prints one JSON line per scenario: {"scenario": N, "messages": [every server message]}, or for
// a scenario whose connection must be refused {"scenario": N, "rejected": "<the SDK's error>"}.
// Scenarios 1, 2, 4 are seeds on the retired half-cascade model; 38 and 39 are on today's
// gemini-3.8-live (no code execution; NON_BLOCKING calls by default).
// For wss, trust the emulator's CA with NODE_EXTRA_CA_CERTS.
import { GoogleGenAI, Modality } from '@google/genai';

const [baseUrl, ...scenarios] = process.argv.slice(2);
const ai = new GoogleGenAI({ apiKey: 'sdk-test-key', httpOptions: { baseUrl } });
const HALF_CASCADE = 'gemini-live-2.5-flash-preview';
const lights = [{ functionDeclarations: [{ name: 'turn_on_the_lights' }, { name: 'turn_off_the_lights' }] }];

const configs = {
  1: { prompt: 'Hello?', config: { responseModalities: [Modality.TEXT] } },
  2: { prompt: 'Turn on the lights', config: { responseModalities: [Modality.TEXT], tools: lights } },
  4: {
    prompt: 'What is the largest prime palindrome under 100000',
    config: { responseModalities: [Modality.AUDIO], tools: [{ codeExecution: {} }] },
  },
  // 3.8 has no code execution: the setup is closed with 1007 before setupComplete.
  38: {
    model: 'gemini-3.8-live',
    expectReject: true,
    config: { responseModalities: [Modality.AUDIO], tools: [{ codeExecution: {} }] },
  },
  // 3.8 calls functions NON_BLOCKING: the turn completes before the toolResponse, which is only
  // sent then; its answer comes in a second generation. Ends at the second turnComplete.
  39: {
    model: 'gemini-3.8-live',
    prompt: 'Turn on the lights',
    answerAfterTurn: true,
    turns: 2,
    config: { responseModalities: [Modality.AUDIO], outputAudioTranscription: {}, tools: lights },
  },
};

function runScenario(n) {
  const sc = configs[n];
  return new Promise(async (resolve, reject) => {
    const messages = [];
    const pending = [];
    let session, turns = 0;
    const timer = setTimeout(() => reject(new Error(`scenario ${n}: timed out`)), 20000);
    const done = (v) => { clearTimeout(timer); resolve(v); };
    const fail = (e) => { clearTimeout(timer); reject(e); };
    const answer = (calls) => {
      messages.push({ _sent: 'toolResponse' });
      session.sendToolResponse({
        functionResponses: calls.map((fc) => ({
          id: fc.id, name: fc.name, response: { result: { string_value: 'ok' } },
        })),
      });
    };
    try {
      session = await ai.live.connect({
        model: sc.model || HALF_CASCADE,
        config: sc.config,
        callbacks: {
          onmessage: (m) => {
            messages.push(m);
            if (m.toolCall) {
              if (sc.answerAfterTurn) pending.push(...m.toolCall.functionCalls);
              else answer(m.toolCall.functionCalls);
            }
            if (m.serverContent && m.serverContent.turnComplete) {
              turns++;
              if (pending.length) answer(pending.splice(0));
              if (turns >= (sc.turns || 1)) {
                session.close();
                done(messages);
              }
            }
          },
          onerror: (e) => {
            if (sc.expectReject) done({ rejected: String(e.message || e) });
            else fail(new Error(`scenario ${n}: ${e.message}`));
          },
          onclose: (e) => {
            if (sc.expectReject) done({ rejected: `closed ${e.code} ${e.reason}` });
            else if (e.code !== 1000 && e.code !== 1005) fail(new Error(`scenario ${n}: closed ${e.code} ${e.reason}`));
          },
        },
      });
      if (sc.expectReject) fail(new Error(`scenario ${n}: the connection was not refused`));
      else session.sendClientContent({ turns: [{ role: 'user', parts: [{ text: sc.prompt }] }], turnComplete: true });
    } catch (e) {
      if (sc.expectReject) done({ rejected: String(e.message || e) });
      else fail(e);
    }
  });
}

for (const n of scenarios) {
  try {
    const r = await runScenario(Number(n));
    console.log(JSON.stringify(Array.isArray(r) ? { scenario: Number(n), messages: r } : { scenario: Number(n), ...r }));
  } catch (e) {
    console.log(JSON.stringify({ scenario: Number(n), error: String(e.message || e) }));
    process.exitCode = 1;
  }
}
