"""`install.py --offline DIR`: a folder prepared once with `--prepare-offline` (from the
package index), then an install with the index blocked and proven blocked.

Blocking: pip's config files are not read (they hold this machine's mirror), its index
is a closed port on 127.0.0.1, find-links and the cache are off; `index_is_blocked`
shows that pip then cannot download even a tiny package. The models step is called for
real with the folder: it has no models (the real ones cannot be downloaded here), so the
installer must say so in one sentence and keep the working worker.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.installer_testing import blocked_index_env, clean_env, index_is_blocked, run_installer

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout")


@pytest.fixture(scope="module")
def offline_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("offline") / "obs-faceswap-offline"
    done = run_installer("--prepare-offline", str(folder), "--runtime", "cpu", "--models", "no",
                         env=clean_env())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return folder


@pytest.fixture(scope="module")
def offline_install(offline_folder, tmp_path_factory):
    base = tmp_path_factory.mktemp("offline-install")
    home = base / "home"
    home.mkdir()
    env = blocked_index_env(HOME=str(home), XDG_DATA_HOME=str(home / "data"))
    args = ("--offline", str(offline_folder), "--venv", str(base / "venv"), "--config", str(base / "obs-faceswap.json"),
            "--runtime", "cpu")
    done = run_installer(*args, "--models", "yes", env=env)
    return base, env, args, done


def test_prepared_folder_has_the_wheels(offline_folder):
    names = [path.name.lower() for path in (offline_folder / "wheels").glob("*.whl")]
    for package in ("mediapipe-0.10.21", "onnxruntime-", "numpy-1.", "opencv_contrib_python-", "setuptools-", "pip-"):
        assert any(name.startswith(package) for name in names), (package, names)


def test_the_index_is_really_blocked(offline_install, tmp_path):
    base, _, _, _ = offline_install
    blocked = index_is_blocked(base / "venv" / "bin" / "python", tmp_path)
    assert blocked.returncode != 0
    assert "127.0.0.1" in blocked.stdout + blocked.stderr or "No matching distribution" in blocked.stderr


def test_offline_install_makes_a_working_worker(offline_install):
    base, env, _, done = offline_install
    python = base / "venv" / "bin" / "python"
    assert "--no-index --find-links" in done.stdout, done.stdout[-2000:]
    assert "Worker environment ready" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]
    check = subprocess.run([str(python), "-c", "import faceswap_core.worker, mediapipe, onnxruntime; "
                            "print(onnxruntime.get_available_providers())"], capture_output=True, text=True,
                           cwd=base, env=env)
    assert check.returncode == 0 and "CPUExecutionProvider" in check.stdout, check.stderr
    assert json.loads((base / "obs-faceswap.json").read_text())["worker_python"] == str(python)


def test_models_missing_from_the_folder_are_one_clear_message(offline_install):
    _, _, _, done = offline_install
    assert done.returncode == 1
    assert "licensed for non-commercial research use only" in done.stdout
    assert "has no det_10g.onnx" in done.stderr   # the model installer's own sentence
    assert "the landmark engine works without them" in done.stdout


def test_offline_second_run_is_a_no_op(offline_install):
    base, env, args, _ = offline_install
    done = run_installer(*args, "--models", "no", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nothing to do" in done.stdout and "$ pip" not in done.stdout


def test_an_empty_offline_folder_is_refused_with_the_fix(tmp_path):
    done = run_installer("--offline", str(tmp_path), "--venv", str(tmp_path / "venv"), "--config",
                         str(tmp_path / "c.json"), "--runtime", "cpu", "--models", "no", env=blocked_index_env())
    assert done.returncode == 1
    assert "has no wheel files" in done.stderr and "--prepare-offline" in done.stderr
    assert not (tmp_path / "venv").exists()


def test_a_second_onnxruntime_package_is_removed(offline_install):
    """Two ONNX Runtime packages shadow each other; the installer keeps only the chosen one.
    The second one is a stand-in distribution (its real wheels are not in the offline folder)."""
    base, env, args, _ = offline_install
    python = base / "venv" / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    info = site / "onnxruntime_openvino-1.20.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: onnxruntime-openvino\nVersion: 1.20.0\n")
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text("".join(f"{info.name}/{name},,\n" for name in ("METADATA", "INSTALLER", "RECORD")))
    done = run_installer(*args, "--models", "no", env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Removing onnxruntime-openvino" in done.stdout
    assert not info.exists()
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True,
                            env=env).stdout.lower()
    assert [line.split("==")[0] for line in listed.splitlines() if line.startswith("onnxruntime")] == ["onnxruntime"]
    assert subprocess.run([str(python), "-c", "import onnxruntime; onnxruntime.get_available_providers()"],
                          env=env).returncode == 0
