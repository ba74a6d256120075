"""What `compile` makes of a model with several outputs: one loss over all of them, and per-output logs.

The loss is `losses.outputs.OutputLosses`, Σ_k w_k · L_k over the outputs; the logs hold `loss` (that
sum, with the regularizers and added losses), each output's own `<output>_loss` and its metrics as
`<output>_<metric>` (`metrics.outputs`). Losses, loss weights and metrics are given as one for all, a
list in the order of the outputs, or a dict by output name.
"""

from __future__ import annotations

from .. import losses
from .. import metrics as metric_objects
from ..losses.outputs import OutputLosses
from ..metrics.outputs import OutputLoss, OutputMetric


def per_output(value, names, what, default=None) -> list:
    """`value` for each of the outputs `names`: a list in their order, a dict by name (missing: `default`),
    or anything else as one value for all."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names), key=str)
        if unknown:
            raise ValueError(f"compile: {what} names {unknown}, which are not outputs of the model; outputs: {names}")
        return [value.get(name, default) for name in names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise ValueError(
                f"compile: {what} has {len(value)} entries for a model with {len(names)} outputs {names}: "
                "give one per output, or a dict by output name"
            )
        return list(value)
    return [value] * len(names)


def output_metrics(requested, loss: OutputLosses) -> list:
    """The compiled statistics of a model with several outputs: each output's loss, then the metrics
    sorted by their log names (Keras's order in `evaluate`'s list)."""
    names = loss.names
    if requested is None:  # minidl's default, output by output: accuracy for a cross-entropy loss
        requested = [["accuracy"] if isinstance(each, losses.CLASSIFICATION_LOSSES) else [] for each in loss.losses]
    elif isinstance(requested, (str, metric_objects.Metric)) or callable(requested):
        requested = [requested] * len(names)
    elif isinstance(requested, (list, tuple)) and not requested:  # metrics=[]: none
        requested = [[]] * len(names)
    per = per_output(requested, names, "metrics", default=[])
    found = [OutputLoss(each, k, names[k]) for k, each in enumerate(loss.losses) if each is not None]
    metrics = []
    for k, items in enumerate(per):
        for item in items if isinstance(items, (list, tuple)) else [] if items is None else [items]:
            metrics.append(OutputMetric(metric_objects.get(item, loss.losses[k]), k, names[k]))
    return found + sorted(metrics, key=lambda metric: metric.name)


def output_losses(loss, loss_weights, names) -> OutputLosses:
    """The loss of a model with outputs `names` from compile's `loss` and `loss_weights`."""
    if isinstance(loss, OutputLosses):  # a compiled model's loss, given again: a copy
        return OutputLosses(loss.losses, loss.weights, loss.names)
    chosen = [None if each is None else losses.get(each) for each in per_output(loss, names, "loss")]
    return OutputLosses(chosen, per_output(loss_weights, names, "loss_weights", default=1.0), names)
