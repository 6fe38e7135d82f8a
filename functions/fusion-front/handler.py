"""fusion-front: calls fusion-back through the Fusionizer-style requests session.

Fused with fusion-back, the call is a plain in-process call; apart, it goes
through the engine's gateway over HTTP.
"""
import json


def handler(context, event, requests_session):
    data = json.loads(event.body or b"{}")
    resp = requests_session.post("http://gateway/function/fusion-back", json={"text": data.get("text", "")})
    resp.raise_for_status()
    back = resp.json()
    return {"front": "ok", "back": back, "length": len(back.get("text", ""))}
