from carprice.stages.runner import one_line


def test_one_line_explains_a_bare_missing_path():
    assert one_line(FileNotFoundError("data/runs/x/raw.parquet")) == (
        "file not found: data/runs/x/raw.parquet (run the earlier stages of this run first)")


def test_one_line_folds_whitespace_and_truncates():
    assert one_line(ValueError("a\n  b")) == "a b"
    assert len(one_line(ValueError("x" * 900))) == 500
