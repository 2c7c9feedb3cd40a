"""Dataset build throughput next to a plain rosbags read of the same bag, in the same run.

Writes a synthetic rig bag (or takes --bag), then times, each --repeats times, interleaved
(median):
  raw read    rosbags AnyReader iterating every message's bytes (what the disk/page cache gives);
  read+deser  the same plus deserialising every message and wrapping each image as numpy;
  build       ``process_bag``: both passes, decode, resize, prompts (logged + commanded),
              shard writes. One process (per worker); inside it, prompts are rendered and
              shards written by two threads while the main thread reads and resizes.
Reports frames/s (images consumed from the bag, all cameras) and MB/s (bag bytes / time), and
the build's share of the raw read rate (goal >= 0.5 per worker), in wall-clock time and in CPU
time (the process's user + system time, all its threads: less sensitive to other processes on
the cores, and what a worker costs a core).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HELP = "clip-cache build frames/s and MB/s vs a plain rosbags read of the same bag"


def add_arguments(p) -> None:
    p.add_argument("--bag", default=None, help="an existing bag (default: write a synthetic one)")
    p.add_argument("--config", default="sim", help="rig config for --bag (default sim)")
    p.add_argument("--seconds", type=float, default=20.0, help="synthetic bag length")
    p.add_argument("--cameras", type=int, default=2, help="synthetic cameras")
    p.add_argument("--hz", type=float, default=15.0, help="synthetic camera rate")
    p.add_argument("--image-size", type=int, nargs=2, default=(480, 640), metavar=("H", "W"))
    p.add_argument("--clip-size", type=int, nargs=2, default=(256, 256), metavar=("H", "W"))
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--stride", type=int, default=None,
                   help="frames between clip starts (default --frames: clips do not overlap; "
                        "the sim and franka_lab presets use half a clip)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap")
    p.add_argument("--prompts", choices=("both", "one"), default="both",
                   help="render and store both prompt variants (commanded + logged) or one")


def _timed(fn, *args):
    """(result, wall s, CPU s of this process)."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - t0, time.process_time() - c0


def _raw_read(bag: Path) -> tuple[int, int]:
    from rosbags.highlevel import AnyReader

    n = nbytes = 0
    with AnyReader([bag]) as r:
        for _, _, raw in r.messages():
            n += 1
            nbytes += len(raw)
    return n, nbytes


def _read_deser(bag: Path) -> None:
    from rosbags.highlevel import AnyReader

    with AnyReader([bag]) as r:
        for conn, _, raw in r.messages():
            msg: Any = r.deserialize(raw, conn.msgtype)  # the class of conn.msgtype
            if conn.msgtype == "sensor_msgs/msg/Image":
                np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.width, -1)


def run(args) -> dict:
    import cv2

    from vap_ros.data import BagReader, load_rig_config, process_bag
    from vap_ros.data.messages import IMAGE_TYPES
    from vap_ros.errors import ConfigError
    from vap_ros.testing.bags import SyntheticRig, default_cameras, write_synthetic_bag

    if args.repeats < 1:
        raise ConfigError(f"--repeats {args.repeats}: expected at least 1")
    cv2.setNumThreads(1)
    tmp = Path(tempfile.mkdtemp(prefix="vap_bench_dataset_"))
    try:
        if args.bag:
            bag = Path(args.bag)
            cfg = load_rig_config(args.config)
        else:
            names = ["front", "left", "right", "top"][: args.cameras]
            rig = SyntheticRig(default_cameras(tuple(args.image_size), names),
                               duration_s=args.seconds, camera_hz=args.hz)
            bag = tmp / "bag"
            write_synthetic_bag(bag, rig, storage=args.storage)
            cfg = load_rig_config("sim")
        fps = args.hz if not args.bag else cfg.clip.fps
        d = cfg.to_dict()
        stride = args.stride or args.frames
        d["clip"] = {"frames": args.frames, "fps": fps, "stride": stride,
                     "size": list(args.clip_size)}
        d["shard_clips"] = 8
        d["store_both_prompts"] = args.prompts == "both"
        cfg = load_rig_config(d)
        bag_bytes = sum(p.stat().st_size for p in bag.rglob("*") if p.is_file()) \
            if bag.is_dir() else bag.stat().st_size
        with BagReader(bag) as r:
            images = sum(i.count for i in r.topics.values() if i.msgtype in IMAGE_TYPES)
        raw_t, deser_t, build_t = [], [], []
        report: dict[str, Any] = {}
        for k in range(args.repeats):
            (n_msgs, _), *t = _timed(_raw_read, bag)
            raw_t.append(t)
            deser_t.append(_timed(_read_deser, bag)[1:])
            out = tmp / f"out{k}"
            report, *t = _timed(process_bag, bag, cfg, out, "0000")
            build_t.append(t)
            shutil.rmtree(out, ignore_errors=True)
        (raw, raw_cpu), (deser, deser_cpu), (build, build_cpu) = (
            np.median(np.asarray(x), axis=0).tolist() for x in (raw_t, deser_t, build_t))
        mb = bag_bytes / 1e6
        return {
            "bag": f"{bag_bytes / 1e6:.0f} MB, {images} images, {n_msgs} messages "
                   f"({'synthetic' if not args.bag else bag})",
            "clips": f"{report['clips_written']} clips of {args.frames} frames (stride "
                     f"{stride}) at {args.clip_size[0]}x{args.clip_size[1]}, prompts: "
                     f"{args.prompts}; used {report['frames']['used']} of "
                     f"{report['frames']['total']}",
            "build_ok": bool(report["ok"]),
            "raw_read_frames_per_s": images / raw,
            "raw_read_MB_per_s": mb / raw,
            "read_deser_MB_per_s": mb / deser,
            "build_frames_per_s": images / build,
            "build_MB_per_s": mb / build,
            "build_share_of_raw_read": raw / build,
            "build_share_of_read_deser": deser / build,
            "raw_read_cpu_s": raw_cpu,
            "build_cpu_s": build_cpu,
            "build_share_of_raw_read_cpu": raw_cpu / build_cpu,
            "build_share_of_read_deser_cpu": deser_cpu / build_cpu,
            "goal_share_of_raw_read": 0.5,
            "workers": 1,
            "repeats": args.repeats,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
