"""Command line: `python -m blurb_lab <overrides>` (a Hydra app), `blurb-lab`, `blurb-lab report <dirs>`.

main() hands `report` to blurb_lab/report/command.py, `dashboard` (a sweep's W&B workspace) to
blurb_lab/dashboard/command.py; any other command line is checked first
(blurb_lab/preflight.py: a bad key or value ends in one line and exit status 2, before Hydra makes a
sweep dir) and then run by Hydra, one job at a time through blurb_lab/job.py, which records every
job's results.json (status `crashed` for a job that still fails, and the sweep goes on). In a rank
that torchrun or srun started, blurb_lab/run_dir.py first adds the run and sweep dirs rank 0 chose,
so that Hydra does not name one dir per rank.
"""

from __future__ import annotations

import sys

from blurb_lab.hydra_help import shared_group_listing
from blurb_lab.job import hydra_main
from blurb_lab.preflight import preflight
from blurb_lab.run_dir import shared_dir_overrides
from blurb_lab.startup import skip_exit_collection


def main() -> None:
    # `... task=x -m seed=1,2` is how users write a sweep; argparse wants the flag before the
    # overrides, so move it there.
    args = sys.argv[1:]
    if args[:1] == ["report"]:
        from blurb_lab.report.command import main as report_main

        report_main(args[1:])
        return
    if args[:1] == ["dashboard"]:
        from blurb_lab.dashboard.command import main as dashboard_main

        dashboard_main(args[1:])
        return
    if args[:1] == ["plan"] or "--plan" in args:  # what the sweep would cost, without running it
        from blurb_lab.plan.command import main as plan_main

        plan_main(args)
        return
    flags = [a for a in args if a in ("-m", "--multirun")]
    sys.argv[1:] = flags[:1] + [a for a in args if a not in ("-m", "--multirun")]
    preflight(sys.argv[1:])
    sys.argv[1:] += shared_dir_overrides(sys.argv[1:])
    try:
        with shared_group_listing(sys.argv[1:]):  # --help: Hydra lists the config groups much faster
            hydra_main()
    finally:
        skip_exit_collection()


if __name__ == "__main__":
    main()
