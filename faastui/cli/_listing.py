"""What the list commands share for scripts: ``--sort-by``, ``-l/--selector``, ``-q``,
``--no-headers`` and ``-o name``, as kubectl and faas-cli users write them.

``Listing`` holds the options one list command parsed; ``Listing.apply(items, kind)``
filters and sorts (inside the fetch, so ``--watch`` refreshes the same view) and
``Listing.emit`` prints. Fields are the model's field names, the keys of ``-o json``
(``--sort-by memory_mb``; kubectl's ``.memory_mb`` spelling is accepted too). A selector
is comma-separated terms on the objects' labels: ``k=v`` (or ``k==v``), ``k!=v``, ``k``
(has the label), ``!k`` (has not); all must hold. Bad input is an ``InvalidRequest``
(exit 2) that names the bad part and what is valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import typer

from backends.errors import InvalidRequest

from ..output import Format, InNamespace, emit

__all__ = [
    "Listing",
    "parse_selector",
    "matches",
    "sort_items",
    "fields_of",
    "SortOpt",
    "SelectorOpt",
    "QuietOpt",
    "NoHeadersOpt",
]

SortOpt = typer.Option(
    None, "--sort-by", metavar="FIELD", help="Sort by a field of -o json (e.g. name, memory_mb, replicas)."
)
SelectorOpt = typer.Option(
    None,
    "--selector",
    "-l",
    metavar="K=V,K!=V",
    help="Only objects whose labels match (k=v, k!=v, k, !k; all must hold).",
)
QuietOpt = typer.Option(False, "--quiet", "-q", help="Print only the names, one per line.")
NoHeadersOpt = typer.Option(False, "--no-headers", help="Tables without the header row.")

# a label key (an optional DNS prefix and a name) and a label value, as Kubernetes spells them
_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_HINT = "write -l key=value,key!=value,key,!key (set-based 'in (...)' is not supported)"


@dataclass(frozen=True)
class Term:
    key: str
    op: str  # "=", "!=", "exists", "!exists"
    value: str = ""

    def holds(self, labels: dict) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!exists":
            return self.key not in labels
        if self.op == "=":
            return self.key in labels and str(labels[self.key]) == self.value
        return str(labels.get(self.key, "\0")) != self.value  # "!=": absent keys match, as kubectl


def parse_selector(text: str) -> list[Term]:
    """``k=v,k!=v,k,!k`` -> terms. Raises: InvalidRequest naming the bad term."""
    terms = []
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            raise InvalidRequest(f"bad selector {text!r}: an empty term", hint=_HINT)
        if " in " in f" {part} " or " notin " in f" {part} " or "(" in part:
            raise InvalidRequest(f"bad selector term {part!r}: set-based selectors are not supported", hint=_HINT)
        if "!=" in part:
            key, _, value = part.partition("!=")
            term = Term(key.strip(), "!=", value.strip())
        elif "=" in part:
            key, _, value = part.partition("==") if "==" in part else part.partition("=")
            term = Term(key.strip(), "=", value.strip())
        elif part.startswith("!"):
            term = Term(part[1:].strip(), "!exists")
        else:
            term = Term(part, "exists")
        if not _KEY.match(term.key):
            raise InvalidRequest(f"bad selector term {part!r}: {term.key!r} is not a label key", hint=_HINT)
        if not _VALUE.match(term.value):
            raise InvalidRequest(f"bad selector term {part!r}: {term.value!r} is not a label value", hint=_HINT)
        terms.append(term)
    return terms


def matches(item: Any, terms: list[Term]) -> bool:
    labels = getattr(item, "labels", None) or {}
    return all(t.holds(labels) for t in terms)


def fields_of(kind: str, namespaced: bool = False) -> list[str]:
    """The fields of model class ``kind`` (what -o json prints), for --sort-by."""
    from backends import model  # deferred: only a sort pays the model import

    cls = getattr(model, "Invocation" if kind == "Container" else kind)
    names = list(cls.__dataclass_fields__)
    return (["namespace"] if namespaced else []) + names


def _sort_key(value: Any) -> tuple:
    if value is None:
        return (2, "")  # nothing to compare: last
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, dict):
        return (1, ",".join(f"{k}={v}" for k, v in sorted(value.items())))
    if isinstance(value, (list, tuple)):
        return (1, ",".join(map(str, value)))
    return (1, str(value))


def sort_items(items: list, field: str, kind: str, namespaced: bool = False) -> list:
    """``items`` sorted by ``field`` (a model field, or ``namespace`` for a listing across
    namespaces; ``.field`` as kubectl writes it), ties kept in their order.
    Raises: InvalidRequest listing the fields for an unknown one."""
    name = field.strip().lstrip(".")
    namespaced = namespaced or (bool(items) and isinstance(items[0], InNamespace))
    valid = fields_of(kind, namespaced)
    if name not in valid:
        from backends.errors import did_you_mean

        close = did_you_mean(name, valid)
        raise InvalidRequest(
            f"cannot sort by {field!r}: not a field of {kind}",
            hint=(f"{close} " if close else "") + f"fields: {', '.join(valid)}",
        )
    return sorted(items, key=lambda i: _sort_key(getattr(i, name, None)))


@dataclass(frozen=True)
class Listing:
    """The script options of one list command, checked when built (``Listing.of``)."""

    sort_by: str | None = None
    selector: tuple[Term, ...] = ()
    quiet: bool = False
    headers: bool = True
    namespaced: bool = False  # -A: every object carries its namespace

    @classmethod
    def of(
        cls,
        kind: str,
        sort_by: str | None = None,
        selector: str | None = None,
        quiet: bool = False,
        no_headers: bool = False,
        namespaced: bool = False,
    ) -> Listing:
        """Raises: InvalidRequest for an unknown sort field or a bad selector."""
        if sort_by is not None:
            sort_items([], sort_by, kind, namespaced)  # an unknown field fails before any call
        return cls(
            sort_by, tuple(parse_selector(selector)) if selector is not None else (), quiet, not no_headers, namespaced
        )

    @property
    def for_scripts(self) -> bool:
        return self.quiet or not self.headers

    def apply(self, items: list, kind: str) -> list:
        if self.selector:
            items = [i for i in items if matches(i, list(self.selector))]
        if self.sort_by is not None:
            items = sort_items(items, self.sort_by, kind, self.namespaced)
        return items

    def emit(self, items: list, output: Format, kind: str) -> None:
        if self.quiet:
            from ..output import names

            for line in names(items, kind, with_kind=False):
                print(line)
            return
        emit(items, output, kind, headers=self.headers)
