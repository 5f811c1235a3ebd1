"""The one-command installer: installer/install.py (run with any Python 3.10+).

Modules, one job each: machine (what OS, CPU and GPUs this computer has), runtime_choice
(which ONNX Runtime package fits it), base_python (a Python 3.10-3.12 to build the venv
from), worker_venv (create, probe, install, repair the worker's venv), steps (the install
as a sequence of those), install (the command line). Standard library only: they run
before any venv exists.
"""
