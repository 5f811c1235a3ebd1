"""obs-faceswap: one-photo face swap for OBS Studio.

The worker side (engines, vision stages, CLI) needs numpy, OpenCV and mediapipe; the OBS
side (faceswap_core.obs, faceswap_core.channel) uses the standard library only, so OBS's
own Python needs nothing installed. Importing this package imports neither.
"""

__version__ = "0.1.0"
