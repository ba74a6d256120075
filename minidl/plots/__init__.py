"""Pictures: training curves, speed-up charts, model comparison and a look inside the network.

Everything is drawn from what the project already records: the statistics folder written by
`minidl.stats.StatisticsTracker` (read only through `minidl.stats`'s public functions: the pictures
never average anything themselves), a trained `Model`, or the predictions of `trainings/classify.py`.

    python -m minidl.stats [DIR] --plot     # every picture of `PICTURES` that DIR's runs can fill

One module per family:

* `figures` - loading matplotlib (an optional extra), a new figure, saving a PNG, the colour tables.
* `labels` - the short texts naming sections and worker columns.
* `training` - `curves`: per-epoch loss and accuracy of one model; `step_curves`: its loss and
  accuracy step by step, smoothed, one line per run.
* `speed` - `speedup`: times and speed-up by worker count; `scaling`: speed-up against processes
  with the ideal line and the Amdahl model; `time_split`: where a run's time goes.
* `comparison` - `compare`: accuracy against training time across models.
* `folder` - `plot_statistics`: a statistics folder -> all the pictures above, named as `PICTURES` says
  (``--plot`` and ``report`` both draw with it).
* `inside` - `filters` and `feature_maps` of a trained network.
* `grid` - `classification_grid`: each mistake framed and captioned true→predicted (and `tile_digits`,
  its pure NumPy part).
* `augmentation` - `augmentations`: one image as each random augmentation layer changes it.

``import minidl.plots`` never needs matplotlib; each drawing function raises `MissingMatplotlib`
(an ImportError) with the install hint when it is absent. Every picture has a title, axis labels
with units and legends; a model has the same colour in every picture, and so has a worker count.
"""

from .augmentation import augmentations
from .comparison import compare
from .figures import (
    DPI,
    INSTALL_HINT,
    MODEL_COLOURS,
    WORKER_COLOURS,
    WORKER_MARKERS,
    MissingMatplotlib,
    NothingToPlot,
    model_colours,
    worker_styles,
)
from .folder import PICTURES, describe_picture, plot_statistics, runs_by_model
from .grid import GRID_FRAME, GRID_PADDING, GRID_RIGHT, GRID_WRONG, classification_grid, tile_digits
from .inside import feature_maps, filters
from .speed import TIME_PARTS, scaling, speedup, time_split
from .training import curves, smooth, step_curves

__all__ = [
    "augmentations",
    "TIME_PARTS",
    "scaling",
    "time_split",
    "DPI",
    "GRID_FRAME",
    "GRID_PADDING",
    "GRID_RIGHT",
    "GRID_WRONG",
    "INSTALL_HINT",
    "MODEL_COLOURS",
    "WORKER_COLOURS",
    "WORKER_MARKERS",
    "MissingMatplotlib",
    "NothingToPlot",
    "classification_grid",
    "compare",
    "curves",
    "feature_maps",
    "filters",
    "model_colours",
    "PICTURES",
    "describe_picture",
    "plot_statistics",
    "runs_by_model",
    "smooth",
    "speedup",
    "step_curves",
    "tile_digits",
    "worker_styles",
]
