"""Training control: MGD trainer that schedules evaluations, logs and stops runs."""

from hwsim.learn.trainer import MGDTrainer, build_chip

__all__ = ["MGDTrainer", "build_chip"]
