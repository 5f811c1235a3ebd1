"""obs-faceswap: add this file in OBS under Tools > Scripts.

It registers the "Face Swap" video filter: right-click a camera source > Filters > +
> Face Swap, then pick a photo in the filter's properties. The swap itself runs in a
separate worker process with its own Python (see README.md, "Use it in OBS").
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from faceswap_core.link import stale_channel_files  # noqa: E402
from faceswap_core.obs import registration  # noqa: E402


def script_description():
    return (
        "<b>Face Swap</b><br>Adds the <i>Face Swap</i> video filter: one photo, your face swapped live."
        "<br>Add it to a camera source under Filters, then choose a source photo."
    )


def script_load(settings):
    registry = registration.registry()
    for path in stale_channel_files():
        try:
            os.unlink(path)   # left behind by an OBS that crashed
        except OSError:
            pass
    registry.register()
    registry.activate()


def script_unload():
    registration.registry().deactivate()
