"""The seed notebook's own raw-websocket exchange (scenarios 1 and 2), as the notebook wrote it:
snake_case setup and client_content, tool_response, server messages decoded from binary frames.
Only the host differs: usage: seed_notebook.py WSS_BASE SCENARIO (trust the CA via SSL_CERT_FILE).
Prints one JSON line: {"scenario": N, "text": ..., "tool_calls": [...]}."""
import asyncio
import json
import sys

from websockets import connect

base, scenario = sys.argv[1], int(sys.argv[2])
uri = f"{base}/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=notebook-key"
model = "models/gemini-2.0-flash-live-001"


async def main():
    tools = []
    if scenario == 2:
        tools = [{"function_declarations": [{"name": "turn_on_the_lights"}, {"name": "turn_off_the_lights"}]}]
    prompt = "Hello?" if scenario == 1 else "Turn on the lights"
    async with connect(uri, extra_headers={"Content-Type": "application/json"}) as ws:
        await ws.send(json.dumps({"setup": {"model": model, "tools": tools,
                                            "generation_config": {"response_modalities": ["TEXT"]}}}))
        raw_response = await ws.recv()
        setup_response = json.loads(raw_response.decode("ascii"))
        assert "setupComplete" in setup_response, setup_response
        await ws.send(json.dumps({"client_content": {"turns": [{"role": "user", "parts": [{"text": prompt}]}],
                                                     "turn_complete": True}}))
        text, calls = "", []
        async for raw_response in ws:
            response = json.loads(raw_response.decode())
            if "toolCall" in response:
                for fc in response["toolCall"]["functionCalls"]:
                    calls.append(fc)
                    await ws.send(json.dumps({"tool_response": {"function_responses": [
                        {"id": fc["id"], "name": fc["name"], "response": {"result": {"string_value": "ok"}}}]}}))
                continue
            server_content = response.pop("serverContent", None)
            if server_content is None:
                continue
            model_turn = server_content.pop("modelTurn", None)
            if model_turn is not None:
                for part in model_turn["parts"]:
                    text += part.get("text", "")
            if server_content.pop("turnComplete", None):
                break
        print(json.dumps({"scenario": scenario, "text": text, "tool_calls": calls}))


asyncio.run(main())
