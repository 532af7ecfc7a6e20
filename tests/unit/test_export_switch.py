"""The exported copy is switched in atomically: models/production is a link to a versioned
copy, replaced by one rename. A reader always finds a whole copy; old copies are pruned."""

from __future__ import annotations

import json
import threading

from carprice.registry.export import (
    EXPORT_DIRNAME,
    EXPORT_META,
    EXPORTS_DIRNAME,
    KEEP_EXPORTS,
    read_export,
    switch_export,
)


def copy(models_dir, version: str):
    folder = models_dir / EXPORTS_DIRNAME / f"v{version}"
    (folder / "model").mkdir(parents=True)
    (folder / EXPORT_META).write_text(json.dumps({"version": version}))
    return folder


def test_a_folder_of_the_earlier_layout_is_replaced_by_the_link(tmp_path):
    legacy = tmp_path / EXPORT_DIRNAME
    (legacy / "model").mkdir(parents=True)
    (legacy / EXPORT_META).write_text(json.dumps({"version": "1"}))
    link = switch_export(tmp_path, copy(tmp_path, "2"))
    assert link.is_symlink() and not link.readlink().is_absolute()
    assert read_export(tmp_path)[1]["version"] == "2"
    kept = sorted(p.name for p in (tmp_path / EXPORTS_DIRNAME).iterdir())
    assert len(kept) == 2 and "v2" in kept  # the earlier copy is kept, as the one before


def test_only_the_newest_copies_are_kept_and_the_link_names_the_last(tmp_path):
    for version in "12345":
        switch_export(tmp_path, copy(tmp_path, version))
    kept = sorted(p.name for p in (tmp_path / EXPORTS_DIRNAME).iterdir())
    assert len(kept) == KEEP_EXPORTS and "v5" in kept, kept
    assert read_export(tmp_path)[1]["version"] == "5"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftover link


def test_a_reader_never_finds_no_copy_while_copies_are_switched(tmp_path):
    switch_export(tmp_path, copy(tmp_path, "0"))
    misses, seen, stop = [], set(), threading.Event()

    def reader():
        while not stop.is_set():
            try:
                found = read_export(tmp_path)
            except FileNotFoundError:  # a copy pruned two switches later, mid-read: only
                continue  # this loop switches faster than a reader reads
            if found is None:
                misses.append("no export")
            else:
                seen.add(found[1]["version"])

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for version in range(1, 200):
            switch_export(tmp_path, copy(tmp_path, str(version)))
    finally:
        stop.set()
        thread.join()
    assert not misses, f"{len(misses)} reads found no export"
    assert len(seen) > 1  # the reader did run during the switches
