#!/usr/bin/env python3
"""Seed scenario 3: the lights, answered in AUDIO, saved as a WAV (24 kHz s16le mono).

    python3 lights_wav.py WAVFILE [SESSION] [--events EVENTS.jsonl]

Prints the transcript of the spoken answer. --events also writes every event as a JSON line.
"""
import json
import sys

import glive

args = [a for a in sys.argv[1:]]
events_path = None
if "--events" in args:
    i = args.index("--events")
    events_path = args[i + 1]
    del args[i:i + 2]
wav_path = args[0]
session = args[1] if len(args) > 1 else "lights-audio"

with glive.Client() as client:
    @client.tool("turn_on_the_lights")
    def turn_on_the_lights():
        """Turns on the lights in the room."""
        return {"lights": "on"}

    client.open(session, modality="AUDIO", tools=client.tool_declarations())
    events = client.send(session, "Turn on the lights").save_wav(wav_path)
    print(glive.said(events))
    if events_path:
        with open(events_path, "w") as f:
            for ev in events:
                f.write(json.dumps(ev.raw) + "\n")
