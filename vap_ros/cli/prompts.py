"""``vap-ros prompts …``: render visual action prompts to PNGs."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("prompts", help="render skeleton prompts and overlays")
    psub = p.add_subparsers(dest="prompts_command", metavar="SUBCOMMAND")
    psub.required = True
    e = psub.add_parser("episode", help="a panda_dataset episode folder (info.json + PNGs)",
                        description="Write OUT/<camera>/<index:06d>_prompt.png and "
                                    "_overlay.png for every frame, and a contact sheet.")
    e.add_argument("episode", help="episode folder with info.json")
    e.add_argument("--out", required=True, help="output folder")
    e.add_argument("--robot", default="panda", help="robot preset (default panda)")
    e.set_defaults(func=run_episode)


def run_episode(args) -> int:
    from vap_ros.data.panda_dataset import load_panda_episode
    from vap_ros.prompts.episode import render_episode_overlays
    from vap_ros.prompts.skeleton import SkeletonRenderer

    ep = load_panda_episode(args.episode)
    summary = render_episode_overlays(ep, args.out, SkeletonRenderer.from_preset(args.robot))
    print(f"wrote {summary['frames']} prompt + overlay PNGs to {summary['out_dir']}")
    print(f"contact sheet: {summary['contact_sheet']}")
    return 0
