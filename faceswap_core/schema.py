"""Every setting a streamer can change, described once.

The OBS filter's properties (obs/properties.py), the command line's flags
(commands/engine_args.py), the clamping of values (`clamped`: once, where the worker or
the CLI applies the settings) and what they hand to an engine (`engine_options`) are all
generated from SETTINGS, so a
setting's range, default, label and help are written in one place. Standard library
only: the OBS side imports this module inside OBS's own Python.

`target` says where a value goes:
- "options": SwapOptions, applied live on every frame;
- "source": which photo(s) and face; a change prepares the source again;
- "engine": the engine's own construction options; a change opens the engine again;
- "output": what is laid on every finished frame (the visible label, the invisible mark);
- "obs": the OBS side acts on it itself (the worker never sees it);
- "worker": how the worker is started.
"""

from __future__ import annotations

from dataclasses import dataclass

# Engines: name -> label (faceswap_core.engines.ENGINES holds their classes; a test keeps both in step).
ENGINE_CHOICES = (("landmark", "Landmark (CPU, no download)"), ("neural", "Neural (GPU, InsightFace models)"))
DEFAULT_ENGINE = "landmark"
RUNTIME_CHOICES = (("onnxruntime", "ONNX Runtime"), ("torch", "PyTorch (the whole frame stays on the GPU)"),
                   ("triton", "Triton server (another machine's GPU)"))
SERVER_FALLBACK_CHOICES = (("pass", "Show the camera unswapped"), ("local", "Run the models here (slow without a GPU)"))
# ONNX Runtime execution providers, best first (neural/providers.py maps them to ONNX Runtime's names).
PROVIDER_CHOICES = (
    ("auto", "Automatic (the best one installed)"),
    ("tensorrt", "TensorRT (NVIDIA)"),
    ("cuda", "CUDA (NVIDIA)"),
    ("rocm", "ROCm (AMD)"),
    ("directml", "DirectML (Windows, any GPU)"),
    ("coreml", "CoreML (Apple)"),
    ("openvino", "OpenVINO (Intel)"),
    ("cpu", "CPU"),
)
# the same providers by ONNX Runtime's own names
ORT_PROVIDERS = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "directml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
DEVICE_CHOICES = (("auto", "Automatic"), ("cuda", "CUDA (NVIDIA, or AMD with ROCm PyTorch)"), ("mps", "MPS (Apple)"),
                  ("cpu", "CPU"))
PRECISION_CHOICES = (("auto", "Automatic (fp32 when installed)"), ("fp32", "fp32"), ("fp16", "fp16 (half the download)"))
MAPPING_CHOICES = (("all", "Every face"), ("reference", "Only the person in a reference photo"),
                   ("pairs", "Photo-to-person pairs"))
PIXEL_BOOST_CHOICES = (("auto", "Automatic (256 px for large faces)"), ("128", "128 px (fastest)"),
                       ("256", "256 px (4x the swap work)"), ("512", "512 px (sharpest, 16x the swap work)"))
ENHANCER_CHOICES = (("off", "Off"), ("gfpgan_1.4", "GFPGAN 1.4 (512 px)"), ("gpen_bfr_256", "GPEN-BFR 256 (fast)"),
                    ("gpen_bfr_512", "GPEN-BFR 512"))
LABEL_CORNERS = (("bottom-right", "Bottom right"), ("bottom-left", "Bottom left"), ("top-right", "Top right"),
                 ("top-left", "Top left"))
PAIR_SLOTS = 4   # photo-to-person pairs offered in OBS (the command line takes any number)
MORE_FACES = 16  # faces kept ready besides the source photo

NEURAL = ("neural",)


@dataclass(frozen=True)
class Setting:
    key: str
    kind: str          # bool int float choice text secret path file photos pairs interpreter audio model folder
    label: str
    default: object
    low: float = 0
    high: float = 0
    step: float = 1
    choices: tuple = ()        # (value, label) pairs of a "choice"
    help: str = ""
    flag: str = ""             # the command line's flag; "" = not on the command line. A bool whose
                               # default is True gets "--no-..." and stores False.
    engines: tuple = ()        # the engines that use it; () = every engine
    target: str = "options"
    when: tuple = ()           # (other key, values): used only while that setting has one of the values
    in_obs: bool = True        # shown in the OBS filter's properties
    metavar: str = ""          # the command line's placeholder for the value ("" = by kind)
    off_help: str = ""         # a "--no-..." flag's help: what turning the setting off does

    def values(self) -> tuple:
        return tuple(value for value, _ in self.choices)


SETTINGS = (
    Setting("enabled", "bool", "Enable swap", True, help="Off: the camera passes through untouched (the worker stays ready)."),
    Setting("source_photo", "path", "Source photo", "", target="source",
            help="A photo of the face to put on the camera."),
    Setting("extra_photos", "photos", "More photos of the same person", (), target="source", engines=NEURAL,
            flag="--also-source",
            help="Other photos of the same person (another angle, other light): their identities are averaged "
                 "into one. A photo that looks like someone else is left out, and the status line says so."),
    Setting("face_index", "int", "Face in the photo (0 = largest)", 0, 0, 16, 1, target="source", flag="--face-index",
            help="Which face of the source photo, 0 = the largest."),
    Setting("more_faces", "photos", "More faces to switch to", (), target="source",
            help="Other people's photos, each prepared once and kept ready: switch between them (and the source "
                 "photo, face 0) with the face in use, a hotkey or obs-websocket, without a gap."),
    Setting("face_in_use", "int", "Face in use (0 = the source photo)", 0, 0, MORE_FACES, 1, target="source",
            help="Which face is worn: 0 the source photo, 1 the first of the more faces, and so on."),
    Setting("switch_fade_ms", "int", "Cross-fade on a switch (ms)", 0, 0, 500, 10, flag="--switch-fade",
            help="A switch to another face, or the swap turned on or off, fades over this long instead of "
                 "cutting (0: cut). While a face fades into another both are swapped: twice the work for that "
                 "moment."),
    Setting("engine", "choice", "Engine", DEFAULT_ENGINE, choices=ENGINE_CHOICES, target="engine", flag="--engine",
            help="Landmark: a mesh warp on any CPU, nothing to download. Neural: insightface's models, for a GPU "
                 "(installer step 5); if a model is missing the status line says which command installs it."),
    Setting("mouth_mask", "bool", "Mouth mask (your own mouth shows)", True, flag="--no-mouth-mask",
            help="Your own mouth shows through the swap, so speech looks right.",
            off_help="Swap the mouth too: your own mouth no longer shows through (by default it does, so speech "
                     "looks right)."),
    Setting("mouth_mask_size", "float", "Mouth mask size", 1.0, 0.5, 2.5, 0.05, flag="--mouth-size",
            help="Size of the mouth region around its centre."),
    Setting("keep_eyes", "bool", "Keep my eyes (your own eyes show)", False, flag="--keep-eyes",
            help="Your own eyes always show (by default the landmark engine shows them only while you blink "
                 "or close them)."),
    Setting("keep_glasses", "bool", "Keep my glasses (their frames stay in front)", True, flag="--no-glasses",
            engines=("landmark",), help="Off: the swapped face shows no glasses.",
            off_help="Leave your glasses out: the swapped face shows none (by default their frames are drawn back "
                     "over it)."),
    Setting("keep_in_front", "bool", "Keep what is in front of my face", True, flag="--no-keep-in-front",
            help="A hand, a face mask, a cup or a microphone in front of your face stays in front of the swapped "
                 "face (nothing to download); the status line says when something is kept.",
            off_help="Swap over whatever is in front of your face (by default a hand, a mask or a cup in front of "
                     "it stays in front)."),
    Setting("in_front_sensitivity", "float", "What is in front: sensitivity", 0.5, 0.0, 1.0, 0.05,
            flag="--in-front-sensitivity",
            help="Higher keeps more: further past a hand's fingers (a blurred or fast hand stays whole), and "
                 "things less unlike your skin; lower swaps closer around them."),
    Setting("colour_correction", "bool", "Colour correction", True, flag="--no-colour",
            help="Match the swapped face to your skin and light; off keeps the photo's colours.",
            off_help="Keep the photo's own colours (by default the swapped face takes your skin's colour and light)."),
    Setting("opacity", "float", "Opacity", 1.0, 0.0, 1.0, 0.01, flag="--opacity",
            help="0: your own face; 1: fully swapped."),
    Setting("smoothing", "float", "Smoothing", 0.5, 0.0, 1.0, 0.05, flag="--smoothing",
            help="0: the face follows every movement at once; 1: steadiest, fast turns lag a little."),
    Setting("max_faces", "int", "Max faces", 4, 1, 16, 1, flag="--max-faces",
            help="How many faces of the frame are swapped, largest first."),
    Setting("pixel_boost", "choice", "Pixel boost", "auto", choices=PIXEL_BOOST_CHOICES, engines=NEURAL,
            flag="--pixel-boost",
            help="The swap at 256 or 512 px, from 4 or 16 runs of the 128 px model on interleaved pixels of a "
                 "larger crop: sharper faces that fill much of the frame, at 4 or 16 times the swap's work. "
                 "Automatic: 256 for a face over 192 pixels across, else 128; 512 only when chosen."),
    Setting("enhancer", "choice", "Face enhancer", "off", choices=ENHANCER_CHOICES, engines=NEURAL,
            flag="--enhancer",
            help="Restores detail on the swapped face (faceswap models install NAME). It runs beside the swap, on "
                 "the newest face whenever it is free, and its detail follows the face on the frames in between: "
                 "the frame rate stays the swap's own."),
    Setting("enhancer_blend", "float", "Enhancer amount", 0.8, 0.0, 1.0, 0.05, engines=NEURAL,
            flag="--enhancer-blend", when=("enhancer", ("gfpgan_1.4", "gpen_bfr_256", "gpen_bfr_512")),
            help="How much of the restored detail is laid on the face: 0 none, 1 all of it."),
    # the neural engine's own: a change opens the engine again
    Setting("runtime", "choice", "Runtime", "onnxruntime", choices=RUNTIME_CHOICES, engines=NEURAL, target="engine",
            flag="--runtime",
            help="What runs the models: ONNX Runtime (with an execution provider); PyTorch, which keeps the "
                 "whole frame on the GPU (needs the gpu extra); or a Triton server on another machine's GPU, which "
                 "gets only face crops (the README's 'Models on another machine')."),
    Setting("server", "text", "Triton server (HOST:PORT)", "", engines=NEURAL, target="engine", flag="--server",
            when=("runtime", ("triton",)), metavar="HOST:PORT",
            help="The GPU machine running Triton with the repository from 'faceswap triton-repo' (port 8001 "
                 "unless you changed it)."),
    Setting("server_key", "secret", "Server key", "", engines=NEURAL, target="engine", flag="--server-key",
            when=("runtime", ("triton",)),
            help="The key in the server's start-server.sh (faceswap-key=...); empty when the server has none."),
    Setting("server_tls", "bool", "Server uses TLS", False, engines=NEURAL, target="engine", flag="--server-tls",
            when=("runtime", ("triton",)),
            help="On for a server outside your home network (made with faceswap triton-repo --tls HOST)."),
    Setting("server_certificate", "file", "Server certificate (server.crt)", "", engines=NEURAL, target="engine",
            flag="--server-cert", when=("server_tls", (True,)),
            help="The server.crt that triton-repo --tls wrote; empty trusts the public certificate authorities."),
    Setting("server_timeout_ms", "int", "Server timeout (ms)", 150, 20, 2000, 10, engines=NEURAL, target="engine",
            flag="--server-timeout", when=("runtime", ("triton",)),
            help="How long a frame waits for the server before it is shown unswapped; the server counts as away "
                 "and is tried again every second."),
    Setting("server_fallback", "choice", "While the server is away", "pass", choices=SERVER_FALLBACK_CHOICES,
            engines=NEURAL, target="engine", flag="--server-fallback", when=("runtime", ("triton",)),
            help="Show the camera unswapped, or run the models on this PC (needs them installed; about a "
                 "second per frame on a CPU)."),
    Setting("provider", "choice", "Execution provider", "auto", choices=PROVIDER_CHOICES, engines=NEURAL,
            target="engine", flag="--provider", when=("runtime", ("onnxruntime",)),
            help="ONNX Runtime's execution provider; a named one that is missing is an error that says which "
                 "package to install."),
    Setting("device", "choice", "PyTorch device", "auto", choices=DEVICE_CHOICES, engines=NEURAL, target="engine",
            flag="--device", when=("runtime", ("torch",)),
            help="Where PyTorch runs the models; CUDA also covers AMD with PyTorch's ROCm build."),
    Setting("gpu", "int", "GPU index", 0, 0, 15, 1, engines=NEURAL, target="engine", flag="--gpu",
            help="Which GPU, when the machine has several (0 = the first)."),
    Setting("precision", "choice", "Precision", "auto", choices=PRECISION_CHOICES, engines=NEURAL, target="engine",
            flag="--precision",
            help="The swap model's file: fp32, or fp16 (half the download). An fp16 model that gives black or "
                 "broken faces on this GPU is swapped for fp32 by itself."),
    Setting("det_size", "int", "Detector size", 640, 160, 1280, 32, engines=NEURAL, target="engine",
            flag="--det-size",
            help="The face detector's input size, a multiple of 32; 320 is faster and fine for webcam close-ups."),
    Setting("face_mapping", "choice", "Which faces", "all", choices=MAPPING_CHOICES, engines=NEURAL,
            target="engine", flag="--face-mapping",
            help="Every face; only the person in a reference photo; or several people, each to their own photo."),
    Setting("reference_photo", "path", "Reference photo (the person to swap)", "", engines=NEURAL, target="engine",
            flag="--reference", when=("face_mapping", ("reference",)),
            help="Only the person in this photo is swapped; everyone else stays as they are."),
    Setting("pairs", "pairs", "Pair", (), engines=NEURAL, target="engine", flag="--pair",
            when=("face_mapping", ("pairs",)),
            help="The person in the second photo becomes the person in the first."),
    Setting("match_distance", "float", "Match distance", 0.7, 0.05, 1.5, 0.05, engines=NEURAL, target="engine",
            flag="--match-distance", when=("face_mapping", ("reference", "pairs")),
            help="How close (1 - cosine similarity) a face's identity must be to count as the person."),
    Setting("swapper_file", "model", "Swap model file (instead of the catalogued one)", "", engines=NEURAL,
            target="engine", flag="--swapper",
            help="Your own inswapper_128-shaped file (an fp16 conversion, a retrained swapper); checked on load."),
    Setting("detector_file", "model", "Detector file (instead of the catalogued one)", "", engines=NEURAL,
            target="engine", flag="--detector", help="Your own SCRFD-shaped detector file; checked on load."),
    Setting("recognizer_file", "model", "Recognizer file (instead of the catalogued one)", "", engines=NEURAL,
            target="engine", flag="--recognizer", help="Your own ArcFace-shaped recognizer file; checked on load."),
    Setting("enhancer_file", "model", "Enhancer file (instead of the catalogued one)", "", engines=NEURAL,
            target="engine", flag="--enhancer-file", when=("enhancer", ("gfpgan_1.4", "gpen_bfr_256", "gpen_bfr_512")),
            help="Your own GFPGAN/GPEN-shaped restorer file, aligned as the chosen enhancer; checked on load."),
    Setting("occluder_file", "model", "Occlusion model file (optional)", "", engines=NEURAL, target="engine",
            flag="--occluder", when=("keep_in_front", (True,)),
            help="Your own occlusion model, XSeg-shaped (a 256x256 face in, where the face shows out) or "
                 "face-parsing-shaped (BiSeNet: a 512x512 face in, 19 classes out), used beside the built-in "
                 "search for what is in front of your face; checked on load."),
    Setting("model_dir", "folder", "Models folder", "", engines=NEURAL, target="engine", flag="--model-dir",
            in_obs=False, help="The models folder (default: $FACESWAP_MODEL_DIR or the per-user data folder)."),
    # laid on every finished frame (provenance/stamp.py)
    Setting("mark", "bool", "Invisible mark (says the picture is a face swap)", True, target="output",
            flag="--no-mark",
            help="A mark no viewer sees, over the whole picture, that survives streaming and re-encoding: "
                 "'faceswap verify FILE' finds it. A cooperative label, not a protection: anyone who tries can "
                 "remove or forge it.",
            off_help="Write no invisible mark (by default one says the picture is a face swap, and 'faceswap verify "
                     "FILE' finds it)."),
    Setting("mark_strength", "int", "Mark strength (levels)", 3, 1, 8, 1, target="output", flag="--mark-strength",
            when=("mark", (True,)),
            help="How far the mark moves a pixel's brightness, at most. 3 keeps the picture at 45 dB PSNR and "
                 "survives 2.5 Mbit/s 720p; 2 is enough above 4 Mbit/s; 4-5 for low bitrates."),
    Setting("label", "bool", "Visible label", False, target="output", flag="--label",
            help="Writes a short text (\"AI face swap\" or your own) in a corner of the swapped picture."),
    Setting("label_text", "text", "Label text", "AI face swap", target="output", flag="--label-text",
            when=("label", (True,)), help="The label's words (letters A-Z, digits and punctuation)."),
    Setting("label_corner", "choice", "Label corner", "bottom-right", choices=LABEL_CORNERS, target="output",
            flag="--label-corner", when=("label", (True,)), help="Where the label sits on the picture."),
    Setting("label_size", "float", "Label size (share of the picture's height)", 0.04, 0.02, 0.15, 0.01,
            target="output", flag="--label-size", when=("label", (True,)),
            help="The letters' height as a share of the picture's height."),
    Setting("credentials", "bool", "Content credentials (C2PA) in files and recordings", True, target="output",
            flag="--no-credentials",
            help="A signed C2PA manifest in every PNG, JPEG and MP4 written, and in OBS's MP4/MOV recordings that "
                 "showed a swap (signed when the recording stops): made with obs-faceswap, a face swap, from "
                 "which photo. Signed offline with this install's own certificate, or your own below.",
            off_help="Write no content credentials (by default every PNG, JPEG and MP4 written carries a signed C2PA "
                     "manifest saying it is a face swap)."),
    Setting("credential_names", "bool", "Name the photo and the input in the credentials", False, target="output",
            flag="--credential-names", when=("credentials", (True,)),
            help="The credentials name the source photo's and the input's files (a photo's file name is often the "
                 "name of the person whose face is worn). Off, as by default: they say 'source photo' and "
                 "'input video' or 'input picture', with each file's SHA-256."),
    Setting("sign_cert", "file", "Signing certificate chain (PEM)", "", target="output", flag="--sign-cert",
            when=("credentials", (True,)),
            help="Your own ES256 signing certificate, then its intermediate, in one PEM file (with the key)."),
    Setting("sign_key", "file", "Signing key (PEM)", "", target="output", flag="--sign-key",
            when=("credentials", (True,)), help="The private key of your own signing certificate, PEM."),
    # the OBS side's own
    Setting("sync_audio", "audio", "Keep this audio in sync", "", target="obs",
            help="The swapped picture can show later than the camera's own: this source's sync offset "
                 "follows that delay, so your voice matches your lips. Given back when the filter is off."),
    Setting("python", "interpreter", "Worker Python", "", target="worker",
            help="The Python that runs the swap. Empty: the one the installer recorded in obs-faceswap.json, else "
                 "$OBS_FACESWAP_PYTHON, else .venv next to obs_faceswap.py."),
)
BY_KEY = {setting.key: setting for setting in SETTINGS}
STRING_KINDS = ("path", "choice", "text", "secret", "file", "interpreter", "audio", "model", "folder")


def provider_key(ort_name: str) -> str:
    """'CUDAExecutionProvider' -> 'cuda'; a provider we do not list keeps its own name."""
    return next((key for key, full in ORT_PROVIDERS.items() if full == ort_name), ort_name)


def defaults() -> dict:
    return {setting.key: default_of(setting) for setting in SETTINGS}


def default_of(setting: Setting):
    """The setting's default, a fresh list for a list setting (never the shared tuple)."""
    return list(setting.default) if isinstance(setting.default, tuple) else setting.default


def clamp(key: str, value):
    """A value forced into its setting's range and type; an unusable one reads as the default.

    Numbers are clamped, a choice not offered becomes the default, lists keep only their
    well-formed entries (a path is a non-empty string; a pair is two of them).
    """
    setting = BY_KEY[key]
    try:
        if setting.kind == "bool":
            return bool(value)
        if setting.kind in ("int", "float"):
            number = float(value)
            if number != number or number in (float("inf"), float("-inf")):
                return setting.default
            number = min(max(number, setting.low), setting.high)
            return int(round(number)) if setting.kind == "int" else number
        if setting.kind == "choice":
            value = str(value)
            return value if value in setting.values() else setting.default
        if setting.kind == "photos":
            return [str(item) for item in value if isinstance(item, str) and item][:MORE_FACES]
        if setting.kind == "pairs":
            return [[str(a), str(b)] for a, b in (tuple(item) for item in value if len(item) == 2)
                    if isinstance(a, str) and isinstance(b, str) and a and b]
        return "" if value is None else str(value)
    except (TypeError, ValueError):
        return default_of(setting)


def clamped(values: dict) -> dict:
    """Every known key of values clamped; unknown keys dropped."""
    return {key: clamp(key, value) for key, value in values.items() if key in BY_KEY}


def applies(setting: Setting, values: dict) -> bool:
    """Whether a setting matters with these values: its engine is chosen, and the setting it
    depends on (`when`) has one of the listed values. The OBS dialog shows only those."""
    engine = clamp("engine", values.get("engine", DEFAULT_ENGINE))
    if setting.engines and engine not in setting.engines:
        return False
    if setting.when:
        other, wanted = setting.when
        return clamp(other, values.get(other, BY_KEY[other].default)) in wanted
    return True


def keys_for(target: str) -> tuple[str, ...]:
    return tuple(setting.key for setting in SETTINGS if setting.target == target)


def engine_options(values: dict) -> dict:
    """The chosen engine's own construction options from a settings dict (clamped already,
    by `clamped`): a setting that does not apply now (a hidden reference photo) at its
    default, other engines' settings left out. The engine is opened again when these change."""
    engine = values.get("engine", DEFAULT_ENGINE)
    chosen = {}
    for setting in SETTINGS:
        if setting.target != "engine" or setting.key == "engine" or (setting.engines and engine not in setting.engines):
            continue
        used = applies(setting, {**values, "engine": engine})
        chosen[setting.key] = values.get(setting.key, default_of(setting)) if used else default_of(setting)
    return chosen
