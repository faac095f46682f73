"""Where the products run (Accelerate's pool, Pulse's capture), and which region suits a database host.

Both products offer the same regions (the ACCELERATE_REGIONS setting) and the same
recommendation, so this lives once, here.
"""

from __future__ import annotations

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


def region_recommend(host: str) -> RegionRecommendation | None:
    """The offered region the host name says the database is in, with the reason; None if it does not say."""
    offered = dict(settings.ACCELERATE_REGIONS)
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
