"""A bidirectional LSTM on imdb-shaped reviews (after keras.io's bidirectional_lstm_imdb), no download.

Reviews are word ids 1..199 (0 pads); ids 1-10 are positive words, 11-20 negative ones, and a review
is positive when it holds more positive than negative words.
"""

import numpy as np

import minidl as keras
from minidl import layers

max_features, maxlen = 200, 40
rng = np.random.default_rng(0)


def reviews(count):
    texts, labels = [], []
    while len(texts) < count:
        words = rng.integers(1, max_features, rng.integers(8, maxlen + 1))
        positive, negative = np.isin(words, np.arange(1, 11)).sum(), np.isin(words, np.arange(11, 21)).sum()
        if positive != negative:
            texts.append(list(words))
            labels.append(int(positive > negative))
    return texts, np.array(labels)


(x_train, y_train), (x_val, y_val) = reviews(2000), reviews(500)
print(len(x_train), "training sequences,", len(x_val), "validation sequences")
x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
x_val = keras.utils.pad_sequences(x_val, maxlen=maxlen)

keras.utils.set_random_seed(1)
model = keras.Sequential(
    [
        keras.Input(shape=(None,), dtype="int32"),
        layers.Embedding(max_features, 16, mask_zero=True),
        layers.Bidirectional(layers.LSTM(16, return_sequences=True)),
        layers.Bidirectional(layers.LSTM(16)),
        layers.Dense(1, activation="sigmoid"),
    ]
)
model.summary()
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.005), loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=32, epochs=3, validation_data=(x_val, y_val), verbose=2)
loss, accuracy = model.evaluate(x_val, y_val, verbose=0)
print(f"validation accuracy {accuracy:.3f}")
