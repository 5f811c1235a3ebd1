"""A real NVIDIA Triton Inference Server for tests and benchmarks: the one nvidia-pytriton
bundles (Triton 2.51.0 with only its Python backend), in its own venv kept outside the
clone, run directly on a normal model repository.

    python -m testkit.triton_server build     # what tests/run.sh does: the venv, once

Each server listens on 127.0.0.1 at a free port, in its own process group (so SIGKILL,
SIGSTOP and SIGCONT reach the server and its Python-backend stubs together), with its
own shared-memory prefix, removed from /dev/shm when it is closed. Not for users: a GPU
box runs the official container (faceswap triton-repo writes its start-server.sh).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from faceswap_core.remote import served

VENV = Path(os.environ.get("FACESWAP_TRITON_VENV", "/var/cache/obs-faceswap/triton-venv"))
# The server's Python: what the Python-backend model.py imports, and nothing of this project.
PACKAGES = ("nvidia-pytriton==0.7.0", "onnxruntime==1.20.1", "numpy<2")
START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class TritonInstall:
    python: Path
    server_dir: Path     # pytriton's tritonserver folder: bin/, backends/python/, python_backend_stubs/
    libs: Path           # nvidia_pytriton.libs: the server's own shared libraries
    libpython: Path      # the folder holding the venv's libpython, which the stub links to
    python_version: str


def stamp_file() -> Path:
    return VENV / "faceswap-packages.txt"


def find_install() -> TritonInstall | None:
    """The venv's server, or None when it was not built (or built from other packages)."""
    python = VENV / "bin" / "python"
    if not python.exists() or not stamp_file().exists() or stamp_file().read_text() != "\n".join(PACKAGES):
        return None
    probe = subprocess.run([str(python), "-c", "import sys, sysconfig, pytriton; print(sysconfig.get_config_var("
                            "'LIBDIR')); print(f'{sys.version_info[0]}.{sys.version_info[1]}'); "
                            "print(pytriton.__path__[0])"], capture_output=True, text=True)
    if probe.returncode:
        return None
    libdir, version, package = probe.stdout.split()
    server_dir = Path(package) / "tritonserver"
    return TritonInstall(python, server_dir, Path(package).parent / "nvidia_pytriton.libs", Path(libdir), version)


def skip_reason() -> str:
    """'' when tests can start a server; else why not and what builds it."""
    if sys.platform != "linux":
        return "the bundled Triton server runs on Linux only"
    if find_install() is None:
        return f"no Triton venv at {VENV}: run python -m testkit.triton_server build (tests/run.sh does)"
    return ""


def build(log=print) -> Path:
    """The venv with the bundled server (idempotent: kept while PACKAGES are the same)."""
    if find_install() is not None:
        return VENV
    log(f"== Triton server: a venv at {VENV} with {' '.join(PACKAGES)}")
    shutil.rmtree(VENV, ignore_errors=True)
    VENV.parent.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}   # nothing of this project
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, env=env)
    subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", *PACKAGES], check=True, env=env)
    stamp_file().write_text("\n".join(PACKAGES))
    return VENV


def start_script_options(out: Path) -> list[str]:
    """The tritonserver options in a repository's start-server.sh (written for the container,
    its folder mounted at triton_repo.MOUNT), with that folder's path here: so the tests run
    the very options a GPU box gets. The repository itself is left out (TritonServer's own)."""
    from faceswap_core.remote.triton_repo import MOUNT

    text = (Path(out) / "start-server.sh").read_text()
    words = text.split(" tritonserver ", 1)[1].split()
    return [word.replace(MOUNT, str(out)) for word in words
            if word.startswith("--") and not word.startswith("--model-repository=")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TritonServer:
    """One server on a repository's models folder; start() again restarts it on the same port."""

    def __init__(self, models: str | Path, *, key: str = "", tls: tuple[Path, Path] | None = None,
                 port: int | None = None, options: list[str] | tuple = ()):
        install = find_install()
        if install is None:
            raise RuntimeError(skip_reason())
        self.install = install
        self.models = Path(models)
        self.key = key
        self.tls = tls
        self.options = list(options)    # more of tritonserver's options (start_script_options)
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.home = Path(tempfile.mkdtemp(prefix="faceswap-triton-"))
        self.shm_prefix = f"fstest{uuid.uuid4().hex[:8]}_"
        self.process: subprocess.Popen | None = None
        self._backends()

    def _backends(self) -> None:
        """A backends folder with the Python backend and the stub built for the venv's Python."""
        folder = self.home / "backends" / "python"
        folder.mkdir(parents=True)
        for item in (self.install.server_dir / "backends" / "python").iterdir():
            if item.is_file():
                shutil.copy2(item, folder / item.name)
        stub = self.install.server_dir / "python_backend_stubs" / self.install.python_version / "triton_python_backend_stub"
        shutil.copy2(stub, folder / stub.name)

    def command(self) -> list[str]:
        options = [f"--model-repository={self.models}", f"--backend-directory={self.home / 'backends'}",
                   "--grpc-address=127.0.0.1", f"--grpc-port={self.port}", "--allow-http=false",
                   "--allow-metrics=false", "--exit-timeout-secs=2",
                   f"--backend-config=python,shm-region-prefix-name={self.shm_prefix}"]
        if self.tls:
            options += ["--grpc-use-ssl=true", f"--grpc-server-cert={self.tls[0]}", f"--grpc-server-key={self.tls[1]}"]
        if self.key:
            options.append(f"--grpc-restricted-protocol={served.RESTRICTED}:{served.KEY_NAME}={self.key}")
        return [str(self.install.server_dir / "bin" / "tritonserver"), *options, *self.options]

    def start(self) -> "TritonServer":
        self.kill()
        env = dict(os.environ, PATH=f"{self.install.python.parent}:{os.environ.get('PATH', '')}",
                   LD_LIBRARY_PATH=f"{self.install.libs}:{self.install.libpython}")
        env.pop("PYTHONPATH", None)    # the stub's Python is the server venv's, not the project's
        self.log = self.home / "server.log"
        begun = self.log.stat().st_size if self.log.exists() else 0   # a restart appends: read its own lines only
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Triton server exited ({self.process.returncode}):\n{self.tail()}")
            if f"Started GRPCInferenceService at 127.0.0.1:{self.port}".encode() in self.log.read_bytes()[begun:]:
                return self
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"the Triton server did not start in {START_TIMEOUT_S:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def signal(self, number: int) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, number)

    def kill(self) -> None:
        """SIGKILL to the whole group (the server and its stubs), then its shared memory gone."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self.process = None
        for region in Path("/dev/shm").glob(f"{self.shm_prefix}*"):
            region.unlink(missing_ok=True)

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> "TritonServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["build"])
    parser.parse_args(argv)
    if sys.platform != "linux":
        print("== the bundled Triton server runs on Linux only: its tests will skip")
        return 0
    build()
    return 0


if __name__ == "__main__":
    sys.exit(main())
