"""Drives OBS's own windows with xdotool (apt: xdotool), for what obs-websocket cannot do:
Tools > Scripts and its Reload Scripts button.

Under Xvfb there is no window manager: the main window gets the keyboard focus with
`windowfocus`, keys and clicks go in through XTEST, and every step polls for the window
it expects instead of sleeping. A step that times out raises GuiStepFailed naming the
step and pointing at a screenshot of the whole display taken at that moment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

# Where to click, measured on OBS 29's Scripts window (UI/forms/OBSBasicScripts.ui: the list
# is anchored to the top-left corner, the buttons under it to the bottom-left corner).
FIRST_SCRIPT_FROM_TOP_LEFT = (90, 67)
RELOAD_BUTTON_FROM_BOTTOM_LEFT = (122, 83)
TOOLS_MENU_DOWNS_TO_SCRIPTS = 3   # Auto-Configuration Wizard, Automatic Scene Switcher, Output Timer, Scripts


class GuiStepFailed(AssertionError):
    """A GUI step did not get the window it waits for."""


class ObsWindows:
    """The windows of one OBS process on one X display."""

    def __init__(self, display: str, obs_pid: int, screenshots: Path, timeout: float = 20.0):
        if shutil.which("xdotool") is None:
            pytest.skip("xdotool is absent: apt-get install xdotool")
        self.env = {"DISPLAY": display, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        self.display = display
        self.pid = obs_pid
        self.screenshots = screenshots
        self.timeout = timeout

    # -- steps ------------------------------------------------------------------------------
    def open_scripts_window(self) -> str:
        """Tools > Scripts from the main window's menu bar, by keyboard; the window's id."""
        already = self._visible("Scripts")
        if already:
            return already[0]
        main = self._wait(lambda: self._visible_starting("OBS "), "the OBS main window to show")[0]
        self.xdotool("windowfocus", "--sync", main)
        before = set(self._visible())
        self.xdotool("key", "alt+t")
        self._wait(lambda: set(self._visible()) - before, "the Tools menu to open (alt+t on the main window)")
        self.xdotool("key", *["Down"] * TOOLS_MENU_DOWNS_TO_SCRIPTS, "Return")
        return self._wait(lambda: self._visible("Scripts"),
                          f"Tools menu item {TOOLS_MENU_DOWNS_TO_SCRIPTS + 1} to open the Scripts window")[0]

    def reload_scripts(self) -> None:
        """Select the first loaded script and press Reload Scripts (the circular arrow)."""
        window = self.open_scripts_window()
        height = self._height(window)
        self.click(window, *FIRST_SCRIPT_FROM_TOP_LEFT)
        self.click(window, RELOAD_BUTTON_FROM_BOTTOM_LEFT[0], height - RELOAD_BUTTON_FROM_BOTTOM_LEFT[1])

    def click(self, window: str, x: int, y: int) -> None:
        self.xdotool("mousemove", "--window", window, str(x), str(y), "click", "1")

    def fail(self, step: str) -> GuiStepFailed:
        """The error for a failed step, with a screenshot of the display to look at."""
        import mss
        import mss.tools

        self.screenshots.mkdir(parents=True, exist_ok=True)
        path = self.screenshots / f"gui-{time.strftime('%H%M%S')}.png"
        try:
            with mss.mss(display=self.display) as screen:
                shot = screen.grab(screen.monitors[0])
                mss.tools.to_png(shot.rgb, shot.size, output=str(path))
        except Exception as error:   # the screenshot only helps; the step's failure is the news
            path = Path(f"(no screenshot: {error})")
        return GuiStepFailed(f"GUI step failed: {step}; screen: {path}")

    # -- X windows ---------------------------------------------------------------------------
    def xdotool(self, *args: str) -> str:
        result = subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=30)
        return result.stdout.strip()

    def _visible(self, name: str | None = None) -> list[str]:
        """OBS's mapped windows, or those titled exactly `name` (xdotool matches by regex)."""
        criteria = ["--name", f"^{name}$"] if name is not None else []
        return self.xdotool("search", "--all", "--onlyvisible", "--pid", str(self.pid), *criteria).split()

    def _visible_starting(self, prefix: str) -> list[str]:
        return [w for w in self._visible() if self.xdotool("getwindowname", w).startswith(prefix)]

    def _height(self, window: str) -> int:
        values = dict(line.split("=", 1) for line in self.xdotool("getwindowgeometry", "--shell", window).splitlines())
        return int(values["HEIGHT"])

    def _wait(self, found, step: str):
        """Poll `found` until it returns something truthy; GuiStepFailed after the timeout."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            result = found()
            if result:
                return result
            time.sleep(0.1)
        raise self.fail(f"waited {self.timeout:.0f} s for {step}")
