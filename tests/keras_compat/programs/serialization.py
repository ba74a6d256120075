"""The guide "Save, serialize, and export models" (serialization_and_saving), its custom-object parts,
at MNIST size: a registered custom layer and activation in a functional model saved and reloaded,
an unregistered one loaded with `custom_objects=` and in a `custom_object_scope`,
`serialize_keras_object` / `deserialize_keras_object`, the registry's names, a registered subclassed
model with get_config saved and reloaded, and weights in `.weights.h5`."""

import minidl as keras
from minidl import ops

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train[:2000].reshape(-1, 784).astype("float32")
x_test = x_test[:500].reshape(-1, 784).astype("float32")
y_train, y_test = y_train[:2000], y_test[:500]


@keras.saving.register_keras_serializable(package="my_package", name="custom_fn")
def custom_fn(x):
    return x * ops.sigmoid(x)


@keras.saving.register_keras_serializable(package="MyLayers")
class CustomLayer(keras.layers.Layer):
    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor})
        return config


def get_model():
    inputs = keras.Input(shape=(784,))
    mid = CustomLayer(1 / 255)(inputs)
    x = keras.layers.Dense(64, activation=custom_fn)(mid)
    outputs = keras.layers.Dense(10)(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    return model


model = get_model()
history = model.fit(x_train, y_train, batch_size=64, epochs=3, verbose=0)
predictions = model.predict(x_test, verbose=0)
test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
print("test accuracy:", test_accuracy)

# Registered custom objects need nothing more to load
model.save("custom_model.keras")
reconstructed_model = keras.models.load_model("custom_model.keras")
reconstructed_predictions = reconstructed_model.predict(x_test, verbose=0)
reconstructed_accuracy = reconstructed_model.evaluate(x_test, y_test, verbose=0)[1]
reconstructed_layer_types = [type(layer).__name__ for layer in reconstructed_model.layers]

# Weights only: Keras's .weights.h5
model.save_weights("custom_model.weights.h5")
fresh_model = get_model()
fresh_model.load_weights("custom_model.weights.h5")
fresh_predictions = fresh_model.predict(x_test, verbose=0)


# Unregistered custom objects: custom_objects= or a custom_object_scope
class Rescale(keras.layers.Layer):
    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale
        self.offset = offset

    def call(self, x):
        return x * self.scale + self.offset

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale, "offset": self.offset})
        return config


def lecun_tanh(x):
    return 1.7159 * ops.tanh(x * 2 / 3)


inputs = keras.Input(shape=(784,))
x = Rescale(1 / 255, offset=-0.5)(inputs)
x = keras.layers.Dense(32, activation=lecun_tanh)(x)
outputs = keras.layers.Dense(10)(x)
unregistered_model = keras.Model(inputs, outputs)
unregistered_model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
unregistered_model.fit(x_train, y_train, batch_size=64, epochs=1, verbose=0)
unregistered_predictions = unregistered_model.predict(x_test, verbose=0)
unregistered_model.save("unregistered.keras")

try:
    keras.models.load_model("unregistered.keras")
    missing_error = None
except Exception as error:  # the file names classes this process was never told about
    missing_error = f"{type(error).__name__}: {error}"
print("without custom_objects:", missing_error)

custom_objects = {"Rescale": Rescale, "lecun_tanh": lecun_tanh}
with_argument = keras.models.load_model("unregistered.keras", custom_objects=custom_objects)
with_argument_predictions = with_argument.predict(x_test, verbose=0)
with keras.saving.custom_object_scope(custom_objects):
    in_scope = keras.models.load_model("unregistered.keras")
in_scope_predictions = in_scope.predict(x_test, verbose=0)

# serialize_keras_object / deserialize_keras_object, and the registry's names
layer = CustomLayer(0.25, name="quarter")
serialized = keras.saving.serialize_keras_object(layer)
restored_layer = keras.saving.deserialize_keras_object(serialized)
print(serialized)
registered_name = keras.saving.get_registered_name(CustomLayer)
registered_object = keras.saving.get_registered_object("MyLayers>CustomLayer")
function_name = keras.saving.get_registered_name(custom_fn)
from_config_layer = CustomLayer.from_config(layer.get_config())


# A registered subclassed model with get_config
@keras.saving.register_keras_serializable(package="MyModels")
class MLP(keras.Model):
    def __init__(self, hidden_units=32, num_classes=10, **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = hidden_units
        self.num_classes = num_classes
        self.rescale = CustomLayer(1 / 255)
        self.hidden = keras.layers.Dense(hidden_units, activation="relu")
        self.classifier = keras.layers.Dense(num_classes)

    def call(self, inputs):
        return self.classifier(self.hidden(self.rescale(inputs)))

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_units": self.hidden_units, "num_classes": self.num_classes})
        return config


mlp = MLP(hidden_units=48)
mlp.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
mlp_history = mlp.fit(x_train, y_train, batch_size=64, epochs=3, verbose=0)
mlp_predictions = mlp.predict(x_test, verbose=0)
mlp.save("mlp.keras")
loaded_mlp = keras.models.load_model("mlp.keras")
loaded_mlp_predictions = loaded_mlp.predict(x_test, verbose=0)
loaded_mlp_hidden_units = loaded_mlp.hidden_units
mlp_accuracy = loaded_mlp.evaluate(x_test, y_test, verbose=0)[1]
