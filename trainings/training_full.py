"""LeNet-5 on MNIST: convolution, pooling, (convolution, pooling), then Dense 120-84-10.

    python trainings/training_full.py --conv 2 --pool avg --workers 2
"""
import common
from minidl import Model
from minidl.layers import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D


def add_flags(parser):
    parser.add_argument("--conv", type=int, choices=[1, 2], default=2, help="number of convolution+pool blocks")
    parser.add_argument("--pool", choices=["avg", "max"], default="avg", help="average or max pooling")


def build_model(args):
    pool = AvgPool2D if args.pool == "avg" else MaxPool2D
    model = Model(name=f"lenet_conv{args.conv}_{args.pool}", seed=args.seed)
    model.add(Conv2D(6, 5, padding="same", activation="relu", input_shape=(28, 28, 1)))
    model.add(pool(2))
    if args.conv == 2:
        model.add(Conv2D(16, 5, activation="relu"))
        model.add(pool(2))
    model.add(Flatten())
    model.add(Dense(120, activation="relu"))
    model.add(Dense(84, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    return model


if __name__ == "__main__":
    raise SystemExit(common.main(__doc__, build_model, add_flags, defaults={"lr": 0.1}))
