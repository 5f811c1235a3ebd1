"""What the two frame paths (render.py's read-back, camera.py's async frames) share: their
own view of the worker's channel, renewed when the supervisor replaces the channel."""

from __future__ import annotations

from .. import link


class FramePath:
    """A path's binding to the channel; `_forget` is what the path drops with the old one."""

    binding: link.Binding | None = None

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
