"""What the tests and tools share: hosts that run the filter in libobs or OBS, worker
stand-ins, the identity judge, stand-in models, OBS installations to run against.

Not shipped (the wheel holds faceswap_core only). pytest puts the project root on
sys.path (pyproject's `pythonpath`); tools run as modules from the root
(`python -m tools.soak`); a process a test starts gets `pythonpath_env`. The hosts that
run inside OBS's own Python (libobs_host, fault_host) use the standard library only.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def pythonpath_env(env: dict, *first: str) -> dict:
    """`env` with `first` and then the project root on PYTHONPATH, for `python -m testkit.X`."""
    return dict(env, PYTHONPATH=os.pathsep.join([*first, str(REPO)]))
