"""``vap-ros prompts …``: render visual action prompts to PNGs."""

from __future__ import annotations

from vap_ros.prompts.encoding import PROMPT_TYPES


def register(sub) -> None:
    p = sub.add_parser("prompts", help="render visual action prompts and overlays")
    psub = p.add_subparsers(dest="prompts_command", metavar="SUBCOMMAND")
    psub.required = True
    e = psub.add_parser("episode", help="a panda_dataset episode folder (info.json + PNGs)",
                        description="Write OUT/<camera>/<index:06d>_prompt.png and "
                                    "_overlay.png for every frame, and a contact sheet.")
    e.add_argument("episode", help="episode folder with info.json")
    e.add_argument("--out", required=True, help="output folder")
    e.add_argument("--robot", default="panda", help="robot preset (default panda)")
    e.set_defaults(func=run_episode)
    r = psub.add_parser("render", help="every image of a bag: prompt + overlay PNGs",
                        description="Write OUT/<camera>/<index:06d>_prompt.png (the prompt "
                                    "on black, the image's size) and _overlay.png (over the "
                                    "image) for every image of every camera; index = the "
                                    "image's position on its topic. Checks a calibration by "
                                    "eye.")
    r.add_argument("bag", help="a bag folder or file")
    r.add_argument("--out", required=True, help="output folder")
    r.add_argument("--config", default="sim",
                   help="rig config: preset (sim, franka_lab) or YAML path (default sim: "
                        "every image topic, camera = its namespace)")
    r.add_argument("--calibration", default=None, help="calibration YAML overriding the bag's")
    r.add_argument("--every", type=int, default=1, help="only every N-th image")
    r.add_argument("--prompt-type", choices=PROMPT_TYPES, default=None,
                   help="prompt to draw (default: the config's prompt_type, skeleton)")
    r.add_argument("--refine-calibration", action="store_true",
                   help="refine each camera's calibration from the images first "
                        "(vap-ros calibrate refine; written to OUT/calibration.yaml)")
    r.set_defaults(func=run_render)


def run_episode(args) -> int:
    from vap_ros.data.panda_dataset import load_panda_episode
    from vap_ros.prompts.episode import render_episode_overlays
    from vap_ros.prompts.skeleton import SkeletonRenderer

    ep = load_panda_episode(args.episode)
    summary = render_episode_overlays(ep, args.out, SkeletonRenderer.from_preset(args.robot))
    print(f"wrote {summary['frames']} prompt + overlay PNGs to {summary['out_dir']}")
    print(f"contact sheet: {summary['contact_sheet']}")
    return 0


def run_render(args) -> int:
    from vap_ros.calib.report import format_alignment
    from vap_ros.data import load_rig_config, render_bag_prompts

    cfg = load_rig_config(args.config, **({"prompt_type": args.prompt_type}
                                          if args.prompt_type else {}))
    s = render_bag_prompts(args.bag, args.out, cfg, calibration=args.calibration,
                           every=max(1, args.every), refine_calibration=args.refine_calibration)
    for name, r in s.get("refined", {}).items():
        print(f"refined {name}: " + (f"not refined: {r['error']}" if "error" in r else
                                     f"moved {r['correction_mm']:.1f} mm, "
                                     f"{r['correction_deg']:.2f} deg ({r['confidence']} "
                                     "confidence)"))
    for line in format_alignment(s.get("alignment"), args.bag):
        print(line.strip())
    for name, c in s["cameras"].items():
        print(f"{name} ({c['topic']}): {c['written']} of {c['images']} images -> "
              f"{s['out']}/{name}/")
        for reason, n in c["skipped"].items():
            print(f"  skipped {n}: {reason}")
    for w in s["warnings"]:
        print(f"warning: {w}")
    return 0
