"""Hygiene of what the pipeline stores: no URL token in a stored csv_uri, run files
written atomically, an alias moved only once its version carries its tags."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from carprice.pipeline import runner
from carprice.registry import aliases, tags
from carprice.registry.export import redact_info
from carprice.request_errors import redact_source

SECRET_URL = "https://user:s3cret@data.example.com:8443/cars.csv?token=T0KEN#frag"


def test_a_url_is_stored_without_its_userinfo_query_or_fragment():
    stored = redact_source(SECRET_URL)
    assert stored.startswith("https://data.example.com:8443/cars.csv")
    for secret in ("user", "s3cret", "T0KEN", "token", "frag"):
        assert secret not in stored
    assert redact_source(stored) == stored  # train redacts what ingest stored: unchanged
    assert redact_source("inbox/cars 2024.csv") == "inbox/cars 2024.csv"
    assert redact_source("synthetic") == "synthetic"


def test_the_export_redacts_a_copied_data_source_tag():
    info = {"tags": {tags.DATA_SOURCE: SECRET_URL, tags.DATA_HASH: "abc"}, "x": 1}
    out = redact_info(info)
    assert "T0KEN" not in json.dumps(out) and out["tags"][tags.DATA_HASH] == "abc"
    assert info["tags"][tags.DATA_SOURCE] == SECRET_URL  # the caller's dict is untouched


def _ctx(tmp_path: Path) -> runner.StageContext:
    return runner.StageContext(stage="ingest", run_id="r", run_dir=tmp_path,
                               models_dir=tmp_path, params=None,  # type: ignore[arg-type]
                               dag_id="d")


def test_run_files_are_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    ctx = _ctx(tmp_path)
    ctx.write_json("run.json", {"v": 1})
    assert ctx.read_json("run.json") == {"v": 1}

    def crash(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr("os.replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        ctx.write_json("run.json", {"v": 2, "big": "x" * 100_000})
    assert ctx.read_json("run.json") == {"v": 1}  # the old content, not half the new
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]  # no temp file left
    monkeypatch.undo()
    ctx.write_json("run.json", {"v": 3})
    assert ctx.read_json("run.json") == {"v": 3}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


class RecordingClient:
    """The three MlflowClient calls move_alias makes, recorded in order."""

    def __init__(self, current: str | None):
        self.current, self.calls = current, []

    def get_model_version_by_alias(self, name, alias):
        self.calls.append(("get_alias", alias))
        return SimpleNamespace(version=self.current)

    def set_model_version_tag(self, name, version, key, value):
        self.calls.append(("tag", version, key, value))

    def set_registered_model_alias(self, name, alias, version):
        self.calls.append(("alias", alias, version))


def test_the_alias_moves_after_its_version_is_tagged():
    client = RecordingClient(current="3")
    left = aliases.move_alias(client, "car-price", "production", "5",  # type: ignore[arg-type]
                              reason="gate passed")
    assert left == "3"
    kinds = [call[0] for call in client.calls]
    assert kinds[0] == "get_alias" and kinds[-1] == "alias"  # read first, moved last
    assert client.calls[-1] == ("alias", "production", "5")
    tagged = {call[2]: call[3] for call in client.calls if call[0] == "tag"}
    assert tagged[tags.previous("production")] == "3"
    assert tagged[tags.alias_reason("production")] == "gate passed"
    assert tags.alias_since("production") in tagged


def test_a_crash_while_tagging_leaves_the_alias_where_it_was():
    client = RecordingClient(current="3")

    def broken(*args):
        raise ConnectionError("mlflow down")

    client.set_model_version_tag = broken  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        aliases.move_alias(client, "car-price", "production", "5",  # type: ignore[arg-type]
                           reason="gate passed")
    assert not [call for call in client.calls if call[0] == "alias"]
