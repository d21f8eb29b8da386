"""Lets the tests run from a source checkout without installing the package (pytest -p handsethub.pytest_plugin)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

try:  # When installed with pip the entry point already registered the plugin.
    from importlib.metadata import entry_points

    _installed = any(ep.value == "handsethub.pytest_plugin" for ep in entry_points(group="pytest11"))
except Exception:  # pragma: no cover
    _installed = False

if not _installed:
    pytest_plugins = ["handsethub.pytest_plugin"]


def pytest_configure(config):
    # Tools/hub test runs the suite on two pytest-xdist workers (-n 2 -m "not serial"), then these tests alone.
    config.addinivalue_line("markers", "serial: asserts a wall-clock bound that a test running beside it on the "
                            "other xdist worker can break; Tools/hub test runs these after the parallel run, alone")
