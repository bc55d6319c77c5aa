"""Result files: upsert by key (no duplicates, last write wins), schema kept, atomic writes."""

import pyarrow.parquet as pq
import pytest

from ran_core.results import EPOCH_KEY, EPOCHS_SCHEMA, upsert, write_atomic


def row(trial, epoch, error):
    return {"experiment_id": "exp", "study": "s", "trial_id": trial, "epoch": epoch, "test_error": error}


def test_upsert_replaces_rows_with_the_same_key_and_keeps_the_others(tmp_path):
    path = tmp_path / "epochs.parquet"
    upsert(path, [row("a", 1, 0.9), row("a", 2, 0.8), row("b", 1, 0.7)], EPOCHS_SCHEMA, EPOCH_KEY)
    upsert(path, [row("a", 2, 0.5), row("a", 2, 0.4), row("a", 3, 0.3)], EPOCHS_SCHEMA, EPOCH_KEY)
    table = pq.read_table(path)
    assert table.schema.equals(EPOCHS_SCHEMA)
    got = sorted((r["trial_id"], r["epoch"], r["test_error"]) for r in table.to_pylist())
    assert got == [("a", 1, 0.9), ("a", 2, 0.4), ("a", 3, 0.3), ("b", 1, 0.7)]
    assert [p.name for p in tmp_path.iterdir()] == ["epochs.parquet"], "no temporary file left behind"


def test_a_failed_write_leaves_the_old_file_intact(tmp_path):
    path = write_atomic(tmp_path / "state.json", "old")

    with pytest.raises(TypeError):  # the write itself fails (here: data that is not bytes)
        write_atomic(path, 12345)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
