"""The camera path in a standalone libobs host: a media source (an async source, like a
webcam) plays the same picture in one pixel format after another.

    DISPLAY=:90 PYTHONPATH=/usr/lib/x86_64-linux-gnu/obs-scripting \\
        python -m testkit.camera_host --image face.png --photo a.jpg --out DIR \\
            --pix-fmt nv12 --pix-fmt yuyv422 ...

Each clip plays in its own media source: first without the filter (the original, as OBS
draws it), then with the Face Swap filter moved onto it, until swapped frames come out. Last,
OBS's Color Correction filter (at its neutral defaults) is put before Face Swap on the
first clip, which sends the frames down the render path: the same picture swapped by the
other path, to compare colours. Frames go out as raw BGRA files, facts in summary.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from testkit import clips
from testkit.libobs_host import Host, finish, image_size, wait_for, write_frame

SETTLE_FRAMES = 10   # drawn and let go before the original is kept (a third of a second)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--image", required=True)
    parser.add_argument("--photo", required=True)
    parser.add_argument("--python", default="")
    parser.add_argument("--out", required=True)
    parser.add_argument("--pix-fmt", action="append", default=[])
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    width, height = image_size(args.image)
    paths = {pix_fmt: clips.still_clip(args.image, os.path.join(args.out, "clips"), pix_fmt) for pix_fmt in args.pix_fmt}
    host = Host(width, height)
    import obs_faceswap
    from faceswap_core.obs import registration

    obs_faceswap.script_load(None)
    o = host.obs
    from faceswap_core.link import pixel_formats

    summary = {"width": width, "height": height, "formats": {}}
    settings = {"source_photo": os.path.abspath(args.photo)}
    if args.python:
        settings["python"] = args.python
    swap = host.create("obs_faceswap_filter", "Face Swap", settings)
    instance = next(iter(registration.registry().instances.values()))

    def swapped_frames(more=3):
        drawn = instance.frames.results_drawn
        return wait_for(lambda: instance.frames.has_result and instance.frames.results_drawn >= drawn + more,
                        args.timeout)

    def camera_playing(pix_fmt):
        """A new media source per format: libobs 29 can abort (an assert in
        upload_raw_frame) when one media source switches between formats."""
        camera = host.create("ffmpeg_source", f"camera-{pix_fmt}", {
            "local_file": paths[pix_fmt], "looping": True, "is_local_file": True, "hw_decode": False})
        o.obs_set_output_source(0, camera)
        return camera

    def done_with(camera, *filters):
        for each in filters:
            o.obs_source_filter_remove(camera, each)
        o.obs_set_output_source(0, None)
        o.obs_source_release(camera)
        time.sleep(0.3)   # past the filter's removal settle time

    for pix_fmt in args.pix_fmt:
        camera = camera_playing(pix_fmt)
        # the original once the clip plays steadily: one full-suite run under load read a
        # first yuva444p frame a few levels off every later one (drawn before the source had
        # settled), and both comparisons with it failed while the swap was right
        host.next_picture()
        for _ in range(SETTLE_FRAMES):
            host.next_frame()
        write_frame(os.path.join(args.out, f"original-{pix_fmt}.bgra"), host.next_picture(), width, height)
        o.obs_source_filter_add(camera, swap)   # the same filter moves from source to source: one worker
        expected = clips.PIX_FMTS.get(pix_fmt) or clips.RENDER_PATH_PIX_FMTS[pix_fmt]
        arrived = wait_for(lambda: pixel_formats.name(instance.camera.format) == expected, 20)
        swapped = arrived and swapped_frames()
        host.next_frame()
        write_frame(os.path.join(args.out, f"swapped-{pix_fmt}.bgra"), host.next_frame(), width, height)
        slot = input_slot(instance, os.path.join(args.out, f"slot-{pix_fmt}.raw")) if pix_fmt in clips.PIX_FMTS else None
        camera_path = instance.camera
        summary["formats"][pix_fmt] = {"slot": slot,
            "format_seen": pixel_formats.name(camera_path.format), "swapped": swapped, "path": instance.path_name(),
            "status": instance.status_text(), "own_results": camera_path.own_results, "late": camera_path.late,
            "work_ms": round(camera_path.work_ms, 2), "wait_ms": round(camera_path.wait_ms, 2)}
        done_with(camera, swap)
    # from a camera-path source onto an image source (no async frames): the render path takes over
    camera = camera_playing(args.pix_fmt[0])
    o.obs_source_filter_add(camera, swap)
    on_camera_path = wait_for(lambda: instance.camera.in_use, 20) and swapped_frames()
    done_with(camera, swap)
    image = host.create("image_source", "still", {"file": os.path.abspath(args.image)})
    o.obs_set_output_source(0, image)
    o.obs_source_filter_add(image, swap)
    moved_ok = wait_for(lambda: instance.renderer.has_result, 20) and swapped_frames()
    summary["moved_to_image"] = {"swapped": on_camera_path and moved_ok, "path": instance.path_name()}
    done_with(image, swap)
    # the same picture down the render path: an effect filter before Face Swap
    camera = camera_playing(args.pix_fmt[0])
    correction = host.create("color_filter_v2", "Color Correction", {})
    o.obs_source_filter_add(camera, correction)
    o.obs_source_filter_add(camera, swap)
    render_ok = wait_for(lambda: not instance.camera.in_use and instance.renderer.has_result, 20) and swapped_frames()
    host.next_frame()
    write_frame(os.path.join(args.out, "render-path.bgra"), host.next_frame(), width, height)
    summary["render_path"] = {"swapped": render_ok, "path": instance.path_name()}
    done_with(camera, correction, swap)
    o.obs_source_release(correction)
    o.obs_source_release(swap)
    return finish(host, obs_faceswap, summary, args.out)


def input_slot(instance, path: str) -> dict:
    """The frame in the channel's input slot, as the worker receives it: its bytes go to
    `path`; its geometry and colour matrix come back (the test converts it the worker's
    way; a chroot's Python has no numpy)."""
    from faceswap_core.link import pixel_formats

    channel = instance.supervisor.channel
    frame = channel.exchange._frame("in", 0, 0)
    strides = frame.plane_strides()
    size = pixel_formats.frame_bytes(frame.format, frame.width, frame.height, strides)
    with open(path, "wb") as handle:
        handle.write(channel.mm[channel.in_offset:channel.in_offset + size])
    return {"format": frame.format, "width": frame.width, "height": frame.height, "strides": list(strides),
            "matrix": list(channel.exchange.colour_matrix())}


if __name__ == "__main__":
    sys.exit(main())
