"""Re-export of `tasks.conventions` (the names every tool keeps) for callers above the flows."""

from tasks.conventions import (  # noqa: F401
    CONTROL_ACTIONS,
    PROGRESS_FILE,
    REPORTS_DIR,
    RESULT_FILE,
    control_event_name,
    parse_task_run_name,
    report_file,
    task_run_name,
)
