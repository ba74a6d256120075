"""A model's architecture as JSON: writing it, checking an untrusted one, and rebuilding a model from it.

Three kinds, as the models: "sequential" (the layers in order), "functional" (the layers, and the
nodes of the graph: which layer or op is called on which tensors) and "subclassed" (the registered
class, the arguments its `get_config` gives, and the input shapes that build it).

`check_config` is the allow-list a file from elsewhere must pass before anything is built: known top-level
keys, known layer classes (`minidl.layers.LAYER_CLASSES`, or custom classes the user registered or
passed in `custom_objects`), only the argument names each class's constructor takes, JSON values of the
expected kinds within limits, known ops, and a dtype of float32/float64. `expected_weight_shapes` then
builds the model with `add_weight` answering zero-byte placeholders (`layers.base.placeholder_weights`),
so a file's weights can be compared with its architecture before a single weight is allocated.
"""

from __future__ import annotations

import inspect
import math
import numbers

import numpy as np

from .. import constraints, losses, ops, optimizers
from ..errors import ModelFileError, UnknownNameError
from ..layers import LAYER_CLASSES
from ..layers import activations as activation_layers
from ..layers.base import placeholder_weights
from ..losses.outputs import OutputLosses
from ..metrics.outputs import OutputMetric
from ..ops.symbolic import KerasTensor
from ..optimizers import schedules
from .object_registration import get_registered_name, get_registered_object

FORMAT = "minidl-model-1"
KINDS = ("sequential", "functional", "subclassed")
TOP_LEVEL_KEYS = {
    "format", "kind", "name", "seed", "dtype", "layers", "nodes", "inputs", "outputs", "class", "config",
    "input_shapes", "optimizer", "loss", "metrics",
}  # fmt: skip
MAX_LAYERS = 1_000
MAX_PARAMETERS = 1 << 31  # 8 GiB of float32: far beyond an MNIST model, and an int32-safe count
MAX_DIMENSION = 1 << 31
MAX_STRING = 200
MAX_DEPTH = 4  # models inside models inside ...

# The kinds of value the known constructor arguments take; an argument not listed here (a new layer's)
# may hold a JSON scalar or a short list of them.
SIZES = ("kernel_size", "strides", "pool_size", "dilation_rate", "size")
COUNTS = ("units", "filters", "groups", "depth_multiplier", "n", "input_dim", "output_dim")
TEXTS = (
    "name", "activation", "kernel_initializer", "bias_initializer", "data_format", "interpolation", "fill_mode",
    "recurrent_activation", "recurrent_initializer", "embeddings_initializer",
)  # fmt: skip
FLAGS = (
    "inplace",
    "nesterov",
    "use_bias",
    "center",
    "keepdims",
    "trainable",
    "invert",
    "mask_zero",
    "return_sequences",
    "return_state",
    "go_backwards",
    "unroll",
    "zero_output_for_mask",
    "unit_forget_bias",
    "reset_after",
)  # not "scale": a flag in BatchNormalization, a number in Rescaling
# Layers inside a layer's config, each {"class", "config"}: Bidirectional's layer(s) and an RNN's cell.
NESTED_LAYERS = ("layer", "backward_layer", "cell")
MAX_NESTING = 2
REGULARIZER_ARGUMENTS = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer")
# The ops a functional graph may call (Keras's names), rebuilt by name.
GRAPH_OPS = frozenset(name for name in ops.__all__ if name.islower() and callable(getattr(ops, name)))
# Normalization's `mean` / `variance`: a number or a (nested) list of up to this many numbers.
STATISTICS, MAX_STATISTICS = ("mean", "variance"), 1 << 16
MAX_SCHEDULE_LIST = 1_000  # PiecewiseConstantDecay's boundaries and values


# ----- writing -----
def model_config(model) -> dict:
    """Everything needed to rebuild `model` without its weights."""
    config = {"format": FORMAT, "kind": _kind(model), "name": model.name, "seed": model.seed}
    config["dtype"] = np.dtype(model.dtype).name
    config.update(_architecture(model))
    config["optimizer"] = model.optimizer.get_config() if model.optimizer else None
    if isinstance(model.loss, OutputLosses):  # several outputs: a loss (or null) and a weight per output
        config["loss"] = {
            "outputs": [_loss_config(each) for each in model.loss.losses],
            "loss_weights": model.loss.weights,
        }
        config["metrics"] = [
            {"output": m.index, "metric": _metric_config(m.metric)}
            for m in model.compiled_metrics
            if isinstance(m, OutputMetric)
        ]
        return config
    config["loss"] = _loss_config(model.loss)
    config["metrics"] = [_metric_config(m) for m in model.compiled_metrics] if model.loss is not None else []
    return config


def _kind(model) -> str:
    kinds = {cls: kind for kind, cls in type(model).kinds.items()}
    return kinds.get(type(model), "subclassed")


def _architecture(model) -> dict:
    kind = _kind(model)
    if kind == "sequential":
        return {"layers": [_layer_entry(layer) for layer in model.layers]}
    if kind == "functional":
        return _graph(model)
    if "get_config" not in _defined_below_minidl(type(model)):
        raise NotImplementedError(
            f"model {model.name!r} is a subclass of Model ({type(model).__name__}): to save its architecture, give "
            "it get_config() returning its constructor's arguments, and register it with "
            "@keras.saving.register_keras_serializable() (save_weights works without)"
        )
    shapes = model.input_shape if isinstance(model.input_shape, list) else [model.input_shape]
    return {
        "class": get_registered_name(type(model)),
        "config": model.get_config(),
        "input_shapes": [list(s) for s in shapes] if model.built else None,
    }


def _defined_below_minidl(cls) -> set[str]:
    """The names the user's classes (between `cls` and minidl's own) define."""
    names = set()
    for base in cls.__mro__:
        if base.__module__.startswith("minidl."):
            break
        names |= set(vars(base))
    return names


def _layer_entry(layer) -> dict:
    """{"class": name, "config": ...}: a model inside gives its own whole config."""
    if hasattr(layer, "compiled_metrics"):  # a model used as a layer
        inner = model_config(layer)
        for key in ("optimizer", "loss", "metrics", "format"):
            inner.pop(key, None)
        return {"class": "Model", "config": inner}
    name = type(layer).__name__ if type(layer) in LAYER_CLASSES.values() else get_registered_name(type(layer))
    config = layer.get_config()
    function = getattr(getattr(layer, "activation", None), "function", None)  # activation=<a function of ops>
    if function is not None and isinstance(config.get("activation"), str):
        config["activation"] = get_registered_name(function)  # "package>name" when registered, as Keras files it
    return {"class": name, "config": config}


def _graph(model) -> dict:
    """The layers and the nodes of a functional model; tensors as {"tensor": [node or "input", output]}."""
    layer_index = {id(layer): i for i, layer in enumerate(model.layers)}
    made = {id(t): ["input", i] for i, t in enumerate(model.inputs)}
    nodes = []
    for j, node in enumerate(model.nodes):
        entry = {"layer": layer_index[id(node.operation)]} if id(node.operation) in layer_index else None
        if entry is None:
            name = _op_name(node.operation)
            entry = {"op": name}
        entry["args"] = _encode(node.args, made)
        entry["kwargs"] = _encode(node.kwargs, made)
        nodes.append(entry)
        for index, tensor in enumerate(node.outputs):
            made[id(tensor)] = [j, index]
    return {
        "layers": [_layer_entry(layer) for layer in model.layers],
        "nodes": nodes,
        "inputs": [made[id(t)] for t in model.inputs],
        "outputs": [made[id(t)] for t in model.outputs],
    }


def _op_name(operation) -> str:
    """The `minidl.ops` function whose call made this op node (its class's name in snake case)."""
    from ..utils.naming import snake_case

    name = snake_case(type(operation).__name__)
    name = {"absolute": "absolute", "get_item": "get_item"}.get(name, name)
    if name not in GRAPH_OPS:
        raise NotImplementedError(f"op {type(operation).__name__} in a functional graph cannot be saved by minidl")
    return name


def _encode(value, made):
    """JSON for a node's arguments: tensors by reference, slices and Ellipsis spelled out."""
    if isinstance(value, KerasTensor):
        return {"tensor": made[id(value)]}
    if isinstance(value, (list, tuple)):
        return (
            {"tuple": [_encode(v, made) for v in value]}
            if isinstance(value, tuple)
            else [_encode(v, made) for v in value]
        )
    if isinstance(value, dict):
        return {"dict": {k: _encode(v, made) for k, v in value.items()}}
    if isinstance(value, slice):
        return {"slice": [value.start, value.stop, value.step]}
    if value is Ellipsis:
        return {"ellipsis": True}
    if isinstance(value, np.dtype):
        return {"dtype": value.name}
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value


def _decode(value, tensors):
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if isinstance(value, dict):
        if "tensor" in value:
            return tensors[tuple(value["tensor"])]
        if "tuple" in value:
            return tuple(_decode(v, tensors) for v in value["tuple"])
        if "dict" in value:
            return {k: _decode(v, tensors) for k, v in value["dict"].items()}
        if "slice" in value:
            return slice(*value["slice"])
        if "ellipsis" in value:
            return Ellipsis
        if "dtype" in value:
            return np.dtype(value["dtype"])
    return value


def _loss_config(loss):
    """The loss's name, or its whole config when it has settings (e.g. `from_logits`); a user's loss by
    its registered name."""
    if loss is None:
        return None
    user = getattr(loss, "function", None)
    if user is not None:
        return {"function": get_registered_name(user)}
    if type(loss) not in losses.LOSS_CLASSES:
        return {"class": get_registered_name(type(loss)), "config": loss.get_config()}
    config = loss.get_config()
    return loss.name if set(config) == {"name"} else config


def _metric_config(metric):
    if type(metric).__module__.startswith("minidl."):
        return (
            metric.name
            if getattr(metric, "function", None) is None
            else {"function": get_registered_name(metric.function)}
        )
    return {"class": get_registered_name(type(metric)), "config": metric.get_config()}


# ----- rebuilding -----
def model_from_config(model_class, config: dict, custom_objects=None):
    """Rebuild (and compile, if it was) a model from `model_config`; weights are fresh."""
    kind = config.get("kind", "sequential")
    if kind == "sequential":
        kinds = model_class.kinds
        model = kinds["sequential"](name=config["name"], seed=config["seed"], dtype=config.get("dtype", "float32"))
        for entry in config["layers"]:
            model.add(_layer_from(entry, model_class, custom_objects))
    elif kind == "functional":
        model = _functional_from(model_class, config, custom_objects)
    else:
        cls = _custom(config["class"], custom_objects, "model")
        model = (
            cls.from_config(config["config"])
            if "from_config" in _defined_below_minidl(cls)
            else cls(**config["config"])
        )
        model.seed = config["seed"]
        model._init_rng = np.random.default_rng(model.seed)
        if config.get("input_shapes"):
            model.build([tuple(s) for s in config["input_shapes"]])
    if isinstance(config.get("loss"), dict) and "outputs" in config["loss"]:
        chosen = config["loss"]
        metrics = [[] for _ in chosen["outputs"]]
        for entry in config.get("metrics") or []:
            metrics[entry["output"]].append(_metric_from_config(entry["metric"], custom_objects))
        model.compile(
            optimizer=config["optimizer"],
            loss=[None if each is None else _loss_from_config(each, custom_objects) for each in chosen["outputs"]],
            loss_weights=chosen["loss_weights"],
            metrics=metrics,
        )
    elif config.get("loss"):
        model.compile(
            optimizer=config["optimizer"],
            loss=_loss_from_config(config["loss"], custom_objects),
            metrics=[_metric_from_config(m, custom_objects) for m in config.get("metrics") or []],
        )
    return model


def _layer_from(entry, model_class, custom_objects):
    if entry["class"] == "Model":
        return model_from_config(model_class, entry["config"], custom_objects)
    if entry["class"] in LAYER_CLASSES:
        return layer_from_entry(entry, custom_objects)
    cls = _custom(entry["class"], custom_objects, "layer")
    return cls.from_config(dict(entry["config"]))


def layer_from_entry(entry, custom_objects=None):
    """The built-in layer of {"class", "config"}, building the layers nested in its config (NESTED_LAYERS)
    first; an activation named by the user's own function is found as Keras finds it (registered, or in
    `custom_objects` / a custom_object_scope)."""
    if entry["class"] not in LAYER_CLASSES:
        raise UnknownNameError(f"unknown layer class {entry['class']!r}; known: {sorted(LAYER_CLASSES)}")
    config = {
        key: layer_from_entry(value, custom_objects) if key in NESTED_LAYERS and isinstance(value, dict) else value
        for key, value in entry["config"].items()
    }
    activation = config.get("activation")
    if isinstance(activation, str) and activation.lower() not in activation_layers.ACTIVATIONS:
        config["activation"] = get_registered_object(activation, custom_objects) or activation
    return LAYER_CLASSES[entry["class"]](**config)


def _functional_from(model_class, config, custom_objects):
    """Call the layers and ops on symbolic tensors again, node by node, as the file lists them."""
    layers = [_layer_from(entry, model_class, custom_objects) for entry in config["layers"]]
    tensors = {}
    for i, reference in enumerate(config["inputs"]):
        layer = layers[i] if reference == ["input", i] else None
        if layer is None or not hasattr(layer, "output"):
            raise ModelFileError(f"input {i} of the graph is not an InputLayer")
        tensors[("input", i)] = layer.output
    for j, node in enumerate(config["nodes"]):
        args, kwargs = _decode(node["args"], tensors), _decode(node["kwargs"], tensors)
        kwargs = kwargs["dict"] if isinstance(kwargs, dict) and "dict" in kwargs else kwargs
        operation = layers[node["layer"]] if "layer" in node else getattr(ops, node["op"])
        result = operation(*args, **(kwargs or {}))
        for index, tensor in enumerate(result if isinstance(result, list) else [result]):
            tensors[(j, index)] = tensor
    inputs = [tensors[tuple(r)] for r in config["inputs"]]
    outputs = [tensors[tuple(r)] for r in config["outputs"]]
    return model_class.kinds["functional"](
        inputs=inputs if len(inputs) > 1 else inputs[0],
        outputs=outputs if len(outputs) > 1 else outputs[0],
        name=config["name"],
        seed=config["seed"],
    )


def _custom(name, custom_objects, what):
    found = get_registered_object(name, custom_objects)
    if found is None:
        raise UnknownNameError(
            f"unknown {what} class {name!r}; known: {sorted(LAYER_CLASSES)}; pass a custom class in "
            "custom_objects, a custom_object_scope, or register it with @keras.saving.register_keras_serializable()"
        )
    return found


def _loss_from_config(config, custom_objects=None):
    if isinstance(config, str):
        return config
    if "function" in config:
        return _custom(config["function"], custom_objects, "loss function")
    if "class" in config:
        cls = _custom(config["class"], custom_objects, "loss")
        return cls.from_config(config["config"]) if hasattr(cls, "from_config") else cls(**config["config"])
    settings = {key: value for key, value in config.items() if key != "name"}
    return losses.LOSSES[config["name"].lower()](**settings)


def _metric_from_config(config, custom_objects=None):
    if isinstance(config, str):
        return config
    if "function" in config:
        return _custom(config["function"], custom_objects, "metric function")
    cls = _custom(config["class"], custom_objects, "metric")
    return cls.from_config(config["config"]) if hasattr(cls, "from_config") else cls(**config["config"])


# ----- checking an untrusted config -----
def check_config(config, where: str, custom_objects=None, depth=0) -> dict:
    """Raise ModelFileError naming the first thing in `config` outside the allow-list; return it."""
    if not isinstance(config, dict):
        raise ModelFileError(f"{where}: the architecture must be a JSON object, got {type(config).__name__}")
    if depth == 0 and config.get("format") != FORMAT:
        raise ModelFileError(f"{where}: unknown model format {config.get('format')!r} (expected {FORMAT!r})")
    if depth > MAX_DEPTH:
        raise ModelFileError(f"{where}: models nested more than {MAX_DEPTH} deep")
    unknown = sorted(set(config) - TOP_LEVEL_KEYS)
    if unknown:
        raise ModelFileError(f"{where}: unknown architecture keys {unknown}; known: {sorted(TOP_LEVEL_KEYS)}")
    kind = config.get("kind", "sequential")
    if kind not in KINDS:
        raise ModelFileError(f"{where}: kind must be one of {list(KINDS)}, got {kind!r:.80}")
    _text(config.get("name"), f"{where}: model name")
    seed = config.get("seed")
    if not _is_int(seed) or not 0 <= seed < 2**63:
        raise ModelFileError(f"{where}: seed must be an integer in [0, 2**63), got {seed!r}")
    if config.get("dtype", "float32") not in ("float32", "float64"):
        raise ModelFileError(f"{where}: dtype must be 'float32' or 'float64', got {config.get('dtype')!r}")
    if kind == "subclassed":
        _check_subclassed(config, where, custom_objects)
    else:
        layers = config.get("layers")
        if not isinstance(layers, list):
            raise ModelFileError(f"{where}: 'layers' must be a list, got {type(layers).__name__}")
        if len(layers) > MAX_LAYERS:
            raise ModelFileError(f"{where}: {len(layers)} layers, over the limit of {MAX_LAYERS}")
        for index, entry in enumerate(layers, 1):
            _check_layer(entry, f"{where}: layer {index}", custom_objects, depth)
        if kind == "functional":
            _check_graph(config, where)
    if depth == 0:
        _check_compile(config, where, custom_objects)
    return config


def _check_subclassed(config, where, custom_objects):
    name = config.get("class")
    if not isinstance(name, str) or get_registered_object(name, custom_objects) is None:
        raise ModelFileError(
            f"{where}: model class {name!r:.80} is not known: pass it in custom_objects or register it with "
            "@keras.saving.register_keras_serializable()"
        )
    arguments = config.get("config")
    if not isinstance(arguments, dict) or not all(_small_value(v, depth=2) for v in arguments.values()):
        raise ModelFileError(f"{where}: the model's config must be an object of numbers, texts and short lists")
    shapes = config.get("input_shapes")
    if shapes is not None and not (
        isinstance(shapes, list)
        and 0 < len(shapes) <= 8
        and all(isinstance(s, list) and 0 < len(s) <= 4 and all(d is None or _dimension(d) for d in s) for s in shapes)
    ):
        raise ModelFileError(f"{where}: input_shapes must be a list of shapes, got {shapes!r:.80}")


def _check_graph(config, where):
    nodes, layers = config.get("nodes"), config["layers"]
    if not isinstance(nodes, list) or len(nodes) > 4 * MAX_LAYERS:
        raise ModelFileError(f"{where}: 'nodes' must be a list of at most {4 * MAX_LAYERS} entries")
    inputs = config.get("inputs")
    if not isinstance(inputs, list) or not inputs or len(inputs) > len(layers):
        raise ModelFileError(f"{where}: 'inputs' must be a non-empty list of input references")
    for i, reference in enumerate(inputs):
        if reference != ["input", i] or layers[i]["class"] != "InputLayer":
            raise ModelFileError(f'{where}: input {i} must be ["input", {i}] made by the InputLayer listed {i}')
    made = {("input", i) for i in range(len(inputs))}
    for j, node in enumerate(nodes):
        here = f"{where}: node {j}"
        if (
            not isinstance(node, dict)
            or set(node) - {"layer", "op", "args", "kwargs"}
            or ("layer" in node) == ("op" in node)
        ):
            raise ModelFileError(f"{here} must have 'layer' or 'op', 'args' and 'kwargs', got {node!r:.80}")
        if "layer" in node and not (_is_int(node["layer"]) and len(inputs) <= node["layer"] < len(layers)):
            raise ModelFileError(f"{here}: layer index {node['layer']!r:.40} is not one of the graph's layers")
        if "op" in node and node["op"] not in GRAPH_OPS:
            raise ModelFileError(f"{here}: unknown op {node['op']!r:.80}")
        for reference in _references(node.get("args")) + _references(node.get("kwargs")):
            if tuple(reference) not in made:
                raise ModelFileError(f"{here}: takes tensor {reference!r:.40}, which no earlier node made")
        if not _small_argument(node.get("args"), 6) or not _small_argument(node.get("kwargs"), 6):
            raise ModelFileError(f"{here}: arguments must be tensors, numbers, texts and short lists")
        made |= {(j, index) for index in range(8)}
    outputs = config.get("outputs")
    if (
        not isinstance(outputs, list)
        or not outputs
        or not all(isinstance(r, list) and tuple(r) in made for r in outputs)
    ):
        raise ModelFileError(f"{where}: 'outputs' must refer to tensors the nodes make, got {outputs!r:.80}")


def _references(value) -> list:
    if isinstance(value, list):
        return [r for v in value for r in _references(v)]
    if isinstance(value, dict):
        if "tensor" in value:
            reference = value["tensor"]
            if not (isinstance(reference, list) and len(reference) == 2):
                raise ModelFileError(f"tensor reference {reference!r:.40} must be [node, output]")
            return [reference]
        return [r for v in value.values() for r in _references(v)]
    return []


def _small_argument(value, depth) -> bool:
    if isinstance(value, dict):
        return (
            depth > 0
            and len(value) <= 16
            and all(isinstance(k, str) and _small_argument(v, depth - 1) for k, v in value.items())
        )
    if isinstance(value, list):
        return depth > 0 and len(value) <= 16 and all(_small_argument(v, depth - 1) for v in value)
    return _scalar(value)


def _check_layer(entry, where, custom_objects=None, depth=0, nesting=0):
    if not isinstance(entry, dict) or set(entry) != {"class", "config"}:
        raise ModelFileError(f"{where} must be an object with exactly 'class' and 'config', got {entry!r:.80}")
    name = entry["class"]
    arguments = entry["config"]
    if not isinstance(arguments, dict):
        raise ModelFileError(f"{where}: 'config' must be an object, got {type(arguments).__name__}")
    if name == "Model":
        check_config(arguments, f"{where} (a model inside)", custom_objects, depth + 1)
        return
    cls = LAYER_CLASSES.get(name) if isinstance(name, str) else None
    if cls is None and isinstance(name, str):
        cls = get_registered_object(name, custom_objects)
    if cls is None:
        raise ModelFileError(
            f"{where}: unknown layer class {name!r:.80}; known: {sorted(LAYER_CLASSES)} (a custom layer: pass it "
            "in custom_objects or register it with @keras.saving.register_keras_serializable())"
        )
    # A built-in layer takes its own arguments and Layer's; a custom one whatever its **kwargs pass on.
    allowed = _argument_names(cls) | {"name", "input_shape", "trainable", "dtype"}
    open_ended = name not in LAYER_CLASSES and _takes_any_keyword(cls)
    unknown = sorted(set(arguments) - allowed)
    if unknown and not open_ended:
        raise ModelFileError(f"{where} ({name}): unknown argument(s) {unknown}; {name} takes {sorted(allowed)}")
    for key, value in arguments.items():
        if key in NESTED_LAYERS and name in LAYER_CLASSES and value is not None:
            if nesting >= MAX_NESTING:
                raise ModelFileError(f"{where} ({name}) argument {key!r}: layers nested over {MAX_NESTING} deep")
            _check_layer(value, f"{where} ({name}) argument {key!r}", custom_objects, depth, nesting + 1)
        else:
            _check_argument(key, value, f"{where} ({name}) argument {key!r}")


def _argument_names(cls) -> set[str]:
    parameters = inspect.signature(cls.__init__).parameters.values()
    return {p.name for p in parameters if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def _takes_any_keyword(cls) -> bool:
    return any(p.kind is p.VAR_KEYWORD for p in inspect.signature(cls.__init__).parameters.values())


def _check_argument(key, value, where):
    if key in ("input_shape", "shape"):
        if value is None:
            return
        if (
            not isinstance(value, list)
            or not 1 <= len(value) <= 4
            or not all(d is None or _dimension(d) for d in value)
        ):
            raise ModelFileError(f"{where} must be a list of 1 to 4 dimensions in [1, 2**31), got {value!r:.80}")
    elif key in REGULARIZER_ARGUMENTS and isinstance(value, dict):
        if set(value) != {"class_name", "config"} or value["class_name"] not in ("L1", "L2", "L1L2"):
            raise ModelFileError(f"{where} must be an L1, L2 or L1L2 regularizer, got {value!r:.80}")
        if not isinstance(value["config"], dict) or not all(_scalar(v) for v in value["config"].values()):
            raise ModelFileError(f"{where}: a regularizer's config holds numbers only, got {value!r:.80}")
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


def _check_compile(config, where, custom_objects=None):
    loss, optimizer, metrics = config.get("loss"), config.get("optimizer"), config.get("metrics", [])
    if loss is None:
        return
    if isinstance(loss, dict) and "outputs" in loss:
        _check_output_losses(config, where, custom_objects)
        return
    if isinstance(loss, dict) and ("function" in loss or "class" in loss):
        name = loss.get("function") or loss.get("class")
        if not isinstance(name, str) or get_registered_object(name, custom_objects) is None:
            raise ModelFileError(f"{where}: custom loss {name!r:.80} is not known: pass it in custom_objects")
        loss = "mse"  # the optimizer and metrics are checked below as for any loss
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
    if not isinstance(metrics, list) or not all(_metric_entry(m, custom_objects) for m in metrics):
        raise ModelFileError(
            f"{where}: 'metrics' must be a list of names (or known custom metrics), got {metrics!r:.80}"
        )
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


def _check_output_losses(config, where, custom_objects):
    """A model with several outputs: {"outputs": [a loss or null, ...], "loss_weights": [numbers]}, and
    metrics [{"output": index, "metric": entry}]; each loss and metric checked as a single model's."""
    loss, metrics = config["loss"], config.get("metrics", [])
    outputs, weights = loss.get("outputs"), loss.get("loss_weights")
    if set(loss) != {"outputs", "loss_weights"} or not isinstance(outputs, list) or not 1 < len(outputs) <= MAX_LAYERS:
        raise ModelFileError(f"{where}: 'loss' of several outputs must hold 'outputs' and 'loss_weights' lists")
    if (
        not isinstance(weights, list)
        or len(weights) != len(outputs)
        or not all(
            isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w) and w >= 0 for w in weights
        )
    ):
        raise ModelFileError(f"{where}: 'loss_weights' must be {len(outputs)} finite non-negative numbers")
    if all(each is None for each in outputs):
        raise ModelFileError(f"{where}: no output has a loss")
    for each in outputs:
        if each is not None:
            _check_compile({**config, "loss": each, "metrics": []}, where, custom_objects)
    if not isinstance(metrics, list) or not all(
        isinstance(m, dict) and set(m) == {"output", "metric"} and _is_int(m["output"])
        and 0 <= m["output"] < len(outputs) and _metric_entry(m["metric"], custom_objects)
        for m in metrics
    ):  # fmt: skip
        raise ModelFileError(
            f"{where}: 'metrics' of several outputs must be a list of {{'output': index, 'metric': name}}, "
            f"got {metrics!r:.80}"
        )


def _metric_entry(entry, custom_objects) -> bool:
    if isinstance(entry, str):
        return len(entry) <= MAX_STRING
    if isinstance(entry, dict) and ("function" in entry or "class" in entry):
        return get_registered_object(entry.get("function") or entry.get("class"), custom_objects) is not None
    return False


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
def expected_weight_shapes(config, where: str, model_class=None, custom_objects=None) -> list[tuple[str, str, tuple]]:
    """(layer name, weight name, shape, trainable) of every weight the checked `config` implies, in file order
    (`Model.get_weights()` order: layer by layer, trainable weights before non-trainable state).

    The model is built with `add_weight` answering zero-byte broadcast placeholders, so `Dense(units=10**9)`
    costs nothing here; the count stops at MAX_PARAMETERS. An unbuilt model implies no weights.
    """
    try:
        with placeholder_weights(MAX_PARAMETERS):
            model = model_from_config(model_class, {**config, "loss": None}, custom_objects)
    except ModelFileError as error:
        raise ModelFileError(f"{where}: {error}") from None
    except Exception as error:  # a layer's own argument or shape check, whatever it raises: named, not a traceback
        raise ModelFileError(f"{where}: the architecture cannot be built ({type(error).__name__}: {error})") from None
    if not model.built:
        return []
    return [
        (layer.name, name, array.shape, name in layer.params)
        for layer in model.weight_layers()
        for name, array in layer.weight_items()
    ]
