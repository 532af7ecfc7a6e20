"""DVC 3's file md5 and object layout, and restoring a file by md5 (carprice.sources.dvc_data)."""

from __future__ import annotations

import hashlib
import json

import pytest

from carprice import cli
from carprice.errors import InputError
from carprice.sources import dvc_data


def test_md5_is_the_md5_of_the_bytes_even_for_crlf_text(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"a\r\nb\n")  # DVC 2 normalised line ends of text files; DVC 3 does not
    assert dvc_data.file_md5(path) == hashlib.md5(b"a\r\nb\n").hexdigest()
    assert dvc_data.file_md5(path) == "d644a230f3ef20b00879aaceb61790af"  # `dvc add` 3.67


def test_object_path_is_files_md5_two_then_thirty(tmp_path):
    md5 = "d644a230f3ef20b00879aaceb61790af"
    assert dvc_data.object_path(tmp_path, md5) == (
        tmp_path / "files" / "md5" / "d6" / "44a230f3ef20b00879aaceb61790af")


@pytest.mark.parametrize("bad", ["", "xyz", "d644a230f3ef20b00879aaceb61790a",
                                 "../../etc/passwd00000000000000000", "g" * 32])
def test_a_bad_md5_is_one_line_input_error(tmp_path, bad):
    with pytest.raises(InputError, match="not an md5"):
        dvc_data.object_path(tmp_path, bad)


def test_stores_are_the_cache_and_the_default_folder_remote(tmp_path):
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc" / "config").write_text(
        "[core]\n    remote = local\n['remote \"local\"']\n    url = ../../remote-dir\n"
        "['remote \"s3\"']\n    url = s3://bucket/x\n")
    assert dvc_data.stores(tmp_path) == [tmp_path / ".dvc" / "cache",
                                        (tmp_path / ".." / "remote-dir").resolve()]
    (tmp_path / ".dvc" / "config.local").write_text("[core]\n    remote = s3\n")
    assert dvc_data.stores(tmp_path) == [tmp_path / ".dvc" / "cache"]  # not a folder


def _store(root, data: bytes) -> str:
    md5 = hashlib.md5(data).hexdigest()
    path = dvc_data.object_path(root, md5)
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    return md5


def test_restore_takes_the_first_store_holding_the_object(tmp_path):
    empty, remote = tmp_path / "cache", tmp_path / "remote"
    md5 = _store(remote, b"rows")
    found = dvc_data.restore(md5, tmp_path / "out" / "raw.parquet", [empty, remote])
    assert found == dvc_data.object_path(remote, md5)
    assert (tmp_path / "out" / "raw.parquet").read_bytes() == b"rows"


def test_restore_refuses_a_corrupt_object_and_leaves_no_file(tmp_path):
    md5 = _store(tmp_path, b"rows")
    dvc_data.object_path(tmp_path, md5).write_bytes(b"tampered")
    with pytest.raises(dvc_data.RestoreError, match="corrupt"):
        dvc_data.restore(md5, tmp_path / "raw.parquet", [tmp_path])
    assert [p.name for p in tmp_path.iterdir()] == ["files"]


def test_restore_names_where_it_looked(tmp_path):
    with pytest.raises(dvc_data.RestoreError, match=f"no object {'a' * 32} in {tmp_path}"):
        dvc_data.restore("A" * 32, tmp_path / "raw.parquet", [tmp_path])


def test_cli_data_restore(tmp_path, capsys):
    md5 = _store(tmp_path / "remote", b"rows")
    out = tmp_path / "raw.parquet"
    assert cli.main(["data-restore", "--md5", md5, "--out", str(out), "--repo",
                     str(tmp_path), "--remote", str(tmp_path / "remote")]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["md5"] == md5
    assert out.read_bytes() == b"rows"
    assert cli.main(["data-restore", "--md5", "nope", "--out", str(out)]) == 1
    assert capsys.readouterr().err.strip() == "error: not an md5 (32 hex digits): 'nope'"
