#!/usr/bin/env python3
"""Seed scenario 2: the model turns on the lights by calling a decorated Python function.

    python3 lights.py [SESSION]

Works on models that wait for the function (blocking calls) and on those that go on and answer
in a turn of their own (NON_BLOCKING calls, 3.8 Live): the send() iterator follows both.
"""
import sys

import glive

session = sys.argv[1] if len(sys.argv) > 1 else "lights"

with glive.Client() as client:
    @client.tool("turn_on_the_lights", session="*")
    def turn_on_the_lights():
        """Turns on the lights in the room."""
        print("[tool] turn_on_the_lights() -> on", file=sys.stderr)
        return {"lights": "on"}

    client.open(session, tools=client.tool_declarations())  # the session declares the function
    for ev in client.send(session, "Turn on the lights"):
        if ev.kind == "text":
            print(ev.text, end="", flush=True)
        elif ev.kind == "turn_complete":
            print()
