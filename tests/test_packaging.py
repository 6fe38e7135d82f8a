"""The data folders ship with the package: the wheel build copies them to faastui/_data,
and faastui.locations finds them there when there is no source tree around."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_build_py_copies_the_data_folders(tmp_path):
    pytest.importorskip("setuptools")
    proc = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = tmp_path / "faastui" / "_data"
    assert (data / "functions" / "hello" / "handler.py").is_file()
    assert (data / "functions" / "hello" / "function.yaml").is_file()
    assert (data / "demo" / "cluster.yaml").is_file()
    assert (data / "keymaps" / "k9s.toml").is_file()
    assert (tmp_path / "backends" / "local" / "engine.py").is_file()
    # package data of the workflow (issue 11): the rl policy's table and the seed's defaults
    assert (tmp_path / "backends" / "workflow" / "data" / "rl_table.json").is_file()
    assert (tmp_path / "backends" / "workflow" / "data" / "seed.json").is_file()
    assert not list(data.rglob("__pycache__"))


def test_locations_fall_back_to_the_packaged_data(tmp_path, monkeypatch):
    from faastui import locations

    pkg = tmp_path / "faastui"
    (pkg / "_data" / "functions" / "hello").mkdir(parents=True)
    monkeypatch.setattr(locations, "_HERE", pkg)
    assert locations.functions_dir() == pkg / "_data" / "functions"


def test_an_editable_build_prints_no_warnings(tmp_path):
    """`make setup`'s editable install: no BuildBackendWarning (the deprecated license table,
    the meta-path-finder notice). Run with the venv's setuptools in a copy of the project,
    without the network (pip's build isolation would download setuptools)."""
    pytest.importorskip("setuptools")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    project = tmp_path / "project"
    for rel in filter(None, listed.split("\0")):
        if (ROOT / rel).is_file() and rel.split("/")[0] in (
            "faastui",
            "backends",
            "pyproject.toml",
            "setup.py",
            "README.md",
        ):
            (project / rel).parent.mkdir(parents=True, exist_ok=True)
            (project / rel).write_bytes((ROOT / rel).read_bytes())
    out = tmp_path / "wheel"
    out.mkdir()
    proc = subprocess.run(
        [
            sys.executable,
            "-W",
            "always",
            "-c",
            "import sys; from setuptools import build_meta; print(build_meta.build_editable(sys.argv[1]))",
            str(out),
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    said = proc.stdout + proc.stderr
    assert "Warning" not in said and "deprecated" not in said, said[-3000:]
    assert "using .pth file" in said  # the static strategy: a .pth naming the project
