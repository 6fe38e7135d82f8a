"""How a handler's return value becomes the HTTP answer, one rule per platform.

Each function returns ``(body bytes, content type, status, extra headers)``:

- ``native``: faastui's own (and the agent style): bytes and str as they are, a
  ``{"statusCode", "body", "headers"}`` dict as that answer, anything else as JSON;
- ``nuclio``: Nuclio's ``Response.from_entrypoint_output``: str as text/plain, a
  ``(status, body)`` tuple, dict/list as JSON, a ``context.Response``, anything else
  ``str()``-ed (so ``8`` answers ``8`` and ``None`` answers ``None``);
- ``openfaas_http``: the python3-http template's ``format_response`` and then Flask's
  rules (a dict is the answer: ``statusCode`` default 200, a dict ``body`` through
  ``jsonify``, any other body ``str()``-ed; a non-dict return goes to Flask as it is);
- ``flask``: Flask's own rules for a view's return value (python3-flask);
- ``iluvatar``: ``json.dumps`` of the return value, as Ilúvatar's Python agent does.
"""

from __future__ import annotations

import json

from .events import Response

__all__ = ["native", "nuclio", "openfaas_http", "flask", "iluvatar", "jsonify"]

TEXT_HTML = "text/html; charset=utf-8"  # Flask's default mimetype


def native(value: object):
    status = 200
    if isinstance(value, Response):
        body, ctype, _, _ = native(value.body)
        return body, value.content_type or ctype, value.status_code, _header_list(value.headers)
    if isinstance(value, dict) and "statusCode" in value and "body" in value and len(value) <= 3:
        status = int(value.get("statusCode") or 200)
        body, ctype, _, _ = native(value["body"])
        hdrs = value.get("headers") or {}
        return (
            body,
            hdrs.get("Content-Type", hdrs.get("content-type", ctype)),
            status,
            [(k, str(v)) for k, v in hdrs.items() if k.lower() != "content-type"],
        )
    if isinstance(value, (bytes, bytearray)):
        return bytes(value), "application/octet-stream", status, None
    if isinstance(value, str):
        return value.encode(), "text/plain; charset=utf-8", status, None
    return json.dumps(value, default=str).encode(), "application/json", status, None


def _header_list(headers) -> list | None:
    if not headers:
        return None
    items = headers.items() if isinstance(headers, dict) else headers
    return [(str(k), str(v)) for k, v in items]


def _nuclio_default(obj):
    for attempt in (lambda: obj.__log__(), lambda: obj.__repr__(), lambda: str(obj)):
        try:
            return attempt()
        except Exception:  # as nuclio_sdk.json_encoder: try the next way
            continue
    return "Unable to serialize object"


def _nuclio_json(value) -> str:
    return json.dumps(value, default=_nuclio_default)


def _nuclio_text(body) -> bytes:
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)  # Nuclio base64-encodes it to the processor, which decodes it
    return str(body).encode()


def nuclio(value: object):
    if isinstance(value, str):
        return value.encode(), "text/plain", 200, None
    if isinstance(value, tuple) and len(value) == 2:
        status, body = value
        if isinstance(body, str):
            return body.encode(), "text/plain", int(status), None
        return _nuclio_json(body).encode(), "application/json", int(status), None
    if isinstance(value, (dict, list)):
        return _nuclio_json(value).encode(), "application/json", 200, None
    if isinstance(value, Response):
        if isinstance(value.body, dict):
            body, ctype = json.dumps(value.body).encode(), "application/json"
        else:
            body, ctype = _nuclio_text(value.body), value.content_type
        return body, ctype, int(value.status_code), _header_list(value.headers)
    return _nuclio_text(value), "text/plain", 200, None


def jsonify(value) -> bytes:
    """Flask's ``jsonify``: sorted keys, compact, ASCII, a trailing newline."""
    return (json.dumps(value, sort_keys=True, separators=(",", ":"), default=str) + "\n").encode()


class _Flask:
    """A view's answer as Flask builds it (``make_response``)."""

    def __init__(self, body: bytes, ctype: str):
        self.body = body
        self.ctype = ctype


def _flask_body(rv) -> _Flask:
    if isinstance(rv, _Flask):
        return rv
    if isinstance(rv, str):
        return _Flask(rv.encode(), TEXT_HTML)
    if isinstance(rv, (bytes, bytearray)):
        return _Flask(bytes(rv), TEXT_HTML)
    if isinstance(rv, (dict, list)):
        return _Flask(jsonify(rv), "application/json")
    raise TypeError(
        f"The view function did not return a valid response. The return type must be a "
        f"string, dict, list, tuple with headers or status, Response instance, or WSGI "
        f"callable, but it was a {type(rv).__name__}."
    )


def flask(rv: object):
    status, headers = 200, None
    if isinstance(rv, tuple):
        if len(rv) == 3:
            rv, status, headers = rv
        elif len(rv) == 2:
            rv, second = rv
            if isinstance(second, (dict, list, tuple)):
                headers = second
            else:
                status = second
        else:
            raise TypeError(
                "The view function did not return a valid response tuple. The tuple "
                "must have the form (body, status, headers), (body, status), or "
                "(body, headers)."
            )
    if rv is None:
        raise TypeError(
            "The view function did not return a valid response. The function either "
            "returned None or ended without a return statement."
        )
    out = _flask_body(rv)
    ctype = out.ctype
    extra = []
    for k, v in headers.items() if isinstance(headers, dict) else (headers or []):
        if str(k).lower() == "content-type":
            ctype = str(v)
        else:
            extra.append((str(k), str(v)))
    code = int(str(status).split()[0]) if status is not None else 200
    return out.body, ctype, code, extra or None


def openfaas_http(resp: object):
    """python3-http's ``format_response``, then Flask."""
    if resp is None:
        return flask(("", 200))
    if type(resp) is dict:
        status = resp["statusCode"] if "statusCode" in resp else 200
        if "body" not in resp:
            body = ""
        elif type(resp["body"]) is dict:
            body = _Flask(jsonify(resp["body"]), "application/json")
        else:
            body = str(resp["body"])
        headers = resp.get("headers") or []
        return flask((body, status, headers))
    return flask(resp)


def iluvatar(value: object):
    return json.dumps(value).encode(), "application/json", 200, None
