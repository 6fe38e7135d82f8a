"""The root of the CLI without its command groups: the Typer settings, the global options
(``root``), ``ui`` and the dashboard launch. ``new_app()`` gives a root Typer; ``app.py``
adds every command group to one, ``entry.py`` only the command or group argv names (a
one-shot command does not import or build the other forty-odd commands), and
``_lazy_root.py`` every command unbuilt, for the help that lists them.
"""

from __future__ import annotations

from typing import Optional

import typer

from .. import __version__
from ._common import complete_context, complete_namespace, state, usage_error
from ._fastparams import install as _install_fast_params

_install_fast_params()  # typer's pydantic coercion costs ~0.1 s per run; see the module

__all__ = ["new_app", "root", "ui", "ROOT_VALUE_OPTIONS"]

#: the global options that take a value (argv is read past them to find the command)
ROOT_VALUE_OPTIONS = frozenset({"--context", "--namespace", "-n", "--gateway", "-g", "--theme", "--view", "--save-dir"})


def new_app(with_ui: bool = True) -> typer.Typer:
    """A root Typer with the global options and ``ui`` (unless ``with_ui`` is False: the
    root of one other command), no command groups yet."""
    app = typer.Typer(
        name="faastui",
        help="k9s for FaaS: a dashboard and CLI for serverless functions.",
        rich_markup_mode=None,  # plain help: rich help formatting costs ~110 ms per run
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback(invoke_without_command=True)(root)
    if with_ui:
        app.command("ui")(ui)
    return app


def _version(value: bool):
    if value:
        print(f"faastui {__version__}")
        raise typer.Exit()


def root(
    ctx: typer.Context,
    # $FAASTUI_CONTEXT is read by config.resolve_context, so an explicit -g overrides it
    context_name: Optional[str] = typer.Option(
        None,
        "--context",
        metavar="NAME",
        autocompletion=complete_context,
        help="Context to use (default: $FAASTUI_CONTEXT, else the current one).",
    ),
    namespace: Optional[str] = typer.Option(
        None,
        "--namespace",
        "-n",
        metavar="NS",
        envvar="FAASTUI_NAMESPACE",
        autocompletion=complete_namespace,
        help="Work in this namespace (backends that have them); every command takes -n too.",
    ),
    gateway: Optional[str] = typer.Option(
        None,
        "--gateway",
        "-g",
        metavar="URL",
        help="An OpenFaaS gateway for this run only (as faas-cli -g), instead of a context.",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    readonly: bool = typer.Option(False, "--readonly", help="Dashboard: hide every action that changes state."),
    theme: Optional[str] = typer.Option(None, "--theme", help="Dashboard theme (remembered)."),
    view: Optional[str] = typer.Option(
        None, "--view", help="Dashboard: open on this pane (nodes, fn, queues, qos, fusion, events, all)."
    ),
    save_dir: Optional[str] = typer.Option(
        None, "--save-dir", help="Dashboard: where ctrl+s saves (default $XDG_DATA_HOME/faastui/screenshots)."
    ),
):
    """k9s for FaaS: a dashboard and CLI for serverless functions."""
    state.reset(context_name, namespace, gateway)
    if ctx.invoked_subcommand is None:
        # the dashboard (faastui.tui) opens on a terminal; without one (a pipe, CliRunner), help
        import sys

        try:
            import importlib.util

            has_tui = importlib.util.find_spec("faastui.tui.app") is not None
        except ImportError:
            has_tui = False
        if has_tui and sys.stdin.isatty() and sys.stdout.isatty():
            raise typer.Exit(_dashboard(readonly=readonly, theme=theme, view=view, save_dir=save_dir))
        print(ctx.get_help())
        raise typer.Exit(0)


def ui(
    readonly: bool = typer.Option(False, "--readonly", help="Hide every action that changes state."),
    theme: Optional[str] = typer.Option(None, "--theme", help="Theme name (remembered in the config)."),
    interval: Optional[float] = typer.Option(
        None, "--interval", min=0.25, help="Seconds between refreshes (default: the config's refresh_s, else 1)."
    ),
    view: Optional[str] = typer.Option(
        None, "--view", help="Open on this pane (nodes, fn, queues, qos, fusion, events, all)."
    ),
    save_dir: Optional[str] = typer.Option(None, "--save-dir", help="Where ctrl+s saves."),
):
    """Open the dashboard on the current context (same as bare `faastui`)."""
    import sys

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise usage_error(
            "the dashboard needs a terminal (stdin and stdout are not both one)",
            hint="`faastui watch` shows the same panes without a full screen",
        )
    raise typer.Exit(_dashboard(readonly=readonly, theme=theme, interval=interval, view=view, save_dir=save_dir))


def _dashboard(**options) -> int:
    """The dashboard on the context (or the ``-g`` gateway, in the ``-n`` namespace) chosen."""
    from faastui.tui.app import run as run_tui  # deferred: textual costs ~400 ms

    from ._common import current_context, handle_errors

    if state.gateway is not None or state.namespace is not None:
        with handle_errors():
            ctx = current_context()
        options.update(make_backend=ctx.build_backend, start_context=ctx, namespace=state.namespace)
    return run_tui(context=state.context, **options) or 0
