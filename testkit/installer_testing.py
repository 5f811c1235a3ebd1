"""Helpers for the installer tests that run the installer for real.

`blocked_index_env` is how the offline tests prove they use no package index: pip's
config files are not read (the machine's mirror settings are in them), its index is a
closed port on 127.0.0.1, find-links and the cache are off. `index_is_blocked` shows
that pip then really cannot fetch anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from testkit import REPO as ROOT
INSTALLER = ROOT / "installer" / "install.py"
CLOSED_INDEX = "http://127.0.0.1:9/simple/"


def run_installer(*args: str, env: dict | None = None, cwd: Path | None = None, script: Path = INSTALLER,
                  timeout: float = 1200) -> subprocess.CompletedProcess:
    """The installer as a user runs it: a separate process, stdin not a terminal (no questions)."""
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env=env or clean_env(), cwd=cwd or ROOT, timeout=timeout)


def clean_env(**extra: str) -> dict:
    """This environment without what a test run adds (PYTHONPATH, the OBS config override)."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "OBS_FACESWAP_CONFIG", "VIRTUAL_ENV", "PYTEST_CURRENT_TEST")}
    env.update(extra)
    return env


def blocked_index_env(**extra: str) -> dict:
    env = clean_env(**extra)
    for key in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_INDEX_URL", "PIP_CONFIG_FILE"):
        env.pop(key, None)
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL=CLOSED_INDEX, PIP_NO_CACHE_DIR="1",
               PIP_DEFAULT_TIMEOUT="5", PIP_RETRIES="0")
    return env


def index_is_blocked(python: str | Path, folder: Path) -> subprocess.CompletedProcess:
    """Try to download a small package that is on every index: must fail."""
    return subprocess.run([str(python), "-m", "pip", "download", "--no-deps", "-d", str(folder), "six"],
                          capture_output=True, text=True, env=blocked_index_env(), timeout=300)


def copy_working_tree(destination: Path) -> Path:
    """A fresh clone of the project as it is now (tracked and new files, without ignored ones
    such as .venv and the local obs-faceswap.json)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = ROOT / name
        if name == "obs-faceswap.json" or not source.is_file():
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return destination


def readme_setup_commands(readme: Path) -> list[str]:
    """The two set-up commands: the first two ```sh blocks of README's "Set up and try it"."""
    text = readme.read_text(encoding="utf-8")
    section = text.split("## Set up and try it", 1)[1].split("\n## ", 1)[0]
    blocks = [block.split("```", 1)[0].strip() for block in section.split("```sh\n")[1:3]]
    return blocks
