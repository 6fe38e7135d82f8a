"""The seed's RL environment as a gymnasium environment, and the seed's agents on it.

- gymnasium's own checker passes the simulated environment;
- a SARSA agent written as the seed writes it (its discretisation edges, the old gym
  API: ``reset()`` -> observation, ``step()`` -> 4 values, ``get_episode_final_qos()``)
  trains on faastui through ``SeedGymAPI``;
- the same environment over a real run (real worker processes, a real redis-server)
  steps, scales and ends with every task collected;
- without gymnasium installed, everything but the environment still imports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

gym = pytest.importorskip("gymnasium")
np = pytest.importorskip("numpy")

from backends.local.redis_server import RedisServer  # noqa: E402
from backends.workflow import protocol as P  # noqa: E402
from backends.workflow.gym_env import EngineWorkflowEnv, OpenFaaSAutoscalingEnv, SeedGymAPI, SimulatedWorkflowEnv  # noqa: E402
from backends.workflow.launchers import ProcessLauncher  # noqa: E402
from backends.workflow.phases import parse_workload, seed_workload  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# the seed's train_sarsa.py discretisation (input_q, worker_q, -, -, workers, avg_time, -,
# arrival_rate, qos): np.digitize over these edges
SEED_EDGES = (
    [0.5, 1.5, 2.5],
    [0.5, 2.5, 5.5, 9.5, 15.5, 30.5],
    None,
    None,
    [3.5, 7.5, 11.5, 12.5, 16.5, 20.5, 24.5],
    [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0],
    None,
    [0.15, 0.5, 1.5, 3.5],
    [0.5, 0.8, 0.9, 0.95, 0.999],
)


def test_gymnasiums_checker_passes_the_simulated_environment():
    from gymnasium.utils.env_checker import check_env

    env = SimulatedWorkflowEnv(seed_workload(phase_duration=5.0), step_duration=1.0)
    check_env(env, skip_render_check=True)
    assert env.action_space == gym.spaces.Discrete(3)
    assert env.observation_space.shape == (9,)
    assert list(env.observation_space.high) == [10000, 10000, 10000, 10000, 32, 10, 10, 100, 1.0]
    obs, info = env.reset(seed=3)
    assert obs.dtype == np.float32 and obs[4] == 1  # one worker to start, as the seed's env


def test_the_seeds_sarsa_agent_trains_on_faastui():
    """The seed's training loop, unchanged in shape, over the old gym API."""
    # the seed's class name and constructor arguments, as its train_sarsa.py builds it
    env = OpenFaaSAutoscalingEnv(
        max_steps=200,
        step_duration=2,
        observation_window=8,
        initial_workers=4,
        initialize_workflow=True,
        phase_shuffle=True,
        phase_shuffle_seed=1,
        task_seed=42,
        workload=seed_workload(phase_duration=10.0),
    )
    assert isinstance(env, SeedGymAPI)
    rng = np.random.default_rng(42)
    q: dict = {}

    def discretize(observation):
        return tuple(int(np.digitize(v, e)) if e else 0 for v, e in zip(observation, SEED_EDGES))

    def select_action(state, epsilon=0.2):
        if rng.random() < epsilon:
            return int(rng.integers(env.action_space.n))
        return int(np.argmax(q.setdefault(state, np.zeros(3))))

    finals = []
    for episode in range(3):
        observation = env.reset(seed=42 + episode)
        state = discretize(observation)
        action = select_action(state)
        steps = 0
        while True:
            next_observation, reward, done, info = env.step(action)
            next_state = discretize(next_observation)
            next_action = select_action(next_state)
            row, nrow = q.setdefault(state, np.zeros(3)), q.setdefault(next_state, np.zeros(3))
            row[action] += 0.1 * (reward + 0.99 * nrow[next_action] - row[action])
            assert info["applied_delta"] in (-1, 0, 1) and 0.0 <= info["qos_rate"] <= 1.0
            assert 1 <= info["workers"] <= 32
            state, action = next_state, next_action
            steps += 1
            if done:
                break
        finals.append(env.get_episode_final_qos())
        assert steps >= 20  # 40 s of phases at 2 s a step, then the last tasks drain
    assert all(f is not None and 0.0 < f <= 1.0 for f in finals)
    assert len(q) > 5


def test_the_environment_over_a_real_run(tmp_path):
    """Real processes: +1, +1, then hold; the pool follows, every task is collected."""
    w = parse_workload(
        {
            "seed": 5,
            "task_duration_ms": 40,
            "phases": [
                {"type": "steady", "duration_s": 1.5, "rate": 40, "tasks": 60},
                {"type": "steady", "duration_s": 1.5, "rate": 80, "tasks": 120},
            ],
        }
    )
    with RedisServer(tmp_path / "redis") as srv:
        env = EngineWorkflowEnv(
            srv.url, lambda: ProcessLauncher(srv.url), w, step_duration=0.5, observation_window=1.0, initial_workers=1
        )
        try:
            obs, _ = env.reset()
            assert obs.shape == (9,) and obs[4] == 1
            seen, done, steps = [], False, 0
            while not done:
                action = 2 if steps < 2 else 1
                obs, reward, terminated, truncated, info = env.step(action)
                seen.append(int(obs[4]))
                done = terminated or truncated
                steps += 1
                assert steps < 120, "the episode never ended"
            assert max(seen) == 3 and terminated
            assert env.get_episode_final_qos() is not None
            assert env.summary.completed == 180 and env.summary.lost == 0
        finally:
            env.close()
        import redis

        r = redis.Redis.from_url(srv.url)
        ids = [json.loads(x)["task_id"] for x in r.lrange(P.OUTPUT_QUEUE, 0, -1)]
        r.close()
    assert len(ids) == len(set(ids)) == 180


def test_without_gymnasium_the_rest_imports():
    code = (
        "import sys; sys.modules['gymnasium'] = None; sys.modules['numpy'] = None\n"
        "import backends.workflow.controller, backends.workflow.policies, "
        "backends.workflow.training\n"
        "from backends.workflow.policies import make_policy; make_policy('rl')\n"
        "try:\n    import backends.workflow.gym_env\nexcept ImportError:\n    print('no gym')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "no gym"
