"""The filter's hotkeys: swap on/off, next and previous face, and one per face for the first
few of the list.

libobs creates every filter as a private source, and obs_hotkey_register_source refuses a
private source (libobs/obs-source.c, obs_source_create_internal; libobs/obs-hotkey.c).
So, as other filters with hotkeys do, they are registered on the source the filter sits on,
once it sits on one, named after the filter ("Face Swap: next face"), and moved with it.
OBS lists them in Settings > Hotkeys under that source, and keeps their bindings with
the scene collection without our help: obs_save_source stores a source's hotkeys
(obs_hotkeys_save_source) beside its settings, and registering a hotkey on a source
applies the bindings it saved under that name (obs_hotkey_register_internal). So the
names are part of the saved format: never change NAME_FORMAT or a hotkey's key.

A press arrives on OBS's UI thread (the frontend routes hotkeys there) or on the thread of
whoever triggered it (obs-websocket's TriggerHotkeyByName), with libobs's hotkey mutex
held: the callback only changes the filter's settings through obs_source_update, as the
dialog would, and registers or unregisters nothing.
"""

from __future__ import annotations

from ctypes import CFUNCTYPE, c_bool, c_size_t, c_void_p
from dataclasses import dataclass

# void (*obs_hotkey_func)(void *data, obs_hotkey_id id, obs_hotkey_t *hotkey, bool pressed)
HOTKEY_FUNC = CFUNCTYPE(None, c_void_p, c_size_t, c_void_p, c_bool)
FACE_HOTKEYS = 5   # "wear face N" for the source photo and the first four more faces
INVALID_ID = c_size_t(-1).value   # OBS_INVALID_HOTKEY_ID: (size_t)-1


NAME_FORMAT = "obs_faceswap.{filter}.{key}"   # the hotkey's name on the source: saved, never changed


@dataclass(frozen=True)
class Hotkey:
    key: str           # part of the saved name: never changed
    description: str   # what Settings > Hotkeys shows, after the filter's name
    action: str        # "toggle", "next", "previous" or "face"
    face: int = -1     # the face a "face" hotkey wears

    def name(self, filter_name: str) -> str:
        return NAME_FORMAT.format(filter=filter_name, key=self.key)


HOTKEYS = (
    Hotkey("toggle", "swap on/off", "toggle"),
    Hotkey("next_face", "next face", "next"),
    Hotkey("previous_face", "previous face", "previous"),
    *(Hotkey(f"face_{number}", f"wear face {number}" + (" (the source photo)" if number == 0 else ""), "face", number)
      for number in range(FACE_HOTKEYS)),
)


def pressed(hotkey: Hotkey, settings: dict) -> dict:
    """The settings a press changes, from the filter's settings now ({} where it changes
    nothing: a face the list does not have). Next and previous go round the list."""
    if hotkey.action == "toggle":
        return {"enabled": not settings.get("enabled", True)}
    count = 1 + len(settings.get("more_faces", ()))
    worn = min(max(int(settings.get("face_in_use", 0)), 0), count - 1)
    if hotkey.action == "next":
        return {"face_in_use": (worn + 1) % count}
    if hotkey.action == "previous":
        return {"face_in_use": (worn - 1) % count}
    return {"face_in_use": hotkey.face} if hotkey.face < count else {}


def register(api, parent, filter_name: str, callback, key: int) -> dict[int, Hotkey]:
    """Register every hotkey of the filter called filter_name on the source it sits on,
    `key` as their data; hotkey id -> Hotkey."""
    ids = {}
    for hotkey in HOTKEYS:
        hotkey_id = api.blocking.obs_hotkey_register_source(
            parent, hotkey.name(filter_name).encode("utf-8"), f"{filter_name}: {hotkey.description}".encode("utf-8"),
            callback, c_void_p(key))
        if hotkey_id != INVALID_ID:
            ids[hotkey_id] = hotkey
    return ids


def unregister(api, ids: dict) -> None:
    for hotkey_id in ids:
        api.blocking.obs_hotkey_unregister(hotkey_id)
