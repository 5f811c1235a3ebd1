"""Installer steps that need no new venv: the wrappers, the models question, refusals.

The models step calls the project's own model installer (`python -m faceswap_core.cli
models install`) for real, with this test run's Python as the worker; the real model
files (750 MB, fixed SHA-256) cannot be downloaded here, so only the question, the
licence text and the failure message are checked, not a successful download.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

from installer import steps
from testkit.installer_testing import clean_env, run_installer


def options(tmp_path: Path, **changes) -> steps.Options:
    return steps.Options(venv=tmp_path / "venv", config=tmp_path / "obs-faceswap.json", **changes)


def test_install_sh_finds_a_python_and_runs_the_installer():
    done = subprocess.run(["sh", str(ROOT / "installer" / "install.sh"), "--show-choice", "--runtime", "cpu"],
                          capture_output=True, text=True, env=clean_env(), cwd="/")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1] == "onnxruntime>=1.17"


def test_the_windows_wrapper_runs_the_same_installer():
    text = (ROOT / "installer" / "install.ps1").read_text()
    assert '"py", "-3.12"' in text and "install.py" in text and "exit $LASTEXITCODE" in text


def test_models_question_declined_installs_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("FACESWAP_MODEL_DIR", str(tmp_path / "models"))
    out = io.StringIO()
    asked = []
    ok = steps.install_models(options(tmp_path), Path(sys.executable), lambda text: asked.append(text) or "n", out)
    assert ok and asked and "licence" in asked[0]
    assert "non-commercial research use only" in out.getvalue() and "Skipped" in out.getvalue()
    assert not (tmp_path / "models").exists()


def test_models_not_asked_without_a_terminal(tmp_path, monkeypatch):
    monkeypatch.setenv("FACESWAP_MODEL_DIR", str(tmp_path / "models"))
    out = io.StringIO()
    assert steps.install_models(options(tmp_path), Path(sys.executable), None, out)
    assert "no terminal" in out.getvalue() and "--models yes" in out.getvalue()


def test_models_accepted_call_the_model_installer_and_report_its_failure(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("FACESWAP_MODEL_DIR", str(tmp_path / "models"))
    offline = tmp_path / "offline"
    (offline / "models").mkdir(parents=True)
    out = io.StringIO()
    ok = steps.install_models(options(tmp_path, offline=offline), Path(sys.executable), lambda text: "yes", out)
    assert ok is False
    assert f"models install --yes --from {offline / 'models'}" in out.getvalue()
    assert "has no det_10g.onnx" in capfd.readouterr().err   # the model installer's own sentence
    assert "the landmark engine works without them" in out.getvalue()


def test_models_no_skips_the_step(tmp_path):
    out = io.StringIO()
    assert steps.install_models(options(tmp_path, models="no"), Path(sys.executable), None, out)
    assert out.getvalue() == ""


def test_a_python_that_cannot_build_the_venv_is_refused(tmp_path):
    done = run_installer("--python", "/nonexistent/python3", "--venv", str(tmp_path / "venv"), "--config",
                         str(tmp_path / "c.json"), "--runtime", "cpu", "--models", "no")
    assert done.returncode == 1
    assert "/nonexistent/python3 is not a working Python 3.10-3.12" in done.stderr
    assert not (tmp_path / "c.json").exists()


# -- Windows: mediapipe cannot load from a folder with non-ASCII characters ----------------------
def test_windows_venv_goes_to_a_plain_ascii_folder_when_the_projects_is_not(tmp_path):
    """google-ai-edge/mediapipe #2677, #3774: the face mesh fails to load under C:\\Users\\José.
    Windows is simulated by its name and its environment; the paths are Windows'."""
    import io

    from faceswap_core import doctor
    from installer import steps

    project = "C:\\Users\\José\\obs-faceswap"
    out = io.StringIO()
    chosen = steps.venv_folder(None, Path(project + "\\.venv"), Path(project), out, "win32",
                               {"ProgramData": "C:\\ProgramData"})
    assert str(chosen).isascii() and str(chosen).startswith("C:\\ProgramData\\obs-faceswap\\venv-")
    assert "mediapipe" in out.getvalue() and str(chosen) in out.getvalue()
    other = steps.venv_folder(None, Path("C:\\Users\\Zoë\\fs\\.venv"), Path("C:\\Users\\Zoë\\fs"), io.StringIO(),
                              "win32", {"ProgramData": "C:\\ProgramData"})
    assert other != chosen, "two projects share one environment"
    plain = Path("C:\\obs-faceswap\\.venv")
    assert steps.venv_folder(None, plain, Path("C:\\obs-faceswap"), io.StringIO(), "win32", {}) == plain
    linux = Path("/home/josé/obs-faceswap/.venv")
    assert steps.venv_folder(None, linux, linux.parent, io.StringIO(), "linux", {}) == linux
    with pytest.raises(steps.InstallError, match="choose a --venv folder whose path is plain ASCII"):
        steps.venv_folder(Path("D:\\Programmes\\Été\\venv"), plain, Path(project), io.StringIO(), "win32", {})
    with pytest.raises(steps.InstallError, match="move obs-faceswap to a folder such as"):
        steps.venv_folder(None, Path(project + "\\.venv"), Path(project), io.StringIO(), "win32",
                          {"ProgramData": "C:\\Données"})
    check = doctor.check_folder_for_mediapipe(project + "\\.venv\\Scripts\\python.exe", "win32")
    assert check.ok is False and "mediapipe" in check.what and "plain-ASCII folder" in check.fix
    assert doctor.check_folder_for_mediapipe(project + "\\.venv\\Scripts\\python.exe", "linux") is None
