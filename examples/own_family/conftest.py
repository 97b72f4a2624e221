"""This project's model family and data, handed to pytest-scaling through its two hooks.

Both hooks run in every process that uses the plugin (the controller and each pytest-xdist worker):
they build the same trainer and the same tensors every time, from fixed seeds.
"""

from teacher_mlp import MLPTrainer, teacher_task


def pytest_scaling_make_trainer(config):
    return MLPTrainer()


def pytest_scaling_resolve_dataset(config, name):
    if name in ("auto", "teacher"):
        return teacher_task()
    return None  # any other --scaling-dataset: the built-in resolution (an unknown name is a usage error)
