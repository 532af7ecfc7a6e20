"""carprice.api.model_holder: resolve at most once per TTL, load once per pinned version,
never make a request wait on a refresh, fall back to the export when a load fails.

The resolver and loader are carprice.serving.model_source's real ones (on an exported model); the
tests only count their calls and drive the clock.
"""

from __future__ import annotations

import gc
import json
import os
import threading
from dataclasses import replace

import pytest

from carprice.api.model_holder import ServedModel
from carprice.registry import mlflow_server
from carprice.serving import model_source
from tests.conftest import free_port
from tests.unit.app_model import export_small_model, sign_export


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counting:
    """A real function, with its calls counted."""

    def __init__(self, func):
        self.func, self.calls = func, 0

    def __call__(self, *args):
        self.calls += 1
        return self.func(*args)


@pytest.fixture(autouse=True)
def short_mlflow_timeouts(monkeypatch):
    for key, value in mlflow_server.CLIENT_ENV_DEFAULTS.items():  # what the API sets; undone
        monkeypatch.setenv(key, value)


@pytest.fixture
def export_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CARPRICE_MODELS_DIR", str(tmp_path))
    export_small_model(tmp_path, version="7")
    return tmp_path


@pytest.fixture
def parts(export_dir):
    resolve = Counting(lambda: model_source.resolve_production("car-price", "", export_dir))
    load = Counting(model_source.load_model)
    clock = Clock()
    return resolve, load, clock, ServedModel(resolve, load, ttl=30, clock=clock)


def _bump_export_version(export_dir, version: str) -> None:
    """A new export (promoted and signed as ``version``)."""
    meta_file = export_dir / "production" / "meta.json"
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "version": version}))
    sign_export(export_dir)
    stat = meta_file.stat()
    os.utime(meta_file, (stat.st_atime, stat.st_mtime + 5))  # a new export, a new cache key


def test_first_get_loads_and_later_gets_within_the_ttl_reuse_it(parts):
    resolve, load, clock, holder = parts
    snap = holder.get()
    assert snap.ready and snap.resolution.source == "export" and snap.resolution.version == "7"
    for _ in range(5):
        clock.now += 5
        assert holder.get() is snap
    assert (resolve.calls, load.calls) == (1, 1)


def test_after_the_ttl_a_request_gets_the_old_model_at_once_and_a_refresh_runs(parts, export_dir):
    resolve, load, clock, holder = parts
    first = holder.get()
    _bump_export_version(export_dir, "8")
    clock.now += 31
    assert holder.get() is first  # served stale while the refresh runs in the background
    holder.settle()
    assert resolve.calls == 2
    second = holder.get()
    assert second.resolution.version == "8" and second.ready
    assert load.calls == 2  # new export: new cache key, loaded once


def test_the_same_version_is_not_loaded_again_when_the_alias_is_re_read(parts):
    resolve, load, clock, holder = parts
    holder.get()
    for _ in range(3):
        clock.now += 31
        holder.refresh()
    assert (resolve.calls, load.calls) == (4, 1)


def test_each_newly_loaded_model_is_left_out_of_the_cyclic_gc_once(parts, export_dir):
    resolve, load, clock, holder = parts
    gc.unfreeze()
    try:
        holder.get()
        assert gc.get_freeze_count() > 0  # the model and the imports
        gc.unfreeze()
        clock.now += 31
        holder.refresh()  # the same model: no full collection again
        assert gc.get_freeze_count() == 0
        _bump_export_version(export_dir, "8")
        clock.now += 31
        holder.refresh()  # a new one
        assert load.calls == 2 and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_concurrent_first_requests_load_once(parts):
    resolve, load, clock, holder = parts
    results = []
    threads = [threading.Thread(target=lambda: results.append(holder.get())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(r is results[0] and r.ready for r in results)
    assert (resolve.calls, load.calls) == (1, 1)


def test_a_failing_resolver_gives_a_snapshot_without_model_instead_of_an_error(parts):
    def broken():
        raise RuntimeError("resolver exploded")

    holder = ServedModel(broken, model_source.load_model, ttl=30, clock=Clock())
    snap = holder.get()
    assert not snap.ready and snap.resolution.source == "none"
    assert "resolver exploded" in snap.resolution.problem


def test_a_registry_version_that_cannot_be_loaded_falls_back_to_the_export(export_dir):
    # A registry answer whose model files cannot be fetched (nothing listens there).
    res = model_source.Resolution("registry", "car-price", "9", "models:/car-price/9",
                               tracking_uri="http://127.0.0.1:9")
    got, model = model_source.load_with_fallback(res, model_source.load_model)
    assert model is not None and (got.source, got.version) == ("export", "7")
    assert got.problem.startswith("cannot load models:/car-price/9")


def test_nothing_loadable_means_none_with_both_reasons(tmp_path, monkeypatch):
    monkeypatch.setenv("CARPRICE_MODELS_DIR", str(tmp_path))
    res = model_source.Resolution("registry", "car-price", "9", "models:/car-price/9",
                               tracking_uri="http://127.0.0.1:9")
    got, model = model_source.load_with_fallback(res, model_source.load_model)
    assert model is None and got.source == "none"
    assert "cannot load models:/car-price/9" in got.problem


def test_the_registry_copy_of_the_served_export_switches_the_source_without_loading(export_dir):
    """MLflow is back and its production is the exported version: same signed content."""
    export = model_source.resolve_production("car-price", "", export_dir)
    dead = f"http://127.0.0.1:{free_port()}"  # a registry load would fail: none may happen
    same = replace(export, source=model_source.Source.REGISTRY, problem=None,
                   model_uri="models:/car-price/7", tracking_uri=dead)
    other = replace(same, version="8", model_uri="models:/car-price/8",
                    signature=replace(same.signature, digest="0" * 64))
    answers = iter([export, same, other])
    load, clock = Counting(model_source.load_model), Clock()
    holder = ServedModel(lambda: next(answers), load, ttl=30, clock=clock)
    first = holder.get()
    assert first.resolution.source == "export" and load.calls == 1
    clock.now += 31
    back = holder.refresh()
    assert (back.resolution.source, back.problem, load.calls) == ("registry", None, 1)
    assert back.model is first.model
    clock.now += 31
    newer = holder.refresh()  # other content: loaded (fails here: no MLflow), not reused
    assert load.calls == 2 and newer.refused and newer.model is first.model
