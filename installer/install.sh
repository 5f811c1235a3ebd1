#!/bin/sh
# obs-faceswap installer for Linux and macOS: sh installer/install.sh [options]
# Finds a Python 3.10+ and runs installer/install.py with it (see --help for options).
here=$(cd "$(dirname "$0")" && pwd)
for candidate in python3.12 python3.11 python3.10 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 &&
        "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
        exec "$candidate" "$here/install.py" "$@"
    fi
done
echo "install: no Python 3.10 or newer found; install Python 3.12 (macOS: https://www.python.org/downloads/macos/," \
     "Debian/Ubuntu: sudo apt install python3 python3-venv) and run this again." >&2
exit 1
