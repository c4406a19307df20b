#!/usr/bin/env python3
"""Seed scenario 2 with asyncio: an async def function serves the model's call.

    python3 lights_async.py [SESSION]
"""
import asyncio
import sys

import glive

session = sys.argv[1] if len(sys.argv) > 1 else "lights-async"


async def main():
    async with glive.AsyncClient() as client:
        @client.tool("turn_on_the_lights", scheduling="WHEN_IDLE")
        async def turn_on_the_lights():
            """Turns on the lights in the room."""
            await asyncio.sleep(0.01)  # talk to the lights
            print("[tool] turn_on_the_lights() -> on", file=sys.stderr)
            return {"lights": "on"}

        await client.open(session, tools=client.tool_declarations())
        turn = await client.send(session, "Turn on the lights")
        async for ev in turn:
            if ev.kind == "text":
                print(ev.text, end="", flush=True)
            elif ev.kind == "turn_complete":
                print()


asyncio.run(main())
