"""Reports for people who do not work denials one by one: the monthly feedback report for
clinical leadership (:mod:`.feedback`: figures; :mod:`.charts`, :mod:`.pdf`, :mod:`.xlsx`:
the files; :mod:`.render`: writing them). docs/reports.md defines every figure."""

from .feedback import (CODING_CATEGORIES, KPIS, FeedbackReport, MonthFigures, Pattern,
                       build_feedback)
from .months import Month, MonthError, month_or_previous

__all__ = ["CODING_CATEGORIES", "KPIS", "FeedbackReport", "Month", "MonthError",
           "MonthFigures", "Pattern", "build_feedback", "month_or_previous",
           "write_feedback_report"]


def __getattr__(name: str):
    if name == "write_feedback_report":  # matplotlib and reportlab load only when writing
        from .render import write_feedback_report

        return write_feedback_report
    raise AttributeError(name)
