"""Every command block of README.md, run top to bottom on a fresh engine, as a newcomer
types them; parsed from the README itself, so the README cannot drift from what works.

The convention (for whoever adds a README section):

- A *command block* is a fenced block tagged ``sh``, ``bash``, ``shell`` or ``console``.
  Other fences (``python``, ``yaml``, untagged) are not commands and are not run.
- Every command block runs, in README order, in ONE bash session (so ``cd``, ``export`` and
  the venv's ``activate`` carry over from block to block), in a fresh copy of the
  repository's files (``git ls-files``: tracked and new files, nothing ignored; ``.venv`` is
  linked in), with fresh ``XDG_CONFIG_HOME``/``XDG_STATE_HOME``, ``.venv/bin`` on PATH and
  stdin empty. Each command must exit 0; the test names the README line of the first one
  that does not, with its output. ``curl`` runs as ``curl --fail-with-body``, so an HTTP
  error answer fails its command too (as it would fail the reader's expectations).
- The engine is the one the README starts: ``faastui up`` binds ``$FAASTUI_PORT``, a free port
  the test picks, and ``localhost:8080`` / ``127.0.0.1:8080`` in a command is that port. The
  sections below "Use it" use that engine, so leave it running at the end of a block; the
  test runs ``faastui down`` when all blocks are done and checks no engine is left.
- A block that cannot run here (it needs a real cluster, a foreground server, a tool that is
  not installed, or it runs until Ctrl-C) carries, on the line right before its fence::

      <!-- readme-test: skip: needs a Knative cluster -->

  An HTML comment: nothing shows on the rendered page. The reason is required. A line
  ending in ``&`` (a background process) is refused in a block that runs, since it would
  outlive the test: put such lines in a skipped block.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
COMMAND_TAGS = {"sh", "bash", "shell", "console"}
SKIP = re.compile(r"^<!--\s*readme-test:\s*skip\s*(?::\s*(?P<reason>.*?))?\s*-->\s*$")
DIRECTIVE = re.compile(r"^<!--\s*readme-test\b")
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>```+|~~~+)\s*(?P<info>[^`\s]*)")
PORTS = re.compile(r"\b(localhost|127\.0\.0\.1):8080\b")


@dataclass
class Block:
    line: int  # README line of the opening fence
    tag: str
    lines: list[tuple[int, str]]  # (README line, text)
    skip: str | None  # the reason, when marked


@dataclass
class Command:
    line: int
    text: str


def parse_blocks(text: str) -> list[Block]:
    """The fenced blocks of a Markdown text, each with its skip directive (if any).
    Raises: ValueError for a directive this test does not know, or a skip without a reason."""
    blocks: list[Block] = []
    lines = text.splitlines()
    pending: str | None = None
    i = 0
    while i < len(lines):
        raw = lines[i]
        m = FENCE.match(raw)
        if m is None:
            if DIRECTIVE.match(raw.strip()):
                s = SKIP.match(raw.strip())
                if s is None:
                    raise ValueError(f"README.md:{i + 1}: unknown readme-test directive {raw.strip()!r}")
                if not (s.group("reason") or "").strip():
                    raise ValueError(f"README.md:{i + 1}: a skip needs its reason: <!-- readme-test: skip: why -->")
                pending = s.group("reason").strip()
            elif raw.strip():
                pending = None  # a directive belongs to the fence right below it
            i += 1
            continue
        fence, tag, start = m.group("fence"), m.group("info").lower(), i
        body: list[tuple[int, str]] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append((i + 1, lines[i]))
            i += 1
        blocks.append(Block(start + 1, tag, body, pending))
        pending = None
        i += 1
    return blocks


def commands(block: Block) -> list[Command]:
    """The block's commands: ``\\``-continued lines joined; blank lines and comments dropped.
    Raises: ValueError for a background command (``&`` at the end)."""
    out: list[Command] = []
    current: list[str] = []
    first = 0
    for number, text in block.lines:
        if not current:
            if not text.strip() or text.lstrip().startswith("#"):
                continue
            first = number
        current.append(text)
        if text.rstrip().endswith("\\"):
            continue
        command = "\n".join(current)
        current = []
        if re.search(r"(?<![&|])&\s*(#.*)?$", _strip_quoted(command)):
            raise ValueError(
                f"README.md:{first}: {command.strip()!r} runs in the background and "
                "would outlive the test; mark its block <!-- readme-test: skip: ... -->"
            )
        out.append(Command(first, command))
    if current:
        raise ValueError(f"README.md:{first}: the block ends inside a continued line")
    return out


def _strip_quoted(command: str) -> str:
    """``command`` with quoted text blanked (an ``&`` in a JSON payload is not a background)."""
    return re.sub(r"'[^']*'|\"(?:[^\"\\\\]|\\\\.)*\"", "''", command)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fresh_copy(dest: Path) -> None:
    """The repository's files as a fresh clone would have them (plus new, unignored ones)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        src = ROOT / rel
        if not src.is_file():  # deleted in the working tree
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    (dest / ".venv").symlink_to(ROOT / ".venv")


def _script(cmds: list[Command], port: int, logs: Path) -> str:
    """One bash script: each command in braces (so comments and ``cd`` work as typed), its
    output kept per command, stopping at the first that fails."""
    parts = ["set -o pipefail", 'curl() { command curl --fail-with-body "$@"; }']
    for n, cmd in enumerate(cmds):
        text = PORTS.sub(lambda m: f"{m.group(1)}:{port}", cmd.text)
        parts.append(f"echo {n} > {shlex.quote(str(logs / 'current'))}")
        parts.append(
            "{\n"
            + text
            + "\n} </dev/null >"
            + shlex.quote(str(logs / f"{n}.out"))
            + " 2>"
            + shlex.quote(str(logs / f"{n}.err"))
        )
        parts.append(f'rc=$?; if [ $rc -ne 0 ]; then echo "{n} $rc" > {shlex.quote(str(logs / "failed"))}; exit 0; fi')
    return "\n".join(parts) + "\n"


def _engine_pids(state_home: Path) -> list[int]:
    import json

    pids = []
    for info in state_home.glob("faastui/*/engine.json"):
        try:
            pids.append(int(json.loads(info.read_text())["pid"]))
        except (OSError, ValueError, KeyError):
            pass
    return pids


# ---- the convention's own parts, on small texts -------------------------------------------
def test_blocks_and_their_skip_directives_are_read_as_the_docstring_says():
    text = "\n".join(
        [
            "# Title",
            "",
            "```sh",
            "faastui up",
            "```",
            "",
            "<!-- readme-test: skip: needs a cluster -->",
            "```bash",
            "kubectl get ns",
            "```",
            "",
            "<!-- readme-test: skip: not this one -->",
            "",
            "a paragraph",
            "```sh",
            "echo x",
            "```",
            "```python",
            "print(1)",
            "```",
            "~~~console",
            "faastui \\",
            "  version  # c",
            "~~~",
        ]
    )
    blocks = parse_blocks(text)
    assert [(b.tag, b.skip) for b in blocks] == [
        ("sh", None),
        ("bash", "needs a cluster"),
        ("sh", None),
        ("python", None),
        ("console", None),
    ]
    assert [c.text for c in commands(blocks[-1])] == ["faastui \\\n  version  # c"]
    assert commands(blocks[0])[0].line == 4
    with pytest.raises(ValueError, match="needs its reason"):
        parse_blocks("<!-- readme-test: skip -->\n```sh\nx\n```")
    with pytest.raises(ValueError, match="unknown readme-test directive"):
        parse_blocks("<!-- readme-test: sometimes -->\n```sh\nx\n```")
    background = Block(1, "sh", [(2, "faastui serve agent &   # the agent")], None)
    with pytest.raises(ValueError, match="background"):
        commands(background)
    quoted = Block(1, "sh", [(2, "curl -d 'a=1&b=2' x"), (3, "true && true")], None)
    assert len(commands(quoted)) == 2


def test_the_runner_stops_at_the_first_failing_command_and_names_it(tmp_path):
    cmds = [
        Command(1, "true"),
        Command(2, "cd /  # a comment"),
        Command(3, "pwd"),
        Command(4, "false"),
        Command(5, "echo never"),
    ]
    assert "--fail-with-body" in _script(cmds, 1, tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    script = tmp_path / "s.sh"
    script.write_text(_script(cmds, 1234, logs))
    subprocess.run(["bash", str(script)], check=True, timeout=30)
    assert (logs / "failed").read_text().split() == ["3", "1"]
    assert (logs / "2.out").read_text().strip() == "/"  # cd carried over
    assert not (logs / "4.out").exists()
    assert PORTS.sub("x:1", "curl localhost:8080/f 127.0.0.1:8080 host:8080") == "curl x:1/f x:1 host:8080"


# ---- the README ------------------------------------------------------------------------
@pytest.mark.timeout(300)
def test_readme_command_blocks_run_top_to_bottom_on_a_fresh_engine(tmp_path):
    if shutil.which("curl") is None:
        pytest.fail("the README's blocks use curl; it is not on PATH")
    blocks = parse_blocks(README.read_text())
    runnable = [b for b in blocks if b.tag in COMMAND_TAGS and b.skip is None]
    assert runnable, "README.md has no command block that runs"
    cmds = [c for b in runnable for c in commands(b)]
    repo, logs = tmp_path / "repo", tmp_path / "logs"
    logs.mkdir()
    _fresh_copy(repo)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FAASTUI_", "VIRTUAL_ENV"))}
    env.update(
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        FAASTUI_PORT=str(port),
        PATH=f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        NO_COLOR="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    script = tmp_path / "readme.sh"
    script.write_text(_script(cmds, port, logs))
    proc = subprocess.Popen(["bash", str(script)], cwd=repo, env=env, start_new_session=True)
    try:
        try:
            proc.wait(timeout=240)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            timed_out = True
    finally:
        engines = _engine_pids(tmp_path / "state")  # read before `down` removes engine.json
        down = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "faastui"), "down"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        leftover = _still_alive(engines, deadline_s=15)
        for pid in leftover:
            os.kill(pid, signal.SIGTERM)

    def report(n: int, why: str) -> str:
        cmd = cmds[n]
        out = (logs / f"{n}.out").read_text(errors="replace") if (logs / f"{n}.out").exists() else ""
        err = (logs / f"{n}.err").read_text(errors="replace") if (logs / f"{n}.err").exists() else ""
        return f"README.md:{cmd.line}: {why}\n$ {cmd.text}\n--- stdout\n{out[-3000:]}\n--- stderr\n{err[-3000:]}"

    if timed_out:
        current = int((logs / "current").read_text().split()[0])
        pytest.fail(report(current, "did not finish within 240 s"), pytrace=False)
    if (logs / "failed").exists():
        n, rc = (logs / "failed").read_text().split()
        pytest.fail(report(int(n), f"exited {rc}"), pytrace=False)
    assert down.returncode == 0, down.stderr
    assert engines, "the README's `faastui up` left no engine.json to find its engine by"
    assert not leftover, f"engines left running after `faastui down`: {leftover}"


def _still_alive(pids: list[int], deadline_s: float) -> list[int]:
    """``pids`` still running once they have had ``deadline_s`` to exit."""
    import time

    end = time.monotonic() + deadline_s
    while True:
        alive = [pid for pid in pids if _alive(pid)]
        if not alive or time.monotonic() > end:
            return alive
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
