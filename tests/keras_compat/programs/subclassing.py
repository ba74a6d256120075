"""The guide "Making new layers and models via subclassing" at MNIST size: a Linear layer (weights in
__init__, then in build), a layer with non-trainable state, a layer of layers (weights tracked),
add_loss (an activity-regularization layer, a kernel regularizer inside a layer), a Dropout written with
keras.random and `training`, get_config / from_config, and the end-to-end variational autoencoder: a
Sampling layer drawing with keras.random, a KL term through add_loss, a Model subclass trained with
compile / fit. Last, a subclassed classifier of digits trained with compile / fit."""

import numpy as np

import minidl as keras
from minidl import layers, ops

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train[:2000].reshape(-1, 784).astype("float32") / 255
x_test = x_test[:500].reshape(-1, 784).astype("float32") / 255
y_train, y_test = y_train[:2000], y_test[:500]


# The Layer class: the combination of state (weights) and some computation
class Linear(keras.layers.Layer):
    def __init__(self, units=32, input_dim=32):
        super().__init__()
        self.w = self.add_weight(shape=(input_dim, units), initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


x = ops.ones((2, 2))
linear_layer = Linear(4, 2)
y = ops.convert_to_numpy(linear_layer(x))
linear_weights = [ops.convert_to_numpy(w) for w in linear_layer.weights]
print(y)


# Layers can have non-trainable weights
class ComputeSum(keras.layers.Layer):
    def __init__(self, input_dim):
        super().__init__()
        self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)

    def call(self, inputs):
        self.total.assign_add(ops.sum(inputs, axis=0))
        return self.total


x = ops.ones((2, 2))
my_sum = ComputeSum(2)
sum_once = np.array(ops.convert_to_numpy(my_sum(x)))  # a copy: the layer returns its live total
sum_twice = np.array(ops.convert_to_numpy(my_sum(x)))
sum_weights = (len(my_sum.weights), len(my_sum.non_trainable_weights), len(my_sum.trainable_weights))
print(sum_twice, sum_weights)


# Best practice: deferring weight creation until the shape of the inputs is known
class Linear(keras.layers.Layer):
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


linear_layer = Linear(32)
y = linear_layer(x)
built_shapes = [tuple(w.shape) for w in linear_layer.weights]


# Layers are recursively composable: the outer layer tracks the weights of the inner ones
class MLPBlock(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.linear_1 = Linear(32)
        self.linear_2 = Linear(32)
        self.linear_3 = Linear(1)

    def call(self, inputs):
        x = self.linear_1(inputs)
        x = keras.activations.relu(x)
        x = self.linear_2(x)
        x = keras.activations.relu(x)
        return self.linear_3(x)


mlp = MLPBlock()
y = mlp(ops.ones(shape=(3, 64)))
mlp_counts = (len(mlp.weights), len(mlp.trainable_weights))
print("weights:", mlp_counts[0], "trainable weights:", mlp_counts[1])

# You can serialize your layers: get_config / from_config
layer = Linear(64)
config = layer.get_config()
new_layer = Linear.from_config(config)
print(config)


# The add_loss() method
class ActivityRegularizationLayer(keras.layers.Layer):
    def __init__(self, rate=1e-2):
        super().__init__()
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * ops.mean(inputs))
        return inputs


class OuterLayer(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.activity_reg = ActivityRegularizationLayer(1e-2)

    def call(self, inputs):
        return self.activity_reg(inputs)


layer = OuterLayer()
losses_before_call = len(layer.losses)  # no losses yet: the layer has never been called
_ = layer(ops.zeros((1, 1)))
losses_after_call = len(layer.losses)
_ = layer(ops.zeros((1, 1)))  # layer.losses is reset at the start of each call
losses_after_second_call = len(layer.losses)


class OuterLayerWithKernelRegularizer(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(32, kernel_regularizer=keras.regularizers.l2(1e-3))

    def call(self, inputs):
        return self.dense(inputs)


layer = OuterLayerWithKernelRegularizer()
_ = layer(ops.zeros((1, 1)))
kernel_penalty = float(ops.convert_to_numpy(layer.losses[0]))
expected_kernel_penalty = 1e-3 * float(np.sum(np.square(ops.convert_to_numpy(layer.dense.kernel))))
print(layer.losses)

# These losses work with fit(): they are added to the main loss
inputs = keras.Input(shape=(3,))
outputs = ActivityRegularizationLayer()(inputs)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="mse")
regularized_x, regularized_y = np.random.default_rng(1).random((2, 64, 3)).astype("float32")
regularized_history = model.fit(regularized_x, regularized_y, batch_size=64, verbose=0)
expected_regularized_loss = np.mean((regularized_x - regularized_y) ** 2) + 1e-2 * np.mean(regularized_x)


# Privileged training argument in the call() method
class CustomDropout(keras.layers.Layer):
    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs, training=None):
        if training:
            return keras.random.dropout(inputs, rate=self.rate, seed=self.seed_generator)
        return inputs


dropout = CustomDropout(0.5)
ones = np.ones((4, 100), "float32")
dropped = ops.convert_to_numpy(dropout(ones, training=True))
not_dropped = ops.convert_to_numpy(dropout(ones, training=False))


# Putting it all together: an end-to-end example
class Sampling(layers.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = ops.shape(z_mean)[0]
        dim = ops.shape(z_mean)[1]
        epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


class Encoder(layers.Layer):
    """Maps MNIST digits to a triplet (z_mean, z_log_var, z)."""

    def __init__(self, latent_dim=32, intermediate_dim=64, name="encoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_mean = layers.Dense(latent_dim)
        self.dense_log_var = layers.Dense(latent_dim)
        self.sampling = Sampling()

    def call(self, inputs):
        x = self.dense_proj(inputs)
        z_mean = self.dense_mean(x)
        z_log_var = self.dense_log_var(x)
        z = self.sampling((z_mean, z_log_var))
        return z_mean, z_log_var, z


class Decoder(layers.Layer):
    """Converts z, the encoded digit vector, back into a readable digit."""

    def __init__(self, original_dim, intermediate_dim=64, name="decoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_output = layers.Dense(original_dim, activation="sigmoid")

    def call(self, inputs):
        x = self.dense_proj(inputs)
        return self.dense_output(x)


class VariationalAutoEncoder(keras.Model):
    """Combines the encoder and decoder into an end-to-end model for training."""

    def __init__(self, original_dim, intermediate_dim=64, latent_dim=32, name="autoencoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.original_dim = original_dim
        self.encoder = Encoder(latent_dim=latent_dim, intermediate_dim=intermediate_dim)
        self.decoder = Decoder(original_dim, intermediate_dim=intermediate_dim)

    def call(self, inputs):
        z_mean, z_log_var, z = self.encoder(inputs)
        reconstructed = self.decoder(z)
        # Add KL divergence regularization loss.
        kl_loss = -0.5 * ops.mean(z_log_var - ops.square(z_mean) - ops.exp(z_log_var) + 1)
        self.add_loss(kl_loss)
        return reconstructed


original_dim = 784
vae = VariationalAutoEncoder(original_dim, 64, 32)
optimizer = keras.optimizers.Adam(learning_rate=1e-3)
vae.compile(optimizer, loss=keras.losses.MeanSquaredError())
vae_history = vae.fit(x_train, x_train, epochs=3, batch_size=64, verbose=2)
reconstructions = vae.predict(x_test, verbose=0)
reconstruction_mse = float(np.mean((reconstructions - x_test) ** 2))
mean_image_mse = float(np.mean((x_train.mean(axis=0) - x_test) ** 2))
vae_weight_count = len(vae.trainable_weights)
vae_losses_after_predict = len(vae.losses)  # the KL term of the last call only
print("reconstruction MSE:", reconstruction_mse, "predicting the mean image:", mean_image_mse)


# A subclassed classifier: built-in layers, a custom layer and a custom dropout in call()
class DigitClassifier(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(64, activation="relu")
        self.dropout = CustomDropout(0.2)
        self.classifier = Linear(10)

    def call(self, inputs, training=None):
        x = self.hidden(inputs)
        x = self.dropout(x, training=training)
        return self.classifier(x)


classifier = DigitClassifier()
classifier.compile(
    optimizer=keras.optimizers.Adam(learning_rate=1e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
classifier_history = classifier.fit(x_train, y_train, batch_size=32, epochs=3, validation_split=0.1, verbose=2)
classifier_loss, classifier_accuracy = classifier.evaluate(x_test, y_test, verbose=0)
classifier_predictions = classifier.predict(x_test, verbose=0)
print("subclassed classifier accuracy:", classifier_accuracy)
