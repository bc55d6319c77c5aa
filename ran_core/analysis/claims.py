"""The paper's claims as effects measured on result cells: what the scorecard tests.

Each claim the studies can speak to (declared in `ran_core.common.studies`) becomes one or more
*effects*: a weighted sum of cell test errors, signed so that a positive value supports the claim
(e.g. ResNet's error minus Attention's at 70% label noise). A cell is (model, attention_type,
learning_mode, noise_ratio) within one setting; a ResNet's attention settings are NO_SETTING.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pandas as pd

from ran_core.common.keys import NO_SETTING
from ran_core.common.names import pretty_model_name as pretty_model
from ran_core.common.studies import STUDIES

__all__ = ["CLAIMS", "Claim", "Effect", "cell_key", "percent"]


@dataclasses.dataclass(frozen=True)
class Effect:
    """sum(weight * test error of cell) over `terms`; a cell is (model, attention_type,
    learning_mode, noise_ratio) within one setting. `kind` names the effect within its claim."""

    kind: str
    label: str
    terms: tuple


@dataclasses.dataclass(frozen=True)
class Claim:
    """A claim of the paper, the study that tests it and how its effects are built from the cells
    of one setting (a DataFrame with model, family, depth, attention_type, learning_mode,
    noise_ratio)."""

    name: str
    study: str
    statement: str
    effects: Callable[[pd.DataFrame], list]
    varies_noise: bool = False


def percent(ratio):
    return f"{100 * ratio:g}%"


def cell_key(row):
    return (row["model"], row["attention_type"], row["learning_mode"], round(float(row["noise_ratio"]), 3))


def _variants(cells, family):
    """Distinct (model, attention_type, learning_mode) of one family, shallow to deep."""
    sel = cells[cells["family"] == family].sort_values(["depth", "model", "attention_type", "learning_mode"])
    return list(dict.fromkeys(zip(sel["model"], sel["attention_type"], sel["learning_mode"])))


def _has(cells, variant, noise):
    keys = set(map(cell_key, cells.to_dict("records")))
    return (*variant, round(noise, 3)) in keys


def _name(variant):
    """Attention-56, or Attention-56 (spatial, NAL) where the attention settings are not the default."""
    model, attention_type, learning_mode = variant
    settings = ((attention_type, "mixed"), (learning_mode, "arl"))
    extras = [v if v != learning_mode else v.upper() for v, default in settings if v not in (NO_SETTING, default)]
    return f"{pretty_model(model)} ({', '.join(extras)})" if extras else pretty_model(model)


def _noise_effects(cells):
    out = []
    for att in _variants(cells, "attention"):
        for res in _variants(cells, "resnet"):
            levels = sorted(
                n for n in set(cells["noise_ratio"].round(3)) if _has(cells, att, n) and _has(cells, res, n)
            )
            if not levels or levels[-1] == 0:
                continue
            noisy, top = [n for n in levels if n > 0], levels[-1]
            pair = f"{_name(res)} - {_name(att)}"
            where = f"at {percent(top)}" if len(noisy) == 1 else f"mean over {percent(noisy[0])}-{percent(top)}"
            out.append(
                Effect(
                    "gap_under_noise",
                    f"{pair}, {where} noise",
                    tuple(t for n in noisy for t in ((1 / len(noisy), (*res, n)), (-1 / len(noisy), (*att, n)))),
                )
            )
            gap = ((1, (*res, top)), (-1, (*att, top)))
            if levels[0] == 0:
                clean = ((-1, (*res, 0.0)), (1, (*att, 0.0)))
                out.append(Effect("gap_widens", f"({pair}) at {percent(top)} minus at 0% noise", gap + clean))
    return out


def _learning_mode_effects(cells):
    by_depth = {}
    for model, attention_type, mode in _variants(cells, "attention"):
        by_depth.setdefault((model, attention_type), {})[mode] = (model, attention_type, mode)
    noise = float(cells["noise_ratio"].iloc[0]) if len(cells) else 0.0
    pairs = [(m, d["arl"], d["nal"]) for (m, _), d in by_depth.items() if {"arl", "nal"} <= set(d)]
    if not pairs:
        return []
    out = [
        Effect(
            "nal_minus_arl",
            "NAL - ARL, mean over " + ", ".join(pretty_model(m) for m, _, _ in pairs),
            tuple(
                t for _, arl, nal in pairs for t in ((1 / len(pairs), (*nal, noise)), (-1 / len(pairs), (*arl, noise)))
            ),
        )
    ]
    if len(pairs) > 1:
        (shallow, arl_s, nal_s), (deep, arl_d, nal_d) = pairs[0], pairs[-1]
        out.append(
            Effect(
                "gap_grows_with_depth",
                f"(NAL - ARL) at {pretty_model(deep)} minus at {pretty_model(shallow)}",
                ((1, (*nal_d, noise)), (-1, (*arl_d, noise)), (-1, (*nal_s, noise)), (1, (*arl_s, noise))),
            )
        )
    return out


def _attention_type_effects(cells):
    noise = float(cells["noise_ratio"].iloc[0]) if len(cells) else 0.0
    variants = _variants(cells, "attention")
    out = []
    for model, mode in dict.fromkeys((m, lm) for m, _, lm in variants):
        if (model, "mixed", mode) not in variants:
            continue
        for other in ("channel", "spatial"):
            if (model, other, mode) in variants:
                out.append(
                    Effect(
                        f"{other}_minus_mixed",
                        f"{other} - mixed ({pretty_model(model)})",
                        ((1, (model, other, mode, noise)), (-1, (model, "mixed", mode, noise))),
                    )
                )
    return out


def _depth_effects(cells):
    noise = float(cells["noise_ratio"].iloc[0]) if len(cells) else 0.0
    variants = _variants(cells, "attention")
    out = []
    for attention_type, mode in dict.fromkeys((at, lm) for _, at, lm in variants):
        chain = [v for v in variants if v[1:] == (attention_type, mode)]
        if len({v[0] for v in chain}) < 2:
            continue
        shallow, deep = chain[0], chain[-1]
        out.append(
            Effect(
                "shallow_minus_deep",
                f"{_name(shallow)} - {_name(deep)}",
                ((1, (*shallow, noise)), (-1, (*deep, noise))),
            )
        )
    return out


def _claims():
    """One Claim per study that declares one (ran_core.common.studies), in the table's order."""
    return tuple(
        Claim(info.claim.name, info.name, info.claim.statement, _EFFECTS[info.claim.effects], info.claim.varies_noise)
        for info in STUDIES.values()
        if info.claim is not None
    )


_EFFECTS = {
    "noise_effects": _noise_effects,
    "learning_mode_effects": _learning_mode_effects,
    "attention_type_effects": _attention_type_effects,
    "depth_effects": _depth_effects,
}
CLAIMS = _claims()
