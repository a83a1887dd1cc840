"""Configuration (unknown keys rejected), distro detection, source planning."""

from __future__ import annotations

from pathlib import Path

import pytest

from keibi.agent.sources import plan_sources
from keibi.config import Config, ConfigError, load_config, resolve_data_dir
from keibi.parsers.registry import base_name, guess_type
from keibi.platform.distro import detect


def test_empty_and_missing_default_config(tmp_path: Path) -> None:
    (tmp_path / "k.yaml").write_text("")
    assert load_config(str(tmp_path / "k.yaml")) == Config()
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(str(tmp_path / "nope.yaml"))


def test_unknown_key_is_an_error_naming_file_and_key(tmp_path: Path) -> None:
    f = tmp_path / "k.yaml"
    f.write_text("retention_days: 7\nsourcez:\n  auth: [/x]\n")
    with pytest.raises(ConfigError) as exc:
        load_config(str(f))
    assert str(f) in str(exc.value) and "sourcez" in str(exc.value)


def test_config_values(tmp_path: Path) -> None:
    f = tmp_path / "k.yaml"
    f.write_text("data_dir: /srv/keibi\nsources:\n  auth: [/var/log/secure]\n"
                 "follow:\n  - {path: /tmp/a.log, type: auth}\n")
    c = load_config(str(f))
    assert c.sources == {"auth": ["/var/log/secure"]}
    assert c.follow[0].path == "/tmp/a.log"
    assert resolve_data_dir(None, c) == Path("/srv/keibi")
    assert resolve_data_dir("/d", c) == Path("/d")


@pytest.mark.parametrize("os_release,family,auth", [
    ('ID=debian\nVERSION_ID="12"\n', "debian", "/var/log/auth.log"),
    ('ID=ubuntu\nID_LIKE=debian\n', "debian", "/var/log/auth.log"),
    ('ID="rocky"\nID_LIKE="rhel centos fedora"\n', "rhel", "/var/log/secure"),
    ('ID=fedora\n', "rhel", "/var/log/secure"),
    ('ID="opensuse-leap"\nID_LIKE="suse opensuse"\n', "suse", "/var/log/secure"),
    ('ID=alpine\n', "alpine", "/var/log/auth.log"),
    ('ID=weird\n', "debian", "/var/log/auth.log"),
])
def test_distro_detection(tmp_path: Path, os_release: str, family: str, auth: str) -> None:
    f = tmp_path / "os-release"
    f.write_text(os_release)
    d = detect(str(f))
    assert d.family == family
    assert d.sources["auth"][0] == auth


def test_plan_sources_reports_found_and_missing(tmp_path: Path) -> None:
    present = tmp_path / "auth.log"
    present.touch()
    f = tmp_path / "os-release"
    f.write_text("ID=debian\n")
    cfg = Config(sources={"auth": [str(present), str(tmp_path / "secure")]})
    planned, _notes = plan_sources(cfg, detect(str(f)), [])
    auth = {p.path: p for p in planned if p.type == "auth"}
    assert auth[str(present)].found and auth[str(present)].origin == "config"
    assert not auth[str(tmp_path / "secure")].found
    only, _ = plan_sources(cfg, detect(str(f)), [(str(present), "auth")])
    assert [(p.path, p.origin) for p in only] == [(str(present), "command line")]


def test_rotated_names_and_sniffing() -> None:
    assert base_name("auth.log.2.gz") == "auth.log"
    assert base_name("auth.log.1") == "auth.log"
    assert base_name("secure-20261101") == "secure"
    assert base_name("secure-20261101.gz") == "secure"
    assert guess_type("secure-20261101.gz", []) == "auth"
    # a file of unknown name with syslog lines: the syslog dispatcher (auth lines included)
    assert guess_type("evidence.txt", ["Nov  1 00:00:00 h sshd[1]: Accepted password for a "
                                       "from 1.2.3.4 port 2 ssh2"]) == "syslog"
    assert guess_type("x", ["type=SYSCALL msg=audit(1764138049.123:45): arch=c000003e"]) == "audit"
    assert guess_type("x", ["2026-11-20 10:01:02 install foo:amd64 <none> 1.2-3"]) == "dpkg"
    assert guess_type("x", ["", "Start-Date: 2026-11-20  10:01:02"]) == "apt"
    assert guess_type("x", ["2026-11-20T10:01:02+0000 SUBDEBUG Installed: foo-1.2-3.x86_64"]) \
        == "dnf"
    assert guess_type("x", ["Nov 20 10:01:02 Installed: foo-1.2-3.el7.x86_64"]) == "yum"
    assert guess_type("history", ["2026-11-20 10:01:02|install|foo|1.2-3|x86_64|root@h|r|s|"]) \
        == "zypper"
    assert guess_type("audit.log.1", []) == "audit"
    assert guess_type("messages-20261101.gz", []) == "syslog"
    assert guess_type("notes.txt", ["hello"]) is None
