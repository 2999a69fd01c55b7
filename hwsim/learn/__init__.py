"""Training control: MGD trainer that schedules evaluations, logs and stops runs."""

from hwsim.learn.trainer import MGDTrainer, StopToken, TimelineProcessError, build_chip

__all__ = ["MGDTrainer", "StopToken", "TimelineProcessError", "build_chip"]
