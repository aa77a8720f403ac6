"""Figures entered per unit and day: total members, the opening pool of trained candidates."""

from datetime import date

from sqlmodel import Session, select

from storage.audit import record
from storage.clock import utcnow
from storage.models import FigureKind, Unit, UnitFigure


def set_figure(
    session: Session, *, unit: Unit, kind: FigureKind, as_of: date, value: int, source: str = ""
) -> UnitFigure:
    """Record a figure; a second one for the same unit, kind and day replaces the first."""
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
