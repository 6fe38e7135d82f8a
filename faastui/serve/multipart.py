"""``multipart/form-data`` bodies (RFC 7578), read exactly: what ``curl -F "zip_file=@task.zip"``
and ``requests.put(url, files={"zip_file": ...})`` send to the Fusionizer's ``PUT /{task}``.

Small and strict on purpose: the parts' bytes are kept as they came (no line-ending or
charset conversion, which the stdlib ``email`` parser may do), and a body that is not
well-formed is refused with the reason (``BadForm``) instead of being half read.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FormPart", "BadForm", "parse_form", "boundary_of"]

_MAX_PARTS = 64


class BadForm(ValueError):
    """The body is not the multipart/form-data its content type says (the message says why)."""


@dataclass(frozen=True)
class FormPart:
    name: str
    filename: str | None
    content_type: str
    data: bytes


def _params(value: str) -> tuple[str, dict[str, str]]:
    """``form-data; name="a"; filename="b.zip"`` -> ("form-data", {"name": "a", ...})."""
    head, _, rest = value.partition(";")
    params: dict[str, str] = {}
    while rest.strip():
        item, rest = _next_param(rest)
        key, eq, val = item.partition("=")
        if eq:
            params[key.strip().lower()] = val.strip()
    return head.strip().lower(), params


def _next_param(text: str) -> tuple[str, str]:
    """The first ``key=value`` of ``text`` (a quoted value may hold ';') and the rest."""
    text = text.lstrip()
    key, eq, rest = text.partition("=")
    if not eq:
        item, _, rest = text.partition(";")
        return item, rest
    if rest.startswith('"'):
        out, i = [], 1
        while i < len(rest) and rest[i] != '"':
            if rest[i] == "\\" and i + 1 < len(rest):
                i += 1
            out.append(rest[i])
            i += 1
        after = rest[i + 1 :]
        return f"{key}={''.join(out)}", after.partition(";")[2]
    value, _, after = rest.partition(";")
    return f"{key}={value}", after


def boundary_of(content_type: str) -> str:
    """The boundary of a ``multipart/form-data`` content type. Raises BadForm."""
    kind, params = _params(content_type or "")
    if kind != "multipart/form-data":
        raise BadForm(f"expected a multipart/form-data body, got {kind or 'no content type'}")
    boundary = params.get("boundary", "")
    if not boundary or len(boundary) > 200:
        raise BadForm("the multipart/form-data content type has no boundary")
    return boundary


def parse_form(content_type: str, body: bytes) -> dict[str, FormPart]:
    """The parts of a form, by field name (the first of each name). Raises BadForm."""
    delimiter = b"--" + boundary_of(content_type).encode("latin-1")
    start = body.find(delimiter)
    if start < 0 or (start > 0 and body[start - 2 : start] != b"\r\n"):
        raise BadForm("the multipart body does not start with its boundary")
    parts: dict[str, FormPart] = {}
    pos = start + len(delimiter)
    for _ in range(_MAX_PARTS + 1):
        if body[pos : pos + 2] == b"--":  # the closing delimiter
            return parts
        if body[pos : pos + 2] != b"\r\n":
            raise BadForm("a multipart boundary is not followed by a line break")
        head_end = body.find(b"\r\n\r\n", pos + 2)
        if head_end < 0:
            raise BadForm("a multipart part has no end to its headers")
        headers: dict[str, str] = {}
        for line in body[pos + 2 : head_end].split(b"\r\n"):
            if not line:
                continue
            name, colon, value = line.decode("utf-8", "replace").partition(":")
            if not colon:
                raise BadForm(f"a multipart part has a malformed header: {name[:60]!r}")
            headers[name.strip().lower()] = value.strip()
        end = body.find(b"\r\n" + delimiter, head_end + 4)
        if end < 0:
            raise BadForm("the multipart body ends before its closing boundary")
        kind, params = _params(headers.get("content-disposition", ""))
        if kind != "form-data" or "name" not in params:
            raise BadForm("a multipart part has no Content-Disposition: form-data; name=...")
        parts.setdefault(
            params["name"],
            FormPart(
                params["name"],
                params.get("filename"),
                headers.get("content-type", "text/plain"),
                body[head_end + 4 : end],
            ),
        )
        pos = end + 2 + len(delimiter)
    raise BadForm(f"the form has more than {_MAX_PARTS} parts")
