"""How the project's code finds its own code: through packages, never by editing sys.path
(tests, tools and testkit), and the package never reaches into installer/."""

from __future__ import annotations

import ast
from pathlib import Path

from testkit import REPO


def path_edits(path: Path) -> list[str]:
    """Every sys.path.insert/append/extend call in a file's code (not in its strings: a test
    may hand a subprocess a snippet that does what OBS's script loader does)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("insert", "append", "extend")
                and ast.unparse(node.func.value) == "sys.path"):
            found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_tests_tools_and_testkit_never_edit_sys_path():
    files = [path for folder in ("tests", "tools", "testkit") for path in sorted((REPO / folder).rglob("*.py"))]
    assert len(files) > 40
    edits = [edit for path in files for edit in path_edits(path)]
    assert edits == [], f"import through packages (testkit, tools) instead: {edits}"


def test_the_package_never_imports_the_installer_folder():
    """What the package needs from set-up lives in faceswap_core.setup: installer/ is not
    in a wheel, and `faceswap doctor` must work from one."""
    offenders = []
    for path in sorted((REPO / "faceswap_core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            offenders += [f"{path.relative_to(REPO)}:{node.lineno}" for name in names
                          if name == "installer" or name.startswith("installer.")]
        offenders += path_edits(path)
    assert offenders == []
