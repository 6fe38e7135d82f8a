"""`faastui deploy PATH...` and `faastui deploy -f stack.yml [NAME...]`: what to deploy, and
a report per function.

Every path is read and checked here first (``backends.formats``, the same code the engine
runs) for the progress line and the notes; a stack file deploys only when all its chosen
functions are sound. A folder that holds no function itself but function folders
(``faastui deploy functions``, as ``kubectl apply -f DIR``) stands for each of them, one
level down; its other entries are named in a note and left alone. A path faastui cannot
read goes to the backend as it is (another backend may read it; the engine answers with the
same one-line error). Each function then gets a progress line (format, requirements to
install), the notes its format carries, and ``deployed NAME`` or its error; the exit code is
the first failure's, 0 when all deployed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer

from backends.errors import BackendError, InvalidRequest, Unreachable

from ..output import Format, emit, message
from ._common import call, fail, usage_error

__all__ = ["Target", "plan", "deploy_all"]


@dataclass
class Target:
    label: str  # what the person named: a path, or stack.yml:NAME
    path: Path | None = None  # what the backend deploys
    name: str | None = None  # the name passed with it (a stack file: which function)
    package: object = None  # the formats.Package it holds
    error: BackendError | None = None


def _formats():
    from backends import formats  # deferred: reading packages imports yaml and ast

    return formats


def _function_folders(path: Path) -> list[Path] | None:
    """The function folders directly inside ``path`` when ``path`` holds no function itself
    (and has at least one of them); None otherwise."""
    formats = _formats()
    if not path.is_dir():
        return None
    try:
        formats.detect(path)
        return None  # a function itself
    except BackendError:
        pass
    found = []
    for child in sorted(path.iterdir()):
        if not child.is_dir() or child.name.startswith((".", "__")):
            continue
        try:
            formats.detect(child)
        except BackendError:
            continue
        found.append(child)
    return found or None


def _skipped(path: Path, chosen: list[Path]) -> list[str]:
    return sorted(
        c.name for c in path.iterdir() if c.is_dir() and c not in chosen and not c.name.startswith((".", "__"))
    )


def plan(paths: list[str], stack: Path | None, name: str | None) -> list[Target]:
    formats = _formats()
    if stack is not None:
        if name:
            raise usage_error(
                "--name does not go with -f: a stack file names its functions",
                hint="pick functions by name: faastui deploy -f stack.yml NAME...",
            )
        if not stack.is_file():
            raise usage_error(f"{stack} does not exist")
        try:
            packages = formats.read_stack(stack, list(dict.fromkeys(paths)) or None)
        except BackendError as exc:
            raise fail(exc) from None  # nothing deployed: the whole file must be sound
        return [Target(f"{stack.name}:{p.name}", stack, p.name, p) for p in packages]
    if not paths:
        raise usage_error("deploy needs a PATH, -f STACK.yml or --source FILE")
    expanded: list[str] = []
    for text in paths:
        inside = _function_folders(Path(text))
        if inside is None:
            expanded.append(text)
            continue
        skipped = _skipped(Path(text), inside)
        message(
            f"{text}: a folder of {len(inside)} function folder(s); deploying each"
            + (f" (not functions, left alone: {', '.join(skipped)})" if skipped else "")
        )
        expanded += [str(p) for p in inside]
    paths = expanded
    if name and len(paths) > 1:
        raise usage_error("--name names one function; give one PATH with it")
    targets = []
    for text in paths:
        path = Path(text)
        if not path.exists():
            targets.append(Target(text, error=InvalidRequest(f"{text} does not exist")))
            continue
        try:
            packages = formats.describe(path, name)
        except BackendError:
            # not a package faastui reads here; the backend may read it (an Ilúvatar image
            # description), and the engine, which reads the same, gives the same error
            targets.append(Target(text, path, name))
            continue
        from_stack = formats.is_stack_file(path) or (path.is_dir() and packages and packages[0].format == "openfaas")
        for p in packages:
            if from_stack:
                targets.append(Target(f"{text}:{p.name}", path, p.name, p))
            else:
                targets.append(Target(text, path, name, p))
    return targets


def _progress(t: Target) -> str:
    p = t.package
    kind = {
        "faastui": "faastui",
        "folder": "a bare folder",
        "openfaas": f"OpenFaaS {p.source}",
        "nuclio": "Nuclio function.yaml",
        "fusionizer": "Fusionizer task",
        "iluvatar": "Ilúvatar folder",
    }.get(p.format, p.format)
    lang = f", lang {p.lang}" if p.format == "openfaas" else ""
    reqs = ""
    if p.requirements:
        n = len(p.requirements)
        reqs = f"; requirements: {n} ({', '.join(p.requirements)}), installed unless unchanged"
    return f"deploying {p.name} ({kind}{lang}{reqs})"


def _report(t: Target, exc: BackendError, many: bool) -> None:
    where = f"{t.label}: " if many else ""
    message(f"error: {where}{exc.message}")
    if exc.hint:
        message(f"hint: {exc.hint}")


def deploy_all(targets: list[Target], output: Format) -> None:
    from ..actions import Deploy

    many = len(targets) > 1
    codes: list[int] = []

    async def run(b):
        done = []
        for t in targets:
            if t.error is not None:
                _report(t, t.error, many)
                codes.append(t.error.exit_code)
                continue
            message(_progress(t) if t.package is not None else f"deploying {t.label}")
            for note in t.package.notes if t.package is not None else []:
                message(f"note: {note}")
            try:
                fn = await Deploy(str(t.path), t.name).run(b)
            except Unreachable:
                raise  # nothing else will deploy either: say it once
            except BackendError as exc:
                _report(t, exc, many)
                codes.append(exc.exit_code)
                continue
            done.append(fn)
            message(f"deployed {fn.name}")
        return done

    done = call(run)
    if done:
        emit(done[0] if len(targets) == 1 else done, output, "Function")
    if codes:
        if many:
            message(f"{len(codes)} of {len(targets)} failed")
        raise typer.Exit(codes[0])
