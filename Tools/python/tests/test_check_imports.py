"""Tools/check-imports keeps the system layer a layer (Sources/ARCHITECTURE.md, "Modules and their
dependencies"): run on a copy of the package with one rule broken at a time, it must fail and name the place;
on the package as it is, it must pass."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = next(p for p in Path(__file__).resolve().parents if (p / "Package.swift").exists())


@pytest.fixture
def package(tmp_path):
    """A copy of the manifest, the sources, the tests and the checker (no build products)."""
    copy = tmp_path / "pkg"
    (copy / "Tools").mkdir(parents=True)
    shutil.copy(REPO / "Package.swift", copy / "Package.swift")
    shutil.copytree(REPO / "Sources", copy / "Sources")
    shutil.copytree(REPO / "Tests", copy / "Tests")
    shutil.copy(REPO / "Tools/check-imports", copy / "Tools/check-imports")
    return copy


def check(copy: Path) -> subprocess.CompletedProcess:
    # SwiftPM (`swift package dump-package`) leaves a lock file named after the package's path and a
    # TemporaryDirectory.* folder in TMPDIR: the test's own directory, not /tmp.
    scratch = copy.parent / "tmp"
    scratch.mkdir(exist_ok=True)
    return subprocess.run([str(copy / "Tools/check-imports")], cwd=copy, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "TMPDIR": str(scratch)})


def add_line(path: Path, line: str) -> None:
    path.write_text(line + "\n" + path.read_text())


def test_the_package_as_it_is_follows_the_rules(package):
    result = check(package)
    assert result.returncode == 0, result.stderr
    assert "@_silgen_name" not in result.stderr


def test_a_silgen_binding_anywhere_is_an_error(package):
    target = package / "Sources/HubSystem/Memory.swift"
    target.write_text(target.read_text() + '\n@_silgen_name("getpid") func boundWithoutAHeader() -> Int32\n')
    result = check(package)
    assert result.returncode == 1
    assert "Sources/HubSystem/Memory.swift" in result.stderr and "binds a C function without a header" in result.stderr


def test_the_server_may_not_import_glibc(package):
    add_line(package / "Sources/HubServer/Hub.swift", "import Glibc")
    result = check(package)
    assert result.returncode == 1
    assert "Sources/HubServer/Hub.swift:1: error: import Glibc" in result.stderr


@pytest.mark.parametrize("target", ["HubServer/Hub.swift", "EventLoop/Loop.swift"])
def test_only_the_system_layer_imports_the_c_shim(package, target):
    add_line(package / "Sources" / target, "import CHubSystem")
    result = check(package)
    assert result.returncode == 1
    assert f"Sources/{target}:1: error: import CHubSystem: only HubSystem imports CHubSystem" in result.stderr
