"""``--set KEY=VALUE``: applied to the suite mapping before validation, typed by its schema, entering the run ids."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from cli_run import cli

from cskd.overrides import OverrideError, apply_overrides, parse_override
from cskd.plan import expand
from cskd.results import read_runs
from cskd.suite import SuiteError, load_suite

SUITE = {
    "name": "mini",
    "dataset": "cifar10-jpeg",
    "train_subset": 200,
    "test_subset": 100,
    "recipe": {"epochs": 1, "batch_size": 50, "lr": 0.05, "milestones": []},
    "models": {
        "T_0.5": {"model": "cifar_resnet18_w0_25", "kwargs": {"width_multiplier": 0.5}},
        "S": "cifar_resnet18_w0_25",
    },
    "pairs": [["T_0.5", "S"]],
    "methods": {"KD": {"method": "kd", "args": {"form": "mse"}}, "CSKD": "cskd"},
    "seeds": [0],
    "profiles": {"smoke": {"epochs": 1}},
}


def write_suite(tmp_path: Path) -> Path:
    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(SUITE))
    return path


def test_values_are_read_as_yaml():
    assert parse_override("recipe.lr=0.05").value == 0.05
    assert parse_override("seeds=[0, 1]").value == [0, 1]
    assert parse_override("methods.KD.args.form=kl").value == "kl"
    assert parse_override("recipe.nesterov=true").value is True
    with pytest.raises(OverrideError, match="expected KEY=VALUE"):
        parse_override("recipe.lr")


def test_paths_follow_the_yaml_nesting():
    overrides = [
        parse_override(t)
        for t in ("recipe.lr=0.01", "models.T_0.5.kwargs.width_multiplier=0.25", "methods.CSKD.args.beta=0.02")
    ]
    changed = apply_overrides(SUITE, overrides)
    assert changed["recipe"]["lr"] == 0.01
    assert changed["models"]["T_0.5"]["kwargs"] == {"width_multiplier": 0.25}  # a label holding a dot, matched whole
    assert changed["methods"]["CSKD"] == {"method": "cskd", "args": {"beta": 0.02}}  # the shorthand expanded
    assert SUITE["recipe"]["lr"] == 0.05 and SUITE["methods"]["CSKD"] == "cskd"  # the original is untouched
    assert apply_overrides(SUITE, [parse_override("pairs.0.1=T_0.5")])["pairs"] == [["T_0.5", "T_0.5"]]


def test_overrides_enter_the_run_ids(tmp_path):
    path = write_suite(tmp_path)
    plain = {(r.kind, r.method.label): r.run_id for r in expand(load_suite(path)).runs}
    changed_arg = load_suite(path, ["methods.CSKD.args.beta=0.02"])
    assert changed_arg.overrides == ("methods.CSKD.args.beta=0.02",)
    by_arg = {(r.kind, r.method.label): r for r in expand(changed_arg).runs}
    assert by_arg[("student", "CSKD")].method.args["beta"] == 0.02
    assert by_arg[("student", "CSKD")].run_id != plain[("student", "CSKD")]
    assert by_arg[("student", "KD")].run_id == plain[("student", "KD")]  # what the override does not touch keeps its id
    assert by_arg[("teacher", "Teacher")].run_id == plain[("teacher", "Teacher")]
    by_lr = {(r.kind, r.method.label): r for r in expand(load_suite(path, ["recipe.lr=0.02"])).runs}
    assert by_lr[("teacher", "Teacher")].recipe.lr == 0.02
    assert not set(plain.values()) & {r.run_id for r in by_lr.values()}


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("recipe.lrr=0.1", r"recipe\.lrr: unknown recipe key .*lr.*--set recipe\.lrr=0\.1"),
        ("recipe.lr=fast", r"recipe\.lr: expected a finite number.*--set recipe\.lr=fast"),
        ("methods.CSKDD.args.beta=1", r"methods\.CSKDD\.args\.beta=1: the suite has no key methods\.CSKDD .*CSKD"),
        ("methods.CSKD.args.betaa=1", r"no option 'betaa' \(closest: beta.*--set methods\.CSKD\.args\.betaa=1"),
        ("seeds=three", r"seeds: .*--set seeds=three"),
        ("seeds.3=1", r"seeds\.3: expected a list index from 0 to 0"),
        ("profiles.smokee.epochs=2", r"no key profiles\.smokee .*smoke"),
    ],
)
def test_a_wrong_override_fails_with_the_close_names(tmp_path, override, expected):
    with pytest.raises(SuiteError, match=expected):
        load_suite(write_suite(tmp_path), [override])


def test_a_wrong_override_stops_run_before_training(tmp_path):
    code, _, err = cli("run", str(write_suite(tmp_path)), "--results-dir", str(tmp_path), "--set", "recipe.lrr=0.1")
    assert code == 2 and "--set recipe.lrr=0.1" in err and "unknown recipe key" in err
    assert not (tmp_path / "mini").exists()


def test_run_status_and_report_with_overrides(tmp_path, subset_data_dir):
    suite = str(write_suite(tmp_path))
    common = ["--results-dir", str(tmp_path / "results")]
    engine = ["--data-dir", str(subset_data_dir), "--device", "cpu", "--no-progress"]
    change = ["--set", "recipe.lr=0.02", "--set", "methods={}", "--set", "pairs=[]", "--set", "teachers=[T_0.5]"]
    code, out, err = cli("run", suite, *common, *engine, *change, "--dry-run")
    assert code == 0, err
    assert "with --set recipe.lr=0.02 --set methods={} --set pairs=[] --set teachers=[T_0.5]" in out
    plain_ids = {r.run_id for r in expand(load_suite(suite, change[1::2][1:])).runs}  # the same but lr 0.05
    changed_ids = {r.run_id for r in expand(load_suite(suite, change[1::2])).runs}
    assert len(changed_ids) == 1 and not plain_ids & changed_ids
    assert next(iter(changed_ids)) in out
    assert cli("run", suite, *common, *engine, *change)[0] == 0
    assert cli("run", suite, *common, *engine, *change[2:])[0] == 0  # the same sweep without the lr override
    rows = read_runs(tmp_path / "results" / "mini" / "runs.csv")
    assert set(rows["run_id"]) == plain_ids | changed_ids and (rows["status"] == "ok").all()
    code, out, _ = cli("status", suite, *common, *change)
    assert code == 0 and next(iter(changed_ids)) in out and "done" in out
    reports = tmp_path / "reports"
    code, out, err = cli("report", suite, *common, "--reports-dir", str(reports), *change)
    assert code == 0, err
    markdown = next(Path(p) for p in out.split() if p.endswith(".md") and "-set-" in p)
    text = markdown.read_text()
    assert "Overrides: the suite as changed by --set recipe.lr=0.02" in text
    assert "lr 0.02" in text and "lr 0.05" not in text  # the changed runs only
