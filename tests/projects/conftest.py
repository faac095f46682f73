from __future__ import annotations

import pytest

from projects import services


@pytest.fixture(autouse=True)
def _fresh_key_lookups():
    """Each test starts with an empty per-process cache of API key lookups."""
    services._lookups.clear()
    yield
    services._lookups.clear()
