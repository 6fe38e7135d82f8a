"""json-transformer: upper-cases keys, lower-cases strings, doubles numbers
(Nuclio signature: handler(context, event); a JSON body arrives decoded)."""

import json


def transform(value):
    if isinstance(value, dict):
        return {str(k).upper(): transform(v) for k, v in value.items()}
    if isinstance(value, list):
        return [transform(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return value * 2
    if isinstance(value, str):
        return value.lower()
    return value


def handler(context, event):
    body = event.body
    if isinstance(body, (bytes, str)):
        body = json.loads(body or "null")
    return context.Response(body=json.dumps(transform(body)), content_type="application/json", status_code=200)
