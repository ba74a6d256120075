"""Where training stands, so it can stop and continue bit for bit.

Everything random in a `fit` is fixed by three numbers, which is why they are all a resume needs:

- the model's `seed` (in the architecture) seeds the shuffle generator `default_rng([seed, 1])`;
- the number of completed epochs says how many permutations that generator has already drawn
  (one per epoch, of the training set's length), so `shuffle_generator` replays exactly that many;
- the optimizer's step count (`iterations`) fixes Dropout's masks (they hash seed, step and the
  sample's place in its batch) and the decayed learning rate.

Together with the weights and the optimizer's accumulators (momentum velocity, Adam's moments) that
is the whole state of a run at an epoch boundary.
"""

from __future__ import annotations

import numpy as np

from ..errors import ModelFileError

STATE_VERSION = 1


def training_state(model) -> dict:
    """The position of `model`'s training: completed epochs and the optimizer's full state."""
    return {
        "version": STATE_VERSION,
        "seed": model.seed,
        "epoch": completed_epochs(model),
        "optimizer": None if model.optimizer is None else {"name": model.optimizer.name, **model.optimizer.get_state()},
    }


def restore_training_state(model, state: dict, where: str = "training state"):
    """Put `training_state`'s result back: seed, completed epochs and the optimizer state (shapes checked).

    The seed is restored too (weights loaded into a model built with another seed), because the
    shuffle order and Dropout's masks of the remaining epochs follow from it.
    """
    epoch, seed = state.get("epoch", 0), state.get("seed", model.seed)
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ModelFileError(f"{where}: epoch must be a non-negative integer, got {epoch!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ModelFileError(f"{where}: seed must be an integer in [0, 2**63), got {seed!r}")
    saved = state.get("optimizer")
    if saved is not None and model.optimizer is not None:
        if saved.get("name") != model.optimizer.name:
            raise ModelFileError(
                f"{where}: the state is of optimizer {saved.get('name')!r}, the model uses {model.optimizer.name!r}"
            )
        for key, value in saved.items():
            if isinstance(value, np.ndarray) and value.shape != model.parameters.shape:
                raise ModelFileError(
                    f"{where}: optimizer array {key!r} has shape {value.shape}, the model has "
                    f"{model.parameters.size} parameters"
                )
        try:
            model.optimizer.set_state({k: v for k, v in saved.items() if k != "name"})
        except (KeyError, ValueError, TypeError) as error:
            raise ModelFileError(f"{where}: optimizer state refused ({error})") from None
    model.completed_epochs, model.seed = epoch, seed


def split_arrays(state: dict) -> tuple[dict, dict]:
    """(JSON-safe part, {key: array}) of an optimizer state: arrays go to `.npy` members, the rest to JSON."""
    scalars, arrays = {}, {}
    for key, value in state.items():
        if isinstance(value, np.ndarray):
            arrays[key] = value
            scalars[key] = {"array": key}
        else:
            scalars[key] = value
    return scalars, arrays


def record_epoch(model, completed_epochs: int):
    """Called by `fit` after each epoch: what `training_state` reports as the position."""
    model.completed_epochs = int(completed_epochs)


def completed_epochs(model) -> int:
    """How many epochs `model` has trained in all (its shuffle generator has drawn that many orders)."""
    return int(getattr(model, "completed_epochs", 0))


def request_resume(model, epoch: int):
    """Ask the next (or the starting) `fit` to begin at `epoch` (what BackupAndRestore does)."""
    model.resume_epoch = int(epoch)


def start_epoch(model, initial_epoch: int) -> int:
    """The epoch `fit` starts at: `initial_epoch`, unless a callback asked to resume (the request is used up)."""
    requested = model.__dict__.pop("resume_epoch", None)
    return initial_epoch if requested is None else requested


def shuffle_generator(model, samples: int, skip_epochs: int = 0) -> np.random.Generator:
    """`fit`'s shuffle generator for `model`, advanced past `skip_epochs` epochs of `samples` samples.

    It is seeded by the model's seed alone and draws one permutation per epoch, so replaying the
    skipped epochs' draws puts it exactly where an uninterrupted run would have it.
    """
    generator = np.random.default_rng([model.seed, 1])
    for _ in range(skip_epochs):
        generator.permutation(samples)
    return generator
