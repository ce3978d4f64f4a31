"""Hydra builds only the project's callbacks and Hydra's plugins from a config: any other
``_target_`` under ``hydra`` (from the command line or an experiment file) is refused
before it runs, unless ``LITE_HRNET_ALLOW_TARGETS=1``."""

from __future__ import annotations

from pathlib import Path

import pytest

from lite_hrnet.cli.hydra_targets import ALLOW_TARGETS_ENV, refused_targets
from tests.support import compose_config, run_cli

# An unknown key makes the run itself fail at once, should the guard let it start.
STOP = "+bogus=1"


def _makedirs(name: str, target: Path) -> list[str]:
    return [
        f"+hydra.callbacks.{name}._target_=os.makedirs",
        f"+hydra.callbacks.{name}.name={target}",
    ]


@pytest.fixture(autouse=True)
def _no_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_TARGETS_ENV, raising=False)


def test_a_callback_target_from_the_command_line_is_refused(tmp_path: Path, capsys) -> None:
    made = tmp_path / "made"
    code = run_cli(["train", *_makedirs("x", made), STOP, f"hydra.run.dir={tmp_path / 'run'}"])
    assert code != 0 and not made.exists()
    err = capsys.readouterr().err
    assert "hydra.callbacks.x._target_=os.makedirs" in err and ALLOW_TARGETS_ENV in err
    assert "Traceback" not in err


def test_a_callback_target_in_an_experiment_file_is_refused_in_a_sweep(
    tmp_path: Path, capsys
) -> None:
    made = tmp_path / "made"
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    (tmp_path / "conf" / "experiment" / "shared.yaml").write_text(
        "# @package _global_\n"
        "hydra:\n  callbacks:\n    tidy:\n"
        f"      _target_: os.makedirs\n      name: {made}\n"
    )
    argv = ["train", "-m", "--config-dir", str(tmp_path / "conf"), "experiment=shared", STOP,
            f"hydra.sweep.dir={tmp_path / 'sweep'}"]  # fmt: skip
    assert run_cli(argv) != 0 and not made.exists()
    assert "hydra.callbacks.tidy._target_=os.makedirs" in capsys.readouterr().err


def test_a_target_nested_in_the_projects_callback_is_refused(tmp_path: Path, capsys) -> None:
    made = tmp_path / "made"
    nested = ["+hydra.callbacks.sweep_summary.x._target_=os.makedirs",
              f"+hydra.callbacks.sweep_summary.x.name={made}"]  # fmt: skip
    assert run_cli(["train", *nested, STOP, f"hydra.run.dir={tmp_path / 'run'}"]) != 0
    assert not made.exists()
    assert "hydra.callbacks.sweep_summary.x._target_" in capsys.readouterr().err


def test_evals_hydra_form_refuses_them_too(tmp_path: Path, capsys) -> None:
    made = tmp_path / "made"
    assert run_cli(["eval", *_makedirs("x", made), f"hydra.run.dir={tmp_path / 'run'}"]) != 0
    assert not made.exists()
    assert "hydra.callbacks.x._target_=os.makedirs" in capsys.readouterr().err


def test_the_user_can_opt_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = tmp_path / "made"
    monkeypatch.setenv(ALLOW_TARGETS_ENV, "1")
    # Built, then the run stops at the unknown key.
    assert run_cli(["train", *_makedirs("x", made), STOP, f"hydra.run.dir={tmp_path}/r"]) == 2
    assert made.is_dir()


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["hparams_search=synthetic_coco_optuna"],
        ["hydra/launcher=joblib"],
        ["+hydra.callbacks.log._target_=hydra.experimental.callbacks.LogJobReturnCallback"],
    ],
)
def test_the_projects_callbacks_and_hydras_plugins_are_allowed(overrides: list[str]) -> None:
    assert refused_targets(compose_config(overrides, typed=False)) == []


def test_only_callback_classes_are_allowed_as_callbacks() -> None:
    cfg = compose_config(
        ["+hydra.callbacks.x._target_=lite_hrnet.training.jobs.write_failure",
         "+hydra.callbacks.y._target_=hydra.utils.call",
         "hydra.sweeper._target_=builtins.print"],
        typed=False,
    )  # fmt: skip
    assert refused_targets(cfg) == [
        ("hydra.sweeper._target_", "builtins.print"),
        ("hydra.callbacks.x._target_", "lite_hrnet.training.jobs.write_failure"),
        ("hydra.callbacks.y._target_", "hydra.utils.call"),
    ]
