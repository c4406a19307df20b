#!/usr/bin/env python3
"""Seed scenario 1: prints the answer to a prompt as it streams in.

    python3 hello.py [SESSION [PROMPT]]        (socket: $GLIVE_SOCKET or the daemon's default)
"""
import sys

import glive

session = sys.argv[1] if len(sys.argv) > 1 else "hello"
prompt = sys.argv[2] if len(sys.argv) > 2 else "Hello?"

with glive.Client() as client:
    client.open(session)
    for ev in client.send(session, prompt):
        if ev.kind == "text":
            print(ev.text, end="", flush=True)
    print()
