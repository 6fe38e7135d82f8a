"""The Fusionizer bench's entry task: asks the addition task until it reaches ``value``
(one call: the addition task answers value + 1). The addition task's name comes from the
environment, so one bench can run two pairs."""

import os


def handler(context, event, requests_session):
    target = int(event.body["value"])
    address = event.headers["Fusionizer-Server-Address"]
    url = f"http://{address}:8000/{os.environ.get('ADDITION_TASK', 'additiontask')}"
    actual = 0
    while actual < target:
        actual = int(requests_session.post(url, json={"value": target}).text)
    return actual
