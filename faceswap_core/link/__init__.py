"""The contract between the OBS side and the worker process, standard library only.

OBS's embedded Python imports this package as well as the worker, so it uses nothing
outside the standard library. What it holds, one module each:

- layout: the channel's bytes (header fields, slots) and their validation;
- memory: shared memory that never touches a disk, per system;
- channel: a channel's lifetime, settings and report, and the frame handshake (Exchange);
- liveness: each process's own clock, whether a pid runs, the heartbeat watch;
- launch: how the filter starts a worker on each system, and what can stop it;
- system: which system this is (every branch takes it as a parameter, for tests).

No module outside this package names a header field.
"""

from __future__ import annotations

import os
import tempfile

from . import liveness, memory
from .channel import Binding, Channel, Exchange, Frame, recognise
from .layout import (ChannelError, STATE_ERROR, STATE_NAMES, STATE_NO_SOURCE, STATE_RUNNING, STATE_STARTING,
                     STATE_STOPPED)

__all__ = ["Binding", "Channel", "ChannelError", "Exchange", "Frame", "recognise", "stale_channel_files",
           "STATE_ERROR", "STATE_NAMES", "STATE_NO_SOURCE", "STATE_RUNNING", "STATE_STARTING", "STATE_STOPPED"]

LEGACY_DIRECTORIES = ("/dev/shm", tempfile.gettempdir())   # where versions before the link kept files


def stale_channel_files(directories=LEGACY_DIRECTORIES) -> list[str]:
    """Channel files whose creating process is gone: left by a crash of OBS running an
    earlier version (they made files in %TEMP%, $TMPDIR or /dev/shm), or by a test."""
    stale = []
    for directory in dict.fromkeys(directories):
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            if not name.startswith(memory.FILE_PREFIX):
                continue
            pid_text = name[len(memory.FILE_PREFIX):].split("-", 1)[0]
            if not pid_text.isdigit() or liveness.pid_alive(int(pid_text)):
                continue
            path = os.path.join(directory, name)
            try:
                if os.name == "nt" or os.stat(path).st_uid == os.getuid():
                    stale.append(path)
            except OSError:
                continue
    return stale
