"""The OBS side of obs-faceswap: the "Face Swap" video filter, registered through ctypes.

Standard library only (ctypes, mmap, subprocess, threading): OBS's embedded
Python needs nothing installed. Everything heavy runs in the worker process.
"""
