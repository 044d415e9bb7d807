"""The predict role in the launcher: run from the trainer package with the trainer's settings; replicas of a
service get their own name, port, pid and log, and the same settings."""

from __future__ import annotations

from pathlib import Path

from claystream_devstack.servers import EmbeddedStack
from claystream_devstack.services import SERVICE_BY_NAME, ServiceLauncher


def test_predict_role_reads_the_trainer_settings() -> None:
    spec = SERVICE_BY_NAME["predict"]
    assert spec.app_factory == "claystream_trainer.predict_main:create_app"
    assert spec.settings_package == "trainer" and spec.env_prefix == "CLAYSTREAM_TRAINER_"
    assert SERVICE_BY_NAME["monitor"].env_prefix == "CLAYSTREAM_MONITOR_"


def test_replicas_share_settings_but_not_ports(tmp_path: Path) -> None:
    launcher = ServiceLauncher(EmbeddedStack(tmp_path, free_ports=True))
    launcher.ports["predict"] = 18004
    name = launcher.add_replica("predict", 2)
    assert name == "predict-2" and launcher.ports[name] != 18004
    replica, original = launcher.specs[name], launcher.specs["predict"]
    assert replica.app_factory == original.app_factory and replica.env_prefix == original.env_prefix
    env = launcher.env_for(replica)
    assert env["CLAYSTREAM_TRAINER_MODELS_DIR"] == launcher.env_for(original)["CLAYSTREAM_TRAINER_MODELS_DIR"]
    assert "CLAYSTREAM_TRAINER_PREDICT_2_URL" not in env
