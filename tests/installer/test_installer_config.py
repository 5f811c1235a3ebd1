"""The small settings file the installer writes and the OBS filter reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

import pytest

from faceswap_core import install_config


def test_written_config_gives_back_the_worker_python(tmp_path):
    path = str(tmp_path / "obs-faceswap.json")
    written = install_config.write_config({"worker_python": sys.executable, "venv": sys.prefix}, path)
    assert written == path
    assert json.loads(Path(path).read_text())["version"] == install_config.FORMAT_VERSION
    assert install_config.configured_worker_python(path) == sys.executable
    assert [p.name for p in tmp_path.iterdir()] == ["obs-faceswap.json"]   # no temporary file left


def test_missing_damaged_or_stale_config_means_not_configured(tmp_path):
    path = tmp_path / "obs-faceswap.json"
    assert install_config.configured_worker_python(str(path)) is None
    path.write_text("{not json")
    assert install_config.read_config(str(path)) == {}
    assert install_config.configured_worker_python(str(path)) is None
    path.write_text("[1, 2]")
    assert install_config.configured_worker_python(str(path)) is None
    install_config.write_config({"worker_python": str(tmp_path / "gone" / "python")}, str(path))
    assert install_config.configured_worker_python(str(path)) is None


def test_default_location_is_next_to_the_obs_script_and_the_environment_overrides(tmp_path, monkeypatch):
    monkeypatch.delenv(install_config.CONFIG_ENV, raising=False)
    assert install_config.config_path() == str(ROOT / "obs-faceswap.json")
    assert (ROOT / "obs_faceswap.py").is_file()
    monkeypatch.setenv(install_config.CONFIG_ENV, str(tmp_path / "other.json"))
    assert install_config.config_path() == str(tmp_path / "other.json")


def test_reader_uses_only_the_standard_library():
    """OBS's own Python has no packages: importing the reader must pull in nothing else."""
    script = ("import sys; before = set(sys.modules); import faceswap_core.install_config as c; "
              "c.configured_worker_python(); "
              "extra = [m.split('.')[0] for m in set(sys.modules) - before]; "
              "bad = sorted({m for m in extra if m not in sys.stdlib_module_names and m != 'faceswap_core'}); "
              "print(bad)")
    done = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_obs_side_uses_the_installers_config(tmp_path, monkeypatch):
    """The filter's default Worker Python (link.launch.worker_interpreter) is what the config names."""
    from faceswap_core.link import launch

    worker = tmp_path / "venv" / "bin" / "python"
    worker.parent.mkdir(parents=True)
    worker.write_text("")
    config = tmp_path / "obs-faceswap.json"
    install_config.write_config({"worker_python": str(worker)}, str(config))
    monkeypatch.setenv(install_config.CONFIG_ENV, str(config))
    monkeypatch.delenv("OBS_FACESWAP_PYTHON", raising=False)
    assert launch.worker_interpreter() == str(worker)
    worker.unlink()   # a config whose Python is gone: fall back, never hand OBS a missing program
    assert launch.worker_interpreter() != str(worker)


def test_a_config_an_antivirus_holds_is_written_once_it_lets_go(tmp_path, monkeypatch):
    """Windows refuses os.replace over a file another program has open (an antivirus reading
    it): the installer failed with a bare PermissionError. Simulated: while 'held', the file
    cannot be replaced, as on Windows."""
    import threading

    from testkit import platform_sims

    config = tmp_path / "obs-faceswap.json"
    install_config.write_config({"worker_python": "/old/python"}, str(config))
    held = platform_sims.files_undeletable_while_open(monkeypatch)
    held.add(str(config))
    threading.Timer(0.5, held.clear).start()          # the scanner is done after half a second
    install_config.write_config({"worker_python": "/new/python"}, str(config))
    assert install_config.read_config(str(config))["worker_python"] == "/new/python"


def test_a_config_held_for_good_gets_a_sentence_and_stays_as_it_was(tmp_path, monkeypatch):
    from faceswap_core import install_config
    from testkit import platform_sims

    config = tmp_path / "obs-faceswap.json"
    install_config.write_config({"worker_python": "/old/python"}, str(config))
    monkeypatch.setattr(install_config, "REPLACE_PATIENCE_S", 0.5)
    platform_sims.files_undeletable_while_open(monkeypatch).add(str(config))
    with pytest.raises(install_config.ConfigLocked) as error:
        install_config.write_config({"worker_python": "/new/python"}, str(config))
    assert "another program keeps it open" in error.value.strerror and "run the installer again" in error.value.strerror
    assert install_config.read_config(str(config))["worker_python"] == "/old/python"
    assert [path.name for path in tmp_path.iterdir()] == ["obs-faceswap.json"], "a temporary file was left"
