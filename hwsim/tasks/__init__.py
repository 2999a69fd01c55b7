"""Datasets for chip training runs, each with a held-out test split."""

from hwsim.tasks.datasets import Dataset, TASKS, load_task

__all__ = ["Dataset", "TASKS", "load_task"]
