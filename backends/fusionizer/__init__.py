"""The fusion optimizer: regroup functions into fusion groups from the observed call graph.

Fusionize-style: functions that call each other synchronously are hosted in one
deployment (a fusion group), so those calls become in-process calls. This module
reads the call graph a backend recorded and plans which groups should exist; it
is pure and backend-independent (``plan``), plus one async entry point
(``optimize``) that fetches the inputs through any ``Backend`` and, when asked,
applies the plan with ``Backend.unfuse``/``Backend.fuse``.

Algorithm (``plan``):

1. An edge ``a -> b`` *qualifies* when ``calls >= min_calls`` and its share of
   all recorded calls into ``b`` is ``>= min_share`` (``b`` is called mostly by
   ``a``; a callee shared 50/50 by two callers stays apart). Self-calls and edges
   to functions that are not deployed are ignored; a function labelled
   ``faastui.io/no-fuse`` or ``faastui.io/long-running`` is never fused.
2. Existing groups are seeded first, as already-merged components (the engine
   stops recording calls inside a group, so the graph alone cannot prove them
   again). A group is dissolved when a member may no longer be fused, when it is
   over ``max_size``/``max_memory_mb``, or, with ``unfuse_idle``, when it is
   *idle*: no qualifying edges join its members and fewer than ``min_calls``
   local calls were counted since it was fused (the count is cumulative).
3. Qualifying edges are taken heaviest first (ties by name, so plans are stable)
   and join their two components with union-find, unless the joined group would
   exceed ``max_size`` members or ``max_memory_mb`` (sum of members' memory, the
   size of the one worker that hosts a group); such edges are noted as skipped.
4. Components of two or more functions are the target groups. A target keeps the
   name of the (largest) existing group it contains, else it is named
   ``fg-<first member alphabetically>``.
5. Steps go from current to target: unfuse every current group that is not a
   target unchanged, then fuse every target that does not exist yet. A plan that
   changes nothing has no steps.

Continuously (``optimize_every``), as Fusionize's optimizer does: observe, regroup,
repeat every N seconds. The first round plans on the cumulative graph (the calls
so far are the only evidence there is, and it makes one round the same as
``optimize``); every later round plans on the *window* since the last good
round: per edge, the calls now minus the calls then (``window``), and likewise
each group's ``calls_local``, so ``unfuse_idle`` means "idle during the last
window". A heavy edge that has gone quiet no longer fuses; new traffic does.

The inputs are only model objects (``Function``, ``FusionGroup``) and
``(caller, callee, calls)`` edges, so the planner runs the same over any backend
that offers ``call_graph()`` and fusion.
"""

from .planner import NO_FUSE_LABELS, Edge, Facts, Plan, PlannedGroup, Step, Thresholds, plan
from .rounds import apply_plan, optimize, optimize_every, window

__all__ = [
    "NO_FUSE_LABELS",
    "Edge",
    "Facts",
    "Thresholds",
    "PlannedGroup",
    "Step",
    "Plan",
    "plan",
    "optimize",
    "apply_plan",
    "window",
    "optimize_every",
]
