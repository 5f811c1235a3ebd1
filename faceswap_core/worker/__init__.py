"""The worker: the process that swaps faces for one OBS filter instance (`service`), the
camera path's pixel conversions it does in place (`pixel_convert`), and answers that
come later (`in_flight`), which the engines and the server link hand back.

`python -m faceswap_core.worker` runs it; `import faceswap_core.worker` is how the
installer and the doctor check that a Python can run it (service's imports are light:
the engines load when the settings name one).
"""

from .service import main

__all__ = ["main"]
