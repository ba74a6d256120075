"""The "Training & evaluation with the built-in methods" guide's style: metrics objects, validation,
class weights, sample weights, EarlyStopping, evaluate / predict / *_on_batch."""

import numpy as np

import minidl as keras

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train.reshape(60000, 784).astype("float32") / 255
x_test = x_test.reshape(10000, 784).astype("float32") / 255
y_train = y_train.astype("float32")
y_test = y_test.astype("float32")

x_val = x_train[-500:]
y_val = y_train[-500:]
x_train = x_train[:3000]
y_train = y_train[:3000]
x_test, y_test = x_test[:1000], y_test[:1000]


def get_uncompiled_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(784,), name="digits"),
            keras.layers.Dense(64, activation="relu", name="dense_1"),
            keras.layers.Dense(64, activation="relu", name="dense_2"),
            keras.layers.Dense(10, activation="softmax", name="predictions"),
        ]
    )
    return model


def get_compiled_model():
    model = get_uncompiled_model()
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    return model


model = get_compiled_model()
history = model.fit(x_train, y_train, batch_size=64, epochs=3, validation_data=(x_val, y_val))
print(history.history)

results = model.evaluate(x_test, y_test, batch_size=128)
print("test loss, test acc:", results)
predictions = model.predict(x_test[:3])
print("predictions shape:", predictions.shape)

# validation_split and Keras's string shortcuts
model = get_uncompiled_model()
model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["sparse_categorical_accuracy"])
split_history = model.fit(x_train, y_train, batch_size=64, validation_split=0.2, epochs=1, verbose=0)

# class_weight: class 5 counts twice
class_weight = {i: 1.0 for i in range(10)}
class_weight[5] = 2.0
class_weighted_model = get_compiled_model()
class_weighted_model.fit(x_train, y_train, class_weight=class_weight, batch_size=64, epochs=1, verbose=0)

# sample_weight: the same, sample by sample
sample_weight = np.ones(shape=(len(y_train),))
sample_weight[y_train == 5] = 2.0
sample_weighted_model = get_compiled_model()
sample_weighted_model.fit(x_train, y_train, sample_weight=sample_weight, batch_size=64, epochs=1, verbose=0)
weighted_results = sample_weighted_model.evaluate(x_test, y_test, verbose=0, return_dict=True)

# callbacks and the batch-level methods
model = get_compiled_model()
callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=1e-2, patience=2, verbose=1)]
early_history = model.fit(
    x_train, y_train, epochs=20, batch_size=64, callbacks=callbacks, validation_split=0.2, verbose=0
)
batch_logs = model.train_on_batch(x_train[:64], y_train[:64], return_dict=True)
test_batch = model.test_on_batch(x_test[:64], y_test[:64])
batch_predictions = model.predict_on_batch(x_test[:64])
print(model.metrics_names, batch_logs, test_batch, batch_predictions.shape)
