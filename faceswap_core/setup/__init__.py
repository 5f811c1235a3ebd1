"""What the installer (installer/) and `faceswap doctor` both need, shipped in the package:
machine (what OS, CPU and GPUs this computer has), runtime_choice (which ONNX Runtime
package fits it), worker_venv (create, probe, install, repair the worker's venv).
Standard library only: the installer runs them before any venv exists.
"""
