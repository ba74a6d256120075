"""The learning-rate schedules of Keras's API guide: CosineDecay with a linear warmup,
CosineDecayRestarts, InverseTimeDecay, PolynomialDecay and a schedule of one's own (a
`LearningRateSchedule` subclass with `__call__(self, step)` and `get_config`), each given to SGD.

Which rate did the optimizer really use at each step? A model whose gradient is known tells: its
output is a single bias b (the inputs are zeros), and the mean absolute error against a far target
has gradient −1 in b, so each plain SGD step moves b by exactly the step's learning rate. A callback
records b after every batch; the differences are the rates applied."""

import numpy as np

import minidl as keras
from minidl import layers

steps_per_epoch, epochs = 10, 3
x = np.zeros((steps_per_epoch * 4, 1), dtype="float32")
y = np.full((steps_per_epoch * 4, 1), 1000.0, dtype="float32")


class RateRecorder(keras.callbacks.Callback):
    """The bias after every update, and the rate the optimizer reports before each."""

    def on_train_begin(self, logs=None):
        self.biases = [float(self.model.layers[-1].get_weights()[1][0])]
        self.reported = []

    def on_train_batch_begin(self, batch, logs=None):
        self.reported.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))

    def on_train_batch_end(self, batch, logs=None):
        self.biases.append(float(self.model.layers[-1].get_weights()[1][0]))


def rates_applied(schedule):
    """Train the bias model for 30 steps with SGD(learning_rate=schedule): (rates applied, rates reported)."""
    model = keras.Sequential([keras.Input(shape=(1,)), layers.Dense(1, kernel_initializer="zeros")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule), loss="mean_absolute_error")
    recorder = RateRecorder()
    model.fit(x, y, batch_size=4, epochs=epochs, shuffle=False, verbose=0, callbacks=[recorder])
    return np.diff(recorder.biases), np.array(recorder.reported)


# Cosine decay with a linear warmup: from 0 up to 0.1 in 10 steps, then half a cosine down over 15.
warmup_schedule = keras.optimizers.schedules.CosineDecay(
    initial_learning_rate=0.0, decay_steps=15, warmup_target=0.1, warmup_steps=10
)
warmup_applied, warmup_reported = rates_applied(warmup_schedule)

restarts_schedule = keras.optimizers.schedules.CosineDecayRestarts(
    initial_learning_rate=0.1, first_decay_steps=4, t_mul=2.0, m_mul=0.5, alpha=0.1
)
restarts_applied, restarts_reported = rates_applied(restarts_schedule)

inverse_time_schedule = keras.optimizers.schedules.InverseTimeDecay(
    initial_learning_rate=0.1, decay_steps=5, decay_rate=0.5, staircase=True
)
inverse_time_applied, _ = rates_applied(inverse_time_schedule)

polynomial_schedule = keras.optimizers.schedules.PolynomialDecay(
    initial_learning_rate=0.1, decay_steps=20, end_learning_rate=0.01, power=0.5
)
polynomial_applied, _ = rates_applied(polynomial_schedule)


class MyLRSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """initial_learning_rate / sqrt(1 + step / decay_steps)."""

    def __init__(self, initial_learning_rate, decay_steps):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        return self.initial_learning_rate / keras.ops.sqrt(1.0 + step / self.decay_steps)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps}


my_schedule = MyLRSchedule(0.1, decay_steps=4)
my_applied, my_reported = rates_applied(my_schedule)
my_config = my_schedule.get_config()
rebuilt_rates = [float(keras.ops.convert_to_numpy(MyLRSchedule.from_config(my_config)(step))) for step in (0, 12)]
print("warmup then cosine:", np.round(warmup_applied, 4))
print("cosine with restarts:", np.round(restarts_applied, 4))
print("my schedule:", np.round(my_applied, 4))
