"""Runs the real OBS application headless with a generated config that loads the script.

    config = ObsConfig(root, image=..., filter_settings={...}); app = ObsApp(config, display)

Every run writes a fresh config under its own XDG_CONFIG_HOME (OBS saves its state on
exit, so a reused config would carry the last run's changes). obs-websocket 5 is on,
without auth, on a free port: OBS 29 reads its settings from global.ini, OBS 30 on from
plugin_config/obs-websocket/config.json; both are written. `install` picks which OBS
(testkit.obs_installs): this machine's, or a newer one in its chroot.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from testkit import REPO
from testkit.obs_installs import HOST, ObsInstall
NAME = "FaceSwapTest"
SCENE = "Scene"
CAMERA = "Camera"
FILTER = "Face Swap"
MICROPHONE = "Mic"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ObsConfig:
    root: Path
    image: Path
    width: int
    height: int
    filter_settings: dict = field(default_factory=dict)
    recordings: Path | None = None
    port: int = field(default_factory=free_port)
    extra_cameras: dict = field(default_factory=dict)   # name -> that source's Face Swap settings
    camera_clip: Path | None = None       # the cameras play this video (media sources, async) instead of `image`
    microphone_offset_ns: int | None = None   # a source MICROPHONE with this sync offset (it carries audio)
    camera_hotkeys: dict = field(default_factory=dict)   # CAMERA's saved hotkey bindings, as OBS saves them

    def write(self) -> Path:
        """XDG_CONFIG_HOME for this run."""
        base = self.root / "config" / "obs-studio"
        profile = base / "basic" / "profiles" / NAME
        scenes = base / "basic" / "scenes"
        for folder in (profile, scenes):
            folder.mkdir(parents=True, exist_ok=True)
        websocket = base / "plugin_config" / "obs-websocket"
        websocket.mkdir(parents=True, exist_ok=True)
        (websocket / "config.json").write_text(json.dumps({
            "first_load": False, "server_enabled": True, "server_port": self.port, "alerts_enabled": False,
            "auth_required": False, "server_password": ""}))
        recordings = self.recordings or (self.root / "recordings")
        recordings.mkdir(parents=True, exist_ok=True)
        (base / "global.ini").write_text(
            "[General]\nFirstRun=false\nLastVersion=486539266\nEnableAutoUpdates=false\n"
            "ConfirmOnExit=false\nWarnBeforeStartingStream=false\nWarnBeforeStoppingRecord=false\n\n"
            f"[Basic]\nProfile={NAME}\nProfileDir={NAME}\nSceneCollection={NAME}\nSceneCollectionFile={NAME}\n\n"
            "[OBSWebSocket]\nFirstLoad=false\nServerEnabled=true\n"
            f"ServerPort={self.port}\nAlertsEnabled=false\nAuthRequired=false\nServerPassword=\n"
        )
        (profile / "basic.ini").write_text(
            f"[General]\nName={NAME}\n\n"
            f"[Video]\nBaseCX={self.width}\nBaseCY={self.height}\nOutputCX={self.width}\nOutputCY={self.height}\n"
            "FPSType=0\nFPSCommon=30\nScaleType=bilinear\nColorFormat=NV12\nColorSpace=709\nColorRange=Partial\n\n"
            "[Output]\nMode=Simple\n\n"
            f"[SimpleOutput]\nFilePath={recordings}\nRecFormat=mp4\nRecFormat2=mp4\nRecQuality=Stream\nStreamEncoder=x264\n"
            "RecEncoder=x264\nVBitrate=4000\nPreset=ultrafast\nFileNameWithoutSpace=true\n\n"
            "[Audio]\nSampleRate=48000\nChannelSetup=Mono\n"
        )
        cameras = {CAMERA: dict(self.filter_settings), **self.extra_cameras}
        in_scene = [*cameras, *([MICROPHONE] if self.microphone_offset_ns is not None else [])]
        items = [{
            "name": name, "id": index + 1, "visible": True, "locked": False, "rot": 0.0,
            "pos": {"x": 0.0, "y": 0.0}, "scale": {"x": 1.0, "y": 1.0}, "align": 5,
            "bounds_type": 0, "bounds_align": 0, "bounds": {"x": 0.0, "y": 0.0},
            "crop_left": 0, "crop_top": 0, "crop_right": 0, "crop_bottom": 0,
        } for index, name in enumerate(in_scene)]
        collection = {
            "name": NAME,
            "current_scene": SCENE,
            "current_program_scene": SCENE,
            "scene_order": [{"name": SCENE}],
            "sources": [
                {
                    "id": "scene", "versioned_id": "scene", "name": SCENE, "enabled": True,
                    "settings": {"id_counter": len(items), "custom_size": False, "items": items},
                },
                *({
                    **self._camera_source(), "name": name, "enabled": True,
                    **({"hotkeys": self.camera_hotkeys} if name == CAMERA and self.camera_hotkeys else {}),
                    "filters": [{
                        "id": "obs_faceswap_filter", "versioned_id": "obs_faceswap_filter",
                        "name": FILTER, "enabled": True, "settings": settings,
                    }],
                } for name, settings in cameras.items()),
                *([{"id": "ffmpeg_source", "versioned_id": "ffmpeg_source", "name": MICROPHONE, "enabled": True,
                    "settings": {}, "sync": self.microphone_offset_ns}] if self.microphone_offset_ns is not None else []),
            ],
            "modules": {"scripts-tool": [{"path": str(REPO / "obs_faceswap.py"), "settings": {}}]},
            "transitions": [],
            "current_transition": "Fade",
            "transition_duration": 300,
            "preview_locked": False,
        }
        (scenes / f"{NAME}.json").write_text(json.dumps(collection, indent=1))
        return self.root / "config"


    def saved_collection(self) -> dict:
        """The scene collection as OBS left it (it saves it on exit)."""
        return json.loads((self.root / "config" / "obs-studio" / "basic" / "scenes" / f"{NAME}.json").read_text())

    def _camera_source(self) -> dict:
        if self.camera_clip is not None:
            return {"id": "ffmpeg_source", "versioned_id": "ffmpeg_source",
                    "settings": {"local_file": str(self.camera_clip), "looping": True, "is_local_file": True,
                                 "hw_decode": False}}
        return {"id": "image_source", "versioned_id": "image_source", "settings": {"file": str(self.image)}}


class ObsApp:
    """The OBS process and a websocket client; stop() sends SIGINT like a user's Ctrl+C."""

    def __init__(self, config: ObsConfig, display: str, log: Path | None = None, install: ObsInstall = HOST):
        self.config = config
        self.install = install
        xdg = config.write()
        env = dict(os.environ, DISPLAY=display, XDG_CONFIG_HOME=str(xdg), LIBGL_ALWAYS_SOFTWARE="1",
                   QT_QPA_PLATFORM="xcb")
        for key in ("PYTHONPATH", "PYTHONHOME", "QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR", "QT_PLUGIN_PATH"):
            env.pop(key, None)   # importing cv2 in the test process points Qt at its own plugins
        self.log_path = log or (config.root / "obs.log")
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            install.command(["obs", "--disable-shutdown-check", "--multi", "--disable-updater"]),
            env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=str(config.root),
        )
        self.client = None

    def connect(self, timeout: float = 60.0):
        import obsws_python as obsws

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"OBS exited with {self.process.returncode}; log: {self.log_tail()}")
            try:   # wait for the port first: the client logs a traceback per refused try
                socket.create_connection(("127.0.0.1", self.config.port), timeout=1).close()
            except OSError:
                time.sleep(0.2)
                continue
            self.client = obsws.ReqClient(host="127.0.0.1", port=self.config.port, password="", timeout=30)
            break
        else:
            raise RuntimeError(f"obs-websocket did not answer; log: {self.log_tail()}")
        # obs-websocket 5.5 (OBS 30 on) listens before OBS has loaded its scenes and answers
        # 207 "not ready" until then; 5.0 (OBS 29) starts listening only once they are loaded.
        while True:
            try:
                self.client.get_version()
                return self.client
            except obsws.error.OBSSDKRequestError as error:
                if error.code != 207 or time.monotonic() > deadline:
                    raise
            time.sleep(0.2)

    def screenshot(self, source: str = CAMERA):
        """The source as OBS renders it (with its filters), BGR uint8."""
        import base64

        import cv2
        import numpy as np

        reply = self.client.get_source_screenshot(source, "png", self.config.width, self.config.height, -1)
        data = base64.b64decode(reply.image_data.split(",", 1)[1])
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)

    def stop(self, timeout: float = 30.0) -> int:
        if self.client is not None:
            try:
                self.client.base_client.ws.close()
            except Exception:
                pass
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode

    def memory_leaks(self) -> int | None:
        """OBS's "Number of memory leaks" from its newest log file (after it exited)."""
        import re

        logs = sorted((self.config.root / "config" / "obs-studio" / "logs").glob("*.txt"), key=os.path.getmtime)
        for path in reversed(logs):
            found = re.findall(r"Number of memory leaks: (\d+)", path.read_text(errors="replace"))
            if found:
                return int(found[-1])
        return None

    def obs_log(self) -> str:
        """OBS's own log file of this run (its logs folder), as text so far."""
        logs = sorted((self.config.root / "config" / "obs-studio" / "logs").glob("*.txt"), key=os.path.getmtime)
        return logs[-1].read_text(errors="replace") if logs else ""

    def log_tail(self, size: int = 3000) -> str:
        try:
            return self.log_path.read_bytes()[-size:].decode("utf-8", "replace")
        except OSError:
            return ""


SWAP_TIMEOUT_S = 40.0


def wait_swapped(app, judge, source_face, original, timeout=SWAP_TIMEOUT_S):
    """The first screenshot of the camera that shows the swap; fails after `timeout`."""
    from testkit import helpers

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shot = app.screenshot()
        if helpers.is_swapped(judge, source_face, original, shot):
            return shot
        time.sleep(0.3)
    raise AssertionError(f"no swapped screenshot within {timeout} s; OBS log: {app.log_tail()}")


def is_original(shot, original) -> bool:
    """The screenshot is the camera's own frame (to the rounding of a screenshot)."""
    import numpy as np

    difference = np.abs(shot.astype(int) - original.astype(int))
    return bool(difference.mean() < 1.0 and np.percentile(difference, 99.9) <= 8)


def assert_original(shot, original, what):
    import numpy as np

    difference = np.abs(shot.astype(int) - original.astype(int))
    assert is_original(shot, original), (
        f"{what}: the screenshot is not the original frame (mean difference {difference.mean():.2f})")
