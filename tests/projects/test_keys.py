from __future__ import annotations

import zlib

from hypothesis import given
from hypothesis import strategies as st

from projects.keys import (
    ALPHABET,
    KEY_LENGTH,
    base62,
    checksum,
    key_digest,
    key_display_prefix,
    key_generate,
    key_is_well_formed,
)


def test_a_new_key_has_the_documented_shape():
    key = key_generate()
    assert len(key) == KEY_LENGTH == 42
    assert key.startswith("dpk_")
    assert set(key[4:]) <= set(ALPHABET)
    assert key[-6:] == base62(zlib.crc32(key[4:36].encode()), 6)
    assert key_is_well_formed(key)
    assert key_display_prefix(key) == key[4:12]
    assert len(key_digest(key)) == 64


def test_keys_do_not_repeat():
    assert len({key_generate() for _ in range(1000)}) == 1000


def test_base62_pads_and_covers_every_crc32():
    assert base62(0, 6) == "000000"
    assert base62(61, 2) == "0z"
    assert len(base62(2**32 - 1, 6)) == 6


@given(position=st.integers(min_value=4, max_value=KEY_LENGTH - 1), replacement=st.sampled_from(ALPHABET))
def test_any_single_changed_character_is_caught_by_the_checksum(position, replacement):
    key = key_generate()
    if key[position] == replacement:
        return
    typo = key[:position] + replacement + key[position + 1 :]
    assert not key_is_well_formed(typo)


def test_malformed_keys_are_refused():
    key = key_generate()
    for bad in (
        "",
        "dpk_",
        key[:-1],
        key + "0",
        "xpk_" + key[4:],
        key[:10] + "-" + key[11:],
        key.replace("dpk_", "DPK_"),
        None,
        42,
        "dpk_" + "é" * 38,
    ):
        assert not key_is_well_formed(bad), bad


def test_checksum_is_over_the_random_part_only():
    assert checksum("a" * 32) == base62(zlib.crc32(b"a" * 32), 6)
