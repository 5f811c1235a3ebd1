"""Typing a key into a window of a test's X display (Xvfb), as a user would, through the
XTEST extension (libXtst, which the X libraries OBS and OpenCV use bring along).

Xvfb runs no window manager: the window is found by its title and given the input focus
before the key goes in.
"""

from __future__ import annotations

import ctypes
import time
from ctypes import POINTER, byref, c_char_p, c_int, c_uint, c_ulong, c_void_p


class Keyboard:
    def __init__(self, display: str):
        self._x11 = x11 = ctypes.CDLL("libX11.so.6")
        self._xtst = ctypes.CDLL("libXtst.so.6")
        x11.XOpenDisplay.restype, x11.XOpenDisplay.argtypes = c_void_p, [c_char_p]
        x11.XDefaultRootWindow.restype, x11.XDefaultRootWindow.argtypes = c_ulong, [c_void_p]
        x11.XQueryTree.argtypes = [c_void_p, c_ulong, POINTER(c_ulong), POINTER(c_ulong),
                                   POINTER(POINTER(c_ulong)), POINTER(c_uint)]
        x11.XFetchName.argtypes = [c_void_p, c_ulong, POINTER(c_char_p)]
        x11.XFree.argtypes = [c_void_p]
        x11.XSetInputFocus.argtypes = [c_void_p, c_ulong, c_int, c_ulong]
        x11.XStringToKeysym.restype, x11.XStringToKeysym.argtypes = c_ulong, [c_char_p]
        x11.XKeysymToKeycode.restype, x11.XKeysymToKeycode.argtypes = ctypes.c_ubyte, [c_void_p, c_ulong]
        x11.XFlush.argtypes = [c_void_p]
        x11.XCloseDisplay.argtypes = [c_void_p]
        self._xtst.XTestFakeKeyEvent.argtypes = [c_void_p, c_uint, c_int, c_ulong]
        self._display = x11.XOpenDisplay(display.encode())
        if not self._display:
            raise RuntimeError(f"cannot open the X display {display}")

    def window(self, title_start: str, timeout: float = 30.0) -> int:
        """The first window whose title starts so; waits for it to appear."""
        deadline = time.monotonic() + timeout
        while True:
            found = self._find(self._x11.XDefaultRootWindow(self._display), title_start.encode())
            if found:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"no window titled '{title_start}...' within {timeout} s")
            time.sleep(0.05)

    def type(self, window: int, key: str) -> None:
        """Focus the window and press and release the key (a letter, a digit, "space")."""
        x11 = self._x11
        x11.XSetInputFocus(self._display, window, 2, 0)   # RevertToParent, CurrentTime
        code = x11.XKeysymToKeycode(self._display, x11.XStringToKeysym(key.encode()))
        self._xtst.XTestFakeKeyEvent(self._display, code, True, 0)
        self._xtst.XTestFakeKeyEvent(self._display, code, False, 0)
        x11.XFlush(self._display)

    def close(self) -> None:
        self._x11.XCloseDisplay(self._display)

    def _find(self, window: int, title: bytes) -> int:
        name = c_char_p()
        if self._x11.XFetchName(self._display, window, byref(name)) and name.value:
            matches = name.value.startswith(title)
            self._x11.XFree(ctypes.cast(name, c_void_p))
            if matches:
                return window
        root, parent, children, count = c_ulong(), c_ulong(), POINTER(c_ulong)(), c_uint()
        if not self._x11.XQueryTree(self._display, window, byref(root), byref(parent), byref(children), byref(count)):
            return 0
        try:
            for index in range(count.value):
                found = self._find(children[index], title)
                if found:
                    return found
        finally:
            if children:
                self._x11.XFree(children)
        return 0
