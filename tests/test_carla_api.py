"""The CARLA env against the installed `carla` package itself: API names, connection failure, the real backend
through mocks, the server process, and (marked) a real server when one is reachable."""

from __future__ import annotations

import ast
import os
import socket
import sys
import time
from pathlib import Path
from unittest import mock

import pytest

carla = pytest.importorskip("carla")

from lightning_td3.envs.carla import backend as backend_module  # noqa: E402
from lightning_td3.envs.carla.backend import CarlaBackend  # noqa: E402
from lightning_td3.envs.carla.server import (  # noqa: E402
    CarlaConnectionError,
    ServerProcess,
    connect_with_backoff,
)

CARLA_DIR = Path(backend_module.__file__).parent
SOURCES = sorted(p for p in CARLA_DIR.glob("*.py") if p.name != "__init__.py")


def _resolve(dotted: str):
    obj = carla
    for part in dotted.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def carla_uses(source: str) -> list[tuple[str, str | None]]:
    """(name, None) for every `carla.a.b` chain, and (Type, attr) for every `x.attr` where x is annotated
    (or typed as a parameter) `carla.Type` in the same function or as `self.x` in the module."""
    tree = ast.parse(source)

    def dotted(node) -> str | None:
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id == "carla":
            return ".".join(["carla", *reversed(parts)])
        return None

    def carla_type(annotation) -> str | None:
        if isinstance(annotation, ast.BinOp):  # `carla.X | None`
            return carla_type(annotation.left) or carla_type(annotation.right)
        name = dotted(annotation)
        return name if name and name.count(".") == 1 else None

    uses: list[tuple[str, str | None]] = []
    for node in ast.walk(tree):  # every chain and its prefixes: carla.command, carla.command.SpawnActor ...
        name = dotted(node) if isinstance(node, ast.Attribute) else None
        if name:
            uses.append((name, None))

    self_types: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Attribute):
            if isinstance(node.target.value, ast.Name) and node.target.value.id == "self":
                t = carla_type(node.annotation)
                if t:
                    self_types[node.target.attr] = t
    for func in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]:
        local: dict[str, str] = {}
        for arg in func.args.args + func.args.kwonlyargs:
            t = carla_type(arg.annotation) if arg.annotation else None
            if t:
                local[arg.arg] = t
        for node in ast.walk(func):
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                t = carla_type(node.annotation)
                if t:
                    local[node.target.id] = t
        for node in ast.walk(func):
            if not isinstance(node, ast.Attribute):
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in local:
                uses.append((local[owner.id], node.attr))
            elif (
                isinstance(owner, ast.Attribute)
                and isinstance(owner.value, ast.Name)
                and owner.value.id == "self"
                and owner.attr in self_types
            ):
                uses.append((self_types[owner.attr], node.attr))
    return uses


def missing_names(source: str) -> list[str]:
    missing = []
    for name, attr in carla_uses(source):
        try:
            owner = _resolve(name)
        except AttributeError:
            missing.append(name)
            continue
        if attr is not None and not hasattr(owner, attr):
            missing.append(f"{name}.{attr}")
    return sorted(set(missing))


def test_every_carla_name_the_env_uses_exists_in_the_installed_package():
    uses = [u for path in SOURCES for u in carla_uses(path.read_text())]
    methods = {f"{n}.{a}" for n, a in uses if a is not None}
    # the check is not vacuous: it sees the client, world, traffic manager and sensor-event calls
    for expected in (
        "carla.Client.apply_batch_sync",
        "carla.World.tick",
        "carla.TrafficManager.set_synchronous_mode",
        "carla.Image.raw_data",
        "carla.CollisionEvent.normal_impulse",
        "carla.Vehicle.apply_control",
        "carla.ObstacleDetectionEvent.distance",
        "carla.Map.get_waypoint",
        "carla.Waypoint.next",
    ):
        assert expected in methods, expected
    assert len(uses) > 60
    assert {path.name: missing_names(path.read_text()) for path in SOURCES} == {p.name: [] for p in SOURCES}


def test_the_name_check_catches_a_misspelt_api():
    source = (
        "import carla\n"
        "def f(world: carla.World, event: carla.CollisionEvent):\n"
        "    world.tick_once()\n"
        "    x = carla.VehicleKontrol()\n"
        "    y: carla.Waypoint = None\n"
        "    return event.normal_impulse, y.next_waypoint, carla.command.DestroyActr\n"
    )
    assert missing_names(source) == [
        "carla.VehicleKontrol",
        "carla.Waypoint.next_waypoint",
        "carla.World.tick_once",
        "carla.command.DestroyActr",
    ]


def test_event_attributes_read_through_other_actor_exist():
    # `event.other_actor.type_id` / `.get_velocity()` are one level deeper than the annotation check
    assert hasattr(carla.Actor, "type_id") and hasattr(carla.Actor, "get_velocity")
    assert hasattr(carla.LaneMarking, "type") and hasattr(carla.Sensor, "is_listening")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with socket.socket() as probe:  # verify nothing answers there
        probe.settimeout(0.2)
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    return port


def test_closed_loopback_port_gives_a_clear_error_within_timeout_times_retries():
    from lightning_td3.envs.carla.env import CarlaEnv

    port, timeout, retries, backoff = _closed_port(), 0.5, 2, 0.1
    start = time.monotonic()
    with pytest.raises(CarlaConnectionError) as error:
        CarlaEnv(host="127.0.0.1", port=port, timeout=timeout, retries=retries, backoff=backoff)
    elapsed = time.monotonic() - start
    message = str(error.value)
    assert f"127.0.0.1:{port}" in message and "after 2 attempts" in message and "\n" not in message
    assert elapsed < timeout * retries + backoff + 3.0, elapsed


def test_backoff_doubles_and_restarts_before_each_retry():
    sleeps, restarts, calls = [], [], []

    def connect():
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("time-out of 1000ms\nsecond line")

    tries = connect_with_backoff(connect, "h:1", 4, 0.5, restarts.append, sleeps.append)
    assert (tries, sleeps, restarts) == (3, [0.5, 1.0], [1, 2])
    with pytest.raises(
        CarlaConnectionError, match=r"^CARLA server at h:1 unreachable after 2 attempts: time-out"
    ):
        connect_with_backoff(
            lambda: (_ for _ in ()).throw(RuntimeError("time-out")), "h:1", 2, 0.0, sleep=lambda s: None
        )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # reaped or zombie?
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


def test_server_process_runs_in_its_own_group_and_stop_kills_its_children(tmp_path):
    pid_file = tmp_path / "child.pid"
    script = (
        "import subprocess,time; p=subprocess.Popen(['sleep','60']); "
        f"open({str(pid_file)!r},'w').write(str(p.pid)); time.sleep(60)"
    )
    server = ServerProcess(f'{sys.executable} -c "{script}" --port {{port}}')
    port = server.start()
    assert 2000 <= port < 3000
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.05)
    leader, child = server.process.pid, int(pid_file.read_text())
    assert os.getpgid(leader) == leader != os.getpgid(0) and os.getpgid(child) == leader
    server.stop(grace_seconds=2.0)
    time.sleep(0.1)
    assert not _pid_alive(leader) and not _pid_alive(child)


def test_backend_destroy_stops_sensors_then_destroys_in_one_synchronous_batch():
    backend = CarlaBackend()
    order = []
    sensor, car = (
        mock.Mock(type_id="sensor.camera.rgb", is_listening=True),
        mock.Mock(type_id="vehicle.tesla.model3"),
    )
    sensor.stop.side_effect = lambda: order.append("stop")
    backend._world = mock.Mock()
    backend._world.get_actors.return_value = [sensor, car]
    backend._client = mock.Mock()
    backend._client.apply_batch_sync.side_effect = lambda batch, tick: order.append(("batch", batch, tick))
    backend.destroy([11, 12])
    backend._world.get_actors.assert_called_once_with([11, 12])
    assert order[0] == "stop" and len(order) == 2
    _, batch, tick = order[1]
    assert tick is True and [type(c) for c in batch] == [carla.command.DestroyActor] * 2
    assert [c.actor_id for c in batch] == [11, 12]
    car.stop.assert_not_called()


def test_backend_setup_loads_town_only_when_different_and_restore_undoes_sync():
    backend = CarlaBackend()
    world = mock.Mock()
    world.get_map.return_value.name = "Carla/Maps/Town01"
    world.get_settings.side_effect = lambda: carla.WorldSettings(
        synchronous_mode=False, fixed_delta_seconds=0.0
    )
    backend._world, backend._client = world, mock.Mock()
    backend._client.get_world.return_value = world
    backend.setup("Town01", 0.05, 8123, 7, "ClearNoon")
    backend._client.load_world_if_different.assert_not_called()
    applied = world.apply_settings.call_args[0][0]
    assert applied.synchronous_mode is True and abs(applied.fixed_delta_seconds - 0.05) < 1e-9
    backend._client.get_trafficmanager.assert_called_once_with(8123)
    tm = backend._client.get_trafficmanager.return_value
    tm.set_synchronous_mode.assert_called_with(True)
    tm.set_random_device_seed.assert_called_once_with(7)
    world.set_weather.assert_called_once_with(carla.WeatherParameters.ClearNoon)
    backend.restore()
    tm.set_synchronous_mode.assert_called_with(False)
    restored = world.apply_settings.call_args[0][0]
    assert restored.synchronous_mode is False
    backend.setup("Town02", 0.05, 8123, 7, "ClearNoon")
    backend._client.load_world_if_different.assert_called_once_with("Town02")
    with pytest.raises(ValueError, match="unknown CARLA weather preset 'Sunny'"):
        backend.setup("Town01", 0.05, 8000, 0, "Sunny")


def test_backend_tick_timeout_becomes_simulator_timeout():
    from lightning_td3.envs.carla.sensors import SimulatorTimeout

    backend = CarlaBackend()
    backend._world = mock.Mock()
    backend._world.tick.side_effect = RuntimeError("time-out of 2000ms while waiting for the simulator")
    with pytest.raises(SimulatorTimeout, match="world.tick: time-out"):
        backend.tick(2.0)
    backend._world.tick.assert_called_once_with(2.0)


# --- a real server, when one is reachable ----------------------------------------------------------

SERVER = (os.environ.get("CARLA_HOST", "127.0.0.1"), int(os.environ.get("CARLA_PORT", "2000")))


def _server_reachable() -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(SERVER) == 0


needs_server = pytest.mark.skipif(
    not _server_reachable(),
    reason=f"no CARLA 0.9.16 server reachable at {SERVER[0]}:{SERVER[1]} (set CARLA_HOST/PORT)",
)


@pytest.mark.carla_server
@needs_server
def test_real_server_episode_steps_and_cleans_up():
    import numpy as np

    from lightning_td3.envs.carla.env import CarlaEnv

    env = CarlaEnv(host=SERVER[0], port=SERVER[1], timeout=20.0, num_npcs=5, max_episode_steps=40)
    try:
        obs, info = env.reset(seed=0)
        assert obs["image"].shape == (1, 84, 84) and obs["vector"].shape == (53,)
        ours = [env.ego_id, *env.sensor_ids, *env.npc_ids]
        for _ in range(40):
            obs, reward, terminated, truncated, info = env.step(np.array([0.0, 0.5], np.float32))
            if terminated or truncated:
                break
        assert info["termination_reason"] != "simulator_timeout"
        assert info["metrics"]["distance"] > 0.5
        env.reset(seed=1)
        world = env.backend._world
        assert not [a for a in world.get_actors(ours)]
    finally:
        env.close()


@pytest.mark.carla_server
@needs_server
def test_real_server_close_restores_asynchronous_mode():
    from lightning_td3.envs.carla.env import CarlaEnv

    env = CarlaEnv(host=SERVER[0], port=SERVER[1], timeout=20.0, num_npcs=0)
    env.reset(seed=0)
    env.close()
    client = carla.Client(*SERVER)
    client.set_timeout(10.0)
    assert client.get_world().get_settings().synchronous_mode is False


def test_server_stop_tolerates_a_process_that_already_exited():
    server = ServerProcess(f"{sys.executable} -c pass")
    server.start()
    server.process.wait(timeout=10)
    server.stop()
    assert server.process is None and not server.running
    with pytest.raises(ValueError, match="server_command is empty"):
        ServerProcess("  ")
