"""One-line human renderings of events and alerts (terminal output)."""

from __future__ import annotations

from keibi.events.encoding import format_time
from keibi.events.model import Event


def _fmt_value(v: object) -> str:
    text = str(v)
    # Never let a hostile value (escape sequences, newlines) paint the terminal.
    return text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text


def alert_line(alert: Event) -> str:
    """A one-line human rendering of an alert."""
    sev = (alert.alert_severity or "info").upper()
    parts = [format_time(alert.timestamp), f"{sev:<8}", alert.rule_name or alert.rule_id or "?"]
    ents = []
    for name, val in (("source.ip", alert.source_ip), ("user.name", alert.user_name),
                      ("host.name", alert.host_name), ("process.name", alert.process_name)):
        if val is not None:
            ents.append(f"{name}={_fmt_value(val)}")
    if ents:
        parts.append(" ".join(ents))
    if alert.alert_count:
        parts.append(f"count={alert.alert_count}")
    if alert.threat_technique_id:
        parts.append(",".join(alert.threat_technique_id))
    line = "  ".join(parts)
    if alert.message:
        line += f"\n    {_fmt_value(alert.message)}"
    return line


def event_line(ev: Event) -> str:
    """A one-line human rendering of an event."""
    bits = [format_time(ev.timestamp), ev.dataset or "-", ev.action or "-"]
    if ev.outcome:
        bits.append(ev.outcome)
    for name, val in (("user.name", ev.user_name), ("source.ip", ev.source_ip),
                      ("user.target.name", ev.user_target_name),
                      ("process.name", ev.process_name),
                      ("process.command_line", ev.process_command_line),
                      ("package.name", ev.package_name), ("file.path", ev.file_path)):
        if val is not None:
            bits.append(f"{name}={_fmt_value(val)}")
    if ev.flags:
        bits.append("flags=" + ",".join(ev.flags))
    return " ".join(bits)
