"""sleep: sleeps `ms` milliseconds (default 100), then reports how long it slept."""

import json
import time


def handle(req):
    data = json.loads(req) if req.strip() else {}
    ms = float(data.get("ms", 100)) if isinstance(data, dict) else float(data)
    t0 = time.perf_counter()
    time.sleep(ms / 1000.0)
    return {"slept_ms": round((time.perf_counter() - t0) * 1000.0, 3)}
