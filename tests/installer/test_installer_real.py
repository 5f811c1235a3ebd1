"""The installer for real, on a fresh copy of the project, from the package index.

One module-scoped install (about a minute, ~300 MB from the index or pip's cache) made
by the README's own set-up command; then, in order: the worker runs from that venv, a
second run is a no-op (proved by blocking the index), `faceswap doctor` passes, a broken
package is repaired, a venv whose Python is gone is rebuilt, and the README's test
command works in the copy. Each test leaves the install working for the next.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testkit.installer_testing import (ROOT, blocked_index_env, clean_env, copy_working_tree, index_is_blocked,
                               readme_setup_commands)

from faceswap_core import link
from faceswap_core.link import Channel

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the README's Linux/macOS commands")


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A fresh copy of the project and a clean home folder (no models, no config)."""
    base = tmp_path_factory.mktemp("fresh")
    home = base / "home"
    home.mkdir()
    return copy_working_tree(base / "obs-faceswap"), home


def user_env(home: Path, **extra: str) -> dict:
    env = clean_env(HOME=str(home), XDG_DATA_HOME=str(home / ".local" / "share"),
                    XDG_CONFIG_HOME=str(home / ".config"), **extra)
    # keep pyenv's shims and pip's download cache working under the new HOME (speed only)
    env.setdefault("PYENV_ROOT", str(Path.home() / ".pyenv"))
    env.setdefault("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    return env


@pytest.fixture(scope="module")
def setup_run(clone):
    """The README's first command, exactly as written, in the fresh copy."""
    project, home = clone
    command = readme_setup_commands(project / "README.md")[0]
    started = time.monotonic()
    done = subprocess.run(["bash", "-c", command], cwd=project, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env=user_env(home), timeout=1500)
    return command, done, time.monotonic() - started


@pytest.fixture(scope="module")
def venv_python(clone, setup_run):
    project, _ = clone
    python = project / ".venv" / "bin" / "python"
    if not python.exists():
        pytest.fail(f"the set-up command made no venv:\n{setup_run[1].stdout[-3000:]}\n{setup_run[1].stderr[-3000:]}")
    return python


def installer(project: Path, home: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The installer as the README runs it (automatic ONNX Runtime choice), stdin not a terminal."""
    return subprocess.run([sys.executable, str(project / "installer" / "install.py"), *args],
                          cwd=project, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env=env or user_env(home), timeout=1500)


def doctor(python: Path, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "faceswap_core.doctor"], capture_output=True, text=True,
                          env=user_env(home), cwd=home, timeout=300)


def lines_marked(output: str, mark: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(f"  {mark}")]


def test_readme_setup_command_works_on_a_fresh_clone(clone, setup_run):
    project, home = clone
    command, done, seconds = setup_run
    assert "installer/install.py" in command and "faceswap demo" in command
    assert done.returncode == 0, f"{command}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    assert (project / "faceswap-demo.png").stat().st_size > 10_000
    assert "obs-faceswap doctor" in done.stdout and "Worker packages import" in done.stdout   # its closing check
    print(f"set-up command took {seconds:.0f} s")


def test_installer_writes_the_config_obs_reads(clone, venv_python):
    project, _ = clone
    config = json.loads((project / "obs-faceswap.json").read_text())
    assert config["worker_python"] == str(venv_python)
    assert config["onnxruntime"] == "onnxruntime"
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); from faceswap_core import install_config; "
             "print(install_config.configured_worker_python())")
    # what OBS's Python will do: a plain interpreter without the worker's packages, reading the file
    found = subprocess.run([sys.executable, "-I", "-c", probe, str(project)], capture_output=True, text=True)
    assert found.stdout.strip() == str(venv_python), found.stderr


def test_worker_runs_from_the_installed_venv(clone, venv_python):
    project, home = clone
    channel = Channel.create(320, 240)   # as the filter makes it: on Linux a memfd the worker inherits
    worker = subprocess.Popen([str(venv_python), "-m", "faceswap_core.worker", "--channel", channel.address,
                               "--token", channel.token, "--owner-pid", str(os.getpid())], stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                              cwd=home, env=user_env(home), pass_fds=channel.pass_fds)
    try:
        deadline = time.monotonic() + 60
        while channel.get("worker_pid") != worker.pid and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.05)
        assert channel.get("worker_pid") == worker.pid, worker.stderr.read().decode() if worker.poll() is not None else ""
        while channel.state() not in (link.STATE_RUNNING, link.STATE_NO_SOURCE) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert channel.state() == link.STATE_NO_SOURCE   # alive, waiting for a photo
        worker.stdin.close()                          # what OBS closing does: EOF, the worker exits
        assert worker.wait(20) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
        channel.close()
    imported_from = subprocess.run([str(venv_python), "-c", "import faceswap_core; print(faceswap_core.__file__)"],
                                   capture_output=True, text=True, cwd=home).stdout.strip()
    assert imported_from == str(project / "faceswap_core" / "__init__.py")   # editable: OBS and worker share code


def test_second_run_is_a_no_op_even_without_the_index(clone, venv_python, tmp_path):
    project, home = clone
    assert index_is_blocked(venv_python, tmp_path / "dl").returncode != 0
    site = next((project / ".venv" / "lib").glob("python3.*/site-packages"))
    before = sorted(p.name for p in site.iterdir())
    config_before = (project / "obs-faceswap.json").read_text()
    done = installer(project, home, env=blocked_index_env(**{k: v for k, v in user_env(home).items()
                                                              if k in ("HOME", "XDG_DATA_HOME", "PYENV_ROOT")}))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "installed and working: nothing to do" in done.stdout
    assert "up to date" in done.stdout and "$ pip" not in done.stdout
    assert sorted(p.name for p in site.iterdir()) == before
    assert (project / "obs-faceswap.json").read_text() == config_before


def test_changed_requirements_are_installed_then_the_next_run_is_a_no_op(clone, venv_python):
    """An update of obs-faceswap (a new pyproject.toml) makes the next run install again; an old
    pip (Python 3.10.0 bundles one that cannot do editable installs of this project) is updated first."""
    project, home = clone
    old_pip = subprocess.run([str(venv_python), "-m", "pip", "install", "-q", "pip==22.3.1"], capture_output=True,
                             text=True, env=user_env(home))
    assert old_pip.returncode == 0, old_pip.stderr
    pyproject = project / "pyproject.toml"
    original = pyproject.read_text()
    pyproject.write_text(original + "\n# a later version of obs-faceswap\n")
    try:
        upgrade = installer(project, home)
        assert upgrade.returncode == 0, upgrade.stdout[-3000:] + upgrade.stderr[-3000:]
        assert "Updating pip in the worker's environment" in upgrade.stdout
        pip_now = subprocess.run([str(venv_python), "-m", "pip", "--version"], capture_output=True, text=True).stdout
        assert int(pip_now.split()[1].split(".")[0]) >= 23, pip_now
        assert "Installing the worker's packages" in upgrade.stdout and "$ pip install -e" in upgrade.stdout
        again = installer(project, home)
        assert again.returncode == 0 and "nothing to do" in again.stdout
    finally:
        pyproject.write_text(original)


def test_doctor_on_the_healthy_install(clone, venv_python):
    project, home = clone
    done = doctor(venv_python, home)
    output = done.stdout
    assert output.startswith("obs-faceswap doctor")
    for expected in ("points at the worker", "Worker Python 3.1", "Worker packages import", "onnxruntime ",
                     f"Script to add in OBS (Tools > Scripts > +): {project / 'obs_faceswap.py'}"):
        assert any(expected in line for line in lines_marked(output, "ok")), (expected, output)
    assert any("Neural engine models: not installed" in line for line in lines_marked(output, "--")), output
    failures = lines_marked(output, "FAIL")
    if shutil.which("obs") or os.path.exists("/usr/bin/obs"):
        assert failures == [] and done.returncode == 0 and output.rstrip().endswith("All good."), output
    else:   # only OBS itself may be missing on a machine without it
        assert all("OBS" in line for line in failures), output


def test_the_neural_engine_runs_after_the_plain_install(clone, venv_python, tmp_path):
    """The README's install, then the neural engine, as a user runs it with the models in
    place. Before, the installer left out the onnx package and this stopped with "The
    neural engine needs the onnx package". The real insightface recognizer and swapper
    cannot be downloaded here: stand-ins of their shapes (made in the test's venv) are
    named as the user's own files, with the real SCRFD detector."""
    from testkit import standins
    from testkit.judge import media, shared_model

    project, home = clone
    detector = shared_model("scrfd_500m_bnkps.onnx")
    recognizer = standins.build_recognizer(tmp_path / "w600k_r50.onnx")
    swapper = standins.build_swapper(tmp_path / "inswapper_128.onnx")
    photo, target = media("dlib_2008_002506.jpg"), media("fr_obama.jpg")
    output = tmp_path / "swapped.png"
    faceswap = venv_python.parent / "faceswap"
    done = subprocess.run([str(faceswap), "swap", "--engine", "neural", "--detector", str(detector),
                           "--recognizer", str(recognizer), "--swapper", str(swapper), "--source", str(photo),
                           "--input", str(target), "--output", str(output), "--no-credentials"],
                          capture_output=True, text=True, cwd=home, env=user_env(home), timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    import cv2
    import numpy as np

    before, after = cv2.imread(str(target)), cv2.imread(str(output))
    assert after is not None and after.shape == before.shape
    assert np.abs(after.astype(int) - before.astype(int)).max() > 40, "nothing was swapped"
    report = doctor(venv_python, home).stdout
    assert any("neural engine's packages import" in line for line in lines_marked(report, "ok")), report


def test_broken_package_is_repaired(clone, venv_python):
    project, home = clone
    site = next((project / ".venv" / "lib").glob("python3.*/site-packages"))
    shutil.rmtree(site / "numpy")
    broken = doctor(venv_python, home)
    assert broken.returncode == 1
    assert any("cannot import" in line and "numpy" in line for line in lines_marked(broken.stdout, "FAIL")), broken.stdout
    done = installer(project, home)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Repairing packages that fail to import: numpy" in done.stdout
    assert subprocess.run([str(venv_python), "-c", "import numpy, cv2, mediapipe"], cwd=home).returncode == 0
    assert "rebuilding" not in done.stdout                       # numpy alone was reinstalled
    assert done.stdout.count("--force-reinstall") == 1
    after = doctor(venv_python, home).stdout
    assert not any("cannot import" in line for line in lines_marked(after, "FAIL")), after


def test_venv_whose_python_is_gone_is_rebuilt(clone, venv_python):
    project, home = clone
    for link in (project / ".venv" / "bin").glob("python*"):
        link.unlink()
    assert not venv_python.exists()
    broken = subprocess.run([sys.executable, "-m", "faceswap_core.doctor", "--quick"], capture_output=True, text=True,
                            cwd=project, env=user_env(home))
    assert broken.returncode == 1 and "which does not exist" in broken.stdout, broken.stdout
    done = installer(project, home)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"Repairing {project / '.venv'}" in done.stdout
    assert subprocess.run([str(venv_python), "-c", "import faceswap_core.worker, onnxruntime"], cwd=home).returncode == 0
    assert doctor(venv_python, home).stdout.count("FAIL") == 0 or not os.path.exists("/usr/bin/obs")


def test_readme_test_command_works_in_the_fresh_clone(clone, venv_python):
    """`bash tests/run.sh`, as the README says (extra arguments go to pytest: a small, quick selection)."""
    project, home = clone
    command = readme_setup_commands(project / "README.md")[1]
    assert command == "bash tests/run.sh"
    done = subprocess.run(["bash", "-c", f"{command} tests/installer/test_installer_config.py"], cwd=project,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, env=user_env(home), timeout=1500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(r"\b\d+ passed", done.stdout) and "failed" not in done.stdout, done.stdout[-2000:]
