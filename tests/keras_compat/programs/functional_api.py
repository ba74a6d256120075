"""The Functional API guide (keras.io/guides/functional_api) at MNIST size: Input, layers called on
tensors, Model(inputs, outputs), summary, training, saving and loading, get_config / from_config,
to_json / model_from_json, clone_model, models used as layers (an autoencoder of an encoder and a
decoder, an ensemble), a layer shared by two inputs given as a dict, a feature extractor from
`layer.output` and `model.inputs`, and a custom layer inside a functional model."""

import numpy as np

import minidl as keras
from minidl import layers, ops

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train[:3000].reshape(-1, 784).astype("float32") / 255
x_test = x_test[:1000].reshape(-1, 784).astype("float32") / 255
y_train, y_test = y_train[:3000], y_test[:1000]

# Introduction: a graph of layers
inputs = keras.Input(shape=(784,))
dense = layers.Dense(64, activation="relu")
x = dense(inputs)
x = layers.Dense(64, activation="relu")(x)
outputs = layers.Dense(10)(x)
model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")
model.summary()
input_shape, output_shape = inputs.shape, outputs.shape

# Training, evaluation and inference
model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer=keras.optimizers.RMSprop(),
    metrics=["accuracy"],
)
history = model.fit(x_train, y_train, batch_size=64, epochs=3, validation_split=0.2, verbose=2)
test_scores = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", test_scores[0])
print("Test accuracy:", test_scores[1])
predictions = model.predict(x_test, verbose=0)

# Save and serialize
model.save("my_model.keras")
restored = keras.models.load_model("my_model.keras")
restored_predictions = restored.predict(x_test, verbose=0)

model.save_weights("mnist_model.weights.h5")
config = model.get_config()
from_config = keras.Model.from_config(config)
from_config.load_weights("mnist_model.weights.h5")
from_config_predictions = from_config.predict(x_test, verbose=0)

json_config = model.to_json()
from_json = keras.models.model_from_json(json_config)
from_json.set_weights(model.get_weights())
from_json_predictions = from_json.predict(x_test, verbose=0)

clone = keras.models.clone_model(model)
clone_differs = not np.allclose(clone.predict(x_test, verbose=0), predictions)  # fresh weights
clone.set_weights(model.get_weights())
clone_predictions = clone.predict(x_test, verbose=0)

# Use the same graph of layers to define multiple models; all models are callable, just like layers
encoder_input = keras.Input(shape=(784,), name="img")
x = layers.Dense(128, activation="relu")(encoder_input)
encoder_output = layers.Dense(32, activation="relu")(x)
encoder = keras.Model(encoder_input, encoder_output, name="encoder")
encoder.summary()

decoder_input = keras.Input(shape=(32,), name="encoded_img")
x = layers.Dense(128, activation="relu")(decoder_input)
decoder_output = layers.Dense(784, activation="sigmoid")(x)
decoder = keras.Model(decoder_input, decoder_output, name="decoder")

autoencoder_input = keras.Input(shape=(784,), name="img")
encoded_img = encoder(autoencoder_input)
decoded_img = decoder(encoded_img)
autoencoder = keras.Model(autoencoder_input, decoded_img, name="autoencoder")
autoencoder.summary()
autoencoder.compile(optimizer="adam", loss="mse")
autoencoder_history = autoencoder.fit(x_train, x_train, batch_size=64, epochs=3, verbose=0)
encoded = encoder.predict(x_test, verbose=0)
reconstructed = decoder.predict(encoded, verbose=0)
reconstruction_mse = float(np.mean((reconstructed - x_test) ** 2))
mean_image_mse = float(np.mean((x_train.mean(axis=0) - x_test) ** 2))
print("reconstruction MSE:", reconstruction_mse, "predicting the mean image:", mean_image_mse)


# Ensembling: a set of models averaged into one
def get_model():
    inputs = keras.Input(shape=(784,))
    outputs = layers.Dense(10)(inputs)
    return keras.Model(inputs, outputs)


model1 = get_model()
model2 = get_model()
model3 = get_model()

inputs = keras.Input(shape=(784,))
y1 = model1(inputs)
y2 = model2(inputs)
y3 = model3(inputs)
outputs = layers.average([y1, y2, y3])
ensemble_model = keras.Model(inputs=inputs, outputs=outputs)
ensemble_model.compile(
    optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
)
ensemble_history = ensemble_model.fit(x_train, y_train, batch_size=64, epochs=2, verbose=0)
ensemble_predictions = ensemble_model.predict(x_test[:100], verbose=0)
members_mean = np.mean([m.predict(x_test[:100], verbose=0) for m in (model1, model2, model3)], axis=0)
ensemble_accuracy = ensemble_model.evaluate(x_test, y_test, verbose=0)[1]

# Shared layers, and inputs given as a dict: one Dense encodes the top and the bottom of each digit
top_input = keras.Input(shape=(392,), name="top")
bottom_input = keras.Input(shape=(392,), name="bottom")
shared_dense = layers.Dense(64, activation="relu", name="shared_half_encoder")
encoded_top = shared_dense(top_input)
encoded_bottom = shared_dense(bottom_input)
merged = layers.concatenate([encoded_top, encoded_bottom])
halves_output = layers.Dense(10, name="digit")(merged)
halves_model = keras.Model(inputs={"top": top_input, "bottom": bottom_input}, outputs=halves_output)
halves_model.summary()
halves_model.compile(
    optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
)
halves_history = halves_model.fit(
    {"top": x_train[:, :392], "bottom": x_train[:, 392:]}, y_train, batch_size=64, epochs=3, verbose=0
)
halves_loss, halves_accuracy = halves_model.evaluate(
    {"top": x_test[:, :392], "bottom": x_test[:, 392:]}, y_test, verbose=0
)
shared_weight_count = len(halves_model.get_layer("shared_half_encoder").weights)
halves_weight_count = len(halves_model.weights)

# Extract and reuse nodes in the graph of layers: a feature extractor
features_list = [layer.output for layer in model.layers]
feat_extraction_model = keras.Model(inputs=model.inputs, outputs=features_list)
extracted = feat_extraction_model.predict(x_test[:5], verbose=0)
extracted_shapes = [tuple(np.shape(f)) for f in extracted]
hidden_extractor = keras.Model(inputs=model.input, outputs=model.layers[2].output)
hidden_features = hidden_extractor.predict(x_test[:5], verbose=0)


# Extend the API using custom layers
class CustomDense(layers.Layer):
    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


inputs = keras.Input((784,))
outputs = CustomDense(10)(inputs)
custom_model = keras.Model(inputs, outputs)
custom_config = custom_model.get_config()
new_model = keras.Model.from_config(custom_config, custom_objects={"CustomDense": CustomDense})
new_model.set_weights(custom_model.get_weights())
custom_same = np.allclose(new_model.predict(x_test[:10], verbose=0), custom_model.predict(x_test[:10], verbose=0))
custom_model.compile(
    optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
)
custom_history = custom_model.fit(x_train, y_train, batch_size=64, epochs=2, verbose=0)
