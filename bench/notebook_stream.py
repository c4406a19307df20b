"""The seed notebook's raw-websocket client (tests/sdk/seed_notebook.py: python-websockets,
json.loads of each binary frame, serverContent.modelTurn.parts) receiving one benchmark turn.
  notebook_stream.py WSS_BASE text|audio PROMPT [MODEL [WARMUP_PROMPT]]   (CA via SSL_CERT_FILE)
Prints one JSON line like bench/sdk_stream.mjs: {"parts", "sha256", "user_us", "sys_us",
"wall_s"}, CPU and wall from the prompt to turnComplete (start-up, connection and the warm-up
turn left out)."""
import asyncio
import base64
import hashlib
import json
import resource
import sys
import time

from websockets import connect

base, kind, prompt = sys.argv[1], sys.argv[2], sys.argv[3]
model = sys.argv[4] if len(sys.argv) > 4 else "gemini-live-2.5-flash-preview"
warmup = sys.argv[5] if len(sys.argv) > 5 else None
audio = kind == "audio"
uri = f"{base}/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=notebook-key"


async def turn(ws, text):
    h, parts = hashlib.sha256(), 0
    c0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()  # µs, not clock ticks
    await ws.send(json.dumps({"client_content": {"turns": [{"role": "user", "parts": [{"text": text}]}],
                                                 "turn_complete": True}}))
    async for raw in ws:
        server_content = json.loads(raw.decode()).get("serverContent")
        if server_content is None:
            continue
        for part in server_content.get("modelTurn", {}).get("parts", []):
            if audio and "inlineData" in part:
                h.update(base64.b64decode(part["inlineData"]["data"]))
            elif not audio and "text" in part:
                h.update(part["text"].encode())
            else:
                continue
            parts += 1
        if server_content.get("turnComplete"):
            break
    c1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    return {"parts": parts, "sha256": h.hexdigest(), "user_us": round((c1.ru_utime - c0.ru_utime) * 1e6),
            "sys_us": round((c1.ru_stime - c0.ru_stime) * 1e6), "wall_s": t1 - t0}


async def main():
    async with connect(uri, max_size=None) as ws:
        await ws.send(json.dumps({"setup": {"model": f"models/{model}", "generation_config": {
            "response_modalities": ["AUDIO" if audio else "TEXT"]}}}))
        assert "setupComplete" in json.loads(await ws.recv())
        if warmup:
            await turn(ws, warmup)
        print(json.dumps(await turn(ws, prompt)))


asyncio.run(main())
