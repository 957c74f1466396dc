"""Data-parallel training under `accelerate launch` (several GPUs, machines, or CPU processes).

    accelerate launch --num_processes 2 [--cpu] -m service.launch claim --profile full

The main process queues and claims a run, tells the others its id, then every process
trains on its shard of each batch; the main process alone evaluates, saves and registers.
Settings (DATABASE_URL, CLAIMLENS_MODEL_DIR) come from the environment as for `claimlens`.
"""

from __future__ import annotations

import argparse
import sys

from accelerate import Accelerator
from accelerate.utils import broadcast_object_list

from core import jobs
from core.auth import cli_actor
from core.run_spec import TrainingConfig
from core.tasks import ALIASES, Task
from db.session import get_sessionmaker, session_scope
from training.run import execute_run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=sorted(ALIASES))
    parser.add_argument("--profile", default="full")
    parser.add_argument("--method", default=None)
    parser.add_argument("--base-model", default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--cpu", action="store_true", help="train on CPU processes (gloo)")
    args = parser.parse_args(argv)
    task = Task.parse(args.task)
    config = TrainingConfig.for_profile(
        task, args.profile, args.method, base_model=args.base_model, epochs=args.epochs, batch_size=args.batch_size
    )
    accelerator = Accelerator(cpu=args.cpu)
    actor = cli_actor()
    run_id: list[int | None] = [None]  # filled on the main process, then broadcast to the rest
    if accelerator.is_main_process:
        with session_scope() as session:
            run = jobs.queue_run(session, actor=actor, config=config.to_dict())
            jobs.claim_run(session, run_id=run.id, worker_id=f"accelerate:{accelerator.num_processes}")
            run_id = [run.id]
    broadcast_object_list(run_id)
    assert run_id[0] is not None, "the main process broadcasts the run it queued"
    outcome = execute_run(get_sessionmaker(), run_id=run_id[0], actor=actor, accelerator=accelerator)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        print(f"run {outcome.run_id} {outcome.status} v{outcome.version} on {accelerator.num_processes} processes")  # noqa: T201
    return 0 if outcome.status in ("succeeded", "secondary") else 1


if __name__ == "__main__":
    sys.exit(main())
