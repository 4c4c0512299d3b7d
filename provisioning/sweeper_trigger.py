"""The sweeper's timer trigger: a blueprint of its own, built with the schedule from settings.

``SWEEPER_SCHEDULE`` is read by the app's settings (with a default), not bound as
``%SWEEPER_SCHEDULE%``: the host refuses to index a function whose binding expression names a
setting that is not set, and the sweeper should run without anyone having to set it.
"""

from __future__ import annotations

import azure.functions as func

from provisioning.runtime import get_runtime
from provisioning.sweeper import sweep


def sweeper_blueprint(schedule: str) -> func.Blueprint:
    bp = func.Blueprint()  # type: ignore[no-untyped-call]

    @bp.timer_trigger(arg_name="timer", schedule=schedule, run_on_startup=False, use_monitor=True)
    def sweep_status(timer: func.TimerRequest) -> None:
        """Re-arm overdue requests, drain -poison-poison, apply the retention."""
        sweep(get_runtime().sweep)

    return bp
