"""Check a backward pass against the definition of a derivative.

A layer's `backward` claims to compute dL/dx and dL/dW. The definition of the derivative gives an
independent way to get the same numbers: nudge one entry of x (or W) by ±ε and watch the loss,

    dL/dθ_k  ≈  (L(θ + ε·e_k) − L(θ − ε·e_k)) / (2ε)        (central difference, error O(ε²))

For a single layer the loss is L = Σ y ⊙ G with a fixed random G of the output's shape, so every
output element matters and dL/dy = G is what `backward` receives. For a whole model the loss is the
model's own loss, averaged over the batch. Everything runs in float64 (on copies the checker builds
itself), where central differences agree with a correct gradient to about 1e-8 relative; float32
rounding would hide real mistakes.

    from minidl.gradcheck import check_gradients
    report = check_gradients(MyLayer(), x)     # x: a small batch, e.g. shape (2, 6, 6, 3)
    print(report)                              # one line per tensor: input, then each parameter
    report.assert_ok()                         # raises GradientCheckError naming the wrong tensor

`python -m minidl.gradcheck` prints the table for every built-in layer and loss.

The package: `report` (the per-tensor reports and the comparison with central differences),
`copies` (float64 twins of layers and models, replayed randomness), `check` (the checks themselves)
and `cli` (`python -m minidl.gradcheck`).
"""

from .check import (
    check_gradients,
    check_layer_state,
    check_loss_gradient,
    check_model_gradients,
    check_op_gradients,
)
from .cli import builtin_checks, main
from .copies import build_float64, clone, float64_copy, float64_model
from .report import (
    ATOL,
    EPS,
    RTOL,
    GradientCheckError,
    GradientReport,
    TensorReport,
    assert_gradients_close,
    compare,
    numerical_gradient,
)

__all__ = [
    "check_gradients",
    "check_model_gradients",
    "check_op_gradients",
    "check_loss_gradient",
    "check_layer_state",
    "GradientReport",
    "TensorReport",
    "GradientCheckError",
    "numerical_gradient",
    "compare",
    "assert_gradients_close",
    "build_float64",
    "clone",
    "float64_copy",
    "float64_model",
    "builtin_checks",
    "main",
    "EPS",
    "RTOL",
    "ATOL",
]
