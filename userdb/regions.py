"""Where the products run (Accelerate's pool, Pulse's capture), and which region suits a database host.

Both products offer the same regions (the ACCELERATE_REGIONS setting) and the same
recommendation, so this lives once, here.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from django.conf import settings

_AWS_REGION = r"(?P<region>[a-z]{2}-[a-z]+-\d)"


@dataclass(frozen=True)
class HostPattern:
    provider: str
    pattern: re.Pattern[str]
    # For providers that name regions their own way (Render's "oregon").
    aliases: dict[str, str] | None = None


HOST_PATTERNS = (
    HostPattern("AWS RDS", re.compile(rf".+\.{_AWS_REGION}\.rds\.amazonaws\.com\.?")),
    HostPattern("AWS EC2", re.compile(rf".+\.{_AWS_REGION}\.compute\.amazonaws\.com\.?")),
    HostPattern("AWS EC2", re.compile(r".+\.compute-1\.amazonaws\.com\.?"), {"": "us-east-1"}),
    HostPattern("Neon", re.compile(rf".+\.{_AWS_REGION}\.aws\.neon\.tech\.?")),
    HostPattern("Supabase", re.compile(rf"aws-\d+-{_AWS_REGION}\.pooler\.supabase\.com\.?")),
    HostPattern("CockroachDB", re.compile(rf".+\.aws-{_AWS_REGION}\.cockroachlabs\.cloud\.?")),
    HostPattern("Xata", re.compile(rf"{_AWS_REGION}\.sql\.xata\.sh\.?")),
    HostPattern(
        "Render",
        re.compile(r".+\.(?P<region>oregon|ohio|virginia|frankfurt|singapore)-postgres\.render\.com\.?"),
        {
            "oregon": "us-west-2",
            "ohio": "us-east-2",
            "virginia": "us-east-1",
            "frankfurt": "eu-central-1",
            "singapore": "ap-southeast-1",
        },
    ),
)


# Networks a database is private on (RFC 1918, carrier-grade NAT as clusters use it, IPv6 unique
# local); loopback is checked apart. Not ipaddress's is_private, which also counts documentation ranges.
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
GATEWAY_REGION_NAME = "Where this gateway runs"  # the gateway's region when it is none of the offered ones


@dataclass(frozen=True)
class RegionRecommendation:
    region: str
    reason: str


def region_choices() -> list[tuple[str, str]]:
    """The regions offered, as (code, "Readable name (code)") pairs, from ACCELERATE_REGIONS."""
    return [
        (code, f"{name} ({code})" if name != code else code) for code, name in settings.ACCELERATE_REGIONS
    ]


def region_name(code: str) -> str:
    return str(dict(settings.ACCELERATE_REGIONS).get(code, code))


def host_is_local(host: str) -> bool:
    """Whether the host is this machine or on a private network: a loopback or private address,
    ``localhost``, a name without a dot (a container's or a LAN's), ``.local`` or ``.internal``.
    Said from the text alone (no DNS lookup: the form asks as the user types)."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if not name or "/" in name:  # empty or a Unix socket directory: this machine
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return "." not in name or name == "localhost" or name.endswith((".localhost", ".local", ".internal"))
    return address.is_loopback or any(address in network for network in PRIVATE_NETWORKS)


def region_recommend(host: str) -> RegionRecommendation | None:
    """The offered region the host name says the database is in, with the reason; None if it does
    not say. A database on this machine or a private network gets the gateway's own region."""
    offered = dict(settings.ACCELERATE_REGIONS)
    if host_is_local(host) and settings.GATEWAY_REGION in offered:
        region = settings.GATEWAY_REGION
        where = region if offered[region] == GATEWAY_REGION_NAME else f"{offered[region]} ({region})"
        return RegionRecommendation(
            region=region,
            reason=f"Recommended: the database is on this machine or a private network, so the pool "
            f"runs where this gateway runs: {where}.",
        )
    host = host.lower()
    for candidate in HOST_PATTERNS:
        match = candidate.pattern.fullmatch(host)
        if match is None:
            continue
        named = match.groupdict().get("region") or ""
        region = (candidate.aliases or {}).get(named, named)
        if region in offered:
            return RegionRecommendation(
                region=region,
                reason=f"Recommended: the host name says this {candidate.provider} database is in "
                f"{offered[region]} ({region}): running next to it keeps latency low.",
            )
    return None
