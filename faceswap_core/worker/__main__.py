"""python -m faceswap_core.worker: see worker.service."""

import sys

from .service import main

sys.exit(main())
