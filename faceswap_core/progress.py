"""A progress bar on stderr for long file work; silent when stderr is not a terminal
unless asked, so logs and CI output stay readable."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int | None, label: str, stream=None, force: bool = False, unit: str = "frames"):
        self.total = total if total and total > 0 else None
        self.label = label
        self.unit = unit
        self.stream = stream or sys.stderr
        self.enabled = force or self.stream.isatty()
        self.done = 0
        self._started = time.monotonic()
        self._last_draw = 0.0

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if self.enabled and (now - self._last_draw > 0.1 or self.done == self.total):
            self._last_draw = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self._started, 1e-6)
        rate = self.done / elapsed
        if self.total:
            fraction = min(self.done / self.total, 1.0)
            filled = int(fraction * 30)
            remaining = (self.total - self.done) / rate if rate > 0 else 0.0
            text = (f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} {self.unit} "
                    f"{rate:.1f}/s, {remaining:.0f}s left ")
        else:
            text = f"\r{self.label} {self.done} {self.unit} {rate:.1f}/s "
        self.stream.write(text)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()
