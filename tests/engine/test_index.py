"""The rule index: required values, candidates, and rules that meet every event."""

from __future__ import annotations

from pathlib import Path

from keibi.engine.compile import compile_rule
from keibi.engine.index import MEMO_LIMIT, RuleIndex
from keibi.events.model import Event
from tests.engine.helpers import T0, sigma_rule, write_rules

ID = "00000000-0000-4000-8000-00000000000"


def test_requirements_follow_the_condition(tmp_path: Path) -> None:
    one = compile_rule(write_rules(tmp_path / "a", sigma_rule(
        "sel:\n  event.action: SSH-Login\ncondition: sel"))[0])
    assert one.requires == {"event.action": frozenset({"ssh-login"}),
                            "event.dataset": frozenset({"keibi.auth"})}
    either = compile_rule(write_rules(tmp_path / "b", sigma_rule("""
        a:
          event.action: user-created
        b:
          event.action: [user-deleted, group-created]
        condition: a or b
    """))[0])
    assert either.requires["event.action"] == {"user-created", "user-deleted",
                                               "group-created"}
    negated = compile_rule(write_rules(tmp_path / "c", sigma_rule(
        "sel:\n  event.action: x\ncondition: not sel"))[0])
    assert "event.action" not in negated.requires
    wildcard = compile_rule(write_rules(tmp_path / "d", sigma_rule(
        "sel:\n  event.action: ssh-*\ncondition: sel", logsource="product: linux"))[0])
    assert wildcard.requires == {}


def test_candidates(tmp_path: Path) -> None:
    rules = [compile_rule(r) for r in write_rules(
        tmp_path,
        sigma_rule("sel:\n  event.action: ssh-login\ncondition: sel", rule_id=f"{ID}0"),
        sigma_rule("sel:\n  user.name: root\ncondition: sel", rule_id=f"{ID}1"),  # dataset only
        sigma_rule("sel:\n  message|contains: x\ncondition: sel", logsource="product: linux",
                   rule_id=f"{ID}2"),
    )]
    index = RuleIndex([(r.requires, i) for i, r in enumerate(rules)])
    assert index.stats()["unindexed_rules"] == 1

    def cands(**kw: str) -> tuple[int, ...]:
        return index.candidates(Event(timestamp=T0, **kw))  # type: ignore[arg-type]

    assert cands(action="ssh-login", dataset="keibi.auth") == (0, 1, 2)
    assert cands(action="SSH-LOGIN", dataset="KEIBI.AUTH") == (0, 1, 2)
    # filed under its action, rule 0 also requires its dataset: no syslog event meets it
    assert cands(action="ssh-login", dataset="keibi.syslog") == (2,)
    assert cands(action="sudo-command", dataset="keibi.auth") == (1, 2)
    assert cands(dataset="keibi.dpkg") == (2,)


def test_memo_is_bounded(tmp_path: Path) -> None:
    (rule,) = [compile_rule(r) for r in write_rules(
        tmp_path, sigma_rule("sel:\n  event.action: a\ncondition: sel"))]
    index = RuleIndex([(rule.requires, rule)])
    for i in range(MEMO_LIMIT + 10):
        index.candidates(Event(timestamp=T0, action=f"x{i}"))
    assert index.stats()["memo"] <= MEMO_LIMIT
    assert index.candidates(Event(timestamp=T0, action="a", dataset="keibi.auth")) == (rule,)


def test_an_unhashable_key_is_routed_as_its_hashable_twin(tmp_path: Path) -> None:
    """An index field holding a list (where events hold a tuple) is routed, not
    remembered, and answered as the tuple would be."""
    rules = [compile_rule(r) for r in write_rules(
        tmp_path,
        sigma_rule("sel:\n  event.category: process\n  process.name: curl\ncondition: sel",
                   logsource="product: linux", rule_id=f"{ID}0"),
        sigma_rule("sel:\n  event.category: network\ncondition: sel",
                   logsource="product: linux", rule_id=f"{ID}1"),
    )]
    index = RuleIndex([(r.requires, i) for i, r in enumerate(rules)])
    for _ in range(2):
        listed = index.candidates(Event(timestamp=T0, process_name="curl",
                                        category=["process"]))  # type: ignore[arg-type]
        assert listed == index.candidates(Event(timestamp=T0, process_name="curl",
                                                category=("process",))) == (0,)
        assert index.candidates(Event(timestamp=T0, category=[["network"]])) == ()  # type: ignore[arg-type]
    assert index.stats()["memo"] == 1


def test_process_rules_are_indexed_by_name_or_category(tmp_path: Path) -> None:
    """Rules naming only a program, or only a category (a LIST field: an event may hold
    both of two required categories), never meet auth events, and never miss theirs."""
    rules = write_rules(
        tmp_path,
        sigma_rule("sel:\n  event.category: process\n  process.name: [curl, wget]\n"
                   "condition: sel", logsource="product: linux", rule_id=f"{ID}0"),
        sigma_rule("a:\n  event.category: process\nb:\n  event.category: network\n"
                   "condition: a and b", logsource="product: linux", rule_id=f"{ID}1"),
        sigma_rule("sel:\n  event.type: start\n  event.category: process\ncondition: sel",
                   logsource="product: linux", rule_id=f"{ID}2"),
    )
    compiled = [compile_rule(r) for r in rules]
    index = RuleIndex([(r.requires, i) for i, r in enumerate(compiled)])
    assert index.stats()["unindexed_rules"] == 0
    pf = index.prefilter()

    def check(**kw: object) -> tuple[int, ...]:
        ev = Event(timestamp=T0, **kw)  # type: ignore[arg-type]
        found = index.candidates(ev)
        matching = tuple(i for i, r in enumerate(compiled) if r.predicate(ev))
        assert set(matching) <= set(found)  # the index never hides a match
        assert pf.wants(ev) == bool(found)
        return found

    assert check(action="ssh-login", dataset="keibi.auth", category=("authentication",)) == ()
    assert check(process_name="CURL", category=("process",), type=("start",)) == (0, 1, 2)
    assert check(category=("network", "process"), type=("connection",)) == (1, 2)
    assert check(category=("network",)) == ()


def test_every_required_index_field_is_checked_once_per_key(tmp_path: Path) -> None:
    """A rule filed under its action still requires its dataset and category: checked
    when the key's candidates are first computed, so it costs nothing per event. The
    prefilter says the same; built without the requirements (as an older caller does),
    it wants a superset."""
    import pickle

    from keibi.engine.index import Prefilter

    rules = [compile_rule(r) for r in write_rules(
        tmp_path,
        sigma_rule("sel:\n  event.action: process-started\n  event.category: process\n"
                   "condition: sel", logsource="product: linux\n  service: auditd",
                   rule_id=f"{ID}0"),
        sigma_rule("sel:\n  event.action: ssh-login\ncondition: sel", rule_id=f"{ID}1"),
    )]
    index = RuleIndex([(r.requires, i) for i, r in enumerate(rules)])
    pf = index.prefilter()
    loose = Prefilter(pf.attrs, pf.values, pf.everything)
    again = pickle.loads(pickle.dumps(pf))
    cases = [
        ({"action": "process-started", "dataset": "keibi.audit", "category": ("process",)},
         (0,)),
        ({"action": "process-started", "dataset": "keibi.audit", "category": ("file",)}, ()),
        ({"action": "process-started", "dataset": "keibi.auth", "category": ("process",)},
         ()),
        ({"action": "process-started", "category": ("process",)}, ()),
        ({"action": "SSH-Login", "dataset": "keibi.auth"}, (1,)),
        ({"action": "ssh-login", "dataset": "keibi.syslog"}, ()),
    ]
    for kw, want in cases:
        e = Event(timestamp=T0, **kw)  # type: ignore[arg-type]
        assert index.candidates(e) == want, kw
        assert pf.wants(e) == again.wants(e) == bool(want), kw
        assert loose.wants(e) or not want, kw
    assert not loose.wants(Event(timestamp=T0, action="user-created"))
