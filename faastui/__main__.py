"""``python -m faastui`` and the ``faastui`` console script."""

from __future__ import annotations


def main() -> None:
    from faastui.cli.entry import main as cli_main  # only the command argv names is built

    cli_main()


if __name__ == "__main__":
    main()
