"""Workload phases: how fast tasks arrive, over time, read from YAML.

A workload is a list of phases played in order (and repeated when a run
needs more tasks than one pass yields). Each phase has a ``duration_s`` and a
rate function of the time since the phase began, in tasks per second:

- ``steady``: ``rate``.
- ``oscillation``: a real sine between ``min_rate`` and ``max_rate`` over
  ``cycles`` full periods: ``mid - amp * cos(2 pi cycles t / duration)``
  (starts at the minimum, peaks mid-cycle); with ``start_at: mid`` it is the
  seed's ``mid + amp * sin(2 pi cycles t / duration)``.
- ``burst``: ``rate`` with spikes to ``burst_rate`` lasting ``burst_length_s``
  every ``burst_every_s`` (the first spike starts after one period).
- ``ramp``: linear from ``from_rate`` to ``to_rate``.

Arrivals are a non-homogeneous Poisson process at the instantaneous rate,
drawn by thinning (Lewis-Shedler): candidates at the phase's peak rate, each
kept with probability rate(t)/peak. A phase with ``tasks: N`` has exactly N
arrivals (the seed's ``target_tasks``): N times drawn independently with density
rate(t) (a Poisson process conditioned on its count), so the shape is realised,
not spread evenly as the seed's generator does. ``expected_count(t0, t1)``
integrates the rate so tests can check counts per window against what a phase
promises.

``phase_from_config`` turns the seed's ``phase_config`` message (rates in tasks
per minute) into a phase; ``seed_workload()`` is the seed's four phases.

Task sizes: ``task_duration_ms`` (mean expected duration) with
``duration_dist`` ``constant`` (default), ``exponential``, ``uniform``
(0..2 x mean) or ``image_processing`` (the seed's task model, ``seed.py``: mean
1.5 s, gamma-distributed); a phase may override both.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Phase",
    "Workload",
    "WorkloadError",
    "load_workload",
    "parse_workload",
    "PHASE_TYPES",
    "DURATION_DISTS",
    "phase_from_config",
    "seed_workload",
    "steady",
]

PHASE_TYPES = ("steady", "oscillation", "burst", "ramp")
DURATION_DISTS = ("constant", "exponential", "uniform", "image_processing")


class WorkloadError(ValueError):
    """A phases file that does not describe a workload."""


@dataclass
class Phase:
    type: str
    duration_s: float
    rate: float = 0.0
    min_rate: float = 0.0
    max_rate: float = 0.0
    cycles: float = 1.0
    burst_rate: float = 0.0
    burst_every_s: float = 5.0
    burst_length_s: float = 0.5
    from_rate: float = 0.0
    to_rate: float = 0.0
    name: str = ""
    task_duration_ms: float | None = None
    duration_dist: str | None = None
    start_at: str = "min"  # oscillation: "min" (-cos) or "mid" (the seed's sin)
    tasks: float | None = None  # exactly this many arrivals (the seed's target_tasks)

    def rate_at(self, t: float) -> float:
        """Tasks per second ``t`` seconds into the phase."""
        if self.type == "steady":
            return self.rate
        if self.type == "oscillation":
            mid = (self.max_rate + self.min_rate) / 2.0
            amp = (self.max_rate - self.min_rate) / 2.0
            x = 2.0 * math.pi * self.cycles * t / self.duration_s
            return mid + amp * math.sin(x) if self.start_at == "mid" else mid - amp * math.cos(x)
        if self.type == "burst":
            k = t / self.burst_every_s
            into = t - math.floor(k) * self.burst_every_s
            in_burst = k >= 1.0 and into < self.burst_length_s
            return self.burst_rate if in_burst else self.rate
        if self.type == "ramp":
            return self.from_rate + (self.to_rate - self.from_rate) * (t / self.duration_s)
        raise WorkloadError(f"unknown phase type {self.type!r}")

    @property
    def peak(self) -> float:
        return {
            "steady": self.rate,
            "oscillation": self.max_rate,
            "burst": max(self.rate, self.burst_rate),
            "ramp": max(self.from_rate, self.to_rate),
        }[self.type]

    def integral(self, a: float, b: float) -> float:
        """Expected arrivals in [a, b] seconds of this phase (closed forms)."""
        if self.tasks is not None:  # the rate's shape, scaled to exactly ``tasks``
            whole = self._rate_integral(0.0, self.duration_s)
            if whole <= 0:
                a, b = max(0.0, a), min(self.duration_s, b)
                return self.tasks * max(0.0, b - a) / self.duration_s
            return self.tasks * self._rate_integral(a, b) / whole
        return self._rate_integral(a, b)

    def _rate_integral(self, a: float, b: float) -> float:
        a, b = max(0.0, a), min(self.duration_s, b)
        if b <= a:
            return 0.0
        if self.type == "steady":
            return self.rate * (b - a)
        if self.type == "oscillation":
            mid = (self.max_rate + self.min_rate) / 2.0
            amp = (self.max_rate - self.min_rate) / 2.0
            w = 2.0 * math.pi * self.cycles / self.duration_s
            if self.start_at == "mid":
                return mid * (b - a) - amp * (math.cos(w * b) - math.cos(w * a)) / w
            return mid * (b - a) - amp * (math.sin(w * b) - math.sin(w * a)) / w
        if self.type == "ramp":
            slope = (self.to_rate - self.from_rate) / self.duration_s
            return self.from_rate * (b - a) + slope * (b * b - a * a) / 2.0
        # burst: base everywhere plus the extra inside each spike window
        total = self.rate * (b - a)
        extra = self.burst_rate - self.rate
        k = 1
        while k * self.burst_every_s < b:
            s = k * self.burst_every_s
            e = s + self.burst_length_s
            total += extra * max(0.0, min(b, e) - max(a, s))
            k += 1
        return total


@dataclass
class Workload:
    phases: list[Phase]
    task_duration_ms: float = 0.0
    duration_dist: str = "constant"
    seed: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def cycle_s(self) -> float:
        return sum(p.duration_s for p in self.phases)

    def phase_at(self, t: float) -> tuple[Phase, float]:
        """The phase playing ``t`` seconds into the workload, and the time into it."""
        cycle = self.cycle_s
        t = t % cycle if cycle > 0 else 0.0
        for p in self.phases:
            if t < p.duration_s:
                return p, t
            t -= p.duration_s
        return self.phases[-1], self.phases[-1].duration_s

    def rate_at(self, t: float) -> float:
        p, into = self.phase_at(t)
        return p.rate_at(into)

    def expected_count(self, t0: float, t1: float) -> float:
        """Expected arrivals between ``t0`` and ``t1`` seconds (within repeats too)."""
        total, start = 0.0, 0.0
        cycle = self.cycle_s
        if cycle <= 0:
            return 0.0
        base = math.floor(t0 / cycle) * cycle
        while base < t1:
            start = base
            for p in self.phases:
                total += p.integral(t0 - start, t1 - start)
                start += p.duration_s
            base += cycle
        return total

    def arrivals(self, rng: random.Random | None = None):
        """Endless arrival offsets (seconds from the start), non-homogeneous Poisson."""
        rng = rng or random.Random(self.seed)
        start = 0.0
        while True:
            for p in self.phases:
                peak = p.peak
                t = 0.0
                if p.tasks is not None:
                    for x in _exact_arrivals(p, int(p.tasks), rng):
                        yield start + x
                elif peak > 0:
                    while True:
                        t += rng.expovariate(peak)
                        if t >= p.duration_s:
                            break
                        if rng.random() * peak <= p.rate_at(t):
                            yield start + t
                start += p.duration_s
            if self.cycle_s <= 0 or all(p.peak <= 0 and not p.tasks for p in self.phases):
                return

    def task_duration_s(self, t: float, rng: random.Random) -> float:
        """Expected duration of a task that arrives at ``t``, in seconds."""
        return self.sample_task(t, rng)[0]

    def sample_task(self, t: float, rng: random.Random) -> tuple[float, int | None]:
        """``(processing time s, image size or None)`` of a task that arrives at ``t``."""
        p, _ = self.phase_at(t) if self.phases else (None, 0.0)
        mean = (
            p.task_duration_ms if p is not None and p.task_duration_ms is not None else self.task_duration_ms
        ) / 1000.0
        dist = p.duration_dist if p is not None and p.duration_dist else self.duration_dist
        if dist == "image_processing":
            return _image_model().sample(rng)
        if mean <= 0:
            return 0.0, None
        if dist == "exponential":
            return rng.expovariate(1.0 / mean), None
        if dist == "uniform":
            return rng.uniform(0.0, 2.0 * mean), None
        return mean, None

    @property
    def mean_task_s(self) -> float:
        """The mean processing time of a task (the seed model's mean for image_processing)."""
        if self.duration_dist == "image_processing":
            return _image_model().mean
        return self.task_duration_ms / 1000.0

    def mean_rate(self) -> float:
        return self.expected_count(0.0, self.cycle_s) / self.cycle_s if self.cycle_s else 0.0

    def to_dict(self) -> dict:
        return {
            "phases": [{k: v for k, v in p.__dict__.items() if v not in (None, "")} for p in self.phases],
            "task_duration_ms": self.task_duration_ms,
            "duration_dist": self.duration_dist,
            "seed": self.seed,
        }


_NUM = {
    "duration_s",
    "rate",
    "min_rate",
    "max_rate",
    "cycles",
    "burst_rate",
    "burst_every_s",
    "burst_length_s",
    "from_rate",
    "to_rate",
    "task_duration_ms",
    "tasks",
}
_REQUIRED = {
    "steady": ("rate",),
    "oscillation": ("min_rate", "max_rate"),
    "burst": ("rate", "burst_rate"),
    "ramp": ("from_rate", "to_rate"),
}


def parse_workload(data: dict | list) -> Workload:
    """A Workload from parsed YAML/JSON: a mapping with ``phases``, or a bare list of phases."""
    if isinstance(data, list):
        data = {"phases": data}
    if not isinstance(data, dict) or not isinstance(data.get("phases"), list) or not data["phases"]:
        raise WorkloadError("a workload needs a non-empty 'phases' list")
    phases = []
    for i, raw in enumerate(data["phases"]):
        if not isinstance(raw, dict):
            raise WorkloadError(f"phase {i + 1} must be a mapping")
        kind = raw.get("type")
        if kind not in PHASE_TYPES:
            raise WorkloadError(f"phase {i + 1}: type must be one of {', '.join(PHASE_TYPES)}, not {kind!r}")
        kwargs = {"type": kind, "name": str(raw.get("name") or f"{kind}-{i + 1}")}
        for key, value in raw.items():
            if key in ("type", "name"):
                continue
            if key == "duration_dist":
                if str(value) not in DURATION_DISTS:
                    raise WorkloadError(
                        f"phase {i + 1}: duration_dist must be one of {', '.join(DURATION_DISTS)}, not {value!r}"
                    )
                kwargs[key] = str(value)
                continue
            if key == "start_at":
                if value not in ("min", "mid"):
                    raise WorkloadError(f"phase {i + 1}: start_at must be min or mid, not {value!r}")
                kwargs[key] = value
                continue
            if key not in _NUM:
                raise WorkloadError(f"phase {i + 1}: unknown field {key!r}")
            try:
                kwargs[key] = float(value)
            except (TypeError, ValueError):
                raise WorkloadError(f"phase {i + 1}: {key} must be a number") from None
            if kwargs[key] < 0:
                raise WorkloadError(f"phase {i + 1}: {key} must be >= 0")
        if kwargs.get("duration_s", 0) <= 0:
            raise WorkloadError(f"phase {i + 1}: duration_s must be > 0")
        missing = [k for k in _REQUIRED[kind] if k not in kwargs]
        if missing:
            raise WorkloadError(f"phase {i + 1} ({kind}) needs {', '.join(missing)}")
        if kind == "burst" and kwargs.get("burst_every_s", 5.0) <= 0:
            raise WorkloadError(f"phase {i + 1}: burst_every_s must be > 0")
        phases.append(Phase(**kwargs))
    dist = str(data.get("duration_dist") or "constant")
    if dist not in DURATION_DISTS:
        raise WorkloadError(f"duration_dist must be one of {', '.join(DURATION_DISTS)}, not {dist!r}")
    seed = data.get("seed")
    return Workload(
        phases=phases,
        task_duration_ms=float(data.get("task_duration_ms") or 0.0),
        duration_dist=dist,
        seed=int(seed) if seed is not None else None,
    )


def steady(rate: float, task_duration_ms: float = 0.0, duration_s: float = 60.0) -> Workload:
    """One steady phase (``rate`` 0: as fast as possible, see the emitter)."""
    return Workload([Phase("steady", duration_s, rate=rate, name="steady")], task_duration_ms=task_duration_ms)


def load_workload(path: str | Path) -> Workload:
    """Read a phases YAML file. Raises WorkloadError (a ValueError) on a bad file."""
    import yaml  # deferred: only runs that read a file need it

    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise WorkloadError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise WorkloadError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    return parse_workload(data)


def _exact_arrivals(p: Phase, n: int, rng: random.Random) -> list[float]:
    """``n`` sorted times in [0, duration) drawn independently with density rate(t)."""
    peak = p.peak
    out = []
    while len(out) < n:
        t = rng.random() * p.duration_s
        if peak <= 0 or rng.random() * peak <= p.rate_at(t):
            out.append(t)
    return sorted(out)


def _image_model():
    from .seed import ImageTaskModel  # deferred: only the image_processing tasks need it

    global _IMAGE_MODEL
    if _IMAGE_MODEL is None:
        _IMAGE_MODEL = ImageTaskModel()
    return _IMAGE_MODEL


_IMAGE_MODEL = None


def phase_from_config(msg: dict) -> Phase:
    """The phase a seed ``phase_config`` message describes (rates in tasks/min).

    steady: ``base_rate x phase_multiplier``; oscillation_*: ``base_rate x (A sin(2 pi
    cycles t / T) + mid)`` between ``oscillation_min`` and ``oscillation_max``; exactly
    ``target_tasks`` arrivals. Raises WorkloadError for a message that is not one.
    """

    def num(key, default=None):
        value = msg.get(key, default)
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise WorkloadError(f"phase_config: {key} must be a number, not {value!r}") from None
        if value < 0 or math.isnan(value):
            raise WorkloadError(f"phase_config: {key} must be >= 0")
        return value

    if not isinstance(msg, dict) or msg.get("type") != "phase_config":
        raise WorkloadError("not a phase_config message")
    pattern = str(msg.get("phase_pattern") or "steady")
    base = num("base_rate") / 60.0
    duration = num("phase_duration")
    if duration <= 0:
        raise WorkloadError("phase_config: phase_duration must be > 0")
    tasks = num("target_tasks") if msg.get("target_tasks") is not None else None
    name = str(msg.get("phase_name") or f"phase-{msg.get('phase_number', '')}")
    if pattern.startswith("oscillation"):
        lo, hi = num("oscillation_min"), num("oscillation_max")
        return Phase(
            "oscillation",
            duration,
            min_rate=base * min(lo, hi),
            max_rate=base * max(lo, hi),
            cycles=num("oscillation_cycles", 1),
            start_at="mid",
            tasks=tasks,
            name=name,
        )
    return Phase("steady", duration, rate=base * num("phase_multiplier", 1.0), tasks=tasks, name=name)


def seed_workload(
    base_rate: float | None = None, phase_duration: float | None = None, seed: int | None = None
) -> Workload:
    """The seed's four phases (defaults: 300 tasks/min, 60 s each) with its image tasks."""
    from .seed import phase_configs  # deferred: reads the package data

    return Workload(
        [phase_from_config(m) for m in phase_configs(base_rate, phase_duration)],
        duration_dist="image_processing",
        seed=seed,
    )
