"""What a viewer sees on the landmark engine's output (issue 15), measured on real clips.

Every clip runs through the engine frame by frame, in order (tracking and smoothing need
the stream); every SCORE_EVERY-th frame is scored by testkit.visual_checks, whose regions
come from dlib's landmarks of the input, not from the engine's mesh:
- the astronaut's fringe stays off the target's forehead (lp_d19, lp_d3);
- the target's glasses frames stay as they were (lp_d19's metal frames), and go when asked;
- a wink (lp_d3 winks each eye in turn in its first two seconds) shows the target's own
  shut lid on that eye only;
- around the lips, little much darker than both the input and the target's skin (the
  photo's lip line or stubble) on the clips with extreme mouths: what remains (up to 7.5%
  of the band on lp_d10's widest mouths) is the photo's folds at the mouth's corners;
- a photo lit hard from one side (fr_obama.jpg darkened to 30% past its nose, a sharp
  terminator as a window light makes), and Grace Hopper's portrait from matplotlib's
  samples (side-lit, a hat's shadow), leave no dark patches: the share of the target's
  skin made much darker than the input stays small on every frame, and the side light
  adds little to what the same photo evenly lit gives.
The bounds are the measured values with a margin; the engine before issue 15 fails the
hair, glasses, side-light and wink checks (numbers in the issue's note).
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import pytest

from testkit import visual_checks
from testkit.judge import media, read_frames

pytestmark = pytest.mark.slow

SCORE_EVERY = 4


def _obama() -> np.ndarray:
    return cv2.imread(str(media("fr_obama.jpg")))


def _hopper() -> np.ndarray:
    from faceswap_core.commands.demo import sample_pictures

    return sample_pictures()[1]


def _side_lit(judge) -> np.ndarray:
    """fr_obama.jpg lit from his right: full light up to his nose, 30% past it, over a
    terminator 4% of the face wide."""
    photo = _obama()
    points = judge.landmarks(photo)
    width = float(points[16][0] - points[0][0])
    x = np.arange(photo.shape[1], dtype=np.float32)
    gain = 0.3 + 0.7 / (1.0 + np.exp((x - points[30][0]) / (0.04 * width)))
    return np.clip(photo * gain[None, :, None], 0, 255).astype(np.uint8)


SOURCES = {"astronaut": lambda judge: visual_checks.astronaut(), "obama": lambda judge: _obama(),
           "side_lit": _side_lit, "hopper": lambda judge: _hopper()}


@pytest.fixture(scope="module")
def swap(judge):
    """swap(source, clip, **options) -> (frames, outputs, scorer), cached per arguments."""
    from faceswap_core.engines import create_engine
    from faceswap_core.options import SwapOptions

    @functools.lru_cache(maxsize=None)
    def run(source: str, clip: str, **options):
        photo = SOURCES[source](judge)
        frames = read_frames(media(clip))
        engine = create_engine("landmark", SwapOptions(**options))
        engine.set_source(photo)
        outputs = [engine.process(frame, index / 30.0) for index, frame in enumerate(frames)]
        engine.close()
        return frames, outputs, visual_checks.Scorer(judge, photo)

    return run


@functools.lru_cache(maxsize=None)
def _landmarks(judge, clip: str) -> dict[int, np.ndarray]:
    frames = read_frames(media(clip))
    found = {}
    for index in range(0, len(frames), SCORE_EVERY):
        points = judge.landmarks(frames[index])
        if points is not None:
            found[index] = points
    return found


def _scores(judge, swap, source: str, clip: str, name: str, **options) -> dict[int, float]:
    frames, outputs, scorer = swap(source, clip, **options)
    scores = {}
    for index, points in _landmarks(judge, clip).items():
        value = getattr(scorer, name)(frames[index], outputs[index], points)
        if value is not None:
            scores[index] = value
    assert len(scores) >= 15, f"too few frames judged on {clip}"
    return scores


def _worst(scores: dict[int, float], count: int = 5) -> list[tuple[int, float]]:
    return sorted(scores.items(), key=lambda item: -item[1])[:count]


@pytest.mark.parametrize("clip", ["lp_d19.mp4", "lp_d3.mp4"])
def test_photo_hair_stays_off_the_forehead(judge, swap, clip):
    scores = _scores(judge, swap, "astronaut", clip, "forehead_hair")
    assert max(scores.values()) <= 0.03, f"forehead share nearer her hair than the skin, worst: {_worst(scores)}"


def test_glasses_frames_stay_whole(judge, swap):
    for source in ("obama", "astronaut"):
        scores = _scores(judge, swap, source, "lp_d19.mp4", "glasses_frames")
        assert max(scores.values()) <= 6, f"{source}: frames' pixels changed (median levels), worst: {_worst(scores)}"
    dropped = _scores(judge, swap, "obama", "lp_d19.mp4", "glasses_frames", keep_glasses=False)
    assert np.median(list(dropped.values())) >= 15, "keep_glasses=False should swap over the frames"


def test_glasses_and_tongues_are_not_found_where_there_are_none(judge):
    """Skin, lashes and creases are not frames; lips, a smile's teeth and a red lipstick
    are not a tongue: on the clips without them the detectors find none on (almost)
    every frame (no clip has a tongue out; lp_d19 wears glasses)."""
    from faceswap_core.vision import eyes, glasses, tongue
    from faceswap_core.vision.face_mesh import FaceMeshDetector, MeshTopology

    topology = MeshTopology.from_mediapipe()
    for clip in ("lp_d0.mp4", "lp_d3.mp4", "lp_d10.mp4", "lp_d18.mp4", "lp_d19.mp4"):
        detector = FaceMeshDetector(max_faces=1, static=False)
        worn, tongues = [], []
        for frame in read_frames(media(clip)):
            for face in detector.detect(frame)[:1]:
                lenses = [eyes.lens_region(face.points[eye]) for eye in topology.eyes]
                worn.append(glasses.find(frame, face.points, topology, lenses) is not None)
                tongues.append(tongue.find(frame, face.points, topology) is not None)
        detector.close()
        assert len(tongues) > 50
        assert np.mean(tongues) <= 0.02, f"{clip}: a tongue found on {np.mean(tongues):.1%} of the frames"
        if clip != "lp_d19.mp4":
            assert np.mean(worn) <= 0.02, f"{clip}: glasses found on {np.mean(worn):.1%} of the frames"


def _tongue_out(frame: np.ndarray, points: np.ndarray, topology) -> tuple[np.ndarray, np.ndarray]:
    """The frame with a tongue stuck out over the lower lip and chin (no clip has one): a
    shaded, slightly noisy pink shape from the lips' middle line down, about half an eye
    distance long. Returns the frame and where the tongue is."""
    lips = points[topology.outer_lips]
    unit = topology.eye_distance(points)
    middle, bottom = (lips[:, 1].min() + lips[:, 1].max()) / 2, lips[:, 1].max()
    shape = np.zeros(frame.shape[:2], np.float32)
    centre = (int(lips[:, 0].mean()), int(bottom))
    cv2.ellipse(shape, centre, (int(0.28 * unit), int(0.45 * unit)), 0, 0, 360, 1, -1)
    shape[:int(middle)] = 0
    rows = np.indices(shape.shape)[0].astype(np.float32)
    shade = 0.75 + 0.25 * np.clip((bottom + 0.45 * unit - rows) / (0.9 * unit), 0, 1)
    pink = np.array([95, 85, 185], np.float32)[None, None] * shade[..., None]
    pink += np.random.default_rng(0).normal(0, 4, frame.shape)
    soft = cv2.GaussianBlur(shape, (0, 0), 1.5)[..., None]
    painted = np.clip(frame * (1 - soft) + pink * soft, 0, 255).astype(np.uint8)
    return painted, shape > 0.5


def test_a_tongue_out_stays_the_targets(monkeypatch):
    """The mesh has no tongue: one stuck out past the lips lay outside the mouth hole and
    the photo's chin was drawn over it. Outside the lips it must stay the input's pixels."""
    from faceswap_core.engines import create_engine
    from faceswap_core.options import SwapOptions
    from faceswap_core.vision import tongue
    from faceswap_core.vision.face_mesh import FaceMeshDetector, MeshTopology
    from faceswap_core.vision.masks import fill_pixels

    topology = MeshTopology.from_mediapipe()
    detector = FaceMeshDetector(max_faces=1, static=True)
    # the tongue finder alone: keeping what is in front would keep the pink tongue too (a
    # cover that comes in from the lips), and hide what this test measures
    engine = create_engine("landmark", SwapOptions(keep_in_front=False))
    engine.set_source(_obama())
    for clip in ("lp_d0.mp4", "lp_d3.mp4", "lp_d10.mp4", "lp_d19.mp4"):
        frame = read_frames(media(clip), 61)[60]
        painted, region = _tongue_out(frame, detector.detect(frame)[0].points, topology)
        points = detector.detect(painted)[0].points
        outside = region & ~fill_pixels(region.shape, [(points[topology.outer_lips], 1.0)])
        assert outside.sum() > 1000, clip
        with monkeypatch.context() as patched:
            patched.setattr(tongue, "find", lambda *args: None)
            unguarded = np.abs(engine.process_image(painted).astype(int) - painted).max(axis=2)[outside]
        changed = np.abs(engine.process_image(painted).astype(int) - painted).max(axis=2)[outside]
        # Unguarded, the photo's chin is drawn there, tinted pink by the colour correction
        # (mean change 9-17 levels); kept, the tongue's pixels stay within a few levels.
        assert unguarded.mean() > 2 * changed.mean() + 3, (clip, unguarded.mean(), changed.mean())
        assert np.median(changed) <= 6 and np.percentile(changed, 90) <= 16, (clip, np.median(changed))
    detector.close()
    engine.close()


def _eye_aspect(points: np.ndarray, eye: slice) -> float:
    e = points[eye]
    return float((np.linalg.norm(e[1] - e[5]) + np.linalg.norm(e[2] - e[4])) / (2 * np.linalg.norm(e[0] - e[3])))


@pytest.mark.parametrize("source", ["obama", "astronaut"])
def test_a_wink_shows_on_that_eye_only(judge, swap, source):
    """Frames of lp_d3 where one eye is shut and the other open (dlib's eye aspect ratios
    differ by 0.06 or more): the shut eye's region of the output is the input's own (its
    lid shows), and the open eye's region is the photo's, unlike the input."""
    frames, outputs, _ = swap(source, "lp_d3.mp4")
    eyes = (slice(36, 42), slice(42, 48))
    winks = 0
    for index in range(0, 60, 2):
        points = judge.landmarks(frames[index])
        if points is None:
            continue
        ratios = [_eye_aspect(points, eye) for eye in eyes]
        if abs(ratios[0] - ratios[1]) < 0.06 or min(ratios) > 0.22:
            continue
        winks += 1
        shut, open_ = (eyes[0], eyes[1]) if ratios[0] < ratios[1] else (eyes[1], eyes[0])
        difference = np.abs(outputs[index].astype(np.int16) - frames[index]).max(axis=2)
        changed = {}
        for name, eye in (("shut", shut), ("open", open_)):
            region = visual_checks.polygon_mask(frames[index].shape, points[eye], 1.3)
            changed[name] = float(np.mean(difference[region]))
        assert changed["shut"] <= 12 and changed["open"] >= 2 * changed["shut"], (index, changed)
    assert winks >= 8, f"only {winks} wink frames judged"


@pytest.mark.parametrize("clip", ["lp_d0.mp4", "lp_d10.mp4", "lp_d18.mp4", "lp_d3.mp4"])
def test_no_dark_smudge_around_the_lips(judge, swap, clip):
    for source in ("obama", "astronaut"):
        scores = _scores(judge, swap, source, clip, "mouth_smudge")
        assert max(scores.values()) <= 0.09, f"{source}: share of the ring around the lips much darker, worst: {_worst(scores)}"


@pytest.mark.parametrize("clip", ["lp_d19.mp4", "lp_d3.mp4"])
def test_a_side_lit_photo_leaves_no_dark_patch(judge, swap, clip):
    even = _scores(judge, swap, "obama", clip, "dark_skin")
    side = _scores(judge, swap, "side_lit", clip, "dark_skin")
    hopper = _scores(judge, swap, "hopper", clip, "dark_skin")
    # The photo's relief is kept (its folds, the crease under an eye): the same photo evenly
    # lit already makes 9-10% of the target's skin much darker on these clips.
    assert max(even.values()) <= 0.11, f"even light: skin share much darker, worst: {_worst(even)}"
    assert max(side.values()) <= 0.12, f"side-lit: skin share much darker, worst: {_worst(side)}"
    added = {index: side[index] - even[index] for index in side if index in even}
    assert max(added.values()) <= 0.03, f"the side light adds dark skin, worst: {_worst(added)}"
    assert max(hopper.values()) <= 0.12, f"Grace Hopper: skin share much darker, worst: {_worst(hopper)}"
