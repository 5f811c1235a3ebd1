"""The ctypes contract: no foreign function is called without its prototype.

A ctypes library attribute called as it is returns a C int: on 64-bit Windows that cut
GetModuleHandleW's handle to 32 bits and the filter never registered. Every call must go
through `foreign.Functions(handle, TABLE)`, which sets restype and argtypes from a table.
This test reads the code (no OBS needed) and fails on any other use of a library's
functions; it failed on the code before the contract (the kernel32 calls in libobs.py and
frontend.py).
"""

from __future__ import annotations

import ast
import ctypes

from testkit import helpers

LIBRARY_CLASSES = {"CDLL", "PyDLL", "WinDLL", "OleDLL", "LoadLibrary"}
LIBRARY_LOADERS = {"cdll", "pydll", "windll", "oledll"}     # ctypes.windll.kernel32 is a library
OUR_LIBRARY_FACTORIES = {"loaded_libobs", "windows_module"}  # functions of ours returning one
DATA_ATTRIBUTES = {"_name", "_handle"}                       # not functions
PROTOTYPING = ("faceswap_core/obs/foreign.py", "Functions")  # the one place that may getattr one


def _last_name(node) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _target_key(node) -> str | None:
    """A name, or self.attribute, that a library can be bound to."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return None


class LibraryUse:
    """Finds attribute access on ctypes libraries outside the prototype tables. A name is a
    library where its function binds it to one; `self.x` where any method of its class does."""

    def __init__(self, path: str):
        self.path = path
        self.offences: list[str] = []

    def is_library(self, node, names: set) -> bool:
        if isinstance(node, ast.Call):
            return _last_name(node.func) in LIBRARY_CLASSES | OUR_LIBRARY_FACTORIES
        if isinstance(node, ast.Attribute) and _last_name(node.value) in LIBRARY_LOADERS:
            return True
        if isinstance(node, ast.IfExp):
            return self.is_library(node.body, names) or self.is_library(node.orelse, names)
        if isinstance(node, ast.BoolOp):
            return any(self.is_library(value, names) for value in node.values)
        return _target_key(node) in names

    def _bound(self, scope, names: set) -> set:
        """`names` plus what `scope`'s assignments bind to a library (to a fixed point)."""
        names = set(names)
        while True:
            before = len(names)
            for node in ast.walk(scope):
                if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None \
                        and self.is_library(node.value, names):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    names.update(key for key in map(_target_key, targets) if key)
            if len(names) == before:
                return names

    def check(self, tree) -> list[str]:
        self._check_body(tree.body, set(), "")
        return self.offences

    def _check_body(self, body: list, attributes: set, class_name: str) -> None:
        loose = ast.Module(body=[node for node in body if not isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))], type_ignores=[])
        self._find(loose, self._bound(loose, attributes), class_name)
        for node in body:
            if isinstance(node, ast.ClassDef):
                methods = [item for item in node.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))]
                selves: set = set()
                while True:   # self.x bound in one method is a library in all of them
                    found = {key for method in methods for key in self._bound(method, selves) if key.startswith("self.")}
                    if found <= selves:
                        break
                    selves |= found
                self._check_body(node.body, selves, node.name)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self._find(node, self._bound(node, attributes), class_name)

    def _find(self, scope, names: set, class_name: str) -> None:
        for node in ast.walk(scope):
            if isinstance(node, ast.Attribute) and node.attr not in DATA_ATTRIBUTES \
                    and node.attr not in LIBRARY_LOADERS and self.is_library(node.value, names):
                self.offences.append(f"{self.path}:{node.lineno}: .{node.attr} of a ctypes library, not through "
                                     "foreign.Functions and a prototype table")
            if isinstance(node, ast.Call) and _last_name(node.func) == "getattr" and node.args \
                    and self.is_library(node.args[0], names) and (self.path, class_name) != PROTOTYPING:
                self.offences.append(f"{self.path}:{node.lineno}: getattr on a ctypes library outside foreign.Functions")


def offences_in(source: str, path: str = "<source>") -> list[str]:
    return LibraryUse(path).check(ast.parse(source))


def test_the_contract_finds_what_broke_windows():
    """The checker itself: the pre-contract kernel32 call, and its disguises, are caught;
    calls through a prototype table are not."""
    broken = 'import ctypes\nhandle = ctypes.WinDLL("kernel32").GetModuleHandleW("obs.dll")\n'
    assert offences_in(broken)
    assert offences_in('import ctypes\nk = ctypes.windll.kernel32\nh = k.GetModuleHandleW("x")\n')
    assert offences_in('import ctypes\nf = ctypes.CDLL(None).dlopen\n')
    assert offences_in('import ctypes\nlib = ctypes.CDLL(None) if a else None\ngetattr(lib, "x")()\n')
    assert offences_in('class A:\n    def f(self):\n        self.lib = loaded_libobs()\n'
                       '    def g(self):\n        return self.lib.obs_get_source_by_name(b"x")\n')
    fine = ('import ctypes\nlib = ctypes.CDLL(None)\nok = hasattr(lib, "x")\n'
            'f = Functions(lib, TABLE)\nf.x()\nn = lib._name\n')
    assert offences_in(fine) == []


def test_no_foreign_function_is_called_without_its_prototype():
    files = sorted((helpers.REPO / "faceswap_core").rglob("*.py")) + [helpers.REPO / "obs_faceswap.py"]
    offences = []
    for path in files:
        relative = str(path.relative_to(helpers.REPO))
        offences += offences_in(path.read_text(encoding="utf-8"), relative)
    assert offences == [], "\n".join(offences)


def test_every_prototype_declares_result_and_arguments():
    """Each table entry names its result type (None for void) and its argument types;
    handles are pointer-sized."""
    from faceswap_core import frame_memory
    from faceswap_core.obs import foreign, frontend, libobs

    tables = {"frame_memory.GLIBC_FUNCTIONS": frame_memory.GLIBC_FUNCTIONS, "libobs.BLOCKING_FUNCTIONS": libobs.BLOCKING_FUNCTIONS, "libobs.RENDER_FUNCTIONS": libobs.RENDER_FUNCTIONS,
              "libobs.VARIADIC_FUNCTIONS": libobs.VARIADIC_FUNCTIONS, "frontend.FUNCTIONS": frontend.FUNCTIONS,
              "foreign.KERNEL32_FUNCTIONS": foreign.KERNEL32_FUNCTIONS}
    ctypes_types = (type(ctypes.c_int), type(ctypes.POINTER(ctypes.c_int)), type(ctypes.CFUNCTYPE(None)))
    for table_name, table in tables.items():
        for name, prototype in table.items():
            assert isinstance(prototype, tuple) and len(prototype) == 2, f"{table_name}[{name}]"
            restype, argtypes = prototype
            assert restype is None or isinstance(restype, ctypes_types), f"{table_name}[{name}] result {restype}"
            assert isinstance(argtypes, list), f"{table_name}[{name}] arguments"
    assert foreign.KERNEL32_FUNCTIONS["GetModuleHandleW"][0] is ctypes.c_void_p

    class Handle:
        def __init__(self):
            self.GetModuleHandleW = type("F", (), {})()

    prototyped = foreign.Functions(Handle(), foreign.KERNEL32_FUNCTIONS)
    assert prototyped.GetModuleHandleW.restype is ctypes.c_void_p
    assert prototyped.GetModuleHandleW.argtypes == [ctypes.c_wchar_p]
