"""HandsetHub clients (standard library only).

- ``handsethub.control``: a synchronous client for the control and test API (Protocols/control.md).
- ``handsethub.pytest_plugin``: the ``hubd`` fixture that starts a hub for a test and stops it.
- ``handsethub.web``: the handset's web page served and bridged by websockify (Deploy/web.md).
- ``handsethub.deploy``: configuration templates for the container and Kubernetes (Deploy/container, Deploy/kubernetes).
- ``handsethub.fleet``: N living handsets on one machine joined over VXLAN (Tools/fleet).
"""

from .control import Event, HubClient, HubError, Missed, parse_address

__all__ = ["Event", "HubClient", "HubError", "Missed", "parse_address"]
__version__ = "0.1.0"
