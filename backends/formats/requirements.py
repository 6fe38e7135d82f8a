"""Python requirements as each format lists them, checked before anything runs.

``requirements.txt`` (faastui, a bare folder, OpenFaaS), ``reqs.txt`` (Ilúvatar) and the
``pip install ...`` lines of a Nuclio ``spec.build.commands`` all become one list of
requirement strings. pip always gets them as separate arguments, never through a shell,
and faastui chooses pip's target and cache itself, so shell characters and pip options
are refused with a message that names the line.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from ..errors import InvalidRequest

__all__ = ["check", "read_file", "from_build_commands"]

_SHELL = re.compile(r"[\r\n\x00;|&`$]")  # <, > are version specifiers
_PIP = (
    ["pip", "install"],
    ["pip3", "install"],
    ["python", "-m", "pip", "install"],
    ["python3", "-m", "pip", "install"],
)
#: pip options of a build command that only tune pip itself: faastui sets its own
_HARMLESS = {
    "-U",
    "--upgrade",
    "--no-cache-dir",
    "-q",
    "--quiet",
    "--user",
    "--no-input",
    "--disable-pip-version-check",
    "--no-warn-script-location",
    "--progress-bar",
}


def check(req: str, where: str) -> str:
    """One requirement (``name[extras] specifier``), or InvalidRequest saying why not."""
    text = str(req).strip()
    if _SHELL.search(text):
        raise InvalidRequest(
            f"bad requirement {text!r} ({where}): shell characters are not allowed",
            hint="one requirement each, like 'requests>=2'; pip never runs through a shell here",
        )
    if text.startswith("-"):
        raise InvalidRequest(
            f"bad requirement {text!r} ({where}): pip options are not supported",
            hint="list requirements only; faastui chooses pip's target, index "
            "settings come from pip's own configuration",
        )
    return text


def read_file(path: Path, label: str) -> list[str]:
    """The requirements of a requirements file: comments and blank lines skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"cannot read {label}: {getattr(exc, 'strerror', None) or exc}") from None
    out = []
    for number, line in enumerate(lines, 1):
        text = re.sub(r"(^|\s)#.*$", "", line).strip()
        if text:
            out.append(check(text, f"{label} line {number}"))
    return out


def from_build_commands(commands, root: Path, label: str) -> tuple[list[str], list[str]]:
    """(requirements, notes) from Nuclio build commands; anything but ``pip install`` is an
    error that says so."""
    if commands is None:
        return [], []
    if not isinstance(commands, list):
        raise InvalidRequest(f"{label}: spec.build.commands must be a list of commands")
    reqs: list[str] = []
    notes: list[str] = []
    for i, command in enumerate(commands, 1):
        where = f"{label} spec.build.commands[{i}]"
        text = str(command).strip()
        try:
            argv = shlex.split(text)
        except ValueError as exc:
            raise InvalidRequest(f"{where}: cannot read {text!r}: {exc}") from None
        rest = next((argv[len(p) :] for p in _PIP if argv[: len(p)] == p), None)
        if rest is None:
            raise InvalidRequest(
                f"{where}: {text!r} is not a pip install; faastui builds no image, it only "
                "installs Python requirements",
                hint="keep `pip install NAME...` lines; put other set-up in the code or drop it",
            )
        if any(_SHELL.search(a) for a in argv) or any(a in ("&&", "||", ";", "|") for a in argv):
            raise InvalidRequest(f"{where}: {text!r} is more than one pip install: shell characters are not allowed")
        args = iter(rest)
        for arg in args:
            if arg in ("-r", "--requirement"):
                name = next(args, "")
                path = (root / name).resolve()
                if not name or root.resolve() not in path.parents or not path.is_file():
                    raise InvalidRequest(f"{where}: requirements file {name!r} is not in the package")
                reqs += read_file(path, name)
            elif arg.split("=", 1)[0] in _HARMLESS:
                if arg == "--progress-bar":
                    next(args, None)
                notes.append(f"pip option {arg} in {where}: ignored (faastui runs pip itself)")
            elif arg.startswith("-"):
                raise InvalidRequest(
                    f"{where}: pip option {arg!r} is not supported",
                    hint="list requirements only; index settings come from "
                    "pip's own configuration (PIP_INDEX_URL, pip.conf)",
                )
            else:
                reqs.append(check(arg, where))
    return reqs, notes
