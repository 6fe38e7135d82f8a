"""Ship the data folders (functions/, themes/, keymaps/, demo/) inside the wheel.

They live at the top of the source tree; a wheel carries them as
``faastui/_data/<name>``, where ``faastui/locations.py`` looks when there is
no source tree around. Everything else is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA = ("functions", "themes", "keymaps", "demo")


class BuildPyWithData(build_py):
    def run(self):
        super().run()
        root = Path(__file__).resolve().parent
        for name in DATA:
            src = root / name
            if src.is_dir():
                shutil.copytree(src, Path(self.build_lib) / "faastui" / "_data" / name, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithData})
