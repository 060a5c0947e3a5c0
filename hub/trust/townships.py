"""三级: which township each village belongs to, and whose cases a township's people see.

A county has one "乡镇人民政府" department in the catalog (scope "township"), but every township is its own
government: its reviewers decide the 宅基地 and 低保 first-stage reviews of its own villages only, and a
township centre's own staff (role "township") read, without changing anything, the work of their township and
its villages. So a village is placed under a township (``points add --township``, or the township it relays
through), and such accounts belong to a township point (``Staff.township_id``).

What an account sees, by the points its cases come from (``case_points``):

- a reviewer of a township-scoped department: her township, its villages, and every village placed under no
  township yet (未划归乡镇): those cases stay visible to every such reviewer, marked on the case page, and the
  points page tells the admin which villages to place, so no case waits unseen;
- a township account: its township and its villages only;
- an account of a township-scoped department placed in no township (made before townships had staff of their
  own): the whole county, as before, until an admin recreates it in its township;
- everyone else: every point.

Cases out of sight are "not found", never "forbidden", so case ids of another township do not leak.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlmodel import Session, select

from hub.core.audit import append_audit
from hub.core.models import Case, Department, Point, Staff
from hub.trust.points import find_point

UNPLACED = "unplaced"


class TownshipError(ValueError):
    """A refused placement; ``reason`` is a stable word, ``status`` the HTTP answer."""

    def __init__(self, reason: str, message: str, status: int = 422):
        super().__init__(message)
        self.reason = reason
        self.status = status


def find_township(session: Session, name_or_id: str) -> Point:
    """The township point named (or with id) ``name_or_id``; raise TownshipError when there is none."""
    township = find_point(session, name_or_id)
    if township is None or township.status == "revoked":
        raise TownshipError("unknown_township", f"no township point named {name_or_id!r} (add it first with "
                            "'pointkit-hub points add NAME --level township')", 404)
    if township.level != "township":
        raise TownshipError("not_a_township", f"{township.name} is a {township.level} point, not a township")
    return township


def place_village(session: Session, village_name: str, township_name: str, *, actor: str = "cli") -> Point:
    """Place village point ``village_name`` under township ``township_name`` (audited; a move is allowed)."""
    township = find_township(session, township_name)
    village = find_point(session, village_name)
    if village is None:
        raise TownshipError("unknown_point", f"no point named {village_name!r}; see 'pointkit-hub points list'", 404)
    if village.level != "village":
        raise TownshipError("not_a_village", f"{village.name} is a {village.level} point; only a village is "
                            "placed under a township")
    if village.township_id == township.id:
        return village
    previous = village.township_id
    village.township_id = township.id
    session.add(village)
    session.flush()
    append_audit(session, actor=actor, action="point_township_set", subject=f"point:{village.name}",
                 detail={"point_id": str(village.id), "township_id": str(township.id),
                         "previous": str(previous) if previous else None})
    return village


def township_scoped(session: Session, department_code: str | None) -> bool:
    """Whether ``department_code`` is one per township (乡镇人民政府)."""
    department = session.get(Department, department_code) if department_code else None
    return department is not None and department.scope == "township"


@dataclass(frozen=True)
class CaseScope:
    """The points whose cases an account sees: ``points`` None means every point."""

    points: frozenset[uuid.UUID] | None

    def allows(self, point_id: uuid.UUID) -> bool:
        return self.points is None or point_id in self.points


EVERYWHERE = CaseScope(None)


def case_points(session: Session, staff: Staff) -> CaseScope:
    """The points whose cases ``staff`` may see (the module's docstring gives the rules)."""
    if staff.role == "township":
        if staff.township_id is None:
            return CaseScope(frozenset())
        return CaseScope(frozenset(township_members(session, staff.township_id)))
    if staff.role != "reviewer" or staff.township_id is None or not township_scoped(session, staff.department_code):
        return EVERYWHERE
    unplaced = session.exec(select(Point.id).where(
        Point.level == "village", Point.township_id.is_(None))).all()  # type: ignore[union-attr]
    return CaseScope(frozenset(township_members(session, staff.township_id)) | frozenset(unplaced))


def township_members(session: Session, township_id: uuid.UUID) -> list[uuid.UUID]:
    """The township point itself and the villages placed under it."""
    villages = session.exec(select(Point.id).where(Point.township_id == township_id)).all()
    return [township_id, *villages]


def in_scope(session: Session, staff: Staff, case: Case) -> bool:
    """Whether ``case`` comes from a point ``staff`` may see."""
    return case_points(session, staff).allows(case.point_id)


def case_township(session: Session, case: Case) -> Point | str | None:
    """The township ``case`` belongs to: its point when that is a township, else the village's township;
    UNPLACED for a village under no township; None when the point is unknown."""
    point = session.get(Point, case.point_id)
    if point is None:
        return None
    if point.level == "township":
        return point
    if point.township_id is None:
        return UNPLACED
    return session.get(Point, point.township_id)


def unplaced_villages(session: Session) -> list[Point]:
    """Villages placed under no township, not revoked: their township cases are seen by every township's
    reviewers until an admin places them."""
    return list(session.exec(select(Point).where(
        Point.level == "village", Point.township_id.is_(None),  # type: ignore[union-attr]
        Point.status != "revoked").order_by(Point.name)).all())


def township_names(session: Session) -> dict[uuid.UUID, str]:
    """Township point id -> name, for pages and listings."""
    return {point.id: point.name for point in session.exec(select(Point).where(Point.level == "township")).all()}


def village_townships(session: Session) -> dict[str, str]:
    """Village name -> the name of the township it belongs to (placed villages only)."""
    names = township_names(session)
    return {point.name: names[point.township_id] for point in session.exec(select(Point).where(
        Point.level == "village", Point.township_id.is_not(None))).all()  # type: ignore[union-attr]
        if point.township_id in names}
