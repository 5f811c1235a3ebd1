"""What the two frame paths (render.py's read-back, camera.py's async frames) share: their
own view of the worker's channel, renewed when the supervisor replaces the channel."""

from __future__ import annotations

import collections

from .. import link


LATENCY_WINDOW = 30     # results averaged for the latency a viewer sees: a second at 30 fps
LATENCY_SAMPLES = 4096  # recent per-result latencies kept (the soak reads them)
LATENCY_SMOOTHING = 0.1


class FramePath:
    """A path's binding to the channel (`_forget` is what the path drops with the old one),
    and the latency of its recent results."""

    binding: link.Binding | None = None
    latencies_ms: collections.deque
    latency_ms: float
    resumed_ns: int = 0   # when frames came again after a gap (the source hidden, the filter off)

    def _note_latency(self, frame_ns: int, shown_ns: int) -> None:
        """One drawn result's latency, from its frame's time to when it shows: kept, and
        folded into the smoothed figure. A frame from before a gap counts none: it stands in
        until a fresh answer comes, and its age is the gap's, which the microphone's sync
        offset must not follow."""
        if frame_ns < self.resumed_ns:
            return
        latency = (shown_ns - frame_ns) / 1e6
        self.latencies_ms.append(latency)
        self.latency_ms = latency if len(self.latencies_ms) == 1 else (
            (1 - LATENCY_SMOOTHING) * self.latency_ms + LATENCY_SMOOTHING * latency)

    def recent_latency_ms(self) -> float:
        """Mean latency of the last LATENCY_WINDOW results: on the camera path one frame is
        answered in time and the next shows an earlier answer, so single frames jump by a
        frame interval; the picture's delay as a viewer (and the audio) lives with is their
        mean. Any thread may ask (list() copies the deque at once, under the GIL)."""
        recent = list(self.latencies_ms)[-LATENCY_WINDOW:]
        return sum(recent) / len(recent) if recent else 0.0

    def _bind(self, supervisor) -> bool:
        """Bind to the supervisor's current channel; False while there is none."""
        channel = supervisor.channel
        if channel is None or channel.mm is None:
            return False
        if self.binding is None or self.binding.channel is not channel:
            self.binding = channel.bind()
            self._forget()
        return True

    def _forget(self) -> None:
        raise NotImplementedError
