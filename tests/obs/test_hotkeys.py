"""What each of the filter's hotkeys changes, from the filter's settings (no OBS needed: the
presses themselves are tested in OBS in test_libobs_host.py and test_obs_app.py)."""

from __future__ import annotations

import pytest

from faceswap_core.obs.hotkeys import FACE_HOTKEYS, HOTKEYS, NAME_FORMAT, pressed

BY_KEY = {hotkey.key: hotkey for hotkey in HOTKEYS}


def settings(faces: int, worn: int = 0, enabled: bool = True) -> dict:
    return {"more_faces": [f"face{number}.jpg" for number in range(1, faces)], "face_in_use": worn,
            "enabled": enabled}


@pytest.mark.parametrize("faces,worn,key,expected", [
    (3, 0, "next_face", 1), (3, 2, "next_face", 0), (3, 0, "previous_face", 2), (3, 1, "previous_face", 0),
    (1, 0, "next_face", 0), (1, 0, "previous_face", 0),
    (3, 7, "next_face", 0),   # a saved face_in_use past a shortened list counts as its last face
    (3, 0, "face_2", 2), (5, 3, "face_0", 0),
])
def test_faces_go_round_the_list(faces, worn, key, expected):
    assert pressed(BY_KEY[key], settings(faces, worn)) == {"face_in_use": expected}


def test_a_face_the_list_does_not_have_changes_nothing():
    assert pressed(BY_KEY["face_3"], settings(3)) == {}


def test_swap_on_off_flips_enabled():
    assert pressed(BY_KEY["toggle"], settings(2, enabled=True)) == {"enabled": False}
    assert pressed(BY_KEY["toggle"], settings(2, enabled=False)) == {"enabled": True}


def test_names_are_the_saved_format_and_unique():
    """The names are what OBS saves the bindings under: a change would drop every
    streamer's keys."""
    names = [hotkey.name("Face Swap") for hotkey in HOTKEYS]
    assert len(set(names)) == len(names) == 3 + FACE_HOTKEYS
    assert NAME_FORMAT == "obs_faceswap.{filter}.{key}"
    assert names[:3] == ["obs_faceswap.Face Swap.toggle", "obs_faceswap.Face Swap.next_face",
                         "obs_faceswap.Face Swap.previous_face"]


def test_the_callback_and_registration_keep_64_bit_values():
    """What 64-bit Windows and macOS do and this machine's small values would not show:
    libobs calls our callback with a size_t id and a void* data, and takes the source
    (a pointer, above 4 GiB there) as a pointer. Through the C function pointer libobs
    holds, a value above 32 bits arrives whole; the prototypes say pointer-sized."""
    import ctypes

    from faceswap_core.obs import libobs
    from faceswap_core.obs.hotkeys import HOTKEY_FUNC, INVALID_ID

    seen = []
    callback = HOTKEY_FUNC(lambda data, hotkey_id, hotkey, down: seen.append((data, hotkey_id, down)))
    as_libobs_holds_it = HOTKEY_FUNC(ctypes.cast(callback, ctypes.c_void_p).value)
    as_libobs_holds_it(ctypes.c_void_p(2 ** 33 + 7), 2 ** 40 + 5, None, True)
    assert seen == [(2 ** 33 + 7, 2 ** 40 + 5, True)]
    result, arguments = libobs.BLOCKING_FUNCTIONS["obs_hotkey_register_source"]
    assert result is ctypes.c_size_t and arguments[0] is ctypes.c_void_p and arguments[4] is ctypes.c_void_p
    assert libobs.BLOCKING_FUNCTIONS["obs_hotkey_unregister"][1] == [ctypes.c_size_t]
    assert INVALID_ID == 2 ** (8 * ctypes.sizeof(ctypes.c_size_t)) - 1
