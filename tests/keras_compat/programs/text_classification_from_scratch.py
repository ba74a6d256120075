"""Sentiment from word ids with a 1-D convnet (after keras.io's text_classification_from_scratch), no download.

keras.io reads the IMDB review files and turns them into word ids with a TextVectorization layer; here
the reviews are already word ids (no TextVectorization: minidl has none, and the model is the point).
Ids 1..max_features-1, 0 pads; ids 1-10 are positive words, 11-20 negative ones, and a review is
positive when it holds more positive than negative words.
"""

import numpy as np

import minidl as keras
from minidl import layers

# Model constants (keras.io: 20000, 128, 500).
max_features = 200
embedding_dim = 32
sequence_length = 64
rng = np.random.default_rng(3)


def reviews(count):
    texts, labels = [], []
    while len(texts) < count:
        words = rng.integers(1, max_features, rng.integers(24, sequence_length + 1))
        positive, negative = np.isin(words, np.arange(1, 11)).sum(), np.isin(words, np.arange(11, 21)).sum()
        if positive != negative:
            texts.append(list(words))
            labels.append(int(positive > negative))
    return keras.utils.pad_sequences(texts, maxlen=sequence_length), np.array(labels)


(x_train, y_train), (x_val, y_val), (x_test, y_test) = reviews(2000), reviews(400), reviews(400)

keras.utils.set_random_seed(4)
# An integer input for vocab indices.
inputs = keras.Input(shape=(None,), dtype="int64")

# Map those vocab indices into a space of dimensionality 'embedding_dim'.
x = layers.Embedding(max_features, embedding_dim)(inputs)
x = layers.Dropout(0.5)(x)

# Conv1D + global max pooling
x = layers.Conv1D(128, 7, padding="valid", activation="relu", strides=3)(x)
x = layers.Conv1D(128, 7, padding="valid", activation="relu", strides=3)(x)
x = layers.GlobalMaxPooling1D()(x)

# A vanilla hidden layer:
x = layers.Dense(128, activation="relu")(x)
x = layers.Dropout(0.5)(x)

# Project onto a single unit output layer, and squash it with a sigmoid:
predictions = layers.Dense(1, activation="sigmoid", name="predictions")(x)

model = keras.Model(inputs, predictions)

# Compile the model with binary crossentropy loss and an adam optimizer.
model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
untrained_loss, untrained_accuracy = model.evaluate(x_test, y_test, verbose=0)

epochs = 4  # keras.io: 3
# Fit the model using the train and validation data.
history = model.fit(x_train, y_train, batch_size=32, validation_data=(x_val, y_val), epochs=epochs, verbose=2)
test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
probabilities = model.predict(x_test[:8], verbose=0)
short_probabilities = model.predict(x_test[:8, -40:], verbose=0)  # the time axis is None: any length
print(f"test accuracy {untrained_accuracy:.3f} untrained, {test_accuracy:.3f} after {epochs} epochs")
