"""fusion-back: reverses `text`; also callable from fused peers via context.invoke."""


def handle(event, context):
    import json

    data = json.loads(event.body or b"{}")
    return {"text": str(data.get("text", ""))[::-1]}
