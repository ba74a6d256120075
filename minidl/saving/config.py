"""A model's architecture as JSON: writing it, checking an untrusted one, and rebuilding a model from it.

`check_config` is the allow-list a file from elsewhere must pass before anything is built: known top-level
keys, known layer classes (`minidl.layers.LAYER_CLASSES`), only the argument names each class's
constructor takes, JSON values of the expected kinds within limits, and a dtype of float32/float64.
`expected_weight_shapes` then asks each layer which weights it would create — by running the layer's own
`build` with `add_weight` answering zero-byte placeholders — so a file's weights can be compared with its
architecture before a single weight is allocated.
"""

from __future__ import annotations

import inspect
import math
import numbers

import numpy as np

from .. import constraints, losses, optimizers
from ..errors import ModelFileError, UnknownNameError
from ..layers import LAYER_CLASSES
from ..optimizers import schedules

FORMAT = "minidl-model-1"
TOP_LEVEL_KEYS = {"format", "name", "seed", "dtype", "layers", "optimizer", "loss", "metrics"}
MAX_LAYERS = 1_000
MAX_PARAMETERS = 1 << 31  # 8 GiB of float32: far beyond an MNIST model, and an int32-safe count
MAX_DIMENSION = 1 << 31
MAX_STRING = 200

# The kinds of value the known constructor arguments take; an argument not listed here (a new layer's)
# may hold a JSON scalar or a short list of them.
SIZES = ("kernel_size", "strides", "pool_size", "dilation_rate", "size")
COUNTS = ("units", "filters", "groups", "depth_multiplier", "n")
TEXTS = ("name", "activation", "kernel_initializer", "bias_initializer", "data_format", "interpolation", "fill_mode")
FLAGS = (
    "inplace",
    "nesterov",
    "use_bias",
    "center",
    "keepdims",
    "invert",
)  # not "scale": a flag in BatchNormalization, a number in Rescaling
# Normalization's `mean` / `variance`: a number or a (nested) list of up to this many numbers.
STATISTICS, MAX_STATISTICS = ("mean", "variance"), 1 << 16
MAX_SCHEDULE_LIST = 1_000  # PiecewiseConstantDecay's boundaries and values


def model_config(model) -> dict:
    """Everything needed to rebuild `model` without its weights."""
    return {
        "format": FORMAT,
        "name": model.name,
        "seed": model.seed,
        "dtype": np.dtype(model.dtype).name,
        "layers": [{"class": type(layer).__name__, "config": layer.get_config()} for layer in model.layers],
        "optimizer": model.optimizer.get_config() if model.optimizer else None,
        "loss": _loss_config(model.loss),
        "metrics": model.metrics,
    }


def _loss_config(loss):
    """The loss's name, or its whole config when it has settings (e.g. `from_logits`)."""
    if loss is None:
        return None
    config = loss.get_config()
    return loss.name if set(config) == {"name"} else config


def _loss_from_config(config):
    if isinstance(config, str):
        return config
    settings = {key: value for key, value in config.items() if key != "name"}
    return losses.LOSSES[config["name"].lower()](**settings)


def model_from_config(model_class, config: dict):
    """Rebuild (and compile, if it was) a model from `model_config`; weights are fresh."""
    model = model_class(name=config["name"], seed=config["seed"], dtype=config.get("dtype", "float32"))
    for entry in config["layers"]:
        if entry["class"] not in LAYER_CLASSES:
            raise UnknownNameError(f"unknown layer class {entry['class']!r}; known: {sorted(LAYER_CLASSES)}")
        model.add(LAYER_CLASSES[entry["class"]](**entry["config"]))
    if config.get("loss"):
        loss = _loss_from_config(config["loss"])
        model.compile(optimizer=config["optimizer"], loss=loss, metrics=config.get("metrics"))
    return model


# ----- checking an untrusted config -----
def check_config(config, where: str) -> dict:
    """Raise ModelFileError naming the first thing in `config` outside the allow-list; return it."""
    if not isinstance(config, dict):
        raise ModelFileError(f"{where}: the architecture must be a JSON object, got {type(config).__name__}")
    if config.get("format") != FORMAT:
        raise ModelFileError(f"{where}: unknown model format {config.get('format')!r} (expected {FORMAT!r})")
    unknown = sorted(set(config) - TOP_LEVEL_KEYS)
    if unknown:
        raise ModelFileError(f"{where}: unknown architecture keys {unknown}; known: {sorted(TOP_LEVEL_KEYS)}")
    _text(config.get("name"), f"{where}: model name")
    seed = config.get("seed")
    if not _is_int(seed) or not 0 <= seed < 2**63:
        raise ModelFileError(f"{where}: seed must be an integer in [0, 2**63), got {seed!r}")
    if config.get("dtype", "float32") not in ("float32", "float64"):
        raise ModelFileError(f"{where}: dtype must be 'float32' or 'float64', got {config.get('dtype')!r}")
    layers = config.get("layers")
    if not isinstance(layers, list):
        raise ModelFileError(f"{where}: 'layers' must be a list, got {type(layers).__name__}")
    if len(layers) > MAX_LAYERS:
        raise ModelFileError(f"{where}: {len(layers)} layers, over the limit of {MAX_LAYERS}")
    for index, entry in enumerate(layers, 1):
        _check_layer(entry, f"{where}: layer {index}")
    _check_compile(config, where)
    return config


def _check_layer(entry, where):
    if not isinstance(entry, dict) or set(entry) != {"class", "config"}:
        raise ModelFileError(f"{where} must be an object with exactly 'class' and 'config', got {entry!r:.80}")
    name = entry["class"]
    if not isinstance(name, str) or name not in LAYER_CLASSES:
        raise ModelFileError(f"{where}: unknown layer class {name!r:.80}; known: {sorted(LAYER_CLASSES)}")
    arguments = entry["config"]
    if not isinstance(arguments, dict):
        raise ModelFileError(f"{where} ({name}): 'config' must be an object, got {type(arguments).__name__}")
    allowed = _argument_names(LAYER_CLASSES[name])
    unknown = sorted(set(arguments) - allowed)
    if unknown:
        raise ModelFileError(f"{where} ({name}): unknown argument(s) {unknown}; {name} takes {sorted(allowed)}")
    for key, value in arguments.items():
        _check_argument(key, value, f"{where} ({name}) argument {key!r}")


def _argument_names(cls) -> set[str]:
    parameters = inspect.signature(cls.__init__).parameters.values()
    return {p.name for p in parameters if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def _check_argument(key, value, where):
    if key == "input_shape":
        if value is None:
            return
        if not isinstance(value, list) or not 1 <= len(value) <= 4 or not all(_dimension(d) for d in value):
            raise ModelFileError(f"{where} must be a list of 1 to 4 dimensions in [1, 2**31), got {value!r:.80}")
    elif key in COUNTS:
        if not _dimension(value):
            raise ModelFileError(f"{where} must be an integer in [1, 2**31), got {value!r:.80}")
    elif key in SIZES:
        values = value if isinstance(value, list) and len(value) == 2 else [value]
        if not (value is None and key == "strides") and not all(_dimension(v) for v in values):
            raise ModelFileError(f"{where} must be an integer or a pair of them in [1, 2**31), got {value!r:.80}")
    elif key in TEXTS:
        if value is not None:
            _text(value, where)
    elif key in FLAGS:
        if not isinstance(value, bool):
            raise ModelFileError(f"{where} must be true or false, got {value!r:.80}")
    elif key.endswith("_constraint"):
        _check_constraint(value, where)
    elif key in STATISTICS:
        if not _numbers(value, MAX_STATISTICS):
            raise ModelFileError(f"{where} must be null, a number or a list of up to {MAX_STATISTICS} numbers")
    elif not _small_value(value, depth=2):
        raise ModelFileError(
            f"{where} must be a number, text, true/false, null or a short list of them, got {value!r:.80}"
        )


def _check_constraint(value, where):
    """None, a known constraint name, or {"class_name": known class, "config": {its arguments: small values}}."""
    if value is None or (isinstance(value, str) and (value in constraints.CONSTRAINTS or value in constraints.NAMES)):
        return
    known = sorted(constraints.CONSTRAINTS)
    if not isinstance(value, dict) or value.get("class_name") not in constraints.CONSTRAINTS:
        raise ModelFileError(f"{where} must be null, a constraint name or {{'class_name': one of {known}, ...}}")
    _check_settings(value, constraints.CONSTRAINTS[value["class_name"]], "class_name", where, 8)


def _check_settings(entry, cls, name_key, where, longest):
    """`entry` is {name_key: ..., "config": {argument of cls: a small value}} (plus Keras's module keys)."""
    extra = sorted(set(entry) - {name_key, "config", "module", "registered_name"})
    settings = entry.get("config", {})
    if extra or not isinstance(settings, dict):
        raise ModelFileError(f"{where}: unexpected keys {extra} or a 'config' that is not an object")
    unknown = sorted(set(settings) - _argument_names(cls))
    if unknown:
        raise ModelFileError(
            f"{where}: unknown argument(s) {unknown}; {cls.__name__} takes {sorted(_argument_names(cls))}"
        )
    for key, value in settings.items():
        if not _small_value(value, depth=1, longest=longest):
            raise ModelFileError(f"{where}: argument {key!r} must be a number, text, true/false or a short list")


def _check_compile(config, where):
    loss, optimizer, metrics = config.get("loss"), config.get("optimizer"), config.get("metrics", [])
    if loss is None:
        return
    settings = {}
    if isinstance(loss, dict):
        settings, loss = {k: v for k, v in loss.items() if k != "name"}, loss.get("name")
    _text(loss, f"{where}: loss")
    if loss.lower() not in losses.LOSSES:
        raise ModelFileError(f"{where}: unknown loss {loss!r}; known: {sorted(losses.LOSSES)}")
    allowed = _argument_names(losses.LOSSES[loss.lower()])
    unknown = sorted(set(settings) - allowed)
    if unknown or not all(isinstance(v, bool) for v in settings.values()):
        raise ModelFileError(
            f"{where}: loss settings {settings!r:.80} refused; {loss} takes {sorted(allowed)} (true/false)"
        )
    if not isinstance(metrics, list) or not all(isinstance(m, str) and len(m) <= MAX_STRING for m in metrics):
        raise ModelFileError(f"{where}: 'metrics' must be a list of names, got {metrics!r:.80}")
    if not isinstance(optimizer, dict) or not isinstance(optimizer.get("name"), str):
        raise ModelFileError(f"{where}: 'optimizer' must be an object with a 'name', got {optimizer!r:.80}")
    cls = optimizers.OPTIMIZERS.get(optimizer["name"].lower())
    if cls is None:
        raise ModelFileError(
            f"{where}: unknown optimizer {optimizer['name']!r}; known: {sorted(optimizers.OPTIMIZERS)}"
        )
    allowed = _argument_names(cls) | {"name"}
    unknown = sorted(set(optimizer) - allowed)
    if unknown:
        raise ModelFileError(
            f"{where}: unknown optimizer argument(s) {unknown}; {cls.__name__} takes {sorted(allowed)}"
        )
    for key, value in optimizer.items():
        if key == "learning_rate" and isinstance(value, dict):
            if value.get("class") not in schedules.SCHEDULES:
                raise ModelFileError(
                    f"{where}: unknown learning-rate schedule {value.get('class')!r:.80}; known: "
                    f"{sorted(schedules.SCHEDULES)} (a schedule of your own: load with compile=False, then compile)"
                )
            _check_settings(
                value, schedules.SCHEDULES[value["class"]], "class", f"{where}: learning_rate", MAX_SCHEDULE_LIST
            )
        elif key != "name" and not _scalar(value):
            raise ModelFileError(
                f"{where}: optimizer argument {key!r} must be a number or true/false, got {value!r:.80}"
            )


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _dimension(value) -> bool:
    return _is_int(value) and 1 <= value < MAX_DIMENSION


def _scalar(value) -> bool:
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, str):
        return len(value) <= MAX_STRING
    return isinstance(value, (int, float)) and math.isfinite(value) and abs(value) < 2**63


def _small_value(value, depth, longest=8) -> bool:
    """A JSON scalar, or (to `depth` levels) a list of at most `longest` of them: ZeroPadding2D's ((1, 2), (3, 4))."""
    if isinstance(value, list):
        return depth > 0 and len(value) <= longest and all(_small_value(v, depth - 1, longest) for v in value)
    return _scalar(value)


def _numbers(value, limit, depth=4) -> bool:
    """None, a finite number, or nested lists (to `depth` levels) holding at most `limit` finite numbers."""
    stack, count = [(value, depth)], 0
    while stack:
        item, levels = stack.pop()
        if isinstance(item, list):
            if levels == 0 or len(item) > limit:
                return False
            stack.extend((v, levels - 1) for v in item)
        elif item is None and levels == depth:
            return True
        elif isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(item):
            return False
        else:
            count += 1
            if count > limit:
                return False
    return True


def _text(value, where):
    if not isinstance(value, str) or not 0 < len(value) <= MAX_STRING:
        raise ModelFileError(f"{where} must be a text of 1 to {MAX_STRING} characters, got {value!r:.80}")


# ----- the weights an architecture implies, without allocating them -----
def expected_weight_shapes(config, where: str) -> list[tuple[str, str, tuple]]:
    """(layer name, weight name, shape, trainable) of every weight the checked `config` implies, in file order
    (`Model.get_weights()` order: layer by layer, trainable weights before non-trainable state).

    Each layer is built on a throw-away instance whose `add_weight` records the shape and answers a
    zero-byte broadcast placeholder, so `Dense(units=10**9)` costs nothing here. An unbuilt model
    (no input shape on its first layer) implies no weights.
    """
    dtype = np.dtype(config.get("dtype", "float32")).type
    shapes, total = [], 0
    shape = None
    for index, entry in enumerate(config["layers"], 1):
        try:
            layer = LAYER_CLASSES[entry["class"]](**entry["config"])
        except Exception as error:  # a layer's own argument check, whatever it raises: named, not a traceback
            raise ModelFileError(f"{where}: layer {index} ({entry['class']}): {error}") from None
        shape = layer.input_shape if index == 1 else shape
        if shape is None:
            return []
        recorded = []

        def record(
            name, weight_shape, initializer=None, fan_in=1, fan_out=1, trainable=True, _layer=layer, _recorded=recorded
        ):
            weight_shape = tuple(int(d) for d in weight_shape)
            _recorded.append((not trainable, _layer.name, name, weight_shape))
            placeholder = np.broadcast_to(np.zeros((), dtype), weight_shape)
            if trainable:
                _layer.params[name], _layer.grads[name] = placeholder, placeholder
            else:
                _layer.states[name] = placeholder
            return placeholder

        layer.add_weight = record
        try:
            shape = layer.build(shape, rng=np.random.default_rng(0), dtype=dtype)
        except Exception as error:  # ShapeError above all; any other failure of the layer's build too
            raise ModelFileError(f"{where}: layer {index} ({entry['class']}): {error}") from None
        recorded = [(*entry[1:], not entry[0]) for entry in sorted(recorded, key=lambda entry: entry[0])]
        for layer_name, name, weight_shape, _ in recorded:
            total += math.prod(weight_shape)
            if total > MAX_PARAMETERS:
                raise ModelFileError(
                    f"{where}: layer {index} ({entry['class']} {layer_name!r}) weight {name!r} of shape "
                    f"{weight_shape} brings the model over {MAX_PARAMETERS:,} parameters"
                )
        shapes += recorded
    return shapes
