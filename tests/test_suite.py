"""Suite validation (the messages users see) and the expansion of the paper's suites into runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cskd.cli import main
from cskd.plan import expand, split_evenly
from cskd.suite import SuiteError, load_suite
from cskd.typecheck import type_problem

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


WITH_DKD = {"methods": {**VALID["methods"], "DKD": {"method": "dkd"}}}


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
    message = error_of(write_suite(tmp_path, {"methods": {"KD": {"method": "KD"}}}))  # names are case-sensitive
    assert "unknown method 'KD' (closest: kd)" in message


def test_unknown_method_option_lists_close_names(tmp_path):
    message = error_of(write_suite(tmp_path, {"methods": {"KD": {"method": "kd", "args": {"formm": "mse"}}}}))
    assert "methods.KD" in message and "no option 'formm'" in message and "form" in message


RECIPE = VALID["recipe"]
CSKD = {"method": "cskd", "args": {"variant": "paper"}}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"seeds": "zero"}, "seeds: expected a list of integers, got a string ('zero')"),
        ({"seeds": [0, 1.5]}, "seeds: expected a list of integers, got a list ([0, 1.5])"),
        ({"recipe": {**RECIPE, "epochs": "ten"}}, "recipe.epochs: expected an integer, got a string ('ten')"),
        ({"recipe": {**RECIPE, "epochs": 2.5}}, "recipe.epochs: expected an integer, got a number (2.5)"),
        ({"recipe": {**RECIPE, "lr": "0.05"}}, "recipe.lr: expected a finite number, got a string ('0.05')"),
        ({"recipe": {**RECIPE, "lr": float("nan")}}, "recipe.lr: expected a finite number, got a number (nan)"),
        ({"recipe": {**RECIPE, "lr": True}}, "recipe.lr: expected a finite number, got a boolean (True)"),
        ({"recipe": {**RECIPE, "nesterov": "no"}}, "recipe.nesterov: expected true or false, got a string ('no')"),
        (
            {"recipe": {**RECIPE, "milestones": "1, 2"}},
            "recipe.milestones: expected a list of integers, got a string ('1, 2')",
        ),
        ({"recipe": {**RECIPE, "milestones": [0]}}, "recipe.milestones: must be epochs >= 1, got (0,)"),
        ({"recipe": {**RECIPE, "lr_factor": 0}}, "recipe.lr_factor: must be > 0, got 0"),
        ({"recipe": {**RECIPE, "epoch": 2}}, "recipe.epoch: unknown recipe key (known: epochs,"),
        (
            {"methods": {"CSKD": {**CSKD, "args": {"intra": "no"}}}},
            "methods.CSKD.args: option 'intra' of method 'cskd': expected true or false, got a string ('no')",
        ),
        (
            {"methods": {"KD": {"method": "kd", "args": {"temperature": "4"}}}},
            "methods.KD.args: option 'temperature' of method 'kd': expected a finite number, got a string ('4')",
        ),
        (
            {"methods": {"KD": {"method": "kd", "args": {"form": "MSE"}}}},
            "methods.KD.args: option 'form' of method 'kd': expected one of 'kl', 'mse', got a string ('MSE')",
        ),
        ({"methods": {"KD": {"method": "kd", "arg": {}}}}, "methods.KD.arg: unknown key (closest: args)"),
        ({"teacher_seed": "0"}, "teacher_seed: expected an integer, got a string ('0')"),
        ({"description": 5}, "description: expected a string, got an integer (5)"),
        ({"teachers": "T"}, "teachers: expected a list of strings, got a string ('T')"),
        ({"normalization": "authors"}, "normalization: expected one of 'dataset', 'authors_code', got a string"),
        ({"profiles": {"q": {"epochs": 2.5}}}, "profiles.q.epochs: expected an integer, got a number (2.5)"),
        ({"profiles": {"q": {"epochs": 0}}}, "profiles.q.epochs: must be >= 1, got 0"),
        ({"profiles": {"q": {"seeds": []}}}, "profiles.q.seeds: expected a non-empty list of integers"),
        ({"profiles": {"q": {"recipe": {"lr": "x"}}}}, "profiles.q.recipe.lr: expected a finite number"),
        ({"profiles": {"q": {"width_multiplier": True}}}, "profiles.q.width_multiplier: expected a finite number or"),
        (
            {"profiles": {"q": {"method_args": {"KD": {"kd_weight": "0.5"}}}}},
            "profiles.q.method_args.KD: option 'kd_weight' of method 'kd': expected a finite number",
        ),
    ],
)
def test_every_field_is_type_checked_naming_key_and_expected_type(tmp_path, changes, expected):
    assert f"tiny.yaml: {expected}" in error_of(write_suite(tmp_path, changes))


def test_subset_sizes_are_checked_against_the_dataset(tmp_path):
    message = error_of(write_suite(tmp_path, {"train_subset": 100000}))
    assert "train_subset: must be between 1 and 50000, the train images of cifar10-jpeg, got 100000" in message
    message = error_of(write_suite(tmp_path, {"profiles": {"q": {"test_subset": 20000}}}))
    assert "profiles.q.test_subset: must be between 1 and 10000, the test images of cifar10-jpeg" in message
    assert "train_subset: must be" in error_of(write_suite(tmp_path, {"train_subset": 0}))


def test_names_are_checked_against_the_registries(tmp_path):
    message = error_of(write_suite(tmp_path, {"dataset": "cifar10-jepg"}))
    assert "tiny.yaml: dataset: unknown dataset 'cifar10-jepg'" in message and "cifar10-jpeg" in message
    message = error_of(write_suite(tmp_path, {"profiles": {"q": {"dataset": "cifar100-jpeg"}}}))
    assert "profiles.q.dataset: unknown dataset 'cifar100-jpeg'" in message
    assert "paper_table: no table '7'" in error_of(write_suite(tmp_path, {"paper_table": 7}))
    checkpoints = {"T": {"path": "t.pt", "sha256": "abc"}}
    message = error_of(write_suite(tmp_path, {"teacher_checkpoints": checkpoints}))
    assert "teacher_checkpoints.T.sha256: expected 64 lowercase hex digits" in message
    message = error_of(write_suite(tmp_path, {"normalization": "authors_code", "dataset": "tiny-imagenet"}))
    assert "normalization: 'authors_code' is the authors' CIFAR normalisation" in message


def test_every_method_option_has_a_checkable_annotation():
    from cskd.methods import get_method, method_names
    from cskd.typecheck import check_annotations_supported

    for name in method_names():
        for option, annotation in get_method(name).option_types().items():
            check_annotations_supported(annotation)  # raises for an annotation values cannot be checked against
            default = next(o.default for o in get_method(name).options() if o.name == option)
            assert type_problem(default, annotation) == "", (name, option)  # each default passes its own check


@pytest.mark.parametrize(
    ("changes", "key", "problem"),
    [
        (
            {"models": {**VALID["models"], "S": {"model": "cifar_resnet18_w0_25", "kwargs": {"width_multiplier": -1}}}},
            "models.S.kwargs.width_multiplier",  # refused by the bounds (cskd/limits.py) before any model is built
            "must be a number > 0 and <= 16, got -1",
        ),
        (
            {"models": {**VALID["models"], "S": {"model": "cifar_resnet18_w0_25", "kwargs": {"widht": 0.5}}}},
            "models.S.kwargs",
            "unexpected keyword argument 'widht'",
        ),
        (
            {"methods": {"KD": {"method": "kd", "args": {"temperature": -1.0}}}},
            "methods.KD.args",
            "cannot build method 'kd' for T -> S: option 'temperature' must be a finite number > 0",
        ),
        (
            {"methods": {"FitNet": {"method": "fitnet", "args": {"hint_stage": 9}}}},
            "methods.FitNet.args",
            "option 'hint_stage': stage 9 does not exist",
        ),
        (
            {"profiles": {"q": {"method_args": {"KD": {"kd_weight": 2.0}}}}},
            "profiles.q.method_args.KD",
            "option 'kd_weight' must lie in [0, 1]",
        ),
        (  # one pair's own options: built as the plan resolves them, not only the suite's
            {"pairs": [{"teacher": "T", "student": "S", "method_args": {"KD": {"temperature": -1.0}}}]},
            "pairs[0].method_args.KD",
            "cannot build method 'kd' for T -> S: option 'temperature' must be a finite number > 0",
        ),
        (  # a pair's own option, as the plan applies it (issue 19: once only checked after the teachers trained)
            {"pairs": [{"teacher": "T", "student": "S", "method_args": {"DKD": {"beta": -1.0}}}], **WITH_DKD},
            "pairs[0].method_args.DKD",
            "cannot build method 'dkd' for T -> S: option 'beta'",
        ),
        (
            {"profiles": {"q": {"pairs": [{"teacher": "T", "student": "S", "method_args": {"DKD": {"beta": -1.0}}}]}}}
            | WITH_DKD,
            "profiles.q.pairs[0].method_args.DKD",
            "option 'beta'",
        ),
    ],
)
def test_models_and_methods_are_built_before_anything_trains(tmp_path, capsys, changes, key, problem):
    path = write_suite(tmp_path, changes)
    profile = ["--profile", "q"] if "profiles" in changes else []
    for dry_run in (["--dry-run"], []):
        argv = ["run", str(path), *profile, *dry_run, "--results-dir", str(tmp_path), "--no-progress"]
        assert main(argv) == 2
        assert f"tiny.yaml: {key}: " in (err := capsys.readouterr().err) and problem in err
    assert not (tmp_path / "tiny").exists()  # nothing trained, no row written


def test_a_method_a_pair_skips_is_not_built_for_it(tmp_path, capsys):
    """The plan's skips apply to the build check too: a method no pair runs cannot stop the suite."""
    bad = {"methods": {"CE": {"method": "ce"}, "KD": {"method": "kd", "args": {"temperature": -1.0}}}}
    skipped = write_suite(tmp_path, {**bad, "pairs": [{"teacher": "T", "student": "S", "skip_methods": ["KD"]}]})
    assert main(["run", str(skipped), "--dry-run", "--results-dir", str(tmp_path)]) == 0
    assert "cannot build" not in capsys.readouterr().err


def test_a_misspelt_dataset_gets_the_same_message_in_a_dry_run(tmp_path, capsys):
    path = write_suite(tmp_path, {"dataset": "cifar10-jepg"})
    messages = []
    for dry_run in (["--dry-run"], []):
        assert main(["run", str(path), *dry_run, "--results-dir", str(tmp_path)]) == 2
        messages.append(capsys.readouterr().err)
    assert messages[0] == messages[1] and "unknown dataset 'cifar10-jepg'" in messages[0]


def test_dry_run_says_where_the_data_comes_from(tmp_path, capsys):
    """With no data at all: the ci suite's subset comes from the images shipped with cskd, the CPU teacher's full copy
    would be fetched, and a dataset that --no-download keeps from being fetched is reported missing."""
    empty = tmp_path / "no-data"
    empty.mkdir()
    common = ["--dry-run", "--results-dir", str(tmp_path), "--data-dir", str(empty)]
    assert main(["run", "ci", *common]) == 0
    assert "data: cifar10-jpeg: present at " in capsys.readouterr().out
    assert main(["run", "cpu_teacher", *common]) == 0
    assert "data: cifar10-jpeg: will be fetched before training" in capsys.readouterr().out
    assert main(["run", "table3", *common, "--no-download"]) == 0
    assert "data: tiny-imagenet: missing (--no-download: not fetched" in capsys.readouterr().out


def test_only_matching_nothing_exits_2_with_close_names(tmp_path, capsys):
    assert main(["run", "table1", "--dry-run", "--only", "method=KDD", "--results-dir", str(tmp_path)]) == 2
    assert "--only method=KDD: no run of this plan has method 'KDD' (closest: KD" in capsys.readouterr().err
    assert main(["run", "table1", "--dry-run", "--only", "method=cskd", "--results-dir", str(tmp_path)]) == 2
    assert "values are case-sensitive: 'CSKD'?" in capsys.readouterr().err
    only = ["--only", "method=CE", "--only", "kind=teacher"]
    assert main(["run", "table1", "--dry-run", *only, "--results-dir", str(tmp_path)]) == 2
    assert "each value matches some run, but no run matches them all" in capsys.readouterr().err


def test_shipped_reference_runs_keep_their_ids():
    """Validation and new settings changed no run id: the committed CI reference still names this suite's runs."""
    from cskd.results import read_runs

    reference = read_runs(Path(__file__).resolve().parents[1] / "reference" / "results" / "ci" / "runs.csv")
    assert set(reference["run_id"]) == {r.run_id for r in expand(load_suite("ci")).runs}


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
        ("table1", "smoke", None, 1 + 1 + 6),
        ("ci", None, None, 1 + 5),  # the teacher is shipped (teacher_checkpoints): CE, then five students
        ("quick", None, None, 3 * 10),  # ten methods, three seeds, the teacher shipped
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


def test_lockstep_size_splits_each_group_into_near_equal_parts_in_order():
    plan = expand(load_suite("table2"))
    whole = plan.groups()
    parts = plan.groups(max_size=5)
    assert [r.run_id for g in parts for r in g] == [r.run_id for g in whole for r in g]  # same runs, same order
    assert sorted(len(g) for g in parts) == sorted([len(whole[0])] + [5, 5, 4, 4] * 2)  # 18 -> 5+5+4+4; 3 stays
    assert all(len({r.lockstep_key for r in g}) == 1 for g in parts)  # a part never mixes groups
    assert [len(g) for g in plan.groups(max_size=1)] == [1] * len(plan.runs)
    assert [len(g) for g in split_evenly(list(range(10)), 4)] == [4, 3, 3]
    with pytest.raises(ValueError, match="at least 1 run"):
        split_evenly([1, 2], 0)


def test_run_identity_follows_configuration():
    suite = load_suite("table1")
    first, again = expand(suite), expand(suite)
    assert [r.run_id for r in first.runs] == [r.run_id for r in again.runs]
    assert len({r.run_id for r in first.runs}) == len(first.runs)
    smoke = expand(suite, "smoke")
    assert not {r.run_id for r in smoke.runs} & {r.run_id for r in first.runs}
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
    assert "41 runs (0 done, 41 to do)" in lines
    assert sum("[ to do]" in line for line in lines) == 41
    assert all("CPU-h" in line and "GPU-h" in line for line in lines if "[ to do]" in line)


def test_profile_scales_models_and_recipe():
    plan = expand(load_suite("table1"), "smoke")
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
    command = ["run", "table1", "--results-dir", str(tmp_path), "--data-dir", str(empty), "--no-progress"]
    code = main([*command, "--no-download"])
    out = capsys.readouterr().err
    assert code == 2
    assert "dataset 'cifar10' not found" in out and str(empty) in out and "cifar-10-python.tar.gz" in out
    assert not (tmp_path / "table1" / "runs.csv").exists()


def test_authors_code_normalisation_is_part_of_the_run_and_its_data(tmp_path):
    from cskd.data.augment import AUTHORS_CODE_MEAN, AUTHORS_CODE_STD, CIFAR10_AUGMENT, normalized_as

    default = expand(load_suite(write_suite(tmp_path, {})))
    authors = expand(load_suite(write_suite(tmp_path, {"normalization": "authors_code"})))
    assert {r.normalization for r in authors.runs} == {"authors_code"}
    assert not {r.run_id for r in default.runs} & {r.run_id for r in authors.runs}  # other data, other runs
    spec = normalized_as(CIFAR10_AUGMENT, "authors_code")
    assert (
        (spec.mean, spec.std)
        == (AUTHORS_CODE_MEAN, AUTHORS_CODE_STD)
        == ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))
    )
    assert normalized_as(CIFAR10_AUGMENT, "dataset") == CIFAR10_AUGMENT


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
    assert "models.S.recipe.lr: must be > 0, got -1" in message
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
