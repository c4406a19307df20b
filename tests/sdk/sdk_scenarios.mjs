// Runs seed scenarios through the official @google/genai SDK against glive-emulator.
// usage: node sdk_scenarios.mjs BASE_URL SCENARIO...   (BASE_URL http://127.0.0.1:P or https://...)
// Prints one JSON line per scenario: {"scenario": N, "messages": [every server message]}.
// For wss, trust the emulator's CA with NODE_EXTRA_CA_CERTS.
import { GoogleGenAI, Modality } from '@google/genai';

const [baseUrl, ...scenarios] = process.argv.slice(2);
const ai = new GoogleGenAI({ apiKey: 'sdk-test-key', httpOptions: { baseUrl } });
const MODEL = 'gemini-live-2.5-flash-preview';
const lights = [{ functionDeclarations: [{ name: 'turn_on_the_lights' }, { name: 'turn_off_the_lights' }] }];

const configs = {
  1: { prompt: 'Hello?', config: { responseModalities: [Modality.TEXT] } },
  2: { prompt: 'Turn on the lights', config: { responseModalities: [Modality.TEXT], tools: lights } },
  4: {
    prompt: 'What is the largest prime palindrome under 100000',
    config: { responseModalities: [Modality.AUDIO], tools: [{ codeExecution: {} }] },
  },
};

function runScenario(n) {
  const { prompt, config } = configs[n];
  return new Promise(async (resolve, reject) => {
    const messages = [];
    let session;
    const timer = setTimeout(() => reject(new Error(`scenario ${n}: timed out`)), 20000);
    try {
      session = await ai.live.connect({
        model: MODEL,
        config,
        callbacks: {
          onmessage: (m) => {
            messages.push(m);
            if (m.toolCall) {
              session.sendToolResponse({
                functionResponses: m.toolCall.functionCalls.map((fc) => ({
                  id: fc.id, name: fc.name, response: { result: { string_value: 'ok' } },
                })),
              });
            }
            if (m.serverContent && m.serverContent.turnComplete) {
              clearTimeout(timer);
              session.close();
              resolve(messages);
            }
          },
          onerror: (e) => { clearTimeout(timer); reject(new Error(`scenario ${n}: ${e.message}`)); },
          onclose: (e) => {
            if (e.code !== 1000 && e.code !== 1005) {
              clearTimeout(timer);
              reject(new Error(`scenario ${n}: closed ${e.code} ${e.reason}`));
            }
          },
        },
      });
      session.sendClientContent({ turns: [{ role: 'user', parts: [{ text: prompt }] }], turnComplete: true });
    } catch (e) {
      clearTimeout(timer);
      reject(e);
    }
  });
}

for (const n of scenarios) {
  try {
    const messages = await runScenario(Number(n));
    console.log(JSON.stringify({ scenario: Number(n), messages }));
  } catch (e) {
    console.log(JSON.stringify({ scenario: Number(n), error: String(e.message || e) }));
    process.exitCode = 1;
  }
}
