"""HandsetHub clients (standard library only).

- ``handsethub.control``: a synchronous client for the control and test API (Protocols/control.md).
- ``handsethub.pytest_plugin``: the ``hubd`` fixture that starts a hub for a test and stops it.
"""

from .control import Event, HubClient, HubError, Missed, parse_address

__all__ = ["Event", "HubClient", "HubError", "Missed", "parse_address"]
__version__ = "0.1.0"
