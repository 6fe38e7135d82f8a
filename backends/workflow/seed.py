"""The seed workflow's defaults, read from ``data/seed.json`` (package data).

- ``phase_configs()``: the four ``phase_config`` messages the seed's task generator
  pushes onto ``input_queue`` (base rate 300 tasks/min, 60 s phases, 1 s windows):
  steady x0.3, steady x1.5, oscillation_slow 0.5-1.5 one cycle, oscillation_fast
  0.3-1.7 four cycles; ``target_tasks`` = int(base_rate x multiplier x duration / 60).
- ``ImageTaskModel``: its ``image_processing`` task: a processing time drawn from
  a gamma distribution (mean 1.5 s, shape 4), clipped to what the calibrated model
  ``time = a x size^2 + b`` gives for 512..4096 px images, turned into an image
  size and back into the processing time of that size.
- ``PUBLISHED``: the QoS and mean workers the seed reports for its policies.
"""

from __future__ import annotations

import json
import math
import random
from functools import lru_cache
from importlib import resources

__all__ = ["seed_data", "phase_configs", "ImageTaskModel", "published"]


@lru_cache(maxsize=1)
def seed_data() -> dict:
    """The parsed ``data/seed.json``."""
    return json.loads(resources.files(__package__).joinpath("data/seed.json").read_text())


def phase_configs(
    base_rate: float | None = None, phase_duration: float | None = None, window_duration: float | None = None
) -> list[dict]:
    """The seed generator's ``phase_config`` messages, in order (phase 1 first)."""
    d = seed_data()
    base = d["base_rate"] if base_rate is None else base_rate
    dur = d["phase_duration"] if phase_duration is None else phase_duration
    win = d["window_duration"] if window_duration is None else window_duration
    out = []
    for p in d["phases"]:
        msg = {
            "type": "phase_config",
            "phase_number": p["phase_number"],
            "phase_name": p["phase_name"],
            "base_rate": base,
            "phase_multiplier": p["phase_multiplier"],
            "phase_duration": dur,
            "window_duration": win,
            "target_tasks": int(base * p["phase_multiplier"] * (dur / 60)),
            "phase_pattern": p["phase_pattern"],
        }
        if p["phase_pattern"].startswith("oscillation"):
            for k in ("oscillation_min", "oscillation_max", "oscillation_cycles"):
                msg[k] = p[k]
        out.append(msg)
    return out


def published() -> list[dict]:
    return list(seed_data()["published"])


class ImageTaskModel:
    """The seed's image_processing task: ``sample(rng) -> (processing_time_s, image_size)``."""

    def __init__(self, task: dict | None = None):
        t = task or seed_data()["task"]
        self.application = t["application"]
        self.priority = t["priority"]
        self.a = float(t["calibrated_model"]["a"])
        self.b = float(t["calibrated_model"]["b"])
        self.min_size, self.max_size = int(t["min_image_size"]), int(t["max_image_size"])
        self.mean = float(t["target_mean_processing_time"])
        self.shape = float(t["processing_time_shape"])
        self.min_time = self.a * self.min_size**2 + self.b
        self.max_time = self.a * self.max_size**2 + self.b

    def sample(self, rng: random.Random) -> tuple[float, int]:
        scale = self.mean / self.shape
        drawn = 0.0
        for _ in range(5):
            candidate = rng.gammavariate(self.shape, scale)
            if candidate > self.b:
                drawn = candidate
                break
        if drawn <= self.b:
            drawn = self.mean
        drawn = max(self.min_time, min(drawn, self.max_time))
        size = int(max(self.min_size, min(math.sqrt(max((drawn - self.b) / max(self.a, 1e-12), 0.0)), self.max_size)))
        return max(0.001, self.a * size**2 + self.b), size
