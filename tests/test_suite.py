"""Suite validation (the messages users see) and the expansion of the paper's suites into runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cskd.cli import main
from cskd.plan import expand
from cskd.suite import SuiteError, load_suite

VALID = {
    "name": "tiny",
    "dataset": "cifar10-jpeg",
    "recipe": {"epochs": 2, "batch_size": 64, "milestones": [1]},
    "models": {
        "T": "cifar_resnet18_w0_25",
        "S": {"model": "cifar_resnet18_w0_25", "kwargs": {"width_multiplier": 0.5}},
    },
    "pairs": [["T", "S"]],
    "methods": {"CE": {"method": "ce"}, "KD": {"method": "kd", "args": {"form": "mse"}}},
    "seeds": [0],
}


def write_suite(tmp_path: Path, changes: dict, drop: tuple[str, ...] = ()) -> Path:
    suite = {k: v for k, v in {**VALID, **changes}.items() if k not in drop}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def error_of(path: Path) -> str:
    with pytest.raises(SuiteError) as caught:
        load_suite(path)
    return str(caught.value)


def test_valid_suite_loads(tmp_path):
    suite = load_suite(write_suite(tmp_path, {}))
    assert suite.name == "tiny"
    assert [m.label for m in suite.methods] == ["CE", "KD"]
    assert suite.models["S"].kwargs == {"width_multiplier": 0.5}


def test_unknown_model_lists_close_names(tmp_path):
    message = error_of(write_suite(tmp_path, {"models": {"T": "cifar_resnet18_w0_26", "S": "cifar_resnet18_w0_25"}}))
    assert "tiny.yaml" in message and "models.T.model" in message
    assert "unknown model 'cifar_resnet18_w0_26'" in message and "cifar_resnet18_w0_25" in message


def test_unknown_method_lists_close_names(tmp_path):
    message = error_of(write_suite(tmp_path, {"methods": {"KD": {"method": "kdd"}}}))
    assert "methods.KD" in message and "unknown method 'kdd'" in message and "kd" in message


def test_unknown_method_option_lists_close_names(tmp_path):
    message = error_of(write_suite(tmp_path, {"methods": {"KD": {"method": "kd", "args": {"formm": "mse"}}}}))
    assert "methods.KD" in message and "no option 'formm'" in message and "form" in message


def test_wrong_type_names_file_key_and_types(tmp_path):
    message = error_of(write_suite(tmp_path, {"seeds": "zero"}))
    assert "tiny.yaml: seeds: expected list, got str" in message
    message = error_of(write_suite(tmp_path, {"recipe": {"epochs": "many"}}))
    assert "recipe" in message


def test_missing_key_is_named(tmp_path):
    assert "tiny.yaml: dataset: missing required key" in error_of(write_suite(tmp_path, {}, drop=("dataset",)))


def test_unknown_pair_label_and_top_level_key(tmp_path):
    message = error_of(write_suite(tmp_path, {"pairs": [["T", "SS"]]}))
    assert "pairs[0].student" in message and "'SS'" in message and "S" in message
    message = error_of(write_suite(tmp_path, {"seed": [0]}))
    assert "seed: unknown key" in message and "seeds" in message


def test_unknown_suite_name_lists_close_suites():
    with pytest.raises(SuiteError, match="table1"):
        load_suite("tabel1")


@pytest.mark.parametrize(
    ("suite", "profile", "seeds", "expected"),
    [
        ("table1", None, None, 41),  # 2 teachers + 3 CE students + 6 pairs x 6 methods
        ("table2", None, None, 41),
        ("table2", None, [0, 1, 2], 2 + 3 * 3 + 3 * 36),  # teachers are trained once, students per seed
        ("table3", None, None, 1 + 1 + 6),
        ("table4", None, None, 1 + 4),
        ("table1", "quick", None, 1 + 1 + 6),
        ("ci", None, None, 1 + 1 + 4),
    ],
)
def test_paper_suite_expansion_counts(suite, profile, seeds, expected):
    assert len(expand(load_suite(suite), profile, seeds).runs) == expected


def test_teachers_first_and_shared_runs_once():
    plan = expand(load_suite("table2"))
    kinds = [r.kind for r in plan.runs]
    assert kinds.count("teacher") == 2
    ce = [r for r in plan.runs if r.method.label == "CE"]
    assert sorted(r.student for r in ce) == ["R18_0.25", "R34_0.25", "R50_0.25"] and all(not r.teacher for r in ce)
    groups = plan.groups()
    assert all(r.teacher_run is None for r in groups[0])  # teacher-free runs train first
    teacher_ids = {r.run_id for r in plan.runs if r.kind == "teacher"}
    assert all(r.teacher_run in teacher_ids for g in groups[1:] for r in g)
    assert len(groups) == 3 and sorted(len(g) for g in groups[1:]) == [18, 18]  # one lockstep group per teacher


def test_run_identity_follows_configuration():
    suite = load_suite("table1")
    first, again = expand(suite), expand(suite)
    assert [r.run_id for r in first.runs] == [r.run_id for r in again.runs]
    assert len({r.run_id for r in first.runs}) == len(first.runs)
    quick = expand(suite, "quick")
    assert not {r.run_id for r in quick.runs} & {r.run_id for r in first.runs}
    kd = next(r for r in first.runs if r.method.label == "KD")
    assert kd.method.args["form"] == "mse" and len(kd.method.args) > 1  # defaults are part of the identity


def test_only_keeps_the_teachers_it_needs():
    plan = expand(load_suite("table1"), only={"method": "CSKD", "student": "R18_0.25"})
    assert sorted(r.kind for r in plan.runs) == ["student", "student", "teacher", "teacher"]
    with pytest.raises(SuiteError, match="unknown key"):
        expand(load_suite("table1"), only={"metod": "KD"})


def test_dry_run_prints_the_plan(capsys, tmp_path):
    assert main(["run", "table2", "--dry-run", "--results-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "41 runs (0 done, 41 to do)"
    assert sum("[ to do]" in line for line in lines) == 41
    assert all("TMAC" in line for line in lines if "[ to do]" in line)


def test_profile_scales_models_and_recipe():
    plan = expand(load_suite("table1"), "quick")
    teacher = next(r for r in plan.runs if r.kind == "teacher")
    assert teacher.student_model.kwargs == {"width_multiplier": 0.25}  # per-label factors: teacher 0.25
    student = next(r for r in plan.runs if r.method.label == "KD")
    assert student.student_model.kwargs == {"width_multiplier": 0.5} and student.teacher_model == teacher.student_model
    assert teacher.recipe.epochs == 6 and teacher.recipe.milestones == (2, 4, 5)  # 80/120/160 of 200, scaled
    assert teacher.dataset == "cifar10-jpeg" and teacher.train_subset == 6000


def test_profile_width_multiplier_is_validated(tmp_path):
    profiles = {"small": {"width_multiplier": {"TT": 0.5}}}
    message = error_of(write_suite(tmp_path, {"profiles": profiles}))
    assert "profiles.small.width_multiplier.TT: unknown model label" in message and "T" in message
    message = error_of(write_suite(tmp_path, {"profiles": {"small": {"width_multiplier": -1}}}))
    assert "profiles.small.width_multiplier: must be a number > 0, got -1" in message


def test_missing_data_stops_the_sweep_before_any_row(tmp_path, capsys):
    empty = tmp_path / "no-data"
    empty.mkdir()
    code = main(["run", "table1", "--results-dir", str(tmp_path), "--data-dir", str(empty), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 2
    assert "dataset 'cifar10' not found" in out and str(empty) in out and "cifar-10-python.tar.gz" in out
    assert not (tmp_path / "table1" / "runs.csv").exists()


def test_model_recipe_overrides_reach_the_runs_that_train_that_model(tmp_path):
    models = {**VALID["models"], "S": {**VALID["models"]["S"], "recipe": {"lr": 0.01}}}
    profiles = {"short": {"epochs": 1, "recipe": {"batch_size": 32}}}
    suite = load_suite(write_suite(tmp_path, {"models": models, "profiles": profiles}))
    assert suite.model_recipes == {"S": {"lr": 0.01}}
    plan = expand(suite)
    teacher = next(r for r in plan.runs if r.kind == "teacher")
    students = [r for r in plan.runs if r.kind == "student"]
    assert teacher.recipe.lr == 0.1 and {r.recipe.lr for r in students} == {0.01}  # the student's runs, any method
    base_teacher = next(r for r in expand(load_suite(write_suite(tmp_path, {}))).runs if r.kind == "teacher")
    assert teacher.run_id == base_teacher.run_id  # only S's runs change
    assert len(plan.groups()) == 3  # teacher, CE and KD: the teacher-free runs differ in recipe, so train apart
    short = expand(suite, "short")
    assert {(r.recipe.lr, r.recipe.batch_size, r.recipe.epochs) for r in short.runs if r.kind == "student"} == {
        (0.01, 32, 1)
    }
    message = error_of(
        write_suite(tmp_path, {"models": {**models, "S": {"model": "cifar_resnet18_w0_25", "recipe": {"lr": -1}}}})
    )
    assert "models.S.recipe" in message and "lr must be > 0" in message
    message = error_of(
        write_suite(tmp_path, {"models": {**models, "S": {"model": "cifar_resnet18_w0_25", "recipes": {}}}})
    )
    assert "models.S.recipes: unknown key" in message and "recipe" in message


def test_pairs_carry_their_own_method_arguments_and_skipped_methods(tmp_path):
    pairs = [
        {"teacher": "T", "student": "S", "method_args": {"KD": {"temperature": 2.0}}, "skip_methods": ["CE"]},
        {"teacher": "S", "student": "T"},
    ]
    profiles = {"one": {"pairs": [["T", "S"]], "method_args": {"KD": {"kd_weight": 0.5}}}}
    suite = load_suite(write_suite(tmp_path, {"pairs": pairs, "profiles": profiles}))
    kd = {(r.teacher, r.student): r.method.args for r in expand(suite).runs if r.method.label == "KD"}
    assert kd[("T", "S")]["temperature"] == 2.0 and kd[("S", "T")]["temperature"] == 4.0
    ce = [r for r in expand(suite).runs if r.method.label == "CE"]
    assert [r.student for r in ce] == ["T"]  # CE skipped on the first pair; the second pair's student still has one
    (one,) = [r for r in expand(suite, "one").runs if r.method.label == "KD"]  # the profile's pair keeps the suite's
    assert (one.method.args["temperature"], one.method.args["kd_weight"]) == (2.0, 0.5)
    assert not [r for r in expand(suite, "one").runs if r.method.label == "CE"]

    bad = [{"teacher": "T", "student": "S", "skip_methods": ["KDD"]}]
    message = error_of(write_suite(tmp_path, {"pairs": bad}))
    assert "pairs[0].skip_methods: unknown method label 'KDD'" in message and "KD" in message
    bad = [{"teacher": "T", "student": "S", "method_args": {"KD": {"temp": 2.0}}}]
    message = error_of(write_suite(tmp_path, {"pairs": bad}))
    assert "pairs[0].method_args.KD" in message and "no option 'temp'" in message
    bad = [{"teacher": "T", "student": "S", "args": {}}]
    assert "pairs[0].args: unknown key" in error_of(write_suite(tmp_path, {"pairs": bad}))
    profiles = {"p": {"pairs": [{"teacher": "T", "student": "S", "method_args": {"XX": {}}}]}}
    assert "profiles.p.pairs[0].method_args.XX: unknown method label" in error_of(
        write_suite(tmp_path, {"profiles": profiles})
    )
