"""``cskd convert-checkpoint``: a published teacher checkpoint in another code base's layout -> a cskd model's."""

from __future__ import annotations

import argparse
import hashlib
import pickle
from pathlib import Path

FORMATS = ("repdistiller",)


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "convert-checkpoint",
        help="convert a published teacher checkpoint (RepDistiller's) to a cskd model's state dict",
        description="Convert a checkpoint written by another code base to the state dict of a cskd model, check it "
        "(every tensor mapped, no key left over, shapes equal, the model loads it), write it and print its sha256 "
        "for a suite's teacher_checkpoints. RepDistiller's published teachers are "
        "save/models/<name>_vanilla/ckpt_epoch_240.pth (a dict whose 'model' entry is the state dict); their "
        "cskd models are crd_<name> (ResNet50 -> crd_resnet50, MobileNetV2 -> crd_mobilenetv2, ...).",
    )
    parser.add_argument("--from", dest="source_format", choices=FORMATS, required=True, help="the checkpoint's layout")
    parser.add_argument("--model", required=True, help="the cskd model it is a checkpoint of, e.g. crd_resnet56")
    parser.add_argument("input", type=Path, help="the checkpoint to convert")
    parser.add_argument("output", type=Path, help="where to write the converted checkpoint (refuses to overwrite)")
    parser.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    parser.set_defaults(func=run)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def run(args: argparse.Namespace) -> int:
    import torch

    from cskd.engine.checkpoint import save_atomic
    from cskd.models.convert import convert_repdistiller, reference_state_dict

    if not args.input.is_file():
        raise SystemExit(f"error: {args.input}: no such checkpoint file")
    if args.output.exists() and not args.force:
        raise SystemExit(f"error: {args.output} exists: choose another path or pass --force")
    try:
        checkpoint = torch.load(args.input, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as error:
        raise SystemExit(f"error: {args.input}: cannot read it as a PyTorch checkpoint ({error})") from None
    try:
        converted = convert_repdistiller(args.model, reference_state_dict(checkpoint))
    except ValueError as error:
        raise SystemExit(f"error: {args.input}: {error}") from None
    source_sha = sha256_of(args.input)
    save_atomic(
        {
            "model": converted.state_dict,
            "converted_from": {"format": args.source_format, "file": str(args.input), "sha256": source_sha},
        },
        args.output,
    )
    classes = converted.model.get_classifier().out_features
    filled = f"; {converted.filled_counters} BatchNorm counters absent, set to 0" if converted.filled_counters else ""
    tensors = len(converted.state_dict)
    print(f"converted {args.input} (sha256 {source_sha}) to {args.model}: {classes} classes, {tensors} tensors{filled}")
    print(f"wrote {args.output}")
    print(f"sha256 {sha256_of(args.output)}")
    return 0
