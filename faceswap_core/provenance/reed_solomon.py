"""Reed-Solomon over GF(2^8) (primitive polynomial 0x11d, generator 2), own code: the mark's
payload is 4 bytes, sent as RS(8,4), which corrects any 2 wrong bytes of the 8.

Polynomials are lists of coefficients, highest degree first. The decoder is the classic
syndrome decoder: Berlekamp-Massey for the error locator, a Chien search for the
positions, Forney's formula for the values.
"""

from __future__ import annotations


class DecodeError(ValueError):
    """More errors than the code can correct (or not a codeword at all)."""


def _tables() -> tuple[list[int], list[int]]:
    exp, log = [0] * 512, [0] * 256
    value = 1
    for power in range(255):
        exp[power], log[value] = value, power
        value <<= 1
        if value & 0x100:
            value ^= 0x11D
    for power in range(255, 512):
        exp[power] = exp[power - 255]
    return exp, log


EXP, LOG = _tables()


def _mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else EXP[LOG[a] + LOG[b]]


def _div(a: int, b: int) -> int:
    if b == 0:
        raise ZeroDivisionError("division by zero in GF(256)")
    return 0 if a == 0 else EXP[(LOG[a] + 255 - LOG[b]) % 255]


def _pow(a: int, power: int) -> int:
    return EXP[(LOG[a] * power) % 255]


def _inverse(a: int) -> int:
    return EXP[255 - LOG[a]]


def _poly_scale(p: list[int], factor: int) -> list[int]:
    return [_mul(c, factor) for c in p]


def _poly_add(p: list[int], q: list[int]) -> list[int]:
    out = [0] * max(len(p), len(q))
    for i, c in enumerate(p):
        out[i + len(out) - len(p)] = c
    for i, c in enumerate(q):
        out[i + len(out) - len(q)] ^= c
    return out


def _poly_mul(p: list[int], q: list[int]) -> list[int]:
    out = [0] * (len(p) + len(q) - 1)
    for j, b in enumerate(q):
        for i, a in enumerate(p):
            out[i + j] ^= _mul(a, b)
    return out


def _poly_eval(p: list[int], x: int) -> int:
    y = p[0]
    for c in p[1:]:
        y = _mul(y, x) ^ c
    return y


def _poly_div(dividend: list[int], divisor: list[int]) -> tuple[list[int], list[int]]:
    out = list(dividend)
    for i in range(len(dividend) - len(divisor) + 1):
        coef = out[i]
        if coef:
            for j in range(1, len(divisor)):
                if divisor[j]:
                    out[i + j] ^= _mul(divisor[j], coef)
    split = -(len(divisor) - 1)
    return out[:split], out[split:]


def _generator(parity: int) -> list[int]:
    g = [1]
    for i in range(parity):
        g = _poly_mul(g, [1, _pow(2, i)])
    return g


def encode(message: bytes, parity: int) -> bytes:
    """message followed by `parity` check bytes (systematic)."""
    generator = _generator(parity)
    out = list(message) + [0] * parity
    for i in range(len(message)):
        coef = out[i]
        if coef:
            for j in range(1, len(generator)):
                out[i + j] ^= _mul(generator[j], coef)
    return bytes(message) + bytes(out[len(message):])


def _syndromes(word: list[int], parity: int) -> list[int]:
    return [0] + [_poly_eval(word, _pow(2, i)) for i in range(parity)]


def _error_locator(syndromes: list[int], parity: int) -> list[int]:
    """Berlekamp-Massey."""
    locator, old = [1], [1]
    shift = len(syndromes) - parity
    for i in range(parity):
        k = i + shift
        delta = syndromes[k]
        for j in range(1, len(locator)):
            delta ^= _mul(locator[-(j + 1)], syndromes[k - j])
        old = old + [0]
        if delta:
            if len(old) > len(locator):
                new = _poly_scale(old, delta)
                old = _poly_scale(locator, _inverse(delta))
                locator = new
            locator = _poly_add(locator, _poly_scale(old, delta))
    while locator and locator[0] == 0:
        locator.pop(0)
    if (len(locator) - 1) * 2 > parity:
        raise DecodeError("too many errors to correct")
    return locator


def _error_positions(locator: list[int], length: int) -> list[int]:
    """Chien search: the positions (index in the word) where the locator has a root."""
    positions = [length - 1 - i for i in range(length) if _poly_eval(locator, _pow(2, i)) == 0]
    if len(positions) != len(locator) - 1:
        raise DecodeError("the error locator's roots do not fit the word")
    return positions


def _correct(word: list[int], syndromes: list[int], positions: list[int]) -> list[int]:
    """Forney: the error values at the known positions, added back."""
    coefficient_positions = [len(word) - 1 - p for p in positions]
    locator = [1]
    for p in coefficient_positions:
        locator = _poly_mul(locator, _poly_add([1], [_pow(2, p), 0]))
    _, evaluator = _poly_div(_poly_mul(syndromes[::-1], locator), [1] + [0] * len(locator))
    evaluator = evaluator[::-1]
    roots = [_pow(2, -(255 - p)) for p in coefficient_positions]
    errors = [0] * len(word)
    for i, root in enumerate(roots):
        root_inverse = _inverse(root)
        derivative = 1
        for j, other in enumerate(roots):
            if j != i:
                derivative = _mul(derivative, 1 ^ _mul(root_inverse, other))
        if derivative == 0:
            raise DecodeError("the error values cannot be found")
        value = _mul(root, _poly_eval(evaluator[::-1], root_inverse))
        errors[positions[i]] = _div(value, derivative)
    return _poly_add(word, errors)


def decode(word: bytes, parity: int) -> bytes:
    """The message of a received word with up to parity // 2 wrong bytes; DecodeError if not."""
    received = list(word)
    syndromes = _syndromes(received, parity)
    if max(syndromes) == 0:
        return bytes(received[:-parity])
    locator = _error_locator(syndromes, parity)
    positions = _error_positions(locator[::-1], len(received))
    corrected = _correct(received, syndromes, positions)
    if max(_syndromes(corrected, parity)) != 0:
        raise DecodeError("the word could not be corrected")
    return bytes(corrected[:-parity])
