"""The guide "Training & evaluation with the built-in methods", its parts on custom losses and metrics,
at MNIST size: a loss written as a function with keras.ops, a `keras.losses.Loss` subclass with a
setting, a `keras.metrics.Metric` subclass with update_state / result / reset_state, keras.metrics.Mean
(also as a callback's running mean), and sample weights with a custom loss."""

import numpy as np

import minidl as keras
from minidl import layers, ops

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train[:3000].reshape(-1, 784).astype("float32") / 255
x_test = x_test[:1000].reshape(-1, 784).astype("float32") / 255
y_train = y_train[:3000].astype("float32")
y_test = y_test[:1000].astype("float32")


def get_uncompiled_model():
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


# Custom losses: a function of (y_true, y_pred)
def custom_mean_squared_error(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


model = get_uncompiled_model()
model.compile(optimizer=keras.optimizers.Adam(), loss=custom_mean_squared_error)
# We need to one-hot encode the labels to use MSE
y_train_one_hot = ops.convert_to_numpy(ops.one_hot(y_train, num_classes=10))
y_test_one_hot = ops.convert_to_numpy(ops.one_hot(y_test, num_classes=10))
function_history = model.fit(x_train, y_train_one_hot, batch_size=64, epochs=3, verbose=0)
function_loss = model.evaluate(x_test, y_test_one_hot, verbose=0)
function_predictions = model.predict(x_test, verbose=0)
function_accuracy = float(np.mean(function_predictions.argmax(axis=1) == y_test))
function_expected_loss = float(np.mean(np.mean((y_test_one_hot - function_predictions) ** 2, axis=-1)))
print("function loss:", function_loss, "accuracy:", function_accuracy)


# Custom losses: a Loss subclass with a setting of its own
class CustomMSE(keras.losses.Loss):
    def __init__(self, regularization_factor=0.1, name="custom_mse"):
        super().__init__(name=name)
        self.regularization_factor = regularization_factor

    def call(self, y_true, y_pred):
        mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
        reg = ops.mean(ops.square(0.5 - y_pred), axis=-1)
        return mse + reg * self.regularization_factor


model = get_uncompiled_model()
model.compile(optimizer=keras.optimizers.Adam(), loss=CustomMSE())
subclass_history = model.fit(x_train, y_train_one_hot, batch_size=64, epochs=3, verbose=0)
subclass_loss = model.evaluate(x_test, y_test_one_hot, verbose=0)
subclass_predictions = model.predict(x_test, verbose=0)
subclass_expected_loss = float(
    np.mean(
        np.mean((y_test_one_hot - subclass_predictions) ** 2, axis=-1)
        + 0.1 * np.mean((0.5 - subclass_predictions) ** 2, axis=-1)
    )
)

# Called directly, a loss is the mean over the batch of the (weighted) per-sample losses
loss_fn = CustomMSE(regularization_factor=0.5)
direct_y_true = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], "float32")
direct_y_pred = np.array([[0.2, 0.7], [0.4, 0.1], [0.9, 0.6]], "float32")
direct_weights = np.array([1.0, 0.0, 2.0], "float32")
direct_loss = float(ops.convert_to_numpy(loss_fn(direct_y_true, direct_y_pred)))
direct_weighted_loss = float(ops.convert_to_numpy(loss_fn(direct_y_true, direct_y_pred, sample_weight=direct_weights)))
direct_per_sample = np.mean((direct_y_true - direct_y_pred) ** 2, axis=-1) + 0.5 * np.mean(
    (0.5 - direct_y_pred) ** 2, axis=-1
)


# Custom metrics: a Metric subclass
class CategoricalTruePositives(keras.metrics.Metric):
    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.argmax(y_pred, axis=1)
        y_true = ops.reshape(y_true, (-1,))
        values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
        values = ops.cast(values, "float32")
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            values = ops.multiply(values, sample_weight)
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives

    def reset_state(self):
        # The state of the metric will be reset at the start of each epoch.
        self.true_positives.assign(0.0)


model = get_uncompiled_model()
model.compile(
    optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(),
    metrics=[CategoricalTruePositives()],
)
metric_history = model.fit(x_train, y_train, batch_size=64, epochs=3, verbose=2)
metric_results = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
metric_predictions = model.predict(x_test, verbose=0)
hand_true_positives = int(np.sum(metric_predictions.argmax(axis=1) == y_test))
print("evaluate:", metric_results, "counted by hand:", hand_true_positives)

# The metric on its own, with sample weights, and reset
metric = CategoricalTruePositives()
metric.update_state(y_test[:100], metric_predictions[:100])
metric.update_state(y_test[100:200], metric_predictions[100:200], sample_weight=np.full(100, 0.5, "float32"))
standalone_true_positives = float(ops.convert_to_numpy(metric.result()))
standalone_expected = float(
    np.sum(metric_predictions[:100].argmax(1) == y_test[:100])
    + 0.5 * np.sum(metric_predictions[100:200].argmax(1) == y_test[100:200])
)
metric.reset_state()
after_reset = float(ops.convert_to_numpy(metric.result()))

# keras.metrics.Mean: weighted, and reset
mean = keras.metrics.Mean()
mean.update_state([1.0, 3.0, 5.0, 7.0])
mean_plain = float(ops.convert_to_numpy(mean.result()))
mean.reset_state()
mean.update_state([1.0, 3.0, 5.0, 7.0], sample_weight=[1.0, 1.0, 0.0, 0.0])
mean_weighted = float(ops.convert_to_numpy(mean.result()))


# keras.metrics.Mean in a callback: the running mean of the batch losses of an epoch
class RunningLoss(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.tracker = keras.metrics.Mean(name="running_loss")
        self.epoch_means, self.batch_losses = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.tracker.reset_state()
        self.batch_losses.append([])

    def on_train_batch_end(self, batch, logs=None):
        self.tracker.update_state(logs["loss"])
        self.batch_losses[-1].append(float(logs["loss"]))

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_means.append(float(ops.convert_to_numpy(self.tracker.result())))


running = RunningLoss()
model.fit(x_train, y_train, batch_size=500, epochs=2, verbose=0, callbacks=[running])

# Sample weights with a custom loss: class 5 counts twice, then class 5 alone
sample_weight = np.ones(shape=(len(y_train),), dtype="float32")
sample_weight[y_train == 5] = 2.0
model = get_uncompiled_model()
model.compile(optimizer=keras.optimizers.Adam(), loss=CustomMSE())
weighted_history = model.fit(x_train, y_train_one_hot, sample_weight=sample_weight, batch_size=64, epochs=3, verbose=0)
weighted_predictions = model.predict(x_test, verbose=0)
weighted_accuracy = float(np.mean(weighted_predictions.argmax(axis=1) == y_test))
test_weights = (y_test == 5).astype("float32")
weighted_test_loss = model.evaluate(
    x_test, y_test_one_hot, sample_weight=test_weights, batch_size=len(x_test), verbose=0
)
per_sample = np.mean((y_test_one_hot - weighted_predictions) ** 2, axis=-1) + 0.1 * np.mean(
    (0.5 - weighted_predictions) ** 2, axis=-1
)
weighted_expected_loss = float(np.sum(per_sample * test_weights) / len(y_test))
