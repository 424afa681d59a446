"""The task table is the one place per-task facts live: every reader finds what it needs there."""

from __future__ import annotations

import importlib

import pytest

from edgephoto import tasks
from edgephoto.convert.user_check import CHECKS
from edgephoto.errors import UnknownNameError
from edgephoto.quantize.accuracy import SCORERS
from edgephoto.runtime.tasks import TASKS as RUNNERS
from edgephoto.zoo import get_model


def test_every_task_has_a_runner_and_every_runner_a_table_entry() -> None:
    assert set(RUNNERS.names()) == set(tasks.TASKS.names())
    for name, task in tasks.TASKS:
        module, function = task.runner.split(":")
        assert RUNNERS.get(name).run is getattr(importlib.import_module(module), function)
        assert RUNNERS.get(name).returns == task.returns


def test_table_values_name_real_implementations() -> None:
    for name, task in tasks.TASKS:
        assert task.scorer in SCORERS, name
        assert task.sanity is None or task.sanity in CHECKS, name
        assert task.calibration[0] in ("MinMax", "Percentile", "Entropy", "Distribution"), name
        assert task.parity.metric and task.limit.metric, name


def test_default_models_are_permissive_zoo_models_of_their_task() -> None:
    defaults = tasks.default_models()
    assert set(defaults) <= set(tasks.roles())
    for role, model in defaults.items():
        spec = get_model(model)
        assert spec.permissive, (role, model, spec.licence)
        assert tasks.role_of(spec.task, spec.scale) == role


def test_roles_are_unique_and_upscale_roles_follow_the_scale() -> None:
    assert len(set(tasks.roles())) == len(tasks.roles())
    assert tasks.role_of("upscale", 4) == "upscale4"
    assert tasks.role_of("segmentation", 1) == "segmentation"


def test_unknown_task_suggests_the_nearest() -> None:
    with pytest.raises(UnknownNameError, match="segmentation"):
        tasks.TASKS.get("segmentaton")
