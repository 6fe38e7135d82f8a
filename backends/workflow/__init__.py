"""Provides the producer/worker/collector workflow over Redis, speaking the seed
workflow's protocol (queues, SYN/ACK/START/WORKFLOW_INIT messages, record fields):
the loops, the reaper, the controller with graceful scaling, workload phases
(including the seed's phase_config messages), autoscaling policies, the
simulator, the gymnasium environment and the shipped RL table.

The loops (``run_emitter``, ``run_worker``, ``run_collector``) are plain
functions: the ``functions/`` handlers call them inside the engine, and tests
and benches run them in real processes. Nothing here imports ``faastui``.
"""

from .controller import RunConfig, Status, Summary, WorkflowController, read_status, stop_run
from .phases import Workload, load_workload, parse_workload, seed_workload

__all__ = [
    "RunConfig",
    "Status",
    "Summary",
    "WorkflowController",
    "read_status",
    "stop_run",
    "Workload",
    "load_workload",
    "parse_workload",
    "seed_workload",
]
