#!/usr/bin/env python3
"""A process that only serves functions: every session that declares turn_on_the_lights or
turn_off_the_lights gets its calls answered here, whoever sent the prompt (glivectl, another app).

    python3 lights_handler.py [--async]
    glivectl ask --function turn_on_the_lights "Turn on the lights"      # from anywhere
"""
import asyncio
import sys

import glive

state = {"lights": "off"}


def turn_on_the_lights():
    """Turns on the lights."""
    state["lights"] = "on"
    print("[tool] lights on", file=sys.stderr, flush=True)
    return dict(state)


def turn_off_the_lights():
    """Turns off the lights."""
    state["lights"] = "off"
    print("[tool] lights off", file=sys.stderr, flush=True)
    return dict(state)


def main():
    with glive.Client() as client:
        client.add_tool(turn_on_the_lights)      # the same as @client.tool() on the function
        client.add_tool(turn_off_the_lights)
        print("serving", flush=True)
        client.serve()                           # until gliveD goes away


async def main_async():
    async with glive.AsyncClient() as client:
        client.add_tool(turn_on_the_lights)
        client.add_tool(turn_off_the_lights)
        await client.register_tools()
        print("serving", flush=True)
        await client.serve()


if "--async" in sys.argv:
    asyncio.run(main_async())
else:
    main()
