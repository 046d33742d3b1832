"""``cskd convert-checkpoint``: a published teacher checkpoint in another code base's layout -> a cskd model's."""

from __future__ import annotations

import argparse
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
    parser.add_argument(
        "--trust-pickle",
        action="store_true",
        help="INPUT is read as data (tensors and plain containers) unless this is given; with it, a file that holds "
        "other objects (RepDistiller's hold numpy values) is unpickled in full, which runs any code the file holds: "
        "give it only for a file from a source you trust. The output holds tensors only.",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from cskd.data.files import file_digest
    from cskd.engine.checkpoint import save_atomic
    from cskd.models.convert import convert_repdistiller, reference_state_dict
    from cskd.usererrors import UserError

    if not args.input.is_file():
        raise UserError(f"{args.input}: no such checkpoint file")
    if args.output.exists() and not args.force:
        raise UserError(f"{args.output} exists: choose another path or pass --force")
    if args.trust_pickle:
        print(f"trusting {args.input} (--trust-pickle): unpickling it in full runs any code it holds")
    try:
        checkpoint = torch.load(args.input, map_location="cpu", weights_only=not args.trust_pickle)
    except pickle.UnpicklingError as error:
        if "GLOBAL" in str(error) and not args.trust_pickle:
            raise UserError(
                f"{args.input} holds objects other than tensors and plain containers, which only a pickle "
                f"that runs code could rebuild: if the file comes from a source you trust, pass --trust-pickle"
            ) from None
        raise UserError(f"{args.input}: cannot read it as a PyTorch checkpoint ({first_line(error)})") from None
    except (RuntimeError, EOFError, OSError) as error:
        raise UserError(f"{args.input}: cannot read it as a PyTorch checkpoint ({first_line(error)})") from None
    try:
        converted = convert_repdistiller(args.model, reference_state_dict(checkpoint))
    except ValueError as error:
        raise UserError(f"{args.input}: {error}") from None
    source_sha = file_digest(args.input, "sha256")
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
    print(f"sha256 {file_digest(args.output, 'sha256')}")
    return 0


def first_line(error: BaseException) -> str:
    """The first line of ``error``'s message (torch's run on for paragraphs), for a one-line error."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:200] if lines else ''}"
