"""Leave (请假制度, 四.(二)): staff ask, the approval chain decides, attendance counts only what it approved.

A staff member requests leave (and proposes a substitute, 替岗) or an extension (续假) of an approved
leave from their dashboard. The request climbs the rulebook's chain (``[leave] approval_steps``:
逐级, department head then 督查考核科) one step at a time; each step is decided by a manager account
designated for that level (:class:`models.attendance_db.LeaveApproverRow`; a department head only for
their department's staff). Every decision is kept with who made it, when and why
(:class:`models.attendance_db.LeaveApprovalRow`) and in the audit log; a rejection needs its reason
and ends the request. ``LeaveRow.status`` (what attendance reads) becomes approved only when the last
step approves. Leave imported from a file keeps the file's status: it was decided in the site's own
leave system, and it is not put through the chain again.

When a leave with a proposed substitute is approved, the substitute is filed (备案, 四.(三).2) at that
moment, through the same writer as ``windowqa attendance substitute-add``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models.attendance import ApprovalLevel, HalfDay, LeaveSource, LeaveStatus
from models.attendance_db import LeaveApprovalRow, LeaveApproverRow, LeaveExtensionRow, LeaveRow
from models.db import Department, Staff, UserAccount, UserRole, Window, staff_window
from models.rulebook import LeaveApprovalStep, Rulebook
from scoring.access.policy import ADMIN, DEFAULT_POLICY, AccessDenied, AccessPolicy, NotFound, redact, require, staff_scope
from scoring.accounts import Actor, audit
from scoring.store.site import file_substitute

APPROVERS = {UserRole.MANAGER}  # department heads and 督查考核科 hold manager accounts
HALL_LEAVE_READERS = {UserRole.MANAGER, UserRole.ADMIN}


@dataclass(frozen=True)
class LeaveItem:
    """A leave request or one of its extensions, and where it stands in the chain.

    For an extension, ``start``/``start_half`` are the leave's and ``end``/``end_half`` the new last
    day; ``days`` is the leave's length in all (what the chain's thresholds read).
    """

    leave_id: int
    extension_id: int | None
    staff_no: str
    staff_name: str
    department: str
    leave_type: str
    start: date
    start_half: str
    end: date
    end_half: str
    days: float
    status: str
    awaiting: str | None  # the label of the step that decides next (None: decided)
    source: str
    substitute_no: str | None
    substitute_window: str | None
    note: str
    filed_at: datetime | None


@dataclass(frozen=True)
class LeaveDecision:
    """One step's decision: who approved or rejected what, when and why."""

    leave_id: int
    extension_id: int | None
    step: str
    decision: str
    decided_by: str
    decided_at: datetime
    reason: str


@dataclass(frozen=True)
class SubstituteCandidate:
    """A colleague a staff member may propose as substitute (工号 and name only)."""

    staff_no: str
    name: str


def leave_days(start: date, start_half: HalfDay, end: date, end_half: HalfDay) -> float:
    """A leave's length in calendar days, half-days counted as 0.5."""
    return (end - start).days + 1 - 0.5 * (start_half is HalfDay.AFTERNOON) - 0.5 * (end_half is HalfDay.MORNING)


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now()).replace(microsecond=0)


def _own_staff(session: Session, actor: Actor) -> Staff:
    require(actor, {UserRole.STAFF}, "request leave")
    return session.get(Staff, staff_scope(actor, None))


# ---------------------------------------------------------------------------- staff: requests


def substitute_candidates(session: Session, actor: Actor) -> list[SubstituteCandidate]:
    """Colleagues of the actor's department or windows (whom they may propose as substitute)."""
    me = _own_staff(session, actor)
    windows = select(staff_window.c.window_id).where(staff_window.c.staff_id == me.id)
    same_window = select(staff_window.c.staff_id).where(staff_window.c.window_id.in_(windows))
    query = select(Staff.staff_no, Staff.name).where(Staff.active.is_(True), Staff.id != me.id)
    if me.department_id is not None:
        query = query.where((Staff.department_id == me.department_id) | Staff.id.in_(same_window))
    else:
        query = query.where(Staff.id.in_(same_window))
    return [SubstituteCandidate(no, name) for no, name in session.execute(query.order_by(Staff.staff_no))]


def own_windows(session: Session, actor: Actor) -> list[str]:
    """The codes of the windows the actor serves at (where a substitute would stand in)."""
    me = _own_staff(session, actor)
    return [w.code for w in sorted(me.windows, key=lambda w: w.code)]


def request_leave(
    session: Session, actor: Actor, rulebook: Rulebook, *, leave_type: str, start: date, end: date,
    start_half: HalfDay = HalfDay.MORNING, end_half: HalfDay = HalfDay.AFTERNOON, note: str = "",
    substitute_no: str | None = None, substitute_window: str | None = None, now: datetime | None = None,
) -> LeaveRow:
    """A staff member asks for leave (pending until the chain approves it), optionally with a substitute.

    Raises:
        AccessDenied: not a staff member.
        ValueError: an unknown leave type, no reason, dates out of order, days that overlap a leave
            not rejected, or a substitute who is the applicant, unknown, or at a window the applicant
            does not serve.
    """
    me = _own_staff(session, actor)
    if leave_type not in rulebook.attendance.leave_types:
        raise ValueError(f"未知假别 {leave_type!r}；可选：{'、'.join(rulebook.attendance.leave_types)}")
    note = note.strip()
    if not note:
        raise ValueError("请填写请假事由")
    if leave_days(start, start_half, end, end_half) <= 0:
        raise ValueError("请假结束早于开始")
    sub, window = _substitute(session, me, substitute_no, substitute_window)
    overlap = session.scalar(select(LeaveRow.id).where(LeaveRow.staff_id == me.id, LeaveRow.status != LeaveStatus.REJECTED,
                                                        LeaveRow.start <= end, LeaveRow.end >= start))
    if overlap is not None:
        raise ValueError(f"与已有请假 #{overlap} 的日期重叠")
    row = LeaveRow(
        staff_id=me.id, leave_type=leave_type, start=start, end=end, start_half=start_half, end_half=end_half,
        status=LeaveStatus.PENDING, note=note, filed_at=_now(now), source=LeaveSource.DASHBOARD,
        requested_by=actor.username, substitute_id=sub.id if sub else None, substitute_window_id=window.id if window else None,
    )
    session.add(row)
    session.flush()
    audit(session, actor.username, "leave.request", "leave", row.id, leave_type=leave_type, start=start.isoformat(),
          end=end.isoformat(), substitute=substitute_no)
    return row


def _substitute(session: Session, me: Staff, staff_no: str | None, window_code: str | None) -> tuple[Staff | None, Window | None]:
    if not staff_no:
        return None, None
    sub = session.scalar(select(Staff).where(Staff.staff_no == staff_no, Staff.active.is_(True)))
    if sub is None or sub.id == me.id:
        raise ValueError(f"替岗人员 {staff_no!r} 无效（须为在岗的其他工作人员）")
    mine = {w.code: w for w in me.windows}
    if window_code is None and len(mine) == 1:
        window_code = next(iter(mine))
    if window_code not in mine:
        raise ValueError(f"替岗窗口须为本人所在窗口（{'、'.join(sorted(mine)) or '无'}）")
    return sub, mine[window_code]


def request_extension(
    session: Session, actor: Actor, leave_id: int, *, new_end: date, new_end_half: HalfDay = HalfDay.AFTERNOON,
    note: str = "", now: datetime | None = None,
) -> LeaveExtensionRow:
    """续假 (四.(二).2): extend one's approved leave; it climbs the same chain as the leave.

    Raises:
        AccessDenied: not a staff member.
        NotFound: no such leave of the actor's.
        ValueError: the leave is not approved, an extension is still pending, no reason, or the
            new end is not after the leave's current end.
    """
    me = _own_staff(session, actor)
    leave = session.get(LeaveRow, int(leave_id))
    if leave is None or leave.staff_id != me.id:
        raise NotFound(f"no leave {leave_id} of {actor.staff_no}")
    if leave.status is not LeaveStatus.APPROVED:
        raise ValueError("只有已批准的请假可以续假")
    if any(e.status is LeaveStatus.PENDING for e in leave.extensions):
        raise ValueError("上一次续假尚在审批中")
    note = note.strip()
    if not note:
        raise ValueError("请填写续假事由")
    end, end_half = _approved_end(leave)
    if (new_end, new_end_half is HalfDay.AFTERNOON) <= (end, end_half is HalfDay.AFTERNOON):
        raise ValueError(f"续假须晚于现在的结束日期 {end.isoformat()}")
    ext = LeaveExtensionRow(new_end=new_end, new_end_half=new_end_half, status=LeaveStatus.PENDING, filed_at=_now(now), note=note)
    leave.extensions.append(ext)
    session.flush()
    audit(session, actor.username, "leave.extend", "leave", leave.id, extension_id=ext.id, new_end=new_end.isoformat())
    return ext


def _approved_end(leave: LeaveRow) -> tuple[date, HalfDay]:
    ends = [(leave.end, leave.end_half)] + [(e.new_end, e.new_end_half) for e in leave.extensions if e.status is LeaveStatus.APPROVED]
    return max(ends, key=lambda p: (p[0], p[1] is HalfDay.AFTERNOON))


# ---------------------------------------------------------------------------- the chain


def _steps(rulebook: Rulebook, leave: LeaveRow, ext: LeaveExtensionRow | None) -> list[LeaveApprovalStep]:
    end, end_half = (ext.new_end, ext.new_end_half) if ext is not None else (leave.end, leave.end_half)
    return rulebook.leave.steps_for(leave_days(leave.start, leave.start_half, end, end_half))


def _decisions(session: Session, leave_id: int, extension_id: int | None) -> list[LeaveApprovalRow]:
    query = select(LeaveApprovalRow).where(LeaveApprovalRow.leave_id == leave_id)
    query = query.where(LeaveApprovalRow.extension_id.is_(None) if extension_id is None else LeaveApprovalRow.extension_id == extension_id)
    return list(session.scalars(query.order_by(LeaveApprovalRow.id)))


def next_step(session: Session, rulebook: Rulebook, leave: LeaveRow, ext: LeaveExtensionRow | None = None, *,
              approved: set[ApprovalLevel] | None = None) -> LeaveApprovalStep | None:
    """The step that decides the request next, in chain order; None once it is decided (or came from a file).

    Args:
        approved: the levels that approved the request already, when the caller has read them.
    """
    status = ext.status if ext is not None else leave.status
    if leave.source is not LeaveSource.DASHBOARD or status is not LeaveStatus.PENDING:
        return None
    if approved is None:
        approved = {d.level for d in _decisions(session, leave.id, ext.id if ext else None) if d.decision is LeaveStatus.APPROVED}
    return next((s for s in _steps(rulebook, leave, ext) if s.level not in approved), None)


def _approver(session: Session, actor: Actor) -> LeaveApproverRow:
    require(actor, APPROVERS, "decide leave")
    row = session.scalar(select(LeaveApproverRow).where(LeaveApproverRow.user_id == actor.user_id))
    if row is None:
        raise AccessDenied(f"{actor.username} is no leave approver (an admin designates approvers)")
    return row


def decide_leave(
    session: Session, actor: Actor, rulebook: Rulebook, leave_id: int, *, approve: bool, reason: str = "",
    extension_id: int | None = None, now: datetime | None = None,
) -> LeaveApprovalRow:
    """The actor's step decides a leave (or one of its extensions): approve, or reject with a reason.

    Raises:
        AccessDenied: not a manager designated as approver, a department head of another
            department, a step that is not the request's next one, or the actor's own leave.
        NotFound: no such leave or extension.
        ValueError: a rejection without its reason, or a request already decided or from a file.
    """
    me = _approver(session, actor)
    leave = session.get(LeaveRow, int(leave_id))
    ext = session.get(LeaveExtensionRow, int(extension_id)) if extension_id is not None else None
    if leave is None or (extension_id is not None and (ext is None or ext.leave_id != leave.id)):
        raise NotFound(f"no leave {leave_id}" + (f" extension {extension_id}" if extension_id is not None else ""))
    if leave.source is not LeaveSource.DASHBOARD:
        raise ValueError("该请假来自请假文件，已在原系统审批")
    if (ext.status if ext else leave.status) is not LeaveStatus.PENDING:
        raise ValueError("该申请已审批完毕")
    if actor.staff_id is not None and leave.staff_id == actor.staff_id:
        raise AccessDenied(f"{actor.username} may not decide their own leave")
    step = next_step(session, rulebook, leave, ext)
    if step is None or step.level is not me.level:
        raise AccessDenied(f"{actor.username} ({me.level.value}) is not the next step of leave {leave.id}"
                           + (f": {step.level.value} decides first" if step else ""))
    if me.level is ApprovalLevel.DEPARTMENT_HEAD and me.department_id != leave.staff.department_id:
        raise AccessDenied(f"{actor.username} heads another department than the applicant's")
    reason = reason.strip()
    if not approve and not reason:
        raise ValueError("驳回须说明理由")
    at = now or datetime.now()  # to the microsecond: a stored month classified after it must not read as stale
    row = LeaveApprovalRow(leave_id=leave.id, extension_id=ext.id if ext else None, level=me.level,
                           decision=LeaveStatus.APPROVED if approve else LeaveStatus.REJECTED, user_id=actor.user_id,
                           username=actor.username, decided_at=at, reason=reason)
    session.add(row)
    session.flush()
    target = ext if ext is not None else leave
    if not approve:
        target.status = LeaveStatus.REJECTED
    elif next_step(session, rulebook, leave, ext) is None:
        target.status = LeaveStatus.APPROVED
        _file_substitute(session, rulebook, leave, at)
    session.flush()
    audit(session, actor.username, "leave.approve" if approve else "leave.reject", "leave", leave.id,
          extension_id=row.extension_id, level=me.level.value, reason=reason, status=target.status.value)
    return row


def _file_substitute(session: Session, rulebook: Rulebook, leave: LeaveRow, at: datetime) -> None:
    # the approved leave's substitute is reported to 督查考核科 now (备案); an extension moves its end
    if leave.substitute_id is None or leave.substitute_window_id is None:
        return
    end, end_half = _approved_end(leave)
    first, last = rulebook.attendance.shift_for(leave.start), rulebook.attendance.shift_for(end)
    starts_at = datetime.combine(leave.start, first.morning_arrive_by if leave.start_half is HalfDay.MORNING else first.afternoon_arrive_by)
    ends_at = datetime.combine(end, last.morning_leave_from if end_half is HalfDay.MORNING else last.afternoon_leave_from)
    window = session.get(Window, leave.substitute_window_id)
    file_substitute(session, window.code, leave.substitute.staff_no, starts_at, ends_at, filed_at=at.replace(microsecond=0),
                    replaces_no=leave.staff.staff_no, reason=f"{leave.leave_type}替岗（请假 {leave.id}）")


# ---------------------------------------------------------------------------- reads


def leave_items(
    session: Session, actor: Actor, rulebook: Rulebook, *, staff_id: int | None = None, awaiting_me: bool = False,
    limit: int | None = 500, policy: AccessPolicy = DEFAULT_POLICY,
) -> list[LeaveItem]:
    """Leave requests and their extensions, newest first: staff their own, managers and admins the hall's.

    Args:
        awaiting_me: only those whose next step is the actor's (a department head: their department's).
        limit: at most this many leaves, the newest (None: all); the list awaiting the actor is never cut.

    Raises:
        AccessDenied: a staff member asked for someone else's, or a role that may not read the hall's leave.
    """
    sid = staff_scope(actor, staff_id)
    if sid is None:
        require(actor, HALL_LEAVE_READERS, "read the hall's leave")
    mine = _approver(session, actor) if awaiting_me else None
    query = (select(LeaveRow, Staff, Department.name).join(Staff, Staff.id == LeaveRow.staff_id)
             .outerjoin(Department, Department.id == Staff.department_id).order_by(LeaveRow.start.desc(), LeaveRow.id.desc()))
    if sid is not None:
        query = query.where(LeaveRow.staff_id == sid)
    if awaiting_me:
        limit = None
        pending_ext = select(LeaveExtensionRow.leave_id).where(LeaveExtensionRow.status == LeaveStatus.PENDING)
        query = query.where(LeaveRow.source == LeaveSource.DASHBOARD,
                            (LeaveRow.status == LeaveStatus.PENDING) | LeaveRow.id.in_(pending_ext))
        if mine.level is ApprovalLevel.DEPARTMENT_HEAD:
            query = query.where(Staff.department_id == mine.department_id)
    if limit is not None:
        query = query.limit(limit)
    rows = session.execute(query.options(selectinload(LeaveRow.extensions), selectinload(LeaveRow.substitute))).all()
    windows = dict(session.execute(select(Window.id, Window.code)).all())
    approved: dict[tuple[int, int | None], set[ApprovalLevel]] = {}
    ids = [leave.id for leave, _, _ in rows]
    for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):  # one query per 500 leaves, not one per request
        for leave_id, ext_id, level in session.execute(
            select(LeaveApprovalRow.leave_id, LeaveApprovalRow.extension_id, LeaveApprovalRow.level)
            .where(LeaveApprovalRow.leave_id.in_(chunk), LeaveApprovalRow.decision == LeaveStatus.APPROVED)
        ):
            approved.setdefault((leave_id, ext_id), set()).add(level)
    out = []
    for leave, staff, dept in rows:
        for ext in [None, *leave.extensions]:
            step = next_step(session, rulebook, leave, ext, approved=approved.get((leave.id, ext.id if ext else None), set()))
            if awaiting_me and (step is None or step.level is not mine.level):
                continue
            out.append(_item(leave, ext, staff, dept, step, windows, lambda text: redact(actor, text, policy)))
    return out


def _item(leave: LeaveRow, ext: LeaveExtensionRow | None, staff: Staff, dept: str | None, step, windows, shown) -> LeaveItem:
    end, end_half = (ext.new_end, ext.new_end_half) if ext else (leave.end, leave.end_half)
    return LeaveItem(
        leave.id, ext.id if ext else None, staff.staff_no, staff.name, dept or "", leave.leave_type, leave.start,
        leave.start_half.value, end, end_half.value, leave_days(leave.start, leave.start_half, end, end_half),
        (ext or leave).status.value, step.label if step else None, leave.source.value,
        leave.substitute.staff_no if leave.substitute else None, windows.get(leave.substitute_window_id),
        shown(ext.note if ext else leave.note), ext.filed_at if ext else leave.filed_at,
    )


def leave_decisions(session: Session, actor: Actor, rulebook: Rulebook, leave_id: int, *,
                    policy: AccessPolicy = DEFAULT_POLICY) -> list[LeaveDecision]:
    """Every step's decision on a leave and its extensions, in order (staff: their own leave only)."""
    leave = session.get(LeaveRow, int(leave_id))
    if leave is None:
        raise NotFound(f"no leave {leave_id}")
    if actor.role is UserRole.STAFF:
        staff_scope(actor, leave.staff_id)
    else:
        require(actor, HALL_LEAVE_READERS, "read the hall's leave")
    return [
        LeaveDecision(d.leave_id, d.extension_id, rulebook.leave.label(d.level), d.decision.value, d.username, d.decided_at,
                      redact(actor, d.reason, policy))
        for d in session.scalars(select(LeaveApprovalRow).where(LeaveApprovalRow.leave_id == leave.id).order_by(LeaveApprovalRow.id))
    ]


def approver_level(session: Session, actor: Actor) -> ApprovalLevel | None:
    """The chain level the actor decides, if any (pages show the decision form only then)."""
    if actor.role not in APPROVERS:
        return None
    return session.scalar(select(LeaveApproverRow.level).where(LeaveApproverRow.user_id == actor.user_id))


# ---------------------------------------------------------------------------- admin


def set_leave_approver(
    session: Session, actor: Actor, username: str, level: ApprovalLevel | None, department_code: str | None = None,
) -> LeaveApproverRow | None:
    """An admin designates a manager account as the department head of a department or as 督查考核科 (None: no longer).

    Raises:
        AccessDenied: not an admin.
        ValueError: no such manager account, or a department head without a known department.
    """
    require(actor, ADMIN, "designate leave approvers")
    user = session.scalar(select(UserAccount).where(UserAccount.username == username))
    if user is None or user.role is not UserRole.MANAGER:
        raise ValueError(f"{username!r} 不是管理人员账户")
    row = session.scalar(select(LeaveApproverRow).where(LeaveApproverRow.user_id == user.id))
    if level is None:
        if row is not None:
            session.delete(row)
        audit(session, actor.username, "leave.approver_unset", "user_account", user.id)
        return None
    dept = None
    if level is ApprovalLevel.DEPARTMENT_HEAD:
        dept = session.scalar(select(Department).where(Department.code == (department_code or "")))
        if dept is None:
            raise ValueError(f"部门负责人须指定已知部门（{department_code!r}）")
    if row is None:
        row = LeaveApproverRow(user_id=user.id)
        session.add(row)
    row.level, row.department_id = level, dept.id if dept else None
    session.flush()
    audit(session, actor.username, "leave.approver_set", "user_account", user.id, level=level.value,
          department=dept.code if dept else None)
    return row


__all__ = [
    "LeaveDecision", "LeaveItem", "SubstituteCandidate", "approver_level", "decide_leave", "leave_days", "leave_decisions",
    "leave_items", "next_step", "own_windows", "request_extension", "request_leave", "set_leave_approver",
    "substitute_candidates",
]
