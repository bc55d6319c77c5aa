"""The sweep's Optuna study file: write-ahead log without a sync per commit, still a plain SQLite
study that optuna.load_study reads, and picklable with the searcher (Tune checkpoints it)."""

import pickle

import optuna
import sqlalchemy

from ran_core.sweep.tuner import optuna_storage


def test_the_study_file_is_wal_and_reads_back_as_plain_sqlite_and_after_pickling(tmp_path):
    storage = optuna_storage(tmp_path / "optuna.db")
    study = optuna.create_study(storage=storage, study_name="s", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=3)
    with storage.engine.connect() as connection:
        assert connection.execute(sqlalchemy.text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(sqlalchemy.text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    assert len(optuna.load_study(study_name="s", storage=pickle.loads(pickle.dumps(storage))).trials) == 3
    assert len(optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / 'optuna.db'}").trials) == 3
