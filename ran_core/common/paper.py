"""Reference numbers from Wang et al., "Residual Attention Network for Image
Classification" (CVPR 2017), as data.

Every number here is the paper's (see ``shared/PAPER.md``). Errors are stored
as **fractions** (``test_error = 0.0552`` means 5.52 %), the same unit as the
``final_test_error`` column of ``results/<study>/trials.parquet``; parameter
counts are in millions (``params_m``).

Records are tidy: one row per (table, network, dataset, setting). The columns
that identify a setting are the ones a result row has too, so measured cells
can be joined on :data:`JOIN_KEYS`:

``model``           registry-style name (``attention92``, ``resnet164``,
                    ``wrn28_10``); ``family`` + ``depth`` split it.
``dataset``         ``cifar10`` / ``cifar100``.
``attention_type``  ``mixed`` / ``channel`` / ``spatial``; ``None`` for
                    networks without attention.
``learning_mode``   ``arl`` / ``nal``; ``None`` without attention.
``noise_ratio``     fraction of corrupted training labels (1 - r, Eq. 7).
``mask_structure``  ``encoder_decoder`` (the paper's soft mask) or
                    ``local_conv`` (Table 4 ablation); ``None`` without
                    attention. Result rows have no such column: joins only
                    use ``encoder_decoder`` rows (see :func:`reference_for`).

Unstated settings are filled with the paper's defaults: mixed attention,
attention residual learning, encoder-decoder masks, clean labels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ran_core.common.keys import NO_SETTING
from ran_core.common.names import split_model_name

if TYPE_CHECKING:
    import pandas

__all__ = [
    "COLUMNS",
    "JOIN_KEYS",
    "RECORDS",
    "TABLE_PRECEDENCE",
    "TABLE_TITLES",
    "paper_table",
    "reference_for",
]

#: Columns of :func:`paper_table`, in order.
COLUMNS = [
    "table",
    "model",
    "family",
    "depth",
    "dataset",
    "attention_type",
    "learning_mode",
    "mask_structure",
    "noise_ratio",
    "test_error",
    "params_m",
]

#: Columns on which measured cells are matched with the paper.
JOIN_KEYS = ["model", "dataset", "attention_type", "learning_mode", "noise_ratio"]

TABLE_TITLES = {
    1: "Table 1: attention types, Attention-56, CIFAR-10",
    3: "Table 3: ARL vs NAL, CIFAR-10",
    4: "Table 4: mask structure, Attention-56, CIFAR-10",
    5: "Table 5: label noise, CIFAR-10",
    6: "Table 6: comparison with ResNet / WRN, CIFAR-10 and CIFAR-100",
}

#: All tables, in the order they resolve a setting several of them report (they agree in the
#: paper, e.g. Attention-92 CIFAR-10 4.99 % in Tables 3 and 6): most specific first. Each study
#: lists its own tables in ran_core.studies.
TABLE_PRECEDENCE = (6, 3, 1, 5, 4)

_ATT = {"attention_type": "mixed", "learning_mode": "arl", "mask_structure": "encoder_decoder"}
_NO_ATT = {"attention_type": None, "learning_mode": None, "mask_structure": None}


def _rec(table, model, dataset, error_pct, *, noise=0.0, params_m=None, **setting):
    family, depth = split_model_name(model)
    base = dict(_ATT if family == "attention" else _NO_ATT)
    base.update(setting)
    return {
        "table": table,
        "model": model,
        "family": family,
        "depth": depth,
        "dataset": dataset,
        "attention_type": base["attention_type"],
        "learning_mode": base["learning_mode"],
        "mask_structure": base["mask_structure"],
        "noise_ratio": float(noise),
        "test_error": round(error_pct / 100.0, 6),
        "params_m": params_m,
    }


def _build_records():
    recs = []
    # Table 1: activation of the soft mask, Attention-56, CIFAR-10.
    for att, err in (("mixed", 5.52), ("channel", 6.24), ("spatial", 6.33)):
        recs.append(_rec(1, "attention56", "cifar10", err, attention_type=att))
    # Table 3: attention residual learning vs naive attention learning.
    for model, arl, nal in (
        ("attention56", 5.52, 5.89),
        ("attention92", 4.99, 5.35),
        ("attention128", 4.44, 5.57),
        ("attention164", 4.31, 7.18),
    ):
        recs.append(_rec(3, model, "cifar10", arl, learning_mode="arl"))
        recs.append(_rec(3, model, "cifar10", nal, learning_mode="nal"))
    # Table 4: mask structure.
    recs.append(_rec(4, "attention56", "cifar10", 6.48, mask_structure="local_conv"))
    recs.append(_rec(4, "attention56", "cifar10", 5.52, mask_structure="encoder_decoder"))
    # Table 5: label noise (noise level = 1 - r).
    for noise, resnet, att in ((0.1, 5.93, 5.15), (0.3, 6.61, 5.79), (0.5, 8.35, 7.27), (0.7, 17.21, 15.75)):
        recs.append(_rec(5, "resnet164", "cifar10", resnet, noise=noise))
        recs.append(_rec(5, "attention92", "cifar10", att, noise=noise))
    # Table 6: parameters and errors on CIFAR-10 / CIFAR-100.
    for model, params, c10, c100 in (
        ("resnet164", 1.7, 5.46, 24.33),
        ("resnet1001", 10.3, 4.64, 22.71),
        ("wrn16_8", 11.0, 4.81, 22.07),
        ("wrn28_10", 36.5, 4.17, 20.50),
        ("attention92", 1.9, 4.99, 21.71),
        ("attention236", 5.1, 4.14, 21.16),
        ("attention452", 8.6, 3.90, 20.45),
    ):
        recs.append(_rec(6, model, "cifar10", c10, params_m=params))
        recs.append(_rec(6, model, "cifar100", c100, params_m=params))
    return tuple(recs)


#: The paper's numbers as tidy records (dicts with :data:`COLUMNS` as keys).
RECORDS = _build_records()


def paper_table(tables=None) -> pandas.DataFrame:
    """All reference numbers as a DataFrame with :data:`COLUMNS`.

    ``test_error`` is a fraction (0.0499 = 4.99 %), ``params_m`` millions of
    parameters (Table 6 only, NaN elsewhere). ``tables`` (an int or an
    iterable of ints) keeps only those tables.
    """
    import pandas as pd  # only the frames need it; the records are plain data

    df = pd.DataFrame.from_records(list(RECORDS), columns=COLUMNS)
    if tables is not None:
        wanted = {int(tables)} if isinstance(tables, int) else {int(t) for t in tables}
        unknown = wanted - set(TABLE_TITLES)
        if unknown:
            raise ValueError(
                f"Unknown paper table(s) {sorted(unknown)}. Known: {sorted(TABLE_TITLES)}. Received: tables={tables!r}"
            )
        df = df[df["table"].isin(wanted)]
    df = df.astype(
        {"table": "int64", "depth": "int64", "noise_ratio": "float64", "test_error": "float64", "params_m": "float64"}
    )
    return df.reset_index(drop=True)


def reference_for(tables=TABLE_PRECEDENCE) -> pandas.DataFrame:
    """One paper value per :data:`JOIN_KEYS` setting, for joining.

    Keeps ``tables`` (a study's ``paper_tables`` in ran_core.common.studies), drops the Table 4
    local-convolution mask (result rows cannot express it) and resolves settings that several
    tables report by the order of ``tables``, the first listed winning. ``noise_ratio`` is rounded
    to 3 decimals so float noise ratios from result rows match.
    """
    order = tuple(tables)
    df = paper_table(order)
    df = df[df["mask_structure"].isna() | (df["mask_structure"] == "encoder_decoder")].copy()
    df["noise_ratio"] = df["noise_ratio"].round(3)
    df["_rank"] = df["table"].map({t: i for i, t in enumerate(order)})
    df = df.sort_values(["_rank"], kind="stable")
    key = df[JOIN_KEYS].astype(object).where(df[JOIN_KEYS].notna(), NO_SETTING)
    df = df[~key.duplicated(keep="first")]
    return df.drop(columns="_rank").reset_index(drop=True)
