"""The scheduler replay of benchmarks/asha_replay.py on a small bank with a clear winner: Tune's
real schedulers, driven through their hooks, must stop trials and still keep the best one. The
budget of 18 epochs gives Tune's HyperBand a first bracket that never halves and is as large as
the 4 workers: a replay that ends a trial on its last epoch although HyperBand said PAUSE lets
every later trial into that bracket, and HyperBand stops nothing."""

import importlib.util
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ray.tune.schedulers import FIFOScheduler

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "asha_replay.py"
CONFIGS, BUDGET = 40, 18


@pytest.fixture(scope="module")
def replay():
    spec = importlib.util.spec_from_file_location("asha_replay", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def curves(replay, tmp_path):
    """Curves that never cross: config i ends at error 0.02 + 0.01 i, so config 0 is the best; its
    test loss says the opposite."""
    rows = [
        {
            "trial_id": f"c{i:02d}",
            "epoch": e,
            "test_error": 0.02 + 0.01 * i + 0.5 * np.exp(-e / 2),
            "test_loss": 1.0 - 0.01 * i + np.exp(-e / 2),  # ranks the configurations the other way round
            "epoch_time_s": 1.0,
        }
        for i in range(CONFIGS)
        for e in range(1, BUDGET + 1)
    ]
    path = tmp_path / "bank.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    return replay.Curves(path)


def test_fifo_runs_every_epoch(replay, curves):
    order = np.arange(CONFIGS)
    epochs = replay.replay_tune(lambda n, w: FIFOScheduler(), curves, order, 4)
    assert replay.score(curves, epochs, order) == (1.0, 0.0)


@pytest.mark.parametrize(
    "name", ["hyperband rf=3", "asha g=1 rf=3", "promoting asha g=1 rf=5", "optuna successive halving g=1 rf=3"]
)
def test_schedulers_stop_trials_and_keep_the_best(replay, curves, name):
    run, make = replay.contenders(BUDGET)[name]
    for seed in range(3):
        order = np.random.default_rng(seed).permutation(CONFIGS)
        epochs = run(make, curves, order, 4)
        fraction, regret = replay.score(curves, epochs, order)
        assert epochs.min() >= 1 and epochs[0] == BUDGET, epochs
        assert fraction < 0.8 and regret == 0.0, (fraction, epochs)


def test_schedulers_decide_on_the_rank_column_and_regret_stays_test_error(replay, tmp_path, curves):
    path = tmp_path / "bank.parquet"
    by_loss = replay.Curves(path, "test_loss")
    run, make = replay.contenders(BUDGET)["asha g=1 rf=3"]
    order = np.random.default_rng(0).permutation(CONFIGS)
    epochs = run(make, by_loss, order, 4)
    assert epochs[-1] == BUDGET and epochs[0] < BUDGET, epochs  # the loss's favourite ran the budget
    best_that_ran = np.flatnonzero(epochs == BUDGET).min()  # by test error: the lowest index
    assert best_that_ran > 0
    assert replay.score(by_loss, epochs, order)[1] == pytest.approx(100 * 0.01 * best_that_ran)


def test_rank_correlation_tells_how_well_each_epoch_orders_the_final_error(replay, tmp_path, curves):
    assert curves.rank_correlation() == [1.0] * BUDGET  # curves that never cross
    assert replay.Curves(tmp_path / "bank.parquet", "test_loss").rank_correlation() == [-1.0] * BUDGET


def test_a_rank_column_the_bank_lacks_is_refused(replay, tmp_path, curves, capsys):
    with pytest.raises(SystemExit) as exit_info:
        replay.main(["--bank", str(tmp_path / "bank.parquet"), "--rank-by", "train_loss", "--orders", "1"])
    assert exit_info.value.code == 2
    assert "'train_loss' is not a column" in capsys.readouterr().err


def write_bank(path, final_of):
    """A bank whose config i falls to `final_of(i)` by the last epoch."""
    rows = [
        {"trial_id": f"c{i:02d}", "epoch": e, "test_error": final_of(i) + 0.5 * np.exp(-e / 2), "epoch_time_s": 1.0}
        for i in range(CONFIGS)
        for e in range(1, BUDGET + 1)
    ]
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def test_several_banks_are_replayed_each_and_pooled(replay, tmp_path, capsys):
    easy = write_bank(tmp_path / "easy.parquet", lambda i: 0.02 + 0.01 * i)
    # the best configuration is slow to show it: early stopping loses it on this draw
    crossing = tmp_path / "crossing.parquet"
    rows = pq.read_table(easy).to_pylist()
    for row in rows:
        if row["trial_id"] == "c39":
            row["test_error"] = 0.9 if row["epoch"] < BUDGET else 0.001
    pq.write_table(pa.Table.from_pylist(rows), crossing)
    replay.main(["--bank", str(easy), str(crossing), "--orders", "3", "--only", "asha g=1 rf=3"])
    out = capsys.readouterr().out
    report = replay.json.loads(out[out.index("\n{\n") :])
    result = report["schedulers"]["asha g=1 rf=3"]
    assert set(result["per_bank"]) == {"easy", "crossing"}
    assert result["per_bank"]["easy"]["regret_pp"] == 0.0 and result["per_bank"]["crossing"]["regret_pp"] > 0
    means = [bank["regret_pp"] for bank in result["per_bank"].values()]
    assert result["regret_pp"] == pytest.approx(np.mean(means), abs=0.01)


def test_banks_of_different_budgets_are_refused(replay, tmp_path, capsys):
    short = tmp_path / "short.parquet"
    rows = [
        r for r in pq.read_table(write_bank(tmp_path / "full.parquet", lambda i: 0.1)).to_pylist() if r["epoch"] <= 9
    ]
    pq.write_table(pa.Table.from_pylist(rows), short)
    with pytest.raises(SystemExit) as exit_info:
        replay.main(["--bank", str(tmp_path / "full.parquet"), str(short), "--orders", "1"])
    assert exit_info.value.code == 2
    assert "must share one epoch budget" in capsys.readouterr().err
