"""RS(8,4) over GF(256), own code for the invisible mark's payload: any 2 wrong bytes of 8
are corrected, 3 are never silently 'corrected' into the sent message."""

from __future__ import annotations

import random

import pytest

from faceswap_core.provenance import reed_solomon as rs


def test_field_tables_are_a_field():
    assert sorted(rs.EXP[:255]) == list(range(1, 256))          # 2 generates every non-zero element
    for a in range(1, 256):
        assert rs._mul(a, rs._inverse(a)) == 1


def test_encoding_is_systematic_and_a_codeword():
    word = rs.encode(b"\x01abc", 4)
    assert word[:4] == b"\x01abc" and len(word) == 8
    assert max(rs._syndromes(list(word), 4)) == 0


@pytest.mark.parametrize("errors", [0, 1, 2])
def test_up_to_two_wrong_bytes_are_corrected(errors):
    rng = random.Random(errors)
    for _ in range(500):
        message = bytes(rng.randrange(256) for _ in range(4))
        word = bytearray(rs.encode(message, 4))
        for position in rng.sample(range(8), errors):
            word[position] ^= rng.randrange(1, 256)
        assert rs.decode(bytes(word), 4) == message


def test_three_wrong_bytes_are_refused_or_decoded_elsewhere_never_to_the_message():
    rng = random.Random(3)
    refused = 0
    for _ in range(500):
        message = bytes(rng.randrange(256) for _ in range(4))
        word = bytearray(rs.encode(message, 4))
        for position in rng.sample(range(8), 3):
            word[position] ^= rng.randrange(1, 256)
        try:
            assert rs.decode(bytes(word), 4) != message
        except rs.DecodeError:
            refused += 1
    assert refused > 400   # most are detected as uncorrectable
