"""echo: returns the request body unchanged (OpenFaaS python3-http signature)."""


def handle(event, context):
    return {
        "statusCode": 200,
        "body": event.body,
        "headers": {"Content-Type": event.headers.get("content-type") or "application/octet-stream"},
    }
