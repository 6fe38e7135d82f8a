"""What every backend's secrets share: the name rule, the value's two wire forms, and where
a function reads its secrets.

Names follow faas-cli's rule (a Kubernetes DNS-1123 subdomain: lower case letters, digits,
``-`` and ``.``, starting and ending with a letter or digit, at most 253 characters), with
its error text, so a name any backend accepts is one every backend accepts. Values are
bytes; on the OpenFaaS wire a value is ``value`` (text) or ``rawValue`` (base64), and
``wire_value`` picks the form a value fits. A function reads secret NAME from the file
``/var/openfaas/secrets/NAME`` (``MOUNT``), as OpenFaaS mounts them.

Values are never logged, printed or put in an error message by anything here.
"""

from __future__ import annotations

import base64
import binascii
import re

from .errors import InvalidRequest

__all__ = ["MOUNT", "NAME_RE", "check_name", "wire_value", "from_wire"]

#: the folder OpenFaaS mounts a function's secrets in (one file per secret)
MOUNT = "/var/openfaas/secrets"

_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
NAME_RE = re.compile(f"^{_LABEL}(\\.{_LABEL})*$")
_MAX = 253


def check_name(name) -> str:
    """``name`` if it is a valid secret name. Raises: InvalidRequest with faas-cli's words."""
    if not isinstance(name, str) or not NAME_RE.match(name) or len(name) > _MAX:
        raise InvalidRequest(
            f"invalid secret name: {name!r}, secret name must consist of lower case "
            "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
            f"character (at most {_MAX} of them)", hint="e.g. api-key or db.password")
    return name


def wire_value(value: bytes) -> dict:
    """``{"value": text}`` for a UTF-8 value, else ``{"rawValue": base64}``."""
    try:
        return {"value": value.decode("utf-8")}
    except UnicodeDecodeError:
        return {"rawValue": base64.b64encode(value).decode("ascii")}


def from_wire(data: dict) -> bytes:
    """The value of an OpenFaaS ``Secret`` body: ``rawValue`` (base64) when given, else
    ``value``. Raises: InvalidRequest for a non-string field or bad base64."""
    raw, text = data.get("rawValue"), data.get("value")
    if raw not in (None, ""):
        if not isinstance(raw, str):
            raise InvalidRequest("'rawValue' must be base64 text")
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest("'rawValue' is not valid base64") from None
    if text is None:
        return b""
    if not isinstance(text, str):
        raise InvalidRequest("'value' must be a string")
    return text.encode("utf-8")
