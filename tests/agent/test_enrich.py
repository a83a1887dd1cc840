"""Live audit records of this host get account names for their numeric ids."""

from __future__ import annotations

import pwd

from keibi.agent.enrich import user_name, with_local_names
from keibi.events.model import Event


def test_ids_become_local_names() -> None:
    root = pwd.getpwuid(0).pw_name
    ev = Event(timestamp=1.0, action="process-started", user_id="0", user_effective_id="0",
               user_audit_id="0")
    out = with_local_names(ev)
    assert (out.user_name, out.user_effective_name, out.user_audit_name) == (root, root, root)


def test_unset_unknown_and_existing_names_are_left_alone() -> None:
    assert user_name("4294967295") is None
    assert user_name("not-a-number") is None
    assert user_name("3999999999") is None
    ev = Event(timestamp=1.0, user_id="0", user_name="from-the-record")
    assert with_local_names(ev) is ev
    unset = Event(timestamp=1.0, user_audit_id="4294967295")
    assert with_local_names(unset) is unset
