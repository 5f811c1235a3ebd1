"""`faceswap doctor`: each check, healthy and broken, and the whole screen.

Worker Pythons are real: this test run's own Python (healthy), a missing path, bare
venvs without the worker's packages, a Python 3.13 venv, a venv with two ONNX Runtime
distributions. What cannot exist here is described by hand and said so: other
computers (Machine values), Windows/macOS OBS installs, the 750 MB real models (a tiny
stand-in catalog entry with its real hash).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

from faceswap_core import doctor, install_config, model_catalog
from faceswap_core.doctor import Check, ObsInstall
from faceswap_core.setup import runtime_choice, worker_venv
from faceswap_core.setup.machine import AMD, NVIDIA, Gpu, Machine
from faceswap_core.setup.worker_venv import Health

NO_GPU = Machine("linux", "x86_64", ())
RTX = Machine("linux", "x86_64", (Gpu(NVIDIA, "NVIDIA GeForce RTX 3060", "550.54"),))


@pytest.fixture(scope="module")
def healthy():
    """This test run's own Python has the worker's packages and CPU onnxruntime (tests/run.sh installs them)."""
    health = worker_venv.probe(sys.executable)
    if "onnxruntime" in health.broken or not health.ort:
        pytest.skip("the test venv has no onnxruntime (tests/run.sh installs the [neural] extra)")
    return health


def bare_venv(folder: Path, python: str = sys.executable) -> Path:
    subprocess.run([python, "-m", "venv", "--without-pip", str(folder)], check=True)
    return worker_venv.venv_python(folder)


def add_fake_distribution(venv_python: Path, name: str, version: str) -> None:
    """A dist-info folder is what importlib.metadata (and pip) see as an installed distribution."""
    site = subprocess.run([str(venv_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    info = Path(site) / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


# ---- the worker's Python and packages ------------------------------------------------------

def test_a_healthy_worker_passes_every_worker_check(healthy):
    python = sys.executable
    for check in (doctor.check_worker_python(healthy, python), doctor.check_worker_packages(healthy, python),
                  doctor.check_onnxruntime(healthy, python)):
        assert check.ok is True, check
    assert "CPU" in doctor.check_onnxruntime(healthy, python).what


def test_a_worker_python_that_does_not_start(tmp_path):
    python = str(tmp_path / "gone" / "bin" / "python")
    health = worker_venv.probe(python)
    assert not health.runs
    for check in (doctor.check_worker_python(health, python), doctor.check_worker_packages(health, python),
                  doctor.check_onnxruntime(health, python)):
        assert check.ok is False and "install.py" in check.fix
    assert "does not start" in doctor.check_worker_python(health, python).what


def test_a_worker_without_its_packages(tmp_path):
    python = bare_venv(tmp_path / "venv")
    health = worker_venv.probe(python)
    assert health.runs and doctor.check_worker_python(health, str(python)).ok is True
    packages = doctor.check_worker_packages(health, str(python))
    assert packages.ok is False and "numpy" in packages.what and "cv2" in packages.what
    assert "reinstalls" in packages.fix
    missing_runtime = doctor.check_onnxruntime(health, str(python))
    assert missing_runtime.ok is None and "neural engine is unavailable" in missing_runtime.what


def test_a_worker_on_an_unsupported_python(tmp_path):
    newer = next((c for c in [shutil.which("python3.13"), *glob.glob(os.path.expanduser("~/.pyenv/versions/3.13*/bin/python3"))]
                  if c and subprocess.run([c, "-c", "pass"], capture_output=True).returncode == 0), None)
    if newer is None:
        pytest.skip("no working python3.13 on this machine")
    python = bare_venv(tmp_path / "venv313", newer)
    check = doctor.check_worker_python(worker_venv.probe(python), str(python))
    assert check.ok is False and "3.13" in check.what and "3.10-3.12" in check.what


def test_two_onnxruntime_packages_are_named_with_the_uninstall_command(tmp_path):
    python = bare_venv(tmp_path / "venv")
    add_fake_distribution(python, "onnxruntime", "1.20.0")
    add_fake_distribution(python, "onnxruntime-gpu", "1.20.0")
    check = doctor.check_onnxruntime(worker_venv.probe(python), str(python))
    assert check.ok is False and "shadow each other" in check.what
    assert check.fix.startswith(f"run: {python} -m pip uninstall -y onnxruntime onnxruntime-gpu")


def test_an_onnxruntime_that_does_not_load():
    health = Health(True, (3, 11, 7), {"onnxruntime": "ImportError: libcudnn.so.9: cannot open"},
                    (("onnxruntime-gpu", "1.22.0"),))
    check = doctor.check_onnxruntime(health, "python")
    assert check.ok is False and "libcudnn" in check.what


# ---- GPU and package ------------------------------------------------------------------------

def test_gpu_check_on_this_cpu_machine(healthy):
    check = doctor.check_gpu(NO_GPU, healthy, runtime_choice.choose)
    assert check.ok is True and "CPU is used" in check.what


def test_an_nvidia_gpu_with_the_cpu_package_says_run_the_installer(healthy):
    """The computer is described by hand (no NVIDIA GPU here); the venv is real."""
    check = doctor.check_gpu(RTX, healthy, runtime_choice.choose)
    assert check.ok is False and "onnxruntime-gpu" in check.what and "install.py again" in check.fix


def test_a_deliberate_cpu_choice_on_an_nvidia_machine_is_accepted(healthy):
    """The installer's --runtime cpu (recorded in the config) is what the doctor then expects."""
    check = doctor.check_gpu(RTX, healthy, runtime_choice.choose, "cpu")
    assert check.ok is True and "you asked for --runtime cpu" in check.what


def test_a_gpu_package_without_its_provider_is_reported():
    health = Health(True, (3, 11, 7), {}, (("onnxruntime-directml", "1.20.0"),), ("CPUExecutionProvider",))
    check = doctor.check_gpu(Machine("windows", "x86_64", (Gpu(AMD, "AMD Radeon RX 6600"),)), health,
                             runtime_choice.choose)
    assert check.ok is False and "DmlExecutionProvider" in check.what and "--upgrade" in check.fix
    working = Health(True, (3, 11, 7), {}, (("onnxruntime-directml", "1.20.0"),),
                     ("DmlExecutionProvider", "CPUExecutionProvider"))
    assert doctor.check_gpu(Machine("windows", "x86_64", (Gpu(AMD, "AMD Radeon"),)), working,
                            runtime_choice.choose).ok is True


def test_no_runtime_at_all_is_optional_on_cpu_but_broken_with_a_gpu(tmp_path):
    health = worker_venv.probe(bare_venv(tmp_path / "venv"))
    assert doctor.check_gpu(NO_GPU, health, runtime_choice.choose).ok is None
    assert doctor.check_gpu(RTX, health, runtime_choice.choose).ok is False


# ---- models -----------------------------------------------------------------------------

def test_models_not_installed_are_optional(tmp_path):
    check = doctor.check_models(str(tmp_path))
    assert check.ok is None and "--models yes" in check.fix


def test_a_damaged_model_is_named_with_the_reinstall_command(tmp_path):
    (tmp_path / "inswapper_128.onnx").write_bytes(b"truncated")
    check = doctor.check_models(str(tmp_path))
    assert check.ok is False and "inswapper_128.onnx wrong size" in check.what
    assert "faceswap models install --force" in check.fix and "inswapper_128" in check.fix


def test_verified_models_pass_and_a_corrupt_one_fails(tmp_path, monkeypatch):
    """A tiny stand-in catalog entry (the real files are 750 MB and cannot be downloaded here)."""
    content = b"stand-in model" * 100
    stand_in = model_catalog.ModelFile("tiny", "tiny.onnx", len(content), hashlib.sha256(content).hexdigest(),
                                       "MIT", ("neural",), "swapper", "stand-in")
    monkeypatch.setattr(model_catalog, "resolve_names", lambda names: [stand_in])
    (tmp_path / "tiny.onnx").write_bytes(content)
    assert doctor.check_models(str(tmp_path)).ok is True
    (tmp_path / "tiny.onnx").write_bytes(content[:-1] + b"X")
    corrupt = doctor.check_models(str(tmp_path))
    assert corrupt.ok is False and "corrupt" in corrupt.what
    assert doctor.check_models(str(tmp_path), full=False).ok is True   # --quick: sizes only


# ---- OBS ---------------------------------------------------------------------------------

@pytest.mark.parametrize("version, python", [((27, 1), None), ((28, 0), (3, 10)), ((29, 0, 2), (3, 10)),
                                             ((29, 1, 3), (3, 11)), ((30, 0), (3, 11)), ((30, 1, 2), (3, 12)),
                                             ((30, 2), (3, 12)), ((31, 0), (3, 12)), ((32, 2, 2), (3, 12))])
def test_which_python_each_obs_version_loads(version, python):
    assert doctor.obs_python_limit(version) == python


def test_obs_is_found_on_this_machine_when_installed():
    if not os.path.exists("/usr/bin/obs"):
        pytest.skip("OBS Studio is not installed here (tests/run.sh installs Debian's obs-studio as root)")
    found = doctor.find_obs()
    assert found is not None and found.version is not None and found.version[0] >= 28
    assert doctor.check_obs(found).ok is True
    linux = doctor.linux_obs_python()
    assert linux is not None and linux[0].startswith("3.")
    assert doctor.check_obs_python(found, "linux", linux).ok is True


def test_obs_not_found():
    nothing = dict(which=lambda name: None, exists=lambda path: False)
    assert doctor.find_obs("linux", **nothing) is None
    for platform_name in ("linux", "win32", "darwin"):
        assert doctor.find_obs(platform_name, **nothing) is None
        check = doctor.check_obs(None, platform_name)
        assert check.ok is False and "install OBS Studio 28 or newer" in check.fix


def test_obs_installs_on_windows_and_macos_are_found_in_their_usual_places():
    """Windows and macOS do not exist here: their install paths and version sources are stand-ins."""
    windows = doctor.find_obs("win32", exists=lambda path: path.endswith("obs64.exe"),
                              windows_version=lambda: "30.1.2")
    assert windows.path.endswith(os.path.join("obs-studio", "bin", "64bit", "obs64.exe"))
    assert windows.version == (30, 1, 2)
    mac = doctor.find_obs("darwin", exists=lambda path: path == "/Applications/OBS.app", mac_version=lambda app: "31.0.0")
    assert (mac.path, mac.version) == ("/Applications/OBS.app", (31, 0, 0))
    flatpak = doctor.find_obs("linux", which=lambda n: None, exists=lambda p: p.startswith("/var/lib/flatpak"))
    assert flatpak.kind == "flatpak"


def test_old_obs_and_obs_python_on_windows():
    old = doctor.check_obs(ObsInstall("obs64.exe", (27, 2, 4)))
    assert old.ok is False and "update OBS Studio to 28" in old.fix
    obs30 = ObsInstall("obs64.exe", (30, 0, 2))   # 29.1-30.0 load up to 3.11
    only_new = doctor.check_obs_python(obs30, "win32", installed=[(3, 12), (3, 13)])
    assert only_new.ok is False and "up to 3.11" in only_new.what and "install Python 3.11" in only_new.fix
    assert "Python Settings" in only_new.fix
    not_chosen = doctor.check_obs_python(obs30, "win32", installed=[(3, 10), (3, 11), (3, 13)])
    assert not_chosen.ok is None and "3.11" in not_chosen.what and "Python Settings" in not_chosen.fix


def write_obs_ini(config_dir: Path, name: str, python_path: str) -> None:
    """OBS's settings file as it saves the Python Settings choice (Windows path style)."""
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / name).write_text("\ufeff[General]\nFirstRun=false\n\n[Python]\nPath64bit=" + python_path + "\n",
                                   encoding="utf-8")


def test_the_python_chosen_in_obs_settings_is_checked_against_the_obs_version(tmp_path):
    """Windows and macOS OBS settings files are written here by hand in OBS's format."""
    config_dir = tmp_path / "obs-studio"
    assert doctor.obs_python_setting(config_dir) is None
    write_obs_ini(config_dir, "global.ini", "C:/Users/me/AppData/Local/Programs/Python/Python313")
    chosen = doctor.obs_python_setting(config_dir)
    assert chosen == "C:/Users/me/AppData/Local/Programs/Python/Python313"
    too_new = doctor.check_obs_python(ObsInstall("obs64.exe", (30, 2, 3)), "win32", chosen=chosen)
    assert too_new.ok is False and "names Python 3.13" in too_new.what and "up to 3.12" in too_new.what
    assert "install Python 3.12" in too_new.fix
    write_obs_ini(config_dir, "user.ini", "C:/Users/me/AppData/Local/Programs/Python/Python312")   # OBS 31+
    fine = doctor.check_obs_python(ObsInstall("obs64.exe", (31, 0)), "win32", chosen=doctor.obs_python_setting(config_dir))
    assert fine.ok is True and "Python 3.12" in fine.what
    mac = doctor.check_obs_python(ObsInstall("/Applications/OBS.app", (29, 0, 2)), "darwin",
                                  chosen="/Library/Frameworks/Python.framework/Versions/3.11")
    assert mac.ok is False and "names Python 3.11" in mac.what and "up to 3.10" in mac.what


@pytest.mark.parametrize("path, version", [("C:/Python310", (3, 10)), ("C:\\Program Files\\Python312", (3, 12)),
                                           ("/Library/Frameworks/Python.framework/Versions/3.11", (3, 11)),
                                           ("/opt/homebrew/opt/python@3.12/Frameworks/Python.framework", (3, 12)),
                                           ("D:/tools/py", None)])
def test_python_version_from_an_install_path(path, version):
    assert doctor.python_version_of_path(path) == version


def test_linux_obs_without_python_scripting(tmp_path):
    assert doctor.linux_obs_python([str(tmp_path)]) is None
    check = doctor.check_obs_python(ObsInstall("/usr/bin/obs", (29, 0)), "linux", None)
    assert check.ok is False and "sudo apt install obs-studio" in check.fix
    (tmp_path / "_obspython.so").write_bytes(b"\x7fELF...libpython3.12.so.1.0\x00...")
    assert doctor.linux_obs_python([str(tmp_path)]) == ("3.12", str(tmp_path / "_obspython.so"))


# ---- config, script, the whole screen -------------------------------------------------------

def test_config_checks(tmp_path):
    path = str(tmp_path / "obs-faceswap.json")
    missing = doctor.check_config(path, None)
    assert missing.ok is False and "install.py" in missing.fix
    with_venv = doctor.check_config(path, None, "/project/.venv/bin/python")
    assert with_venv.ok is None and "falls back to /project/.venv/bin/python" in with_venv.what
    venv_python = tmp_path / "project" / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text("")
    assert doctor.fallback_worker_python(tmp_path / "project") == str(venv_python)
    assert doctor.fallback_worker_python(tmp_path) is None
    install_config.write_config({"worker_python": str(tmp_path / "gone")}, path)
    stale = doctor.check_config(path, install_config.configured_worker_python(path))
    assert stale.ok is False and "does not exist" in stale.what
    install_config.write_config({"worker_python": sys.executable}, path)
    assert doctor.check_config(path, install_config.configured_worker_python(path)).ok is True


def test_script_path_is_shown():
    check = doctor.check_script()
    assert check.ok is True and str(ROOT / "obs_faceswap.py") in check.what
    assert doctor.check_script(Path("/nonexistent")).ok is False


def test_render_marks_each_line_and_shows_fixes():
    text = doctor.render([Check(True, "works"), Check(False, "broken", "do this"), Check(None, "optional", "add that")])
    assert text.splitlines() == ["obs-faceswap doctor", "  ok    works", "  FAIL  broken", "        fix: do this",
                                 "  --    optional", "        add: add that",
                                 "1 problem(s): do each 'fix' above, then run faceswap doctor again."]
    assert doctor.render([Check(True, "works")]).endswith("All good.")


def test_faceswap_doctor_command_with_a_broken_config(tmp_path):
    config = tmp_path / "obs-faceswap.json"
    install_config.write_config({"worker_python": str(tmp_path / "gone" / "python")}, str(config))
    done = subprocess.run([sys.executable, "-m", "faceswap_core.cli", "doctor", "--config", str(config),
                           "--dir", str(tmp_path / "models")], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "obs-faceswap doctor"
    assert any(line.startswith("  FAIL") and "does not exist" in line for line in lines)
    assert any(line.strip().startswith("fix: run python") and "install.py" in line for line in lines)
    assert any("Script to add in OBS" in line for line in lines)


def write_scene_collection(config_dir: Path, name: str, scripts: list[str]) -> None:
    """A scene collection as OBS saves it after Tools > Scripts > + (the part the doctor reads)."""
    scenes = config_dir / "basic" / "scenes"
    scenes.mkdir(parents=True, exist_ok=True)
    (scenes / f"{name}.json").write_text(json.dumps({"name": name, "sources": [], "modules": {
        "scripts-tool": [{"path": path, "settings": {}} for path in scripts]}}))


def test_script_added_in_obs_or_not(tmp_path):
    config_dir = tmp_path / "obs-studio"
    missing = doctor.check_script_loaded(config_dir)
    assert missing.ok is None and str(ROOT / "obs_faceswap.py") in missing.fix
    write_scene_collection(config_dir, "Stream", ["/opt/other/obs_faceswap.py"])
    other = doctor.check_script_loaded(config_dir)
    assert other.ok is False and "/opt/other/obs_faceswap.py (Stream)" in other.what and "Tools > Scripts > -" in other.fix
    write_scene_collection(config_dir, "Untitled", ["/x/some_other_script.lua", str(ROOT / "obs_faceswap.py")])
    loaded = doctor.check_script_loaded(config_dir)
    assert loaded.ok is True and "Untitled" in loaded.what
    (config_dir / "basic" / "scenes" / "Broken.json").write_text("{not json")
    assert doctor.check_script_loaded(config_dir).ok is True


@pytest.mark.obs
def test_doctor_reads_the_scripts_a_real_obs_saved(tmp_path, display):
    """Headless OBS (the OBS tests' own setup) loads the script and saves its scene collection
    on exit; the doctor must find the script in what OBS itself wrote."""
    from testkit.obs_app import ObsApp, ObsConfig   # tests/conftest.py skips it without obs-studio and Xvfb

    image = tmp_path / "camera.png"
    image.write_bytes(bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                                    "1f15c4890000000d49444154789c6360f8cfc0000003010100c9fe92ef"
                                    "0000000049454e44ae426082"))   # a 1x1 PNG
    app = ObsApp(ObsConfig(tmp_path, image, 64, 64, {"python": sys.executable}), display)
    try:
        app.connect()
    finally:
        app.stop()
    config_dir = tmp_path / "config" / "obs-studio"
    saved = [json.loads(path.read_text()) for path in (config_dir / "basic" / "scenes").glob("*.json")]
    assert any("quick_transitions" in data for data in saved)   # a key only OBS writes: it re-saved the file
    check = doctor.check_script_loaded(config_dir)
    assert check.ok is True, check


def test_obs_config_folder_per_system(monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", "/cfg")
    assert doctor.obs_config_dir("linux") == Path("/cfg/obs-studio")
    monkeypatch.setenv("APPDATA", "C:/Users/me/AppData/Roaming")
    assert doctor.obs_config_dir("win32") == Path("C:/Users/me/AppData/Roaming/obs-studio")
    assert doctor.obs_config_dir("darwin").parts[-3:] == ("Library", "Application Support", "obs-studio")
    flatpak = doctor.ObsInstall("/var/lib/flatpak/app/com.obsproject.Studio", None, "flatpak")
    native = doctor.ObsInstall("/usr/bin/obs", (30, 2, 3))
    assert doctor.obs_config_dir("linux", native) == Path("/cfg/obs-studio")
    assert doctor.obs_config_dir("linux", flatpak) == Path.home() / ".var/app/com.obsproject.Studio/config/obs-studio"


def test_doctor_finds_the_script_the_flatpak_obs_loads(tmp_path, monkeypatch):
    """Flatpak OBS saves its scene collections in its own ~/.var/app folder; the doctor read
    ~/.config/obs-studio and said the script was not loaded."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    scenes = tmp_path / ".var/app/com.obsproject.Studio/config/obs-studio/basic/scenes"
    scenes.mkdir(parents=True)
    script = doctor.PROJECT_ROOT / "obs_faceswap.py"
    (scenes / "Untitled.json").write_text(json.dumps({"modules": {"scripts-tool": [{"path": str(script)}]}}))
    flatpak = doctor.find_obs("linux", which=lambda name: None,
                              exists=lambda path: path == "/var/lib/flatpak/app/com.obsproject.Studio")
    assert flatpak is not None and flatpak.kind == "flatpak"
    assert doctor.check_script_loaded(doctor.obs_config_dir("linux", flatpak)).ok is True
    assert doctor.check_script_loaded(doctor.obs_config_dir("linux")).ok is None


def mac_framework(root: Path, version: str, *cpu_types: int) -> Path:
    """A python.org framework layout with `version` as Current; the library a Mach-O header."""
    import struct

    folder = root / "Python.framework" / "Versions" / version
    folder.mkdir(parents=True)
    if len(cpu_types) == 1:
        header = struct.pack("<II", 0xFEEDFACF, cpu_types[0]) + bytes(24)
    else:
        header = struct.pack(">II", 0xCAFEBABE, len(cpu_types)) + b"".join(
            struct.pack(">IIIII", cpu, 0, 0, 0, 0) for cpu in cpu_types)
    (folder / "Python").write_bytes(header)
    current = folder.parent / "Current"
    if current.is_symlink():
        current.unlink()
    current.symlink_to(version)
    return root / "Python.framework"


def test_macos_obs_up_to_31_0_1_loads_only_the_current_framework(tmp_path):
    """macOS does not exist here: the framework folder, its Current link and the Mach-O
    headers are written in python.org's layout."""
    framework = mac_framework(tmp_path, "3.13", 0x01000007, 0x0100000C)
    (framework / "Versions" / "3.12").mkdir()
    old = doctor.check_macos_python(ObsInstall("/Applications/OBS.app", (30, 2, 3)), str(framework), machine="arm64")
    assert old.ok is False and "Python 3.13" in old.what and "up to 3.12" in old.what
    assert "ln -sfn 3.12" in old.fix and "31.1" in old.fix
    new = doctor.check_macos_python(ObsInstall("/Applications/OBS.app", (31, 1, 0)), str(framework), machine="arm64")
    assert new.ok is True and "3.13" in new.what


def test_macos_python_of_another_processor_than_obs(tmp_path):
    framework = mac_framework(tmp_path, "3.12", 0x01000007)           # an Intel-only install
    app = tmp_path / "OBS.app"
    (app / "Contents" / "MacOS").mkdir(parents=True)
    import struct
    (app / "Contents" / "MacOS" / "OBS").write_bytes(struct.pack("<II", 0xFEEDFACF, 0x0100000C) + bytes(24))
    check = doctor.check_macos_python(ObsInstall(str(app), (32, 0, 0)), str(framework))
    assert check.ok is False and "x86_64 only" in check.what and "arm64" in check.what
    assert "universal2" in check.fix
    mac_framework(tmp_path / "u", "3.12", 0x01000007, 0x0100000C)
    fine = doctor.check_macos_python(ObsInstall(str(app), (32, 0, 0)), str(tmp_path / "u" / "Python.framework"))
    assert fine.ok is True
    assert doctor.check_macos_python(ObsInstall(str(app), (32, 0, 0)), str(tmp_path / "none")) is None


def test_flatpak_obs_gets_the_flatpak_advice():
    check = doctor.check_obs_python(ObsInstall("/var/lib/flatpak/app/com.obsproject.Studio", None, "flatpak"), "linux")
    assert check.ok is True and "flatpak-spawn" in check.what and "not under /usr" in check.what


def test_the_neural_engines_packages_are_checked():
    """An install without onnx (the installer left out the neural extra) stopped at
    `--engine neural` with "needs the onnx package", and the doctor said all was well."""
    without_onnx = Health(True, (3, 11, 7), {"onnx": "ModuleNotFoundError: No module named 'onnx'"},
                          (("onnxruntime", "1.20.1"),), ("CPUExecutionProvider",))
    check = doctor.check_engine_packages(without_onnx, "neural")
    assert check.ok is False and "neural engine cannot start" in check.what and "onnx" in check.what
    assert "install.py" in check.fix
    assert doctor.check_worker_packages(without_onnx, "python").ok is True   # said once, by the engine's check
    whole = Health(True, (3, 11, 7), {}, (("onnxruntime", "1.20.1"),), ("CPUExecutionProvider",))
    assert doctor.check_engine_packages(whole, "neural").ok is True


def test_the_installer_installs_the_neural_engines_extra_without_a_second_runtime():
    """The extra the installer asks for holds what the neural engine needs but no ONNX
    Runtime package (the installer picks that one for the graphics card)."""
    import tomllib

    extras = tomllib.loads((doctor.PROJECT_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    installed = extras[worker_venv.INSTALLED_EXTRA]
    assert any(requirement.startswith("onnx>") for requirement in installed)
    assert not any(requirement.startswith("onnxruntime") for requirement in installed)
    assert f"obs-faceswap[{worker_venv.INSTALLED_EXTRA}]" in extras["neural"]
    assert set(worker_venv.ENGINE_MODULES["neural"]) <= set(worker_venv.WORKER_MODULES)
    assert worker_venv.editable_project("/a b/obs-faceswap") == f"/a b/obs-faceswap[{worker_venv.INSTALLED_EXTRA}]"
