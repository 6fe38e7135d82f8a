"""cpu-burn: stays busy on the CPU for `ms` milliseconds (default 50)."""

import time


def main(args):
    ms = float(args.get("ms", 50))
    end = time.perf_counter() + ms / 1000.0
    loops = 0
    while time.perf_counter() < end:
        loops += 1
    return {"burned_ms": ms, "loops": loops}
