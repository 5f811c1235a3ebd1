"""Switch the Face Swap filter's face, or turn the swap on and off, from outside OBS through
obs-websocket (OBS: Tools > WebSocket Server Settings): what a Stream Deck's websocket
action, a chat bot or a script sends.

    python -m tools.websocket_faces --source Camera --face 2          # wear face 2 of the list
    python -m tools.websocket_faces --source Camera --next            # the next face (round the list)
    python -m tools.websocket_faces --source Camera --swap off        # the camera's own face
    python -m tools.websocket_faces --source Camera --swap toggle

Needs obsws-python (`pip install obsws-python`); --port and --password as OBS shows them.

Both ways a client has are used, and either works alone:
- a setting: SetSourceFilterSettings on the filter with {"face_in_use": N} or
  {"enabled": true/false} and overlay true (the filter's other settings stay);
- a hotkey: TriggerHotkeyByName with the filter's hotkey name and, as its context, the
  name of the source the filter sits on (a filter's hotkeys live on its source:
  faceswap_core.obs.hotkeys), for what depends on the filter's state (next, previous,
  toggle), so the client need not read it first.
"""

from __future__ import annotations

import argparse

from faceswap_core.obs.hotkeys import NAME_FORMAT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=4455)
    parser.add_argument("--password", default="")
    parser.add_argument("--source", required=True, help="the source (camera) the Face Swap filter sits on")
    parser.add_argument("--filter", default="Face Swap", help="the filter's name on that source")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--face", type=int, help="wear this face: 0 the source photo, 1 the first of the more faces")
    action.add_argument("--next", action="store_true", help="the next face of the list")
    action.add_argument("--previous", action="store_true", help="the previous face of the list")
    action.add_argument("--swap", choices=("on", "off", "toggle"), help="the swap on, off, or the other way")
    args = parser.parse_args(argv)
    try:
        import obsws_python
    except ImportError:
        parser.error("needs obsws-python: pip install obsws-python")
    client = obsws_python.ReqClient(host=args.host, port=args.port, password=args.password, timeout=10)
    if args.face is not None:
        client.set_source_filter_settings(args.source, args.filter, {"face_in_use": args.face}, overlay=True)
    elif args.swap in ("on", "off"):
        client.set_source_filter_settings(args.source, args.filter, {"enabled": args.swap == "on"}, overlay=True)
    else:
        key = "next_face" if args.next else "previous_face" if args.previous else "toggle"
        client.trigger_hotkey_by_name(NAME_FORMAT.format(filter=args.filter, key=key), args.source)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
