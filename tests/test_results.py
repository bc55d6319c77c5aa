"""Result folders: parts appended per flush, merged and compacted, read back once per key (latest
wins), whole files only for a reader running beside the writer; real Parquet throughout."""

import multiprocessing

import pyarrow.parquet as pq
import pytest

from ran_core.common.files import write_atomic
from ran_core.results import (
    EPOCHS_SCHEMA,
    TRIALS_SCHEMA,
    append,
    compact,
    compacted_path,
    has_results,
    parts_path,
    read_parquet_file,
    read_results,
    store,
)


def row(trial, epoch, error, experiment="exp"):
    return {"experiment_id": experiment, "study": "s", "trial_id": trial, "epoch": epoch, "test_error": error}


def triples(table):
    return sorted((r["trial_id"], r["epoch"], r["test_error"]) for r in table.to_pylist())


def test_a_row_recorded_again_replaces_the_earlier_one_across_parts_and_within_one(tmp_path):
    append(tmp_path, "epochs", [row("a", 1, 0.9), row("a", 2, 0.8), row("b", 1, 0.7)])
    append(tmp_path, "epochs", [row("a", 2, 0.5), row("a", 2, 0.4), row("a", 3, 0.3)])  # a retry of trial a
    append(tmp_path, "epochs", [row("a", 2, 0.6, experiment="other")])  # another experiment: its own key
    table = read_results(tmp_path, "epochs")
    assert table.schema.equals(EPOCHS_SCHEMA)
    assert triples(table) == [("a", 1, 0.9), ("a", 2, 0.4), ("a", 2, 0.6), ("a", 3, 0.3), ("b", 1, 0.7)]
    assert not compacted_path(tmp_path, "epochs").exists() and has_results(tmp_path, "epochs")
    assert not has_results(tmp_path, "trials") and read_results(tmp_path, "trials").schema.equals(TRIALS_SCHEMA)


def test_compaction_writes_one_complete_file_removes_the_parts_and_later_rows_still_win(tmp_path):
    append(tmp_path, "epochs", [row("a", 1, 0.9), row("a", 2, 0.8)])
    assert compact(tmp_path, "epochs", [row("a", 2, 0.1)]) == 2  # rows given to compact are the newest
    assert list(parts_path(tmp_path, "epochs").iterdir()) == []
    plain = pq.read_table(compacted_path(tmp_path, "epochs"))  # what pandas or DuckDB would read
    assert plain.schema.equals(EPOCHS_SCHEMA) and triples(plain) == [("a", 1, 0.9), ("a", 2, 0.1)]
    append(tmp_path, "epochs", [row("a", 1, 0.2)])  # a resumed sweep after compaction
    assert triples(read_results(tmp_path, "epochs")) == [("a", 1, 0.2), ("a", 2, 0.1)]
    compact(tmp_path, "epochs")
    assert triples(pq.read_table(compacted_path(tmp_path, "epochs"))) == [("a", 1, 0.2), ("a", 2, 0.1)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epochs.parquet", "parts"], "no temporary file left"


def test_parts_are_merged_in_bounded_groups_and_every_row_survives(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "MERGE_GROUP", 4)  # the same logic, fewer files to write
    flushes = 2 * store.MERGE_GROUP**2 + 3  # two merges into level 2, plus three level-0 parts
    for i in range(flushes):
        append(tmp_path, "epochs", [row(f"t{i}", 1, 0.5), row(f"t{i // 2}", 2, i / flushes)])
    names = [p.name for p in parts_path(tmp_path, "epochs").iterdir()]
    assert len(names) < 3 * store.MERGE_GROUP, names
    assert {name.split(".")[1] for name in names} == {"L0", "L2"}
    got = {(r["trial_id"], r["epoch"]): r["test_error"] for r in read_results(tmp_path, "epochs").to_pylist()}
    assert len(got) == flushes + (flushes + 1) // 2
    assert all(
        got[(f"t{i // 2}", 2)] == max(j for j in range(flushes) if j // 2 == i // 2) / flushes for i in range(flushes)
    )


def test_a_file_written_with_fewer_columns_reads_with_the_documented_schema(tmp_path):
    import pyarrow as pa

    old = pa.table({"experiment_id": ["e"], "study": ["s"], "trial_id": ["a"], "epoch": [1]})
    store.write_table(old, compacted_path(tmp_path, "epochs"))
    table = read_results(tmp_path, "epochs")
    assert table.schema.equals(EPOCHS_SCHEMA) and table.to_pylist()[0]["test_error"] is None


def test_an_unknown_kind_is_rejected_with_what_was_received(tmp_path):
    with pytest.raises(ValueError, match="Received: kind='trial'"):
        read_results(tmp_path, "trial")


def _write_versions(folder, rounds):
    """Writer process: each round re-records every earlier trial with a higher version, adds one,
    and compacts now and then, as a sweep with retries and a resume would."""
    for version in range(1, rounds + 1):
        append(folder, "epochs", [row(f"t{i}", 1, float(version)) for i in range(version)])
        if version % 7 == 0:
            compact(folder, "epochs")


def test_a_reader_beside_the_writer_sees_whole_files_each_key_once_and_never_an_older_version(tmp_path):
    rounds = 3 * store.MERGE_GROUP + 5
    writer = multiprocessing.get_context("spawn").Process(target=_write_versions, args=(tmp_path, rounds))
    writer.start()
    reads, seen = 0, {}
    while writer.is_alive() or reads == 0:
        table = read_results(tmp_path, "epochs")
        keys = [r["trial_id"] for r in table.to_pylist()]
        assert len(keys) == len(set(keys)), "a key appeared twice"
        for r in table.to_pylist():
            assert r["test_error"] >= seen.get(r["trial_id"], 0), "an older version replaced a newer one"
            seen[r["trial_id"]] = r["test_error"]
        assert set(seen) == set(keys), "a recorded row vanished"
        if compacted_path(tmp_path, "epochs").exists():
            read_parquet_file(compacted_path(tmp_path, "epochs"))  # never half a file
        reads += 1
    writer.join()
    assert writer.exitcode == 0
    compact(tmp_path, "epochs")
    final = pq.read_table(compacted_path(tmp_path, "epochs")).to_pylist()
    assert sorted((r["trial_id"], r["test_error"]) for r in final) == sorted(
        (f"t{i}", float(rounds)) for i in range(rounds)
    )
    assert reads > 1


def test_a_failed_write_leaves_the_old_file_intact(tmp_path):
    path = write_atomic(tmp_path / "state.json", "old")

    with pytest.raises(TypeError):  # the write itself fails (here: data that is not bytes)
        write_atomic(path, 12345)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_the_analysis_loader_reads_a_running_sweeps_parts_once(tmp_path):
    from ran_core.analysis import load_results

    folder = tmp_path / "search"
    append(folder, "epochs", [row("a", 1, 0.9), row("a", 2, 0.8)])
    append(folder, "epochs", [row("a", 2, 0.5)])  # a retry of epoch 2
    append(folder, "trials", [{"experiment_id": "exp", "study": "search", "trial_id": "a", "status": "completed"}])
    loaded = load_results(tmp_path)
    assert loaded.studies == ["search", "s"] and len(loaded.trials) == 1  # `row` says study "s"
    assert loaded.epochs["test_error"].tolist() == [0.9, 0.5]
