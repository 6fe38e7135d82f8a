"""emitter: a long-running loop turning run specs on input_queue into timed tasks.

Start it with an async call; payload (optional): {"once": true} to serve one run.
The loop is ``backends.workflow.emitter.run_emitter``.
"""
import os


def main(args):
    from backends.workflow.emitter import run_emitter  # deferred: keep the zygote light

    args = args if isinstance(args, dict) else {}
    return run_emitter(os.environ["REDIS_URL"], once=bool(args.get("once", False)))
