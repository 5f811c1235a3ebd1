"""What the code of the worker and the filter may never do, checked on its source (AST).

The runtime checks are in test_host_faults.py::test_nothing_talks_to_the_network (strace
and audit hooks on a real run); these cover code paths a run does not take (the neural
engine, error paths): no network module and no unpickling anywhere the worker or the
filter can reach. Only the installer's modules download, and only when asked.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "faceswap_core"
ROOT_SCRIPT = PACKAGE.parent / "obs_faceswap.py"
# The modules that download models when the user asks (faceswap models install, doctor).
INSTALLER = {"model_installer.py", "doctor.py", "install_config.py", "commands"}
NETWORK = {"socket", "ssl", "http", "urllib", "urllib3", "requests", "httpx", "aiohttp", "ftplib", "smtplib",
           "websocket", "websockets", "xmlrpc", "asyncio", "telnetlib", "paramiko", "grpc"}
UNPICKLING = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal", "torch.hub"}


def runtime_sources() -> list[Path]:
    """Every module the worker or the filter may import: the package minus the installer."""
    files = [ROOT_SCRIPT]
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in INSTALLER or relative.name in INSTALLER or relative.parts[0] == "cli.py":
            continue
        files.append(path)
    return files


def imported(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level and node.module:
            names.add("." + node.module)
    return names


def test_no_network_module_where_the_worker_or_filter_runs():
    offenders = {}
    for path in runtime_sources():
        names = imported(ast.parse(path.read_text(), str(path)))
        bad = sorted(n for n in names if n.split(".")[0] in NETWORK)
        installer = sorted(n for n in names if n.lstrip(".").split(".")[-1] in ("model_installer", "doctor", "commands"))
        if bad or installer:
            offenders[str(path.relative_to(PACKAGE.parent))] = bad + installer
    assert offenders == {}, f"network code reachable from the worker or the filter: {offenders}"


def test_nothing_is_ever_unpickled():
    offenders = {}
    for path in [ROOT_SCRIPT, *sorted(PACKAGE.rglob("*.py"))]:
        tree = ast.parse(path.read_text(), str(path))
        bad = sorted(n for n in imported(tree) if n in UNPICKLING or n.split(".")[0] in UNPICKLING)
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "allow_pickle" and not (
                    isinstance(node.value, ast.Constant) and node.value.value is False):
                bad.append(f"allow_pickle= at line {node.value.lineno}")
            if isinstance(node, ast.Attribute) and node.attr == "load" and isinstance(node.value, ast.Name) \
                    and node.value.id in ("torch", "joblib", "pickle"):
                bad.append(f"{node.value.id}.load at line {node.lineno}")
        if bad:
            offenders[str(path.relative_to(PACKAGE.parent))] = bad
    assert offenders == {}, f"unpickling: {offenders}"
