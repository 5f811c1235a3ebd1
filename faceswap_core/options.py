"""Swap options shared by every engine, the CLI and the OBS filter's properties."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class SwapOptions:
    """What a streamer can change live.

    Frozen so an engine can hold one without another thread changing it under it: a
    change is a new object handed over with Engine.set_options.
    """

    enabled: bool = True
    mouth_mask: bool = True          # the target's own mouth shows through (speech looks right)
    mouth_mask_size: float = 1.0     # scale of the mouth region around its centre, 0.5-2.5
    keep_eyes: bool = False          # the target's own eyes show through
    keep_glasses: bool = True        # the target's glasses frames stay in front of the swap (landmark engine)
    opacity: float = 1.0             # 0 = original face, 1 = fully swapped
    max_faces: int = 4               # faces swapped per frame, largest first
    smoothing: float = 0.5           # 0 = raw landmarks, 1 = steadiest (more lag)
    colour_correction: bool = True   # match the swapped face to the target's skin and light

    def clamped(self) -> "SwapOptions":
        """The same options with every number forced into its valid range."""
        return replace(
            self,
            mouth_mask_size=min(max(float(self.mouth_mask_size), 0.5), 2.5),
            opacity=min(max(float(self.opacity), 0.0), 1.0),
            max_faces=min(max(int(self.max_faces), 1), 16),
            smoothing=min(max(float(self.smoothing), 0.0), 1.0),
        )

    @classmethod
    def from_mapping(cls, values: dict) -> "SwapOptions":
        """Options from a dict (JSON, OBS settings); unknown keys and bad types are ignored."""
        kwargs = {}
        for field in fields(cls):
            if field.name not in values:
                continue
            default = getattr(cls, field.name)
            try:
                kwargs[field.name] = type(default)(values[field.name])
            except (TypeError, ValueError):
                continue
        return cls(**kwargs).clamped()
