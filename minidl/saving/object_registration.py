"""Custom objects: the user's own layers, models, losses and metrics, known by name for saving.

A file names every class it needs; minidl rebuilds only classes it knows by that name — its own, and
those the user hands over: `register_keras_serializable` (a decorator, as in Keras), the
`custom_objects={name: class}` of `load_model`, or a `custom_object_scope`. Nothing is ever imported
by a name read from a file.
"""

from __future__ import annotations

import contextlib

_registered: dict[str, object] = {}  # "package>Name" -> class or function
_scopes: list[dict] = []


def register_keras_serializable(package="Custom", name=None):
    """Decorator: file a class or function under "package>name" (name: its own by default)."""

    def register(obj):
        key = f"{package}>{name or obj.__name__}"
        if key in _registered and _registered[key] is not obj:
            raise ValueError(f"register_keras_serializable: {key!r} is already registered to another object")
        _registered[key] = obj
        obj._registered_name = key
        return obj

    return register


def get_registered_name(obj) -> str:
    """The name `obj` is filed under ("package>Name" when registered, else its own name)."""
    return getattr(obj, "_registered_name", None) or getattr(obj, "__name__", type(obj).__name__)


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object filed under `name`: in `custom_objects`, an open scope, the registry, then `module_objects`."""
    for table in (custom_objects or {}, *reversed(_scopes), _registered, module_objects or {}):
        if name in table:
            return table[name]
    short = name.rpartition(">")[2]
    for table in (custom_objects or {}, *reversed(_scopes)):
        if short in table:
            return table[short]
    return None


@contextlib.contextmanager
def custom_object_scope(custom_objects):
    """Keras's `custom_object_scope({name: class})`: the objects are known by name within the block."""
    _scopes.append(dict(custom_objects or {}))
    try:
        yield
    finally:
        _scopes.pop()


CustomObjectScope = custom_object_scope


def serialize_keras_object(obj) -> dict:
    """{"class_name", "config", "registered_name"} of an object with `get_config` (Keras's form)."""
    if obj is None:
        return None
    if isinstance(obj, (int, float, str, bool)):
        return obj
    if callable(obj) and not hasattr(obj, "get_config"):
        return get_registered_name(obj)
    config = obj.get_config()
    return {"class_name": type(obj).__name__, "config": config, "registered_name": get_registered_name(type(obj))}


def deserialize_keras_object(config, custom_objects=None, **kwargs):
    """The object `serialize_keras_object` described, rebuilt from a known class (`from_config`)."""
    if config is None or isinstance(config, (int, float, bool)):
        return config
    if isinstance(config, str):
        found = get_registered_object(config, custom_objects)
        if found is None:
            raise ValueError(f"unknown object {config!r}: pass it in custom_objects or register it")
        return found
    name = config.get("registered_name") or config.get("class_name")
    cls = get_registered_object(name, custom_objects) or get_registered_object(config.get("class_name"), custom_objects)
    if cls is None:
        raise ValueError(
            f"unknown class {name!r}: pass it in custom_objects={{{config.get('class_name')!r}: ...}}, "
            "open a custom_object_scope, or decorate it with @keras.saving.register_keras_serializable()"
        )
    settings = config.get("config", {})
    return cls.from_config(settings) if hasattr(cls, "from_config") else cls(**settings)
