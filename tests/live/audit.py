"""Checks that a live test leaves the kernel's audit state as it found it."""

from __future__ import annotations

import subprocess

from keibi.sources.audit_netlink import audit_status


def assert_audit_as_found(before: dict[str, str], key: str) -> None:
    """The enabled flag is what it was (``before``: :func:`audit_status` at the start)
    and no audit rule with the test's ``key`` is left."""
    after = audit_status()
    assert after.get("enabled") == before.get("enabled"), "the enabled flag was not restored"
    listed = subprocess.run(["auditctl", "-l"], capture_output=True, text=True, check=False)
    assert key not in listed.stdout, "a test rule was left behind"
