"""The seed's RL environment as a gymnasium environment, over the simulator or a real run.

Both environments have the seed's spaces: the observation ``[input_q, worker_q,
result_q, output_q, workers, avg_time, max_time, arrival_rate, qos_rate]``
(avg/max of ``task_completion_time`` and the QoS share over the last
``observation_window`` seconds, the arrival rate from
``worker_queue:enqueued_total``), a ``Box`` with the seed's bounds, and the action
space ``Discrete(3)``: -1, 0, +1 worker, clipped to [1, 32]. A step scales, then
lets ``step_duration`` seconds pass (the seed's 10 s), then observes; the reward
is the seed's (QoS above 0.9, the queue, the workers, the scaling and idle
terms, weights from ``data/seed.json``) unless a ``reward_fn(obs, delta, info)``
is given. An episode is one pass of the workload (default: the seed's four phases
at 300 tasks/min) and ends when every task is collected (``terminated``) or after
``max_steps`` (``truncated``).

- ``SimulatedWorkflowEnv``: the discrete-event simulator: an episode of the seed's
  four minutes takes milliseconds, for training.
- ``EngineWorkflowEnv``: a real run through a ``WorkflowController`` over any
  launcher (real processes, the engine's functions, a cluster's); time is real.
- ``SeedGymAPI(env)``: the old gym API the seed's agents call (``reset()`` returns
  the observation, ``step()`` four values) and its ``get_episode_final_qos()``, so
  its SARSA and DQN trainers run on faastui unchanged; ``OpenFaaSAutoscalingEnv(...)``
  takes the seed's class name and constructor arguments and returns one.

gymnasium (and numpy) is an optional extra: ``pip install 'faastui[rl]'``.
"""

from __future__ import annotations

import threading
import time

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .observation import ACTIONS, Observation
from .phases import Workload, seed_workload
from .seed import seed_data
from .simulator import Simulation

__all__ = [
    "SimulatedWorkflowEnv",
    "EngineWorkflowEnv",
    "SeedGymAPI",
    "OpenFaaSAutoscalingEnv",
    "seed_reward",
    "observation_space",
    "ACTION_MAP",
]

#: the seed's action map: index -> change in workers
ACTION_MAP = dict(enumerate(ACTIONS))


def observation_space(min_workers: int = 1, max_workers: int = 32) -> spaces.Box:
    """The seed's Box: queues 0..10000, workers, times 0..10 s, rate 0..100/s, QoS 0..1."""
    return spaces.Box(
        low=np.array([0, 0, 0, 0, min_workers, 0, 0, 0, 0], dtype=np.float32),
        high=np.array([10000, 10000, 10000, 10000, max_workers, 10, 10, 100, 1.0], dtype=np.float32),
        dtype=np.float32,
    )


def seed_reward(obs, delta: int, min_workers: int = 1, max_workers: int = 32, config: dict | None = None) -> float:
    """The seed environment's reward for observation ``obs`` after action ``delta``."""
    cfg = config or seed_data()["reward"]
    w = cfg["weights"]
    input_q, worker_q, result_q, output_q, workers, avg_t, max_t, rate, qos = [float(x) for x in obs]
    qos_reward = w["qos"] * (qos - cfg["target_qos"])
    queue_penalty = -w["queue"] * worker_q / max(cfg["queue_target"], 1.0)
    worker_penalty = -w["worker"] * max(0.0, workers - min_workers) / max(1.0, max_workers - min_workers)
    scaling_penalty = -w["scaling"] * abs(delta)
    idle = worker_q <= cfg["idle_queue_threshold"] and workers > min_workers
    return qos_reward + queue_penalty + worker_penalty + scaling_penalty - (w["idle"] if idle else 0.0)


class _Base(gym.Env):
    metadata = {"render_modes": ["ansi"]}

    def __init__(
        self,
        *,
        max_workers: int = 32,
        min_workers: int = 1,
        observation_window: float | None = None,
        step_duration: float | None = None,
        max_steps: int | None = None,
        initial_workers: int = 1,
        reward_fn=None,
        render_mode: str | None = None,
    ):
        d = seed_data()
        self.max_workers, self.min_workers = max_workers, min_workers
        self.observation_window = float(observation_window or d["observation_window_s"])
        self.step_duration = float(step_duration or d["step_duration_s"])
        self.max_steps = max_steps
        self.initial_workers = initial_workers
        self.reward_fn = reward_fn
        self.render_mode = render_mode
        self.action_space = spaces.Discrete(3)
        self.action_map = ACTION_MAP
        self.observation_space = observation_space(min_workers, max_workers)
        self.current_step = 0
        self.total_reward = 0.0
        self.total_scaling_actions = 0
        self._last = np.zeros(9, dtype=np.float32)
        self._final_qos: float | None = None

    def _vector(self, obs: Observation) -> np.ndarray:
        return np.array(obs.vector(), dtype=np.float32)

    def _reward(self, vec, delta: int, info: dict) -> float:
        if self.reward_fn is not None:
            return float(self.reward_fn(vec, delta, info))
        return seed_reward(vec, delta, self.min_workers, self.max_workers)

    def get_episode_final_qos(self) -> float | None:
        """The share of all the episode's tasks that met their deadline (the seed's name)."""
        return self._final_qos

    def render(self):
        v = self._last
        return (
            f"step {self.current_step}: queues in {v[0]:.0f} worker {v[1]:.0f} result "
            f"{v[2]:.0f} output {v[3]:.0f} | workers {v[4]:.0f} | avg {v[5]:.2f}s max "
            f"{v[6]:.2f}s | arrivals {v[7]:.2f}/s | QoS {v[8]:.2%}"
        )


class SimulatedWorkflowEnv(_Base):
    """The seed's environment over the discrete-event simulator.

    Args:
        workload: the phases (default: the seed's four at 300 tasks/min).
        launch_delay_s: from a scale-up to the worker serving.
        workload_factory: ``(rng) -> Workload``, called at each reset (training on
            varied workloads); overrides ``workload``.
    """

    def __init__(
        self, workload: Workload | None = None, *, launch_delay_s: float = 0.3, workload_factory=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.workload = workload or seed_workload()
        self.workload_factory = workload_factory
        self.launch_delay_s = launch_delay_s
        self.sim: Simulation | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        workload = self.workload
        if self.workload_factory is not None:
            workload = self.workload_factory(self.np_random)
        sim_seed = int(self.np_random.integers(0, 2**31))
        initial = (options or {}).get("initial_workers", self.initial_workers)
        self.sim = Simulation(
            workload,
            workers=initial,
            seed=sim_seed,
            launch_delay_s=self.launch_delay_s,
            min_workers=self.min_workers,
            max_workers=self.max_workers,
            window_s=self.observation_window,
        )
        self.current_step = 0
        self.total_reward = 0.0
        self.total_scaling_actions = 0
        self._final_qos = None
        self._missed = 0
        self._last = self._vector(self.sim.observe())
        return self._last.copy(), {"workers": initial}

    def step(self, action):
        sim = self.sim
        self.current_step += 1
        delta = ACTION_MAP[int(action)]
        before = sim.workers
        target = max(self.min_workers, min(self.max_workers, before + delta))
        if target != before:
            sim.scale_to(target)
            self.total_scaling_actions += 1
        tasks_before = sim.tasks
        sim.advance(self.step_duration)
        obs = sim.observe()
        vec = self._vector(obs)
        self._last = vec
        done = sim.tasks - tasks_before
        # misses known now: completed late, or still waiting past their slack (the
        # simulator knows each task's processing time, so a miss shows when it is certain)
        known = sim.doomed + sim.late_in_queue()
        missed, self._missed = known - self._missed, known
        terminated = sim.done and sim.t >= sim.horizon
        truncated = bool(self.max_steps and self.current_step >= self.max_steps and not terminated)
        if terminated or truncated:
            self._final_qos = sim.met / sim.tasks if sim.tasks else 1.0
        info = {
            "step": self.current_step,
            "queue_length": float(vec[1]),
            "workers": float(vec[4]),
            "qos_rate": float(vec[8]),
            "applied_delta": target - before,
            "completed": done,
            "missed": missed,
            "qos_violations": self._missed,
            "scaling_time": 0.0,
            "step_duration": self.step_duration,
            "processed_tasks": sim.tasks,
            "unfinished_tasks": sim.total_arrivals - sim.tasks,
            "time": sim.t,
            "mean_workers": sim.result().mean_workers,
            "episode_final_qos": self._final_qos,
        }
        reward = self._reward(vec, target - before, info)
        self.total_reward += reward
        info["total_reward"] = self.total_reward
        info["scaling_actions"] = self.total_scaling_actions
        return vec.copy(), reward, terminated, truncated, info


class EngineWorkflowEnv(_Base):
    """The seed's environment over a real run.

    Args:
        url: the workflow's Redis.
        launcher_factory: a zero-argument callable returning a launcher (a
            ``ProcessLauncher(url)``, an ``EngineLauncher``, a ``ClusterLauncher``);
            one is made for each episode.
        workload: the phases of an episode (default: the seed's four at 300/min).
        tick_s: how often the controller reconciles the pool.
    """

    def __init__(
        self,
        url: str,
        launcher_factory,
        workload: Workload | None = None,
        *,
        tick_s: float = 0.1,
        batch: int = 1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.url = url
        self.launcher_factory = launcher_factory
        self.workload = workload or seed_workload()
        self.tick_s = tick_s
        self.batch = batch
        self.controller = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def _ticker(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                self.controller.tick()
            self._stop.wait(self.tick_s)

    def _end_episode(self) -> None:
        if self.controller is None:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        summary = self.controller.stop("done")
        self.controller.close()
        self._final_qos = summary.qos
        self.summary = summary
        self.controller = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        from .controller import RunConfig, WorkflowController  # deferred: redis, for real runs

        super().reset(seed=seed)
        self._end_episode()
        workload = self.workload
        if seed is not None:
            workload = Workload(workload.phases, workload.task_duration_ms, workload.duration_dist, seed=seed)
        tasks = int(round(workload.expected_count(0.0, workload.cycle_s)))
        initial = (options or {}).get("initial_workers", self.initial_workers)
        config = RunConfig(
            tasks=tasks,
            workers=initial,
            workload=workload,
            batch=self.batch,
            tick_s=self.tick_s,
            window_s=self.observation_window,
            min_workers=self.min_workers,
            max_workers=self.max_workers,
        )
        self.controller = WorkflowController(self.url, self.launcher_factory(), config)
        self.controller.start()
        self._stop.clear()
        self._thread = threading.Thread(target=self._ticker, daemon=True, name="env-ticker")
        self._thread.start()
        self.current_step = 0
        self.total_reward = 0.0
        self.total_scaling_actions = 0
        self._final_qos = None
        self._missed_seen = 0
        with self._lock:
            self._last = self._vector(self.controller.observe())
        return self._last.copy(), {"workers": initial}

    def step(self, action):
        c = self.controller
        self.current_step += 1
        delta = ACTION_MAP[int(action)]
        t0 = time.monotonic()
        with self._lock:
            s, _ = c.read()
            before = s.workers
            target = max(self.min_workers, min(self.max_workers, before + delta))
            if target != before:
                c.scale(target)
                self.total_scaling_actions += 1
        scaling_time = time.monotonic() - t0
        time.sleep(max(0.0, self.step_duration - scaling_time))
        with self._lock:
            s, raw = c.read()
            obs = c.observe(s, raw)
        vec = self._vector(obs)
        self._last = vec
        missed_total = s.completed - round((s.qos or 0.0) * s.completed)
        missed, self._missed_seen = missed_total - self._missed_seen, missed_total
        terminated = s.completed >= c.config.tasks
        truncated = bool(self.max_steps and self.current_step >= self.max_steps and not terminated)
        info = {
            "step": self.current_step,
            "queue_length": float(vec[1]),
            "workers": float(vec[4]),
            "qos_rate": float(vec[8]),
            "applied_delta": target - before,
            "missed": missed,
            "qos_violations": missed_total,
            "scaling_time": scaling_time,
            "step_duration": time.monotonic() - t0,
            "processed_tasks": s.completed,
            "unfinished_tasks": c.config.tasks - s.completed,
            "mean_workers": s.mean_workers,
        }
        if terminated or truncated:
            self._end_episode()
        info["episode_final_qos"] = self._final_qos
        reward = self._reward(vec, target - before, info)
        self.total_reward += reward
        info["total_reward"] = self.total_reward
        info["scaling_actions"] = self.total_scaling_actions
        return vec.copy(), reward, terminated, truncated, info

    def close(self):
        self._end_episode()
        super().close()


class SeedGymAPI:
    """The old gym API of the seed's environment over a gymnasium one.

    ``reset(seed=None)`` returns the observation; ``step(action)`` returns
    ``(observation, reward, done, info)``; everything else (``observation_space``,
    ``action_space``, ``step_duration``, ``get_episode_final_qos()``, ``close()``)
    passes through.
    """

    def __init__(self, env: gym.Env):
        self.env = env

    def reset(self, seed: int | None = None, **kwargs):
        obs, _ = self.env.reset(seed=seed, **kwargs)
        return obs

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, bool(terminated or truncated), info

    def __getattr__(self, name):
        return getattr(self.env, name)


def OpenFaaSAutoscalingEnv(
    max_workers: int = 32,
    min_workers: int = 1,  # noqa: N802 (the seed's)
    observation_window: float = 10,
    step_duration: float = 10,
    max_steps: int = 50,
    initial_workers: int = 1,
    initialize_workflow: bool = True,
    phase_shuffle: bool = False,
    phase_shuffle_seed: int | None = None,
    task_seed: int | None = None,
    *,
    url: str | None = None,
    launcher_factory=None,
    workload: Workload | None = None,
) -> SeedGymAPI:
    """The seed's ``OpenFaaSAutoscalingEnv``, by its name and constructor arguments.

    Over a real run when ``url`` (the workflow's Redis) and ``launcher_factory`` are
    given, else over the simulator; the seed's four phases at 300 tasks/min unless
    ``workload``; ``phase_shuffle`` shuffles their order at each reset (simulator);
    ``task_seed`` seeds the tasks. ``initialize_workflow`` is accepted for the seed's
    scripts: every reset here starts a fresh run.
    """
    import copy
    import random

    base = workload or seed_workload(seed=task_seed)
    common = dict(
        max_workers=max_workers,
        min_workers=min_workers,
        observation_window=observation_window,
        step_duration=step_duration,
        max_steps=max_steps,
        initial_workers=initial_workers,
    )
    if url is not None:
        return SeedGymAPI(EngineWorkflowEnv(url, launcher_factory, base, **common))
    factory = None
    if phase_shuffle:
        shuffler = random.Random(phase_shuffle_seed)

        def factory(_np_rng):
            w = copy.deepcopy(base)
            shuffler.shuffle(w.phases)
            return w

    return SeedGymAPI(SimulatedWorkflowEnv(base, workload_factory=factory, **common))
