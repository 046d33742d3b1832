"""``cskd convert-checkpoint``: RepDistiller's checkpoint layout -> the crd_* models' state dicts.

The reference-layout state dicts are built from the pinned names and shapes of RepDistiller's definitions
(tests/data/reference_models.json); test_model_zoo.py checks that every model's conversion reproduces the reference
network's logits and features."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from reference_models import load_pinned, synthetic_input, synthetic_state

from cskd.cli import main
from cskd.engine.trainer import EngineOptions, load_trained_model
from cskd.models.convert import convert_repdistiller, reference_state_dict

PINNED = load_pinned()


def refused(capsys, argv: list[str], lines: int = 1) -> str:
    """``cskd ARGV`` exits 2 (bad input) with an ``error:`` of ``lines`` lines (0: any) on stderr; that error."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err and lines in (0, len(err.splitlines())), err
    return err


def reference_checkpoint(name: str) -> dict:
    """A checkpoint as RepDistiller's train_teacher.py writes it, with synthetic weights of its ``name`` model."""
    return {"epoch": 240, "model": synthetic_state(PINNED[name]["state"]), "accuracy": 72.3, "optimizer": {}}


def test_cli_converts_writes_and_prints_the_sha256(tmp_path: Path, capsys):
    source, target = tmp_path / "ckpt_epoch_240.pth", tmp_path / "resnet8.pth"
    torch.save(reference_checkpoint("crd_resnet8"), source)

    args = ["convert-checkpoint", "--from", "repdistiller", "--model", "crd_resnet8", str(source), str(target)]
    assert main(args) == 0

    printed = capsys.readouterr().out
    assert f"sha256 {hashlib.sha256(target.read_bytes()).hexdigest()}" in printed
    assert "100 classes, 56 tensors" in printed
    saved = torch.load(target, map_location="cpu", weights_only=True)
    assert saved["converted_from"]["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    model = load_trained_model("crd_resnet8", {}, 100, target, EngineOptions(device=torch.device("cpu")))
    expected = convert_repdistiller("crd_resnet8", synthetic_state(PINNED["crd_resnet8"]["state"])).model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(synthetic_input()), expected(synthetic_input()))

    assert "exists: choose another path or pass --force" in refused(capsys, args)


def test_old_checkpoints_without_batchnorm_counters_and_dataparallel_prefixes_convert():
    state = synthetic_state(PINNED["crd_wrn_16_2"]["state"])
    old = {f"module.{k}": v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    converted = convert_repdistiller("crd_wrn_16_2", reference_state_dict({"model": old}))
    counters = sum(k.endswith("num_batches_tracked") for k in state)
    assert converted.filled_counters == counters > 0
    assert converted.state_dict["stages.0.blocks.0.norm1.num_batches_tracked"].item() == 0
    torch.testing.assert_close(converted.state_dict["head.fc.weight"], state["fc.weight"])


def test_the_classifier_size_is_read_from_the_checkpoint():
    entries = [[k, [10, *s[1:]] if k.startswith("fc.") else s] for k, s in PINNED["crd_resnet20"]["state"]]
    converted = convert_repdistiller("crd_resnet20", synthetic_state(entries))
    assert converted.model.fc.out_features == 10


def test_mismatches_are_named():
    resnet20 = synthetic_state(PINNED["crd_resnet20"]["state"])
    with pytest.raises(ValueError, match=r"'layer1\.3\.conv1\.weight' .* has no tensor in the reference"):
        convert_repdistiller("crd_resnet56", resnet20)  # a resnet20 checkpoint given as resnet56
    with pytest.raises(ValueError, match=r"'conv1\.weight': reference shape \(16, 3, 3, 3\), crd_resnet8x4 shape"):
        convert_repdistiller("crd_resnet8x4", synthetic_state(PINNED["crd_resnet8"]["state"]))
    vgg = synthetic_state(PINNED["crd_vgg8"]["state"])
    with pytest.raises(ValueError, match=r"reference key 'extra\.weight' has no counterpart"):
        convert_repdistiller("crd_vgg8", {**vgg, "extra.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="no classifier weight"):
        convert_repdistiller("crd_mobilenetv2", vgg)
    with pytest.raises(ValueError, match="convertible models are crd_mobilenetv2"):
        convert_repdistiller("cifar_resnet18", vgg)
    with pytest.raises(ValueError, match="expected a RepDistiller checkpoint"):
        reference_state_dict({"epoch": 240, "accuracy": 70.0})


def test_cli_errors_are_clear(tmp_path: Path, capsys):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    args = ["convert-checkpoint", "--from", "repdistiller", "--model", "crd_resnet8"]
    assert "cannot read it as a PyTorch checkpoint" in refused(capsys, [*args, str(junk), str(tmp_path / "out.pth")])
    assert "no such checkpoint file" in refused(
        capsys, [*args, str(tmp_path / "missing.pth"), str(tmp_path / "out.pth")]
    )
    wrong = tmp_path / "resnet8x4.pth"
    torch.save(reference_checkpoint("crd_resnet8x4"), wrong)
    assert "does not convert to crd_resnet8" in refused(capsys, [*args, str(wrong), str(tmp_path / "out.pth")], lines=0)
    assert not (tmp_path / "out.pth").exists()
