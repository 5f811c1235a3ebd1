"""The one-command installer: installer/install.py (run with any Python 3.10+).

Modules, one job each: base_python (a Python 3.10-3.12 to build the venv from), steps
(the install as a sequence of steps), install (the command line). What `faceswap doctor`
shares with them (machine, runtime_choice, worker_venv) is in faceswap_core.setup, which
the package ships. Standard library only: they run before any venv exists.
"""
