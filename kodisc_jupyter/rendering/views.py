"""Text views shared by the notebook and the terminal: balance lines, job tables, spending, progress.

Pure functions of history rows and API models; they import no widgets and no HTTP stack, so the
panel, the account magics, the status bar and the `kodisc` command line show the same words.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from .._choices import STATUS_CHOICES as STATUS_CHOICES  # the views filter by it
from ..contract._rules import PENDING_STATUSES, RUNNING

if TYPE_CHECKING:
    from ..contract._models import RenderProgress

COLUMNS = ("Job", "Class", "Quality", "Status", "Credits", "Duration", "When")


def short_id(job_id: str | None) -> str:
    return job_id[:8] if job_id else "—"


def format_credits(value: float | None) -> str:
    """Credits as people read them: `3`, `0.35`, `—` when unknown."""
    if value is None:
        return "—"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def format_progress(*, class_name: str, state: str, elapsed: float, job_id: str | None, backend: str,
                    render_progress: RenderProgress | None = None, previous_seconds: float | None = None,
                    expected_seconds: float | None = None) -> str:
    """One job's progress as one line, for the notebook's status bar and the terminal's alike (as tqdm
    has one `format_meter`): class and state, time so far, how far the local server got, one estimate
    (an ETA from this class's last render, else the usual time of a render of this quality), job, backend."""
    parts = [f"{class_name}: {state}", format_seconds(elapsed)]
    if render_progress is not None and state == RUNNING:
        parts.append(f"animation {render_progress.animations} · {render_progress.seconds:g} s of video")
    if previous_seconds and state in PENDING_STATUSES:
        parts.append(f"ETA {format_seconds(max(0.0, previous_seconds - elapsed))}")
    elif expected_seconds and state in PENDING_STATUSES:
        parts.append(f"~{format_seconds(expected_seconds)} expected")
    parts += [f"job {short_id(job_id)}", backend]
    return " · ".join(parts)


def format_duration(ms: int | None) -> str:
    return "—" if ms is None else format_seconds(ms / 1000)


def format_when(moment: datetime | None) -> str:
    """Local wall-clock time; absolute, because a saved snapshot outlives any "5 min ago"."""
    if moment is None:
        return "—"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def balance_line(account: Any, backend_name: str) -> str:
    """`%kodisc_credits`, `kodisc me` and the panel header: one line."""
    credits = account.credits
    return (f"{format_credits(credits.total)} credits ({format_credits(credits.paid)} paid, "
            f"{format_credits(credits.free)} free) · key {account.key_prefix} · {backend_name}")


def row_cells(record: Any) -> list[str]:
    return [record.job_id, record.class_name, record.quality, record.status,
            format_credits(record.credits_cost), format_duration(record.duration_ms),
            format_when(record.created_at)]


def empty_message(status: str | None) -> str:
    """What an empty table says: a filter that matches nothing must not read as an empty history."""
    if status and status != "all":
        return f"No {status} jobs in the history."
    return "No jobs in the history yet."


def jobs_text(records: Sequence[Any], *, total: int | None = None, offset: int = 0,
              status: str | None = None) -> str:
    """A fixed-width table of history rows (full job ids: `kodisc resume` takes them)."""
    if not records:
        return empty_message(status)
    return table_text(COLUMNS, [row_cells(r) for r in records]) + "\n" + page_caption(len(records), total, offset)


def table_text(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Fixed-width columns, two spaces apart, header first."""
    table = [list(header), *(list(row) for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip() for row in table)


def page_caption(shown: int, total: int | None, offset: int) -> str:
    if total is None or shown == 0:
        return f"{shown} job{'s' if shown != 1 else ''}"
    return f"jobs {offset + 1}–{offset + shown} of {total}"


def spending(history: Any, *, now: datetime | None = None) -> dict[str, Any]:
    """Credits spent today and over the last 7 days (local days), with the per-day series."""
    now = (now or datetime.now(timezone.utc)).astimezone()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    starts = [midnight - timedelta(days=d) for d in range(6, -1, -1)]
    cumulative = [float(history.credits_spent(start) or 0) for start in starts]
    per_day = [cumulative[i] - (cumulative[i + 1] if i + 1 < len(starts) else 0) for i in range(len(starts))]
    return {"today": cumulative[-1], "week": cumulative[0],
            "days": [(start.strftime("%a"), max(spent, 0.0)) for start, spent in zip(starts, per_day, strict=False)]}


def spending_text(spent: dict[str, Any]) -> str:
    return f"Spent {format_credits(spent['today'])} credits today, {format_credits(spent['week'])} in the last 7 days"
