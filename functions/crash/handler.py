"""crash: misbehaves on request, to show the engine isolates failures.

{"mode": "raise"} raises, "exit" kills the worker process, "hang" never returns,
"ok" (default) answers normally.
"""

import json
import os
import time


def handle(req):
    mode = (json.loads(req) if req.strip() else {}).get("mode", "ok")
    if mode == "raise":
        raise RuntimeError("asked to raise")
    if mode == "exit":
        os._exit(7)
    if mode == "hang":
        while True:
            time.sleep(1)
    return {"mode": mode}
