"""Baselines: what is normal on this host, and explainable first-seen anomalies.

A :class:`Baseline` watches the event stream. While it learns (by default the first 24
hours of the time it is given, see :meth:`Baseline.observe`) it only records; after that,
every value it has never seen yields an anomaly event, which says what was seen and what
was expected, and the value joins the baseline (each novelty is reported once):

* ``executable`` -- process-started: host -> ``process.executable``
  (``first-seen-executable``);
* ``parent-child`` -- process-started: parent -> child executable
  (``first-seen-parent-child``);
* ``login-source`` -- successful logins: user -> source subnet
  (``first-seen-login-source``);
* ``login-hour`` -- successful logins: user -> hours of the day (``unusual-login-hour``);
* ``sudo-user`` -- sudo commands: host -> users who ran sudo (``first-sudo``);
* ``listening-port`` -- bind, sshd's "Server listening": host -> port
  (``first-seen-listening-port``);
* ``outbound-destination`` -- network-connect: executable -> destination subnet:port
  (``first-seen-outbound-destination``).

Anomaly events have ``event.dataset: keibi.baseline``, the entity fields of the event
that caused them, ``message`` ("alice logged in from 198.51.100.4; seen before:
10.0.0.0/24"), ``keibi.baseline.kind``, ``keibi.baseline.value`` and
``keibi.baseline.expected`` (up to 10 values seen before; ``keibi.baseline.known`` how
many). Rules turn them into alerts (content/rules/baseline_*.yml).

Details: addresses are compared by subnet (/24 for IPv4, /64 for IPv6, configurable);
a login hour is unusual when neither it nor the hours next to it were seen for that
user, and only once the user has :attr:`BaselineConfig.min_logins` learned logins; a
parent comes from ``process.parent.executable`` or, for audit records that only give
``process.parent.pid``, from the exec events seen before. Loopback never counts. Every
key holds at most ``max_values`` values and there are at most ``max_keys`` keys per
kind; what does not fit is counted (``dropped``) and never reported as new.

The whole state is a msgspec struct (:meth:`snapshot` / :meth:`restore`), kept by the
agent in the store next to the source offsets; ``keibi baseline show|reset|learn``.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import msgspec

from keibi.events.model import FIELD_ATTRS, Event

__all__ = [
    "DATASET",
    "KINDS",
    "Baseline",
    "BaselineConfig",
    "BaselineState",
]

DATASET = "keibi.baseline"
STATE_VERSION = 1
KINDS = ("executable", "parent-child", "login-source", "login-hour", "sudo-user",
         "listening-port", "outbound-destination")
SEP = "\x1f"  # between the parts of a key (host, user...)
EXPECTED_SHOWN = 10
_PIDS_KEPT = 65_536

_LOGIN_ACTIONS = frozenset({"ssh-login", "user-login"})
_SUDO_ACTIONS = frozenset({"sudo-command", "user-command"})
_LISTEN_ACTIONS = frozenset({"network-bind", "ssh-listening", "port-listening"})
# fields an anomaly copies from the event that caused it
_COPIED = ("host.name", "user.name", "user.audit.name", "user.target.name", "source.ip",
           "source.port", "destination.ip", "destination.port", "process.pid",
           "process.parent.pid", "process.name", "process.executable",
           "process.command_line", "process.parent.executable", "event.dataset")
_COPIED_ATTRS = tuple((f, FIELD_ATTRS[f]) for f in _COPIED if f != "event.dataset")


class BaselineConfig(msgspec.Struct, frozen=True, kw_only=True):
    """How the baseline learns and judges."""

    learning: float = 24 * 3600.0  # seconds of (given) time spent learning only
    subnet_v4: int = 24
    subnet_v6: int = 64
    min_logins: int = 5  # learned logins of a user before its hours are judged
    max_values: int = 1_000  # per key
    max_keys: int = 10_000  # per kind
    host: str | None = None  # the host of events that name none (default: the first seen)


class BaselineState(msgspec.Struct, kw_only=True):
    """Everything a baseline knows, as stored."""

    version: int = STATE_VERSION
    started: float | None = None  # the time learning began
    learned: float | None = None  # the time learning ended (None: still learning)
    events: int = 0  # events observed
    anomalies: int = 0  # anomaly events produced
    dropped: int = 0  # values not kept (caps)
    #: the last reset or import asked for from outside (``keibi baseline``) applied here
    generation: int = 0
    #: the host of events that name none (see ``Baseline._host``)
    host: str | None = None
    #: kind -> key -> values in first-seen order (login-hour: the hours as text)
    seen: dict[str, dict[str, list[str]]] = msgspec.field(default_factory=dict)
    #: "host<SEP>user" -> logins per hour of the day (UTC), 24 counts
    hours: dict[str, list[int]] = msgspec.field(default_factory=dict)


def _subnet(ip: str, v4: int, v6: int) -> str | None:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if addr.is_loopback or addr.is_unspecified:
        return None
    bits = v4 if addr.version == 4 else v6
    return str(ipaddress.ip_network(f"{addr}/{bits}", strict=False))


def _hour_ranges(hours: Iterable[int]) -> str:
    """``[8, 9, 10, 17]`` -> ``"08-10, 17"`` (UTC hours)."""
    hs = sorted(set(hours))
    out: list[str] = []
    i = 0
    while i < len(hs):
        j = i
        while j + 1 < len(hs) and hs[j + 1] == hs[j] + 1:
            j += 1
        out.append(f"{hs[i]:02d}" if i == j else f"{hs[i]:02d}-{hs[j]:02d}")
        i = j + 1
    return ", ".join(out)


class Baseline:
    """Learns and judges one host's (or one data set's) normal activity."""

    def __init__(self, config: BaselineConfig | None = None,
                 state: BaselineState | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config or BaselineConfig()
        self.clock = clock
        self._seen: dict[str, dict[str, dict[str, None]]] = {k: {} for k in KINDS}
        self._hours: dict[str, list[int]] = {}
        self.state = BaselineState()
        self._pids: OrderedDict[tuple[str, int], str] = OrderedDict()
        #: something worth saving changed since the flag was last cleared
        self.dirty = False
        if state is not None:
            self.load(state)
        if self.config.host is not None and self.state.host is None:
            self.state.host = self.config.host
            self._adopt(self.config.host)
            self.dirty = False

    # -- state ------------------------------------------------------------------------
    def load(self, state: BaselineState) -> None:
        self.state = msgspec.structs.replace(state, seen={}, hours={})
        self._seen = {k: {key: dict.fromkeys(vals) for key, vals in state.seen.get(k, {}).items()}
                      for k in KINDS}
        self._hours = {k: list(v) for k, v in state.hours.items() if len(v) == 24}
        self.dirty = True

    def snapshot(self) -> BaselineState:
        return msgspec.structs.replace(
            self.state,
            seen={k: {key: list(vals) for key, vals in keys.items()}
                  for k, keys in self._seen.items() if keys},
            hours={k: list(v) for k, v in self._hours.items()})

    def encode(self) -> bytes:
        return msgspec.msgpack.encode(self.snapshot())

    @classmethod
    def decode(cls, data: bytes, config: BaselineConfig | None = None) -> Baseline:
        """A baseline from :meth:`encode` bytes (ValueError when unreadable)."""
        try:
            state = msgspec.msgpack.decode(data, type=BaselineState)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ValueError(f"unreadable baseline: {exc}") from None
        if state.version != STATE_VERSION:
            raise ValueError(f"baseline version {state.version}, expected {STATE_VERSION}")
        return cls(config, state)

    def reset(self, kinds: Iterable[str] | None = None) -> None:
        """Forget ``kinds`` (all when None; then learning starts over)."""
        chosen = set(KINDS if kinds is None else kinds)
        unknown = chosen - set(KINDS)
        if unknown:
            raise ValueError(f"unknown baseline kind(s): {', '.join(sorted(unknown))}")
        for k in chosen:
            self._seen[k] = {}
        if "login-hour" in chosen:
            self._hours = {}
        if kinds is None:
            self.state = BaselineState(generation=self.state.generation, host=self.state.host)
            self._pids.clear()
        self.dirty = True

    @property
    def learning(self) -> bool:
        return self.state.learned is None

    def finish_learning(self, now: float | None = None) -> None:
        """End the learning period now (a baseline built from a hunt)."""
        if self.state.learned is None:
            t = self.clock() if now is None else now
            if self.state.started is None:
                self.state.started = t
            self.state.learned = t
            self.dirty = True

    def summary(self) -> dict[str, Any]:
        """Counts per kind and the learning period (JSON-ready)."""
        st = self.state
        return {
            "learning": self.learning, "started": st.started, "learned": st.learned,
            "learning_seconds": self.config.learning, "events": st.events,
            "anomalies": st.anomalies, "dropped": st.dropped,
            "kinds": {k: ({"keys": len(self._hours),
                           "values": sum(sum(c) for c in self._hours.values())}
                          if k == "login-hour" else
                          {"keys": len(self._seen[k]),
                           "values": sum(len(v) for v in self._seen[k].values())})
                      for k in KINDS},
        }

    def entries(self, kind: str) -> dict[str, list[str]]:
        """What is known for ``kind``: key (parts joined by ``/``) -> values."""
        if kind == "login-hour":
            return {k.replace(SEP, "/"): [_hour_ranges(h for h in range(24) if c[h])]
                    for k, c in self._hours.items()}
        return {k.replace(SEP, "/"): list(v) for k, v in self._seen[kind].items()}

    # -- the data path ----------------------------------------------------------------
    def observe(self, event: Event, now: float | None = None) -> list[Event]:
        """Learn from ``event``; the anomaly events it causes (none while learning).

        ``now`` is the time that measures the learning period: wall time for the live
        agent (24 h of running), event time offline; default: the clock.
        """
        action = event.action
        if action is None or event.kind == "alert" or event.dataset == DATASET:
            return []
        st = self.state
        st.events += 1
        if st.learned is None:
            t = self.clock() if now is None else now
            if st.started is None:
                st.started = t
                self.dirty = True
            elif t - st.started >= self.config.learning:
                st.learned = t
                self.dirty = True
        judge = st.learned is not None
        if action == "process-started":
            if event.outcome == "failure":
                return []
            return self._process(event, judge)
        if action in _LOGIN_ACTIONS:
            if event.outcome != "success":
                return []
            return self._login(event, judge)
        if action in _SUDO_ACTIONS:
            if event.outcome == "failure":
                return []
            return self._sudo(event, judge)
        if action in _LISTEN_ACTIONS:
            return self._listen(event, judge)
        if action == "network-connect":
            if event.outcome == "failure":
                return []
            return self._connect(event, judge)
        return []

    # -- per kind ---------------------------------------------------------------------
    def _host(self, ev: Event) -> str:
        """The host an event belongs to. Records without a host name (audit.log without
        ``node=``, dpkg.log) belong to the configured host, else to the first host name
        seen; what was learned under no name before that name was known moves to it."""
        name = ev.host_name
        default = self.state.host
        if name is None or name == default:
            return default or ""
        if default is None:
            self.state.host = name
            self._adopt(name)
        return name

    def _adopt(self, host: str) -> None:
        for keys in self._seen.values():
            for key in [k for k in keys if k == "" or k.startswith(SEP)]:
                vals = keys.pop(key)
                merged = keys.setdefault(host + key, {})
                merged.update(vals)
        for key in [k for k in self._hours if k.startswith(SEP)]:
            counts = self._hours.pop(key)
            old = self._hours.setdefault(host + key, [0] * 24)
            self._hours[host + key] = [a + b for a, b in zip(old, counts, strict=True)]
        self._pids = OrderedDict(((host if h == "" else h, p), e)
                                 for (h, p), e in self._pids.items())
        self.dirty = True

    def _add(self, kind: str, key: str, value: str) -> tuple[bool, list[str]]:
        """Record ``value``; (was it new, the values known before) -- a value that does
        not fit under the caps is counted as dropped and not new."""
        keys = self._seen[kind]
        vals = keys.get(key)
        if vals is None:
            if len(keys) >= self.config.max_keys:
                self.state.dropped += 1
                return False, []
            vals = keys[key] = {}
        if value in vals:
            return False, []
        before = list(vals)
        if len(vals) >= self.config.max_values:
            self.state.dropped += 1
            return False, before
        vals[value] = None
        self.dirty = True
        return True, before

    def _anomaly(self, event: Event, kind: str, action: str, value: str,
                 expected: list[str], message: str, category: str) -> Event:
        self.state.anomalies += 1
        kw: dict[str, Any] = {attr: getattr(event, attr) for _, attr in _COPIED_ATTRS
                              if getattr(event, attr) is not None}
        extra = {"keibi.baseline.kind": kind, "keibi.baseline.value": value,
                 "keibi.baseline.expected": expected[-EXPECTED_SHOWN:],
                 "keibi.baseline.known": len(expected),
                 "keibi.baseline.source_dataset": event.dataset}
        return Event(timestamp=event.timestamp, kind="event", dataset=DATASET, module="keibi",
                     category=(category,), type=("info",), action=action,
                     message=message, extra=extra, **kw)

    @staticmethod
    def _expected(values: list[str]) -> str:
        if not values:
            return "none"
        shown = values[-EXPECTED_SHOWN:]
        more = len(values) - len(shown)
        return ", ".join(shown) + (f" (+{more} more)" if more else "")

    def _process(self, ev: Event, judge: bool) -> list[Event]:
        exe = ev.process_executable or ev.process_name
        if not exe:
            return []
        host = self._host(ev)
        parent = ev.process_parent_executable or ev.process_parent_name
        if ev.process_pid is not None:
            pids = self._pids
            pids[(host, ev.process_pid)] = exe
            if len(pids) > _PIDS_KEPT:
                pids.popitem(last=False)
        if parent is None and ev.process_parent_pid is not None:
            parent = self._pids.get((host, ev.process_parent_pid))
        out: list[Event] = []
        new, before = self._add("executable", host, exe)
        if new and judge:
            out.append(self._anomaly(
                ev, "executable", "first-seen-executable", exe, before,
                f"{exe} ran for the first time on {host or 'this host'} "
                f"({len(before)} executables seen before)", "process"))
        if parent:
            pair = f"{parent} -> {exe}"
            new, before = self._add("parent-child", host + SEP + parent, exe)
            if new and judge:
                out.append(self._anomaly(
                    ev, "parent-child", "first-seen-parent-child", pair, before,
                    f"{parent} started {exe} for the first time; "
                    f"it started before: {self._expected(before)}", "process"))
        return out

    def _login(self, ev: Event, judge: bool) -> list[Event]:
        user = ev.user_name
        if not user:
            return []
        key = self._host(ev) + SEP + user
        out: list[Event] = []
        ip = ev.source_ip
        if ip:
            net = _subnet(ip, self.config.subnet_v4, self.config.subnet_v6)
            if net is not None:
                new, before = self._add("login-source", key, net)
                if new and judge:
                    out.append(self._anomaly(
                        ev, "login-source", "first-seen-login-source", net, before,
                        f"{user} logged in from {ip}; seen before: {self._expected(before)}",
                        "authentication"))
        hour = datetime.fromtimestamp(ev.timestamp, UTC).hour
        counts = self._hours.get(key)
        if counts is None:
            if len(self._hours) >= self.config.max_keys:
                self.state.dropped += 1
                return out
            counts = self._hours[key] = [0] * 24
        learned = sum(counts)
        usual = [h for h in range(24) if counts[h]]
        near = (counts[hour] or counts[(hour - 1) % 24] or counts[(hour + 1) % 24])
        if judge and not near and learned >= self.config.min_logins:
            out.append(self._anomaly(
                ev, "login-hour", "unusual-login-hour", f"{hour:02d}",
                [f"{h:02d}" for h in usual],
                f"{user} logged in at {hour:02d}:xx UTC; usual hours: {_hour_ranges(usual)} "
                f"({learned} logins)", "authentication"))
        counts[hour] += 1
        self.dirty = True
        return out

    def _sudo(self, ev: Event, judge: bool) -> list[Event]:
        user = ev.user_name
        if not user:
            return []
        host = self._host(ev)
        new, before = self._add("sudo-user", host, user)
        if new and judge:
            cmd = ev.process_command_line or "?"
            return [self._anomaly(
                ev, "sudo-user", "first-sudo", user, before,
                f"{user} ran sudo for the first time ({cmd}); users seen running sudo: "
                f"{self._expected(before)}", "process")]
        return []

    def _listen(self, ev: Event, judge: bool) -> list[Event]:
        port = ev.get("server.port")
        if port is None:
            port = ev.source_port
        if port is None or str(port) in ("0", ""):
            return []
        host = self._host(ev)
        value = str(port)
        new, before = self._add("listening-port", host, value)
        if new and judge:
            who = ev.process_executable or ev.process_name or "a process"
            return [self._anomaly(
                ev, "listening-port", "first-seen-listening-port", value, before,
                f"{who} listens on port {value} for the first time; ports seen before: "
                f"{self._expected(sorted(before, key=lambda p: int(p) if p.isdigit() else 0))}",
                "network")]
        return []

    def _connect(self, ev: Event, judge: bool) -> list[Event]:
        ip, port = ev.destination_ip, ev.destination_port
        exe = ev.process_executable or ev.process_name
        if not ip or not exe:
            return []
        net = _subnet(ip, self.config.subnet_v4, self.config.subnet_v6)
        if net is None:
            return []
        key = self._host(ev) + SEP + exe
        value = f"{net}:{port}" if port is not None else net
        new, before = self._add("outbound-destination", key, value)
        if new and judge:
            return [self._anomaly(
                ev, "outbound-destination", "first-seen-outbound-destination", value, before,
                f"{exe} connected to {ip}:{port} for the first time; destinations seen "
                f"before: {self._expected(before)}", "network")]
        return []
