"""collector: a long-running loop moving results to output_queue once per task id.

Start it with an async call; payload (optional): batch, until (stop after N kept),
collector_id, program_start. The loop is ``backends.workflow.collector.run_collector``;
it also runs the reaper, and stops on a TERMINATE SYN on collector_control_syn_queue.
"""

import os

# imported here, not in main(): the engine's zygote imports this module once, so each
# loop it forks starts in milliseconds instead of importing redis-py again
from backends.workflow.collector import run_collector


def main(args):
    args = args if isinstance(args, dict) else {}
    allowed = {"batch", "until", "reap_every_s", "collector_id", "program_start", "lease_ttl_s"}
    return run_collector(os.environ["REDIS_URL"], **{k: v for k, v in args.items() if k in allowed})
