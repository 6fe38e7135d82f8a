"""hello: greets `name` (OpenFaaS classic signature: the body as a string)."""

import json


def handle(req):
    try:
        data = json.loads(req) if req.strip() else {}
    except ValueError:
        data = {"name": req.strip()}
    name = data.get("name", "World") if isinstance(data, dict) else str(data)
    return {"message": f"Hello, {name}!"}
