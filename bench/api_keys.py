"""api_key_authenticate: median µs per call and calls/s with 10,000 keys in the table.

Rows: a valid key served from the per-process cache (the steady state of a data plane),
a valid key on a cache miss (one indexed query), an unknown key with a valid checksum
(one indexed query, nothing found) and a key with a flipped character (refused by the
checksum, no query).
"""

from __future__ import annotations

import time

from bench.common import count_queries, measure, median, percentile, scratch_database, setup_django, table

KEYS = 10_000
REPEAT = 5_000


def main() -> None:
    setup_django()
    from django.utils import timezone

    from console.models import Organization
    from projects import services
    from projects.keys import key_digest, key_display_prefix, key_generate
    from projects.models import ApiKey, Project

    with scratch_database():
        organization = Organization.objects.create(name="Bench", slug="bench")
        projects = Project.objects.bulk_create(
            Project(organization=organization, name=f"Project {n}") for n in range(100)
        )
        raw_keys = [key_generate() for _ in range(KEYS)]
        ApiKey.objects.bulk_create(
            (
                ApiKey(
                    project=projects[n % len(projects)],
                    name=f"Key {n}",
                    prefix=key_display_prefix(raw),
                    digest=key_digest(raw),
                    last_used=timezone.now(),
                )
                for n, raw in enumerate(raw_keys)
            ),
            batch_size=2_000,
        )
        valid = raw_keys[KEYS // 2]
        unknown = key_generate()
        flipped = valid[:20] + ("a" if valid[20] != "a" else "b") + valid[21:]
        assert services.api_key_authenticate(valid) is not None
        assert services.api_key_authenticate(unknown) is None
        assert services.api_key_authenticate(flipped) is None

        def cold() -> object:
            services._lookups.clear()
            return services.api_key_authenticate(valid)

        cases = [
            ("valid key, warm (cached)", lambda: services.api_key_authenticate(valid)),
            ("valid key, cache miss", cold),
            ("unknown key", lambda: services.api_key_authenticate(unknown)),
            ("bad checksum", lambda: services.api_key_authenticate(flipped)),
        ]
        rows = []
        for label, fn in cases:
            fn()
            with count_queries() as queries:
                fn()
            started = time.perf_counter()
            samples = measure(fn, repeat=REPEAT, warmup=200)
            elapsed = time.perf_counter() - started
            rows.append(
                [
                    label,
                    f"{median(samples) * 1e6:.1f}",
                    f"{percentile(samples, 99) * 1e6:.1f}",
                    f"{REPEAT / elapsed:,.0f}",
                    len(queries),
                ]
            )
        print(f"{KEYS:,} keys in the table, {REPEAT:,} calls per row")
        print(table(["case", "median µs", "p99 µs", "calls/s", "SQL queries"], rows))
