"""The short version of `make bench` (bench/run.py): gliveD + glivectl against the official SDK
on the same streamed turns, over wss. It fails only when a CPU ratio passes bench/run.py's
RATIO_LIMITS, which are wide on purpose: absolute times on a shared machine are never checked."""
import os
import sys

import harness
from harness import Skip

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import run as bench  # noqa: E402  (bench/run.py)


def test_bench_cpu_ratios_to_the_sdk(ctx):
    if harness.SANITIZED:
        raise Skip("CPU ratios of a sanitized build say nothing about the real one")
    if not bench.have_sdk():
        raise Skip("@google/genai not installed (scripts/install-deps.sh --test)")
    lines = []
    res = bench.quick_cpu(harness.BUILD, log=lines.append)  # every byte checked by sha256 inside
    report = "\n".join(lines)
    for kind, limit in bench.RATIO_LIMITS.items():
        row = res[f"{kind}/gliveD"]
        print(f"  bench {kind}: gliveD+glivectl {row['per_msg_us']:.2f} µs/msg, "
              f"SDK {res[f'{kind}/sdk']['per_msg_us']:.2f}, ratio {row['ratio_to_sdk']:.2f} "
              f"(limit {limit}, goal {bench.RATIO_GOALS[kind]})")
        assert row["ratio_to_sdk"] <= limit, \
            f"{kind}: gliveD+glivectl / SDK CPU per message is {row['ratio_to_sdk']:.2f}, over {limit}\n{report}"
