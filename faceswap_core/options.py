"""Swap options shared by every engine, the CLI and the OBS filter's properties.

The fields are the settings schema's "options" (faceswap_core.schema: ranges, defaults,
help); a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from . import schema

_DEFAULT = schema.defaults()


@dataclass(frozen=True)
class SwapOptions:
    """What a streamer can change live.

    Frozen so an engine can hold one without another thread changing it under it: a
    change is a new object handed over with Engine.set_options.
    """

    enabled: bool = _DEFAULT["enabled"]
    mouth_mask: bool = _DEFAULT["mouth_mask"]            # the target's own mouth shows through (speech looks right)
    mouth_mask_size: float = _DEFAULT["mouth_mask_size"]  # scale of the mouth region around its centre
    keep_eyes: bool = _DEFAULT["keep_eyes"]              # the target's own eyes show through
    keep_glasses: bool = _DEFAULT["keep_glasses"]        # the target's glasses frames stay in front (landmark)
    keep_in_front: bool = _DEFAULT["keep_in_front"]      # a hand in front of the face stays in front
    in_front_sensitivity: float = _DEFAULT["in_front_sensitivity"]  # how far past the hand the camera shows
    colour_correction: bool = _DEFAULT["colour_correction"]  # match the swapped face to the target's skin and light
    opacity: float = _DEFAULT["opacity"]                 # 0 = original face, 1 = fully swapped
    smoothing: float = _DEFAULT["smoothing"]             # 0 = raw landmarks, 1 = steadiest (more lag)
    max_faces: int = _DEFAULT["max_faces"]               # faces swapped per frame, largest first
    pixel_boost: str = _DEFAULT["pixel_boost"]           # neural: the swap's size, "auto", "128", "256", "512"
    enhancer: str = _DEFAULT["enhancer"]                 # neural: "off" or a face restorer's catalogue name
    enhancer_blend: float = _DEFAULT["enhancer_blend"]   # neural: how much of the restored detail is laid on
    switch_fade_ms: int = _DEFAULT["switch_fade_ms"]     # a face switch or the swap on/off fades this long

    @classmethod
    def from_mapping(cls, values: dict) -> "SwapOptions":
        """Options from a settings dict that schema.clamped made (where the worker or the
        CLI applies the settings: the one place values are forced into range); unknown
        keys are ignored."""
        return cls(**{field.name: values[field.name] for field in fields(cls) if field.name in values})
