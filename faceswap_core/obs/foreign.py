"""Every foreign function the OBS side calls goes through a prototype table: one place.

Why: a function fetched from a ctypes library and called as it is returns a C `int`. A
64-bit handle or pointer is then cut to 32 bits: 64-bit Windows loads DLLs above 4 GiB,
so `GetModuleHandleW` without its result type handed libobs a broken handle and the filter
never registered. On Apple's arm64 a call without argument types passes variadic
arguments in the wrong place (CPython gh-92892). So nothing calls a library's attribute
directly: `Functions(handle, TABLE)` sets each function's `restype` and `argtypes` from a
table of name -> (restype, argtypes), and tests/obs/test_foreign_contract.py walks the
code and fails on any other call. Pointer-sized results are `c_void_p`.
"""

from __future__ import annotations

import ctypes
from ctypes import c_void_p, c_wchar_p

# kernel32.dll (Windows): an already-loaded module, found without loading a second copy
KERNEL32_FUNCTIONS = {
    "GetModuleHandleW": (c_void_p, [c_wchar_p]),   # HMODULE: pointer-sized, None when absent
}


class Functions:
    """Attribute access to a table of prototyped functions from one handle (the test
    hosts build theirs from the libobs tables plus their own)."""

    def __init__(self, handle, table: dict):
        for name, (restype, argtypes) in table.items():
            function = getattr(handle, name)
            function.restype = restype
            function.argtypes = argtypes
            setattr(self, name, function)


def windows_module(name: str):
    """A ctypes handle on the DLL `name` that this process has already loaded, or None.

    GetModuleHandle returns the module OBS loaded (no second, uninitialised copy, no new
    reference to release); its HMODULE is the handle CDLL takes.
    """
    kernel32 = Functions(ctypes.WinDLL("kernel32"), KERNEL32_FUNCTIONS)
    handle = kernel32.GetModuleHandleW(name)
    return ctypes.CDLL(name, handle=handle) if handle else None
