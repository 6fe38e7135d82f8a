"""emitter: a long-running loop turning what arrives on input_queue (the seed's
phase_config messages, tasks, a faastui run's workload) into timed tasks.

Start it with an async call; payload (optional): {"once": true} to serve one item,
emitter_id, program_start. The loop is ``backends.workflow.emitter.run_emitter``;
it stops on a TERMINATE SYN on emitter_control_syn_queue.
"""

import os

# imported here, not in main(): the engine's zygote imports this module once, so each
# loop it forks starts in milliseconds instead of importing redis-py again
from backends.workflow.emitter import run_emitter


def main(args):
    args = args if isinstance(args, dict) else {}
    allowed = {"once", "emitter_id", "program_start", "lease_ttl_s"}
    return run_emitter(os.environ["REDIS_URL"], **{k: v for k, v in args.items() if k in allowed})
