"""Which URLs Tally may call: https and public addresses only (SPEC §7.2), unless
WEBHOOK_ALLOW_PRIVATE=true (tests, private networks).

Checked when an endpoint is saved and again before every attempt (DNS can change between
the two); redirects are never followed, so an answer cannot send the worker elsewhere.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from licensing.errors import DomainError


class DestinationRefused(DomainError):
    code = "destination_refused"
    http_status = 400


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_destination(url: str) -> None:
    """Raise `DestinationRefused` for a URL the worker must not call."""
    parts = urlsplit(url)
    allow_private = settings.WEBHOOK_ALLOW_PRIVATE
    allowed_schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in allowed_schemes or not parts.hostname:
        raise DestinationRefused("The URL must be an https:// address with a host name.")
    if parts.username or parts.password:
        raise DestinationRefused("The URL must not carry a user name or password.")
    if allow_private:
        return
    try:
        port = parts.port or 443
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError) as error:
        raise DestinationRefused(f"The host {parts.hostname} cannot be resolved.") from error
    for *_, sockaddr in infos:
        if not _is_public(str(sockaddr[0])):
            raise DestinationRefused(
                f"The host {parts.hostname} resolves to {sockaddr[0]}, a private, loopback or "
                "link-local address: only public addresses can receive alerts."
            )
