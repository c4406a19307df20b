"""A minimal Live API client for tests (Debian's python3-websockets, asyncio)."""
import asyncio
import json

import websockets


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def connect(emu, version="v1beta", key="test-key", headers=None, double_slash=False):
    """Use as `async with connect(emu) as ws:`."""
    return websockets.connect(emu.url(version, key, double_slash), ssl=emu.ssl_context(),
                                    extra_headers=headers, max_size=None, open_timeout=10)


async def recv_json(ws, timeout=10):
    m = await asyncio.wait_for(ws.recv(), timeout)
    assert isinstance(m, bytes), f"server sent a text frame: {m!r}"
    return json.loads(m)


async def send(ws, obj):
    await ws.send(json.dumps(obj))


async def setup(ws, model="models/gemini-live-2.5-flash-preview", modality="TEXT", **extra):
    body = {"model": model, "generationConfig": {"responseModalities": [modality]}}
    body.update(extra)
    await send(ws, {"setup": body})
    first = await recv_json(ws)
    assert "setupComplete" in first, first
    return first


async def turn(ws, timeout=20):
    """Messages up to and including the one carrying turnComplete."""
    out = []
    while True:
        m = await recv_json(ws, timeout)
        out.append(m)
        if m.get("serverContent", {}).get("turnComplete"):
            return out


async def until(ws, pred, timeout=20):
    out = []
    while True:
        m = await recv_json(ws, timeout)
        out.append(m)
        if pred(m):
            return out


async def expect_close(ws, timeout=10):
    """Reads until the server closes; returns (code, reason)."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except websockets.ConnectionClosed as e:
        return e.code, e.reason


def texts(msgs):
    return [p["text"] for m in msgs for p in m.get("serverContent", {}).get("modelTurn", {}).get("parts", [])
            if "text" in p]


def prompt(text):
    return {"clientContent": {"turns": [{"role": "user", "parts": [{"text": text}]}], "turnComplete": True}}
