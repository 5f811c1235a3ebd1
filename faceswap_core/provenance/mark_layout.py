"""The invisible mark's layout, standard library only: the OBS side draws the mark on the
program picture with a shader (obs/program_mark.py) from these cells, and mark.py adds
and reads it with numpy; both must agree bit for bit.

The key (which bit each cell carries, and its sign) comes from SHA-256, not a random
number generator, so it can never change with a Python or numpy release.
"""

from __future__ import annotations

import hashlib

from . import reed_solomon

COLUMNS, ROWS = 64, 36
PAYLOAD_BYTES = 4
PARITY_BYTES = 4
BITS = 8 * (PAYLOAD_BYTES + PARITY_BYTES)
VERSION = 0xF1             # the payload's first byte: obs-faceswap's mark, layout 1
KEY = b"obs-faceswap mark 1"   # public: anyone may read the mark
SHAPE_GAIN = 0.93          # amplitude per level of strength: rounded, no pixel moves more than the strength
DEFAULT_STRENGTH = 3


def _digest(index: int) -> bytes:
    return hashlib.sha256(KEY + index.to_bytes(4, "big")).digest()


def key_tables() -> tuple[list[int], list[int]]:
    """(owner, sign) per cell, row by row: which of the BITS the cell carries (each bit the
    same number of cells, in an order spread by the key) and the key's sign (+1/-1)."""
    cells = COLUMNS * ROWS
    order = sorted(range(cells), key=_digest)
    owner = [0] * cells
    for rank, cell in enumerate(order):
        owner[cell] = rank % BITS
    sign = [1 if _digest(cells + cell)[0] & 1 else -1 for cell in range(cells)]
    return owner, sign


def codeword_bits(session_id: bytes) -> list[int]:
    """The 64 bits (0/1) the picture carries: the version byte, the session, RS parity."""
    if len(session_id) != PAYLOAD_BYTES - 1:
        raise ValueError(f"a session identifier is {PAYLOAD_BYTES - 1} bytes")
    word = reed_solomon.encode(bytes([VERSION]) + session_id, PARITY_BYTES)
    return [(byte >> (7 - bit)) & 1 for byte in word for bit in range(8)]


def cell_signs(session_id: bytes) -> list[int]:
    """+1/-1 per cell, row by row: the sign of the cell's change for this session."""
    owner, sign = key_tables()
    bits = codeword_bits(session_id)
    return [s if bits[o] else -s for o, s in zip(owner, sign)]
