from __future__ import annotations

import pytest
from claystream_common.settings import SettingsError, load_settings
from claystream_monitor.config import MonitorSettings


def test_defaults_build_a_bonferroni_corrected_drift_config() -> None:
    config = MonitorSettings().drift_config()
    assert config.check_alpha == pytest.approx(0.01 / 7)
    assert config.hysteresis.raise_after == 2


def test_without_an_embedder_the_embedding_check_leaves_the_family() -> None:
    config = MonitorSettings(embedder="none").drift_config()
    assert "embedding_drift" not in config.checks and config.check_alpha == pytest.approx(0.01 / 6)


def test_bad_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAYSTREAM_MONITOR_CHECKS", "label_distribution,vibes")
    with pytest.raises(SettingsError, match="CLAYSTREAM_MONITOR_CHECKS.*vibes"):
        load_settings(MonitorSettings)
    monkeypatch.setenv("CLAYSTREAM_MONITOR_CHECKS", "label_distribution")
    monkeypatch.setenv("CLAYSTREAM_MONITOR_WINDOW_STRIDE", "500")
    with pytest.raises(SettingsError, match="WINDOW_STRIDE"):
        load_settings(MonitorSettings)
