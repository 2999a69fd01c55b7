"""Datasets for chip training runs, each with a test split: built-in tasks and data files."""

from hwsim.tasks.datasets import TASKS, Dataset, digits_arrays, load_task
from hwsim.tasks.files import FILE_TASKS, changed_files, describe_dataset, load_file_task
from hwsim.tasks.loader import load_dataset

__all__ = ["Dataset", "TASKS", "FILE_TASKS", "load_task", "load_file_task", "load_dataset",
           "digits_arrays", "describe_dataset", "changed_files"]
