"""Registers every task of the task table (edgephoto/tasks.py) with the function that runs it.

Imported lazily by TASKS, so task modules load only when a task is asked for.
"""

from __future__ import annotations

import importlib

from edgephoto.runtime.tasks import TASKS, TaskInfo
from edgephoto.tasks import TASKS as TASK_TABLE

for _name, _task in TASK_TABLE:
    _module, _function = _task.runner.split(":")
    TASKS.add(_name, TaskInfo(_name, getattr(importlib.import_module(_module), _function), _task.returns))
