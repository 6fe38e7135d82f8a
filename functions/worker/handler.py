"""worker: a long-running loop serving worker_queue (start it with an async call).

Payload (JSON, all optional): worker_id, batch, heartbeat_ttl_s, work, program_start.
The loop itself is ``backends.workflow.worker.run_worker``; it stops on a SYN
(SCALE_DOWN after its current task, with an ACK; TERMINATE), when the run stops,
or when it is fenced.
"""

import os

# imported here, not in main(): the engine's zygote imports this module once, so each
# loop it forks starts in milliseconds instead of importing redis-py again
from backends.workflow.worker import run_worker


def main(args):
    args = args if isinstance(args, dict) else {}
    allowed = {"worker_id", "batch", "heartbeat_ttl_s", "work", "max_tasks", "program_start"}
    return run_worker(os.environ["REDIS_URL"], **{k: v for k, v in args.items() if k in allowed})
