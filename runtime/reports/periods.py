"""Time grains, the periods a report shows, and the SQL that puts a record into its period.

Periods are named by their first day (a ``date``). Truncation runs in the database:
SQLite ``strftime``/``date`` modifiers, PostgreSQL ``date_trunc``. Weeks start on Monday (ISO).

Time zone: datetime fields are stored as naive UTC, but "March" means the hospital's March. On
PostgreSQL the column is converted with ``timezone(<zone>, timezone('UTC', col))`` (exact, daylight
saving included); SQLite has no zone database, so the zone's current UTC offset is added
(``datetime(col, '+480 minutes')``): exact for zones without daylight saving such as Asia/Shanghai.
The range filter itself compares the raw column with UTC bounds, so an index on the date field serves it.

Comparisons: year over year shifts a period by one year (a week by 52 weeks, so Monday stays Monday);
the previous period (MoM for months) shifts by one grain. With a custom range and no grain the whole
range is one period, compared with the same range a year earlier and with the equally long range before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from runtime.clock import local_zone

GRAINS = ("day", "week", "month", "quarter", "year")
PERIODS = ("today", "this_week", "this_month", "this_quarter", "this_year", "last_12_months", "last_30_days")


def trunc(d: date, grain: str) -> date:
    """The first day of the period holding d."""
    match grain:
        case "day":
            return d
        case "week":
            return d - timedelta(days=d.weekday())
        case "month":
            return d.replace(day=1)
        case "quarter":
            return date(d.year, (d.month - 1) // 3 * 3 + 1, 1)
        case "year":
            return date(d.year, 1, 1)
    raise ValueError(f"unknown grain {grain}")


def add_months(d: date, months: int) -> date:
    index = d.year * 12 + d.month - 1 + months
    year, month = divmod(index, 12)
    last = _month_days(year, month + 1)
    return date(year, month + 1, min(d.day, last))


def _month_days(year: int, month: int) -> int:
    nxt = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return (nxt - timedelta(days=1)).day


def add(d: date, grain: str, n: int) -> date:
    """d moved by n periods of the grain."""
    match grain:
        case "day":
            return d + timedelta(days=n)
        case "week":
            return d + timedelta(weeks=n)
        case "month":
            return add_months(d, n)
        case "quarter":
            return add_months(d, 3 * n)
        case "year":
            return add_months(d, 12 * n)
    raise ValueError(f"unknown grain {grain}")


def year_before(d: date, grain: str | None) -> date:
    """The start of the same period one year earlier."""
    if grain == "week":
        return d - timedelta(weeks=52)
    return add_months(d, -12)


def periods(start: date, end: date, grain: str) -> list[date]:
    """Every period start from start to end (inclusive), both already truncated."""
    out, d = [], start
    while d <= end:
        out.append(d)
        d = add(d, grain, 1)
    return out


def label(d: date, grain: str | None, lang: str) -> str:
    match grain:
        case "day":
            return d.isoformat()
        case "week":
            iso = d.isocalendar()
            return f"{iso.year}-W{iso.week:02d}" if lang == "en" else f"{iso.year}年第{iso.week}周"
        case "month":
            return f"{d.year}-{d.month:02d}"
        case "quarter":
            return (
                f"{d.year} Q{(d.month - 1) // 3 + 1}" if lang == "en" else f"{d.year}年第{(d.month - 1) // 3 + 1}季度"
            )
        case "year":
            return str(d.year)
    return d.isoformat()


@dataclass(frozen=True)
class Range:
    """Local calendar days, both ends included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def shifted_year(self) -> Range:
        return Range(add_months(self.start, -12), add_months(self.end, -12))

    def previous(self) -> Range:
        """The equally long range just before (whole months when the range is whole months)."""
        if self.start.day == 1 and (self.end + timedelta(days=1)).day == 1:
            months = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1
            return Range(add_months(self.start, -months), self.start - timedelta(days=1))
        return Range(self.start - timedelta(days=self.days), self.start - timedelta(days=1))


def named_range(name: str, today: date) -> Range:
    match name:
        case "today":
            return Range(today, today)
        case "this_week":
            s = trunc(today, "week")
            return Range(s, s + timedelta(days=6))
        case "this_month":
            s = trunc(today, "month")
            return Range(s, add_months(s, 1) - timedelta(days=1))
        case "this_quarter":
            s = trunc(today, "quarter")
            return Range(s, add_months(s, 3) - timedelta(days=1))
        case "this_year":
            return Range(date(today.year, 1, 1), date(today.year, 12, 31))
        case "last_30_days":
            return Range(today - timedelta(days=29), today)
    s = add_months(trunc(today, "month"), -11)  # last_12_months: this month and the 11 before
    return Range(s, add_months(trunc(today, "month"), 1) - timedelta(days=1))


def aligned(r: Range, grain: str | None) -> Range:
    """A range widened to whole periods, so every period shown is complete and compares like with like."""
    if grain is None:
        return r
    return Range(trunc(r.start, grain), add(trunc(r.end, grain), grain, 1) - timedelta(days=1))


def local_today(now_utc: datetime) -> date:
    return now_utc.replace(tzinfo=UTC).astimezone(local_zone()).date()


def utc_bound(d: date) -> datetime:
    """Local midnight at the start of d, as naive UTC (what datetime columns store)."""
    zone = local_zone()
    return datetime(d.year, d.month, d.day, tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def local_iso(d: date) -> str:
    """Local midnight with its UTC offset: a value the records list reads back as the same instant."""
    return datetime(d.year, d.month, d.day, tzinfo=local_zone()).isoformat()


# SQL ------------------------------------------------------------------------------------------
def _offset_minutes() -> int:
    offset = datetime.now(UTC).astimezone(local_zone()).utcoffset() or timedelta()
    return int(offset.total_seconds() // 60)


def local_column(col: sa.ColumnElement, is_datetime: bool, dialect: str) -> sa.ColumnElement:
    """The column as local time (datetime fields only; a date is already a calendar day)."""
    if not is_datetime:
        return col
    if dialect == "postgresql":
        zone = local_zone()
        if isinstance(zone, ZoneInfo):
            return sa.func.timezone(zone.key, sa.func.timezone("UTC", col))
        return col + sa.text(f"interval '{_offset_minutes()} minutes'")
    return sa.func.datetime(col, f"{_offset_minutes():+d} minutes")


def period_expr(col: sa.ColumnElement, grain: str, is_datetime: bool, dialect: str) -> sa.ColumnElement:
    """The first day of the record's period, in SQL (a date on PostgreSQL, 'YYYY-MM-DD' text on SQLite)."""
    x = local_column(col, is_datetime, dialect)
    if dialect == "postgresql":
        if not is_datetime:
            x = sa.cast(x, sa.DateTime)
        return sa.cast(sa.func.date_trunc(grain, x), sa.Date)
    match grain:
        case "day":
            return sa.func.date(x)
        case "week":
            return sa.func.date(x, "weekday 0", "-6 days")
        case "month":
            return sa.func.strftime("%Y-%m-01", x)
        case "year":
            return sa.func.strftime("%Y-01-01", x)
    month = sa.cast(sa.func.strftime("%m", x), sa.Integer)
    return sa.func.printf("%s-%02d-01", sa.func.strftime("%Y", x), ((month + 2) // 3) * 3 - 2)


def as_date(value: object) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
