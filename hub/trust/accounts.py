"""Hub accounts: creating, listing and disabling staff, checking passwords (with growing delays), API tokens.

Passwords are scrypt hashes (``sync.kit.passwords``), stored anew in today's form
at the first login after an upgrade. Failed logins delay the next try of the same
name from the same address, and of any name from an address that keeps failing
(``sync.kit.throttle``, ``hub.trust.logins``); a try during the delay is refused
without checking the password, so guessing on costs nothing but time, and the
real user from another address is never held up.
A disabled account (someone who left the department) keeps its name on past
decisions but cannot log in, and its API tokens stop working at once.
"""

from __future__ import annotations

import secrets
import uuid
from functools import partial

from sqlmodel import Session, delete, select

from sync.kit.passwords import hash_password, hash_secret, password_needs_rehash
from sync.kit.throttle import LoginGate, LoginThrottled, address_key, check_password

from hub.core.audit import append_audit
from hub.core.clock import as_utc, utc_now
from hub.core.models import ROLES, ApiToken, Department, Staff
from hub.trust.logins import record_failure, record_success, stored_wait
from hub.trust.townships import TownshipError, find_township, township_scoped

MIN_PASSWORD_LENGTH = 8


class AccountDisabled(Exception):
    """The password was right, but an admin disabled the account."""


class AccountError(ValueError):
    """An account that cannot be created; ``reason`` is a stable word."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def create_staff(
    session: Session, *, username: str, password: str, role: str, department_code: str | None = None,
    display_name: str = "", township: str | None = None, actor: str = "cli",
) -> Staff:
    """Add an account; reviewers must belong to an existing department. ``township`` (a township point's name
    or id) places the account in that township: required for a reviewer of a township-scoped department
    (乡镇人民政府) and for a township's own staff, optional for a township's agent, refused where it would mean
    nothing."""
    username = username.strip()
    if not username or len(username) > 64:
        raise AccountError("bad_username", "username must be 1 to 64 characters")
    if role not in ROLES:
        raise AccountError("bad_role", f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError("password_too_short", f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if role == "reviewer" and not department_code:
        raise AccountError("department_required", "a reviewer needs --department (the department code)")
    if department_code and session.get(Department, department_code) is None:
        raise AccountError("unknown_department", f"no department {department_code!r}; import the catalog first")
    if session.exec(select(Staff).where(Staff.username == username)).first() is not None:
        raise AccountError("username_taken", f"username {username!r} is already taken")
    township_id = _township_of_account(session, role=role, department_code=department_code or None,
                                       township=(township or "").strip() or None)
    staff = Staff(username=username, password_hash=hash_password(password), role=role,
                  department_code=department_code or None, display_name=display_name or username,
                  township_id=township_id)
    session.add(staff)
    session.flush()
    detail = {"role": role, "department": staff.department_code}
    if township_id is not None:
        detail["township_id"] = str(township_id)
    append_audit(session, actor=actor, action="user_added", subject=f"staff:{staff.username}", detail=detail)
    return staff


def _township_of_account(session: Session, *, role: str, department_code: str | None,
                         township: str | None) -> uuid.UUID | None:
    """The township point an account belongs to, checked against its role and department."""
    scoped = township_scoped(session, department_code)
    if township is None:
        if role == "reviewer" and scoped:
            raise AccountError("township_required", f"department {department_code} is one per township: give "
                               "--township TOWNSHIP, the name of the township point the reviewer works for")
        if role == "township":
            raise AccountError("township_required", "a township account needs --township TOWNSHIP, the name of "
                               "its township point")
        return None
    if role not in ("reviewer", "township", "agent"):
        raise AccountError("township_not_allowed", f"a {role} serves the whole county; leave out --township")
    if role == "reviewer" and not scoped:
        raise AccountError("township_not_allowed", f"department {department_code} serves the whole county; "
                           "leave out --township (only a township-scoped department's reviewers have one)")
    try:
        return find_township(session, township).id
    except TownshipError as exc:
        raise AccountError("unknown_township", str(exc)) from None


def authenticate(session: Session, username: str, password: str, *, address: str, gate: LoginGate) -> Staff | None:
    """The account if the password is right, else None; raise LoginThrottled (password unchecked) while this
    name or this client ``address`` must wait, and AccountDisabled when the password is right but the account
    is disabled.

    Failures are recorded in ``session``: the caller commits whatever the outcome.
    """
    username, address = username.strip(), address_key(address)
    wait = gate.wait(username, address)
    if wait:
        raise LoginThrottled(wait)
    staff = session.exec(select(Staff).where(Staff.username == username)).first()
    if not check_password(gate, username, address, password, staff.password_hash if staff is not None else None,
                          stored_wait=partial(stored_wait, session), record_failure=partial(record_failure, session)):
        return None
    # Said only after the right password, so the answer tells a stranger nothing.
    if staff.disabled_at is not None:
        raise AccountDisabled(staff.username)
    record_success(session, staff.username, address)
    if password_needs_rehash(staff.password_hash):
        # A hash an earlier release stored: the password is at hand only now, so store today's form.
        staff.password_hash = hash_password(password)
        session.add(staff)
    return staff


def issue_api_token(session: Session, staff: Staff) -> str:
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(token_hash=hash_secret(token), staff_id=staff.id))
    session.flush()
    return token


def staff_for_token(session: Session, token: str) -> Staff | None:
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_secret(token))).first()
    if row is None or as_utc(row.expires_at) <= utc_now():
        return None
    staff = session.get(Staff, row.staff_id)
    return staff if staff is not None and staff.disabled_at is None else None


def list_staff(session: Session) -> list[Staff]:
    """Every account, admins first, then operators, then reviewers by department."""
    rows = session.exec(select(Staff)).all()
    return sorted(rows, key=lambda s: (ROLES.index(s.role) if s.role in ROLES else len(ROLES),
                                       s.department_code or "", s.username))


def find_staff(session: Session, key: str) -> Staff | None:
    """An account by username or id."""
    staff = session.exec(select(Staff).where(Staff.username == key.strip()[:64])).first()
    if staff is None:
        try:
            staff = session.get(Staff, uuid.UUID(key))
        except ValueError:
            return None
    return staff


def set_disabled(session: Session, staff: Staff, *, disabled: bool, actor: str) -> bool:
    """Disable or enable ``staff``; return whether anything changed (audited when it did).

    Disabling ends the account's API tokens. An admin cannot disable herself, and the
    last enabled admin stays, so the hub always keeps someone who can undo this.
    """
    if disabled == (staff.disabled_at is not None):
        return False
    if disabled and staff.username == actor:
        raise AccountError("own_account", "you cannot disable your own account; ask another admin")
    if disabled and staff.role == "admin":
        admins = session.exec(select(Staff).where(Staff.role == "admin", Staff.disabled_at == None)).all()  # noqa: E711
        if [admin.id for admin in admins] == [staff.id]:
            raise AccountError("last_admin", f"{staff.username} is the last enabled admin; add another admin first")
    staff.disabled_at = utc_now() if disabled else None
    session.add(staff)
    if disabled:
        session.exec(delete(ApiToken).where(ApiToken.staff_id == staff.id))  # type: ignore[call-overload]
    append_audit(session, actor=actor, action="user_disabled" if disabled else "user_enabled",
                 subject=f"staff:{staff.username}", detail={"role": staff.role, "department": staff.department_code})
    return True
