"""Figures entered per unit and day: total members, the opening pool of trained candidates."""

from datetime import date

from sqlmodel import Session, select

from storage.audit import record
from storage.clock import utcnow
from storage.errors import InvalidInput
from storage.models import FigureKind, Unit, UnitFigure

# Above any real figure (the whole country has about 5.6 million members), and within the column.
MAX_FIGURE = 10_000_000
MAX_SOURCE = 255  # the column's length


def set_figure(
    session: Session, *, unit: Unit, kind: FigureKind, as_of: date, value: int, source: str = ""
) -> UnitFigure:
    """Record a figure; a second one for the same unit, kind and day replaces the first."""
    if not 0 <= value <= MAX_FIGURE:
        raise InvalidInput("storage.figure.out_of_range", high=MAX_FIGURE)
    if len(source) > MAX_SOURCE:
        raise InvalidInput("storage.figure.source_too_long", length=len(source), high=MAX_SOURCE)
    figure = session.exec(
        select(UnitFigure).where(
            UnitFigure.unit_id == unit.id, UnitFigure.kind == kind.value, UnitFigure.as_of == as_of
        )
    ).first()
    if figure is None:
        figure = UnitFigure(
            unit_id=unit.id or 0, kind=kind.value, as_of=as_of, value=value, created_at=utcnow()
        )
    figure.value, figure.source = value, source
    session.add(figure)
    session.flush()
    record(session, "figure.set", unit_id=unit.id, kind=kind.value, as_of=as_of, value=value, source=source)
    return figure
