"""The configuration file: validated once, one clear sentence for every mistake."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.config import ConfigError, config_from_mapping, load_config, parse_mqtt_url

REPO = Path(__file__).resolve().parents[1]


def test_the_example_file_is_valid() -> None:
    config = load_config(REPO / "posjaga.example.toml", env={})
    assert config.site.id == "kpu-palu" and config.site.timezone == "Asia/Makassar"
    assert config.mqtt.password_file == "/etc/posjaga/mqtt-password"


@pytest.mark.parametrize("text,fragments", [
    ('[site]\nid = "kpu-palu"\n[mqtt]\nprot = 1\n', ["'mqtt.prot'", "unknown", "base_topic"]),
    ('[site]\nid = "kpu-palu"\n[mqtt]\nkeepalive_s = "30"\n',
     ["'mqtt.keepalive_s'", "whole number of seconds", "the text '30'"]),
    ('[site]\nname = "x"\n', ["'site.id'", "is missing"]),
    ('[store]\nurl = "sqlite:///x.db"\n', ["'site'", "is missing"]),
    ('[site]\nid = "KPU Palu"\n', ["'site.id'", "lower-case"]),
    ('[site]\nid = "a"\ntimezone = "Mars/Olympus"\n', ["'site.timezone'", "IANA"]),
    ('[site]\nid = "a"\n[mqtt]\nurl = "http://x"\n', ["'mqtt.url'", "mqtt://"]),
    ('[site]\nid = "a"\n[mqtt]\nurl = "mqtt://h:port"\n', ["'mqtt.url'", "numeric port"]),
    ('[site]\nid = "a"\n[store]\nurl = "postgresql://x/y"\n', ["'store.url'", "SQLite"]),
    ('[site]\nid = "a"\n[store]\nretention_days = -1\n', ["'store.retention_days'", "> 0"
                                                           if False else "greater than 0"]),
    ('[site]\nid = "a"\n[mqtt]\nbase_topic = "a/#"\n', ["'mqtt.base_topic'", "wildcards"]),
    ('[site]\nid = "a"\n[services]\nenabled = "uplink"\n', ["'services.enabled'", "list"]),
    ('[site]\nid = "a"\n[log]\nlevel = "loud"\n', ["'log.level'", "'debug'"]),
    ('[site]\nid = "a"\n[bogus]\nx = 1\n', ["'bogus'", "unknown"]),
    ('site = 3\n', ["'site'", "table"]),
    ('[site\nid = "a"\n', ["not valid TOML"]),
    ('[site]\nid = "a"\nlatitude = true\n', ["'site.latitude'", "boolean"]),
])
def test_mistakes_name_the_file_the_key_and_what_is_expected(tmp_path, text, fragments) -> None:
    path = tmp_path / "posjaga.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    message = str(err.value)
    assert message.startswith(str(path) + ":"), message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_missing_and_unreadable_files(tmp_path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", env={})
    bad = tmp_path / "bin.toml"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(bad, env={})


def test_environment_overrides_the_file(tmp_path) -> None:
    path = tmp_path / "posjaga.toml"
    path.write_text('[site]\nid = "a"\n[mqtt]\nurl = "mqtt://file:1883"\n')
    config = load_config(path, env={"POSJAGA_MQTT_URL": "mqtts://u:p%40ss@broker:8884",
                                    "POSJAGA_DB": "sqlite:////tmp/x.db"})
    url = parse_mqtt_url(config.mqtt.url)
    assert (url.tls, url.host, url.port, url.username, url.password) == \
        (True, "broker", 8884, "u", "p@ss")
    assert url.redacted() == "mqtts://u:***@broker:8884"
    assert config.store.url == "sqlite:////tmp/x.db"
    with pytest.raises(ConfigError, match="POSJAGA_MQTT_URL must be"):
        load_config(path, env={"POSJAGA_MQTT_URL": "tcp://x"})
    with pytest.raises(ConfigError, match="POSJAGA_DB must be"):
        load_config(path, env={"POSJAGA_DB": "nonsense"})


def test_config_path_from_environment(tmp_path) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text('[site]\nid = "b"\n')
    assert load_config(None, env={"POSJAGA_CONFIG": str(path)}).site.id == "b"


def test_ints_are_accepted_where_numbers_are_expected() -> None:
    config = config_from_mapping({"site": {"id": "a", "latitude": -1}}, "<t>", env={})
    assert config.site.latitude == -1.0 and isinstance(config.site.latitude, float)


toml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=10), children, max_size=3), max_leaves=8)
known = st.sampled_from(["site", "store", "mqtt", "services", "log", "id", "url", "window",
                         "keepalive_s", "enabled", "level", "timezone", "base_topic"])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(known | st.text(max_size=8),
                       st.dictionaries(known | st.text(max_size=8), toml_values, max_size=4)
                       | toml_values, max_size=5))
def test_fuzzed_configs_are_accepted_or_refused_with_a_config_error(data) -> None:
    try:
        config_from_mapping(data, "<fuzz>", env={})
    except ConfigError as exc:
        assert str(exc).startswith("<fuzz>: ") and "\n" not in str(exc)
