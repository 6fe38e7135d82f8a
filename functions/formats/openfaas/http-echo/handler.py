import os


def handle(event, context):
    return {
        "statusCode": 200,
        "body": {
            "greeting": os.environ.get("GREETING", ""),
            "method": event.method,
            "path": event.path,
            "query": {k: event.query.get(k) for k in event.query},
            "client": event.headers.get("X-Client", ""),
            "body": event.body.decode(),
        },
        "headers": {"X-Echo": "yes"},
    }
