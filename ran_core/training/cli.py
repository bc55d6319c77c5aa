"""`python -m ran_core.training`: one run of one config from the command line.

Every TrainConfig field is a flag (with its help text and default); a bad flag or an unwritable
output exits with status 2 before anything trains. Keras is imported only after the flags parse.
"""

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from ran_core.common.files import check_writable, write_atomic
from ran_core.training.config import TrainConfig


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m ran_core.training",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    for field in dataclasses.fields(TrainConfig):
        flag, text = "--" + field.name.replace("_", "-"), field.metadata["help"]
        if isinstance(field.default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=field.default, help=text)
        elif isinstance(field.default, tuple):
            kind = type(field.default[0])
            parser.add_argument(flag, type=kind, nargs="+", default=list(field.default), help=text)
        else:
            kind = type(field.default) if field.default is not None else str
            parser.add_argument(flag, type=kind, default=field.default, help=text)
    parser.add_argument("--checkpoint-dir", help="keep the latest epoch's checkpoint here")
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint-dir")
    parser.add_argument("--json", help="write the final metrics and history here")
    parser.add_argument("--verbose", type=int, choices=[0, 1], default=1, help="1: one line per epoch")
    return parser


def main(argv=None):
    args = vars(_parser().parse_args(argv))
    from ran_core.data import load_dataset  # after parsing: --help answers without a backend
    from ran_core.training.loop import check_batch_size, train

    checkpoint_dir, resume, json_path = args.pop("checkpoint_dir"), args.pop("resume"), args.pop("json")
    verbose = args.pop("verbose")
    try:  # every check before any training, so a bad invocation writes nothing
        config = TrainConfig.from_dict(args)
        if resume and not (checkpoint_dir and (Path(checkpoint_dir) / "latest").exists()):
            raise ValueError(f"--resume needs a --checkpoint-dir holding a checkpoint. Received: {checkpoint_dir!r}")
        if json_path:
            check_writable(json_path, "--json", folder=False)
        if checkpoint_dir:
            check_writable(checkpoint_dir, "--checkpoint-dir", folder=True)
        data = load_dataset(config.dataset, config.data_dir)
        check_batch_size(config, data)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    result = train(
        config,
        dataset=data,
        resume_from=checkpoint_dir if resume else None,
        checkpoint_dir=checkpoint_dir,
        verbose=verbose,
    )
    final = result.history[-1]
    print(
        f"done: {config.model} on {config.dataset}, {result.params:,} parameters, "
        f"test accuracy {final['test_accuracy']:.4f} after {final['epoch']} epochs"
    )
    if json_path:
        write_atomic(
            json_path,
            json.dumps({"config": config.to_dict(), "params": result.params, "history": result.history}, indent=1),
        )
    return 0
