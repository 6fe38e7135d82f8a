"""fusion-front: calls fusion-back the Nuclio Fusionizer's way.

A Fusionizer task: ``event.body`` is the decoded JSON, and the task builds the URL of the
other task from the ``Fusionizer-Server-Address`` header. Fused with fusion-back, the
call is a plain in-process call; apart, it goes through the engine's gateway over HTTP.
"""


def handler(context, event, requests_session):
    data = event.body if isinstance(event.body, dict) else {}
    address = event.headers["Fusionizer-Server-Address"]
    resp = requests_session.post(f"http://{address}:8000/fusion-back", json={"text": data.get("text", "")})
    resp.raise_for_status()
    back = resp.json()
    return {"front": "ok", "back": back, "length": len(back.get("text", ""))}
