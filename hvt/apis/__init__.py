"""Inference helpers: one checkpoint-plus-config call per task (see :mod:`hvt.apis.inference`)."""
from .inference import TASKS, draw_sample, inference, init_model, show_result, task_of

__all__ = ['TASKS', 'init_model', 'inference', 'show_result', 'draw_sample', 'task_of']
