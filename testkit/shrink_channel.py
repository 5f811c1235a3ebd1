"""Another process of the same user trying to resize a channel that OBS has mapped.

    python -m testkit.shrink_channel /proc/PID/fd/N

Any process of the user can open another's descriptor through /proc/PID/fd/N. A channel
that shrinks while mapped kills whoever touches the lost pages with SIGBUS, so this tries
exactly that (and growing), and prints what each attempt got as JSON: "ok" or the
errno's name, with the size before and after.
"""

from __future__ import annotations

import errno
import json
import os
import sys


def attempt(action) -> str:
    try:
        action()
    except OSError as error:
        return errno.errorcode.get(error.errno, str(error.errno))
    return "ok"


def main(argv: list[str]) -> int:
    (path,) = argv
    fd = os.open(path, os.O_RDWR)
    size = os.fstat(fd).st_size
    result = {"size_before": size,
              "shrink": attempt(lambda: os.ftruncate(fd, 0)),
              "grow": attempt(lambda: os.ftruncate(fd, size * 2)),
              "size_after": os.fstat(fd).st_size}
    os.close(fd)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
