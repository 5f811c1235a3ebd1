"""Fix commands printed for the user: quoted for the shell they are pasted into."""

from __future__ import annotations

import shlex
import subprocess

from faceswap_core import model_catalog
from faceswap_core.command_text import command_text


def test_a_folder_with_spaces_survives_the_shell(tmp_path):
    folder = tmp_path / "OBS Stuff" / "models"
    text = command_text("faceswap", "models", "install", "--force", "det_10g", "--dir", folder)
    assert shlex.split(text) == ["faceswap", "models", "install", "--force", "det_10g", "--dir", str(folder)]
    echoed = subprocess.run(["sh", "-c", f"printf '%s\\n' {text.split(' ', 1)[1]}"], capture_output=True, text=True)
    assert echoed.stdout.splitlines()[-1] == str(folder), "the shell split the folder"
    assert command_text("faceswap", "demo") == "faceswap demo"          # nothing to quote, nothing added


def test_windows_quoting_and_powershells_call_operator():
    python = r"C:\Users\Jane Doe\obs-faceswap\.venv\Scripts\python.exe"
    text = command_text(python, "-m", "pip", "uninstall", "-y", "onnxruntime", platform="win32")
    assert text == rf'& "{python}" -m pip uninstall -y onnxruntime'
    assert command_text("py", r"C:\My Files\install.py", platform="win32") == r'py "C:\My Files\install.py"'


def test_the_model_install_command_quotes_its_folder(tmp_path):
    folder = tmp_path / "my models"
    text = model_catalog.install_command(["det_10g", "w600k_r50"], folder, force=True)
    assert shlex.split(text) == ["faceswap", "models", "install", "--force", "det_10g", "w600k_r50", "--dir", str(folder)]
    try:
        model_catalog.require(model_catalog.find("det_10g"), folder)
    except Exception as error:
        assert shlex.split(str(error).split("run: ", 1)[1])[-1] == str(folder)
    else:
        raise AssertionError("an empty folder has no det_10g")
