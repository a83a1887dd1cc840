"""Names for the numeric ids of this host's live audit records.

auditd's raw log format and the audit netlink group give uids only (``auid=1000``); rules
and chains speak of accounts (``user.audit.name``). For records of THIS host read live,
the agent looks the ids up in the local account database. Offline logs from another
host are never enriched this way: their uids mean that host's accounts.
"""

from __future__ import annotations

import pwd
from functools import lru_cache

import msgspec

from keibi.events.model import Event

_UNSET = {"4294967295", "-1"}


@lru_cache(maxsize=4096)
def user_name(uid: str) -> str | None:
    """The local account name of ``uid`` (a decimal string), or None."""
    if uid in _UNSET or not uid.isdigit():
        return None
    try:
        return pwd.getpwuid(int(uid)).pw_name
    except (KeyError, OverflowError, ValueError):
        return None


def with_local_names(event: Event) -> Event:
    """``event`` with user.name / user.effective.name / user.audit.name filled from ids."""
    changes: dict[str, str] = {}
    for id_attr, name_attr in (("user_id", "user_name"),
                               ("user_effective_id", "user_effective_name"),
                               ("user_audit_id", "user_audit_name")):
        uid = getattr(event, id_attr)
        if uid is not None and getattr(event, name_attr) is None:
            name = user_name(str(uid))
            if name is not None:
                changes[name_attr] = name
    if not changes:
        return event
    return msgspec.structs.replace(event, **changes)
