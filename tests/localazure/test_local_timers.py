"""Timer triggers in the local host: indexed with their NCRONTAB schedule and run on it."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import azure.functions as func
import pytest

from localazure.host.app import index_functions
from localazure.host.config import HostConfigError
from localazure.host.runtime import FunctionHost


def _app(schedule: str) -> func.FunctionApp:
    app = func.FunctionApp()

    @app.timer_trigger(arg_name="timer", schedule=schedule, run_on_startup=True)
    def tick(timer: func.TimerRequest) -> None:
        pass

    return app


def test_a_timer_function_is_indexed_with_its_schedule() -> None:
    """``%SETTING%`` is resolved; runOnStartup is kept."""
    index = index_functions(_app("%SCHEDULE%"), {"SCHEDULE": "0 */5 * * * *"})
    [timer] = index.timer_functions
    assert (timer.name, timer.schedule, timer.run_on_startup) == ("tick", "0 */5 * * * *", True)


@pytest.mark.parametrize("schedule", ["*/5 * * * *", "0 */5 * * * * *", "every five minutes"])
def test_a_schedule_that_is_not_six_field_ncrontab_is_refused(schedule: str) -> None:
    """Five fields (Unix cron) is what people get wrong: the host refuses it at start-up."""
    with pytest.raises(HostConfigError, match="NCRONTAB"):
        index_functions(_app(schedule), {})


def test_a_timer_function_runs_on_its_schedule(tmp_path: Path) -> None:
    """Every second: it runs at start-up and then again, with a TimerRequest."""
    (tmp_path / "host.json").write_text('{"version": "2.0"}', encoding="utf-8")
    ticks = tmp_path / "ticks"
    (tmp_path / "function_app.py").write_text(
        textwrap.dedent(
            f"""
            import azure.functions as func

            app = func.FunctionApp()

            @app.timer_trigger(arg_name="timer", schedule="* * * * * *", run_on_startup=True)
            def tick(timer: func.TimerRequest) -> None:
                with open({str(ticks)!r}, "a", encoding="utf-8") as out:
                    out.write(f"{{timer.past_due}}\\n")
            """
        ),
        encoding="utf-8",
    )
    host = FunctionHost(tmp_path, settings={}, http_port=None).start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if ticks.exists() and len(ticks.read_text(encoding="utf-8").split()) >= 3:
                break
            time.sleep(0.1)
    finally:
        host.stop()
    assert len(ticks.read_text(encoding="utf-8").split()) >= 3
