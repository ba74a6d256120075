"""The errors minidl raises, so callers can catch them by kind."""


class ShapeError(ValueError):
    """An input or a layer does not have the shape the network expects."""


class NotCompiledError(RuntimeError):
    """The model was used for training or evaluation before `compile`."""


class UnknownNameError(ValueError):
    """A layer, activation, loss, optimizer or initializer name is not known."""


def lookup(kind: str, name, table: dict):
    """Return `table[name]`, or raise an error listing the known names of this `kind`."""
    key = str(name).lower()
    if key not in table:
        known = ", ".join(sorted(table))
        raise UnknownNameError(f"unknown {kind} {name!r}; known {kind}s: {known}")
    return table[key]


class ModelFileError(ValueError):
    """A model or weights file is malformed, inconsistent or hostile; the message names what is wrong.

    A `ValueError`, so callers that caught the old errors of `Model.load` still catch it.
    """
