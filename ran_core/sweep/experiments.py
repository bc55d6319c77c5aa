"""The record of every experiment run into a result folder, and what `--resume` may change.

Each fresh run writes `<output>/experiments/<name>.json` (its name, storage, study and flags) and
`<output>/experiment.json`, a copy of the latest. `--resume` continues the latest, `--resume NAME`
an older one. Names carry a random part, so two runs started in the same second never share an
Optuna study or a Tune folder.
"""

import datetime
import json
import secrets
from pathlib import Path

from ran_core.common.files import write_atomic

RECORDS_DIR, LATEST = "experiments", "experiment.json"
LATEST_NAME = "latest"


def new_name(study, preset):
    """`<study>-<preset>-<UTC time>-<random>`: unique even for runs started in the same second."""
    return f"{study}-{preset}-{datetime.datetime.now(datetime.timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def record(output, name, storage, study, argv, flags):
    """Writes the experiment's record (`flags`: SweepConfig.result_flags(), what it runs with) and points
    `experiment.json` at it."""
    text = json.dumps(
        {
            "name": name,
            "storage": storage,
            "study": study,
            "argv": list(argv),
            "flags": flags,
            "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        },
        indent=1,
    )
    write_atomic(Path(output) / RECORDS_DIR / f"{name}.json", text)
    write_atomic(Path(output) / LATEST, text)


def read(output, name=LATEST_NAME):
    """The record of experiment `name` in `output` (LATEST_NAME: the latest run)."""
    path = Path(output) / LATEST if name == LATEST_NAME else Path(output) / RECORDS_DIR / f"{name}.json"
    if not path.exists():
        known = sorted(p.stem for p in (Path(output) / RECORDS_DIR).glob("*.json"))
        if name == LATEST_NAME:
            raise ValueError(
                f"--resume: no experiment recorded in {str(path)!r}; run the study without "
                f"--resume first (or point --output at its result folder)"
            )
        raise ValueError(f"--resume {name}: no such experiment in {str(output)!r} (recorded: {known or 'none'})")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"--resume: cannot read the experiment record {str(path)!r} ({error})") from None


def changed_result_flags(recorded, now):
    """The result flags whose value now differs from the recorded run's, as '--flag NOW (recorded:
    THEN)' strings; both arguments map the result flags (SweepConfig.result_flags()) to the values
    the study applies. A flag a record lacks compares as None (the default of a flag added later)."""
    return [
        f"--{name.replace('_', '-')} {value} (recorded: {recorded.get(name)})"
        for name, value in now.items()
        if value != recorded.get(name)
    ]
