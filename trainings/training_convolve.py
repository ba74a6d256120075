"""One or two convolutions without pooling, then Dense 120-84-10, on MNIST.

python trainings/training_convolve.py --conv 2
"""

import common

from minidl import Model
from minidl.layers import Conv2D, Dense, Flatten

HE = "he_uniform"  # ReLU layers: see training_full.py


def add_flags(parser):
    parser.add_argument("--conv", type=int, choices=[1, 2], default=1, help="number of convolutions")


def build_model(args):
    model = Model(name=f"convolve_conv{args.conv}", seed=args.seed)
    model.add(Conv2D(6, 5, padding="same", activation="relu", kernel_initializer=HE, input_shape=(28, 28, 1)))
    if args.conv == 2:
        model.add(Conv2D(16, 5, activation="relu", kernel_initializer=HE))
    model.add(Flatten())
    model.add(Dense(120, activation="relu", kernel_initializer=HE))
    model.add(Dense(84, activation="relu", kernel_initializer=HE))
    model.add(Dense(10, activation="softmax"))
    return model


if __name__ == "__main__":
    raise SystemExit(common.main(__doc__, build_model, add_flags, defaults={"lr": 0.05}))
