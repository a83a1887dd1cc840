"""The public API of the engine and rules packages."""

from __future__ import annotations

import subprocess
import sys
from types import ModuleType

import pytest

import keibi.engine
import keibi.rules


@pytest.mark.parametrize("module", [keibi.engine, keibi.rules])
def test_every_exported_name_exists(module: ModuleType) -> None:
    names = module.__all__
    assert names
    for name in names:
        assert getattr(module, name) is not None


def test_unknown_engine_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        keibi.engine.NoSuchThing  # noqa: B018


@pytest.mark.parametrize("module", ["keibi.alerts.grouping", "keibi.engine.engine",
                                    "keibi.rules.tool", "keibi.engine", "keibi.rules"])
def test_each_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    r = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
