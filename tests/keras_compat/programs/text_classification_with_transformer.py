"""A Transformer block as a Keras layer classifies sequences (after keras.io's
text_classification_with_transformer), on synthetic tokens instead of IMDB: no download.

Every sequence holds ids 3..vocab_size-1 and, somewhere, the two marker ids 1 and 2, once each; its
label is 1 when marker 1 comes before marker 2. Which comes first is a fact about positions, the
kind of relation the position embeddings and attention are there to see.
"""

import numpy as np

import minidl as keras
from minidl import layers, ops


class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
        super().__init__()
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = keras.Sequential(
            [
                layers.Dense(ff_dim, activation="relu"),
                layers.Dense(embed_dim),
            ]
        )
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)

    def call(self, inputs):
        attn_output = self.att(inputs, inputs)
        attn_output = self.dropout1(attn_output)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.ffn(out1)
        ffn_output = self.dropout2(ffn_output)
        return self.layernorm2(out1 + ffn_output)


class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim):
        super().__init__()
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = ops.shape(x)[-1]
        positions = ops.arange(start=0, stop=maxlen, step=1)
        positions = self.pos_emb(positions)
        x = self.token_emb(x)
        return x + positions


vocab_size = 20  # keras.io: the top 20k words
maxlen = 10  # keras.io: the first 200 words of each review
rng = np.random.default_rng(5)


def sequences(count):
    tokens = rng.integers(3, vocab_size, (count, maxlen))
    first, second = np.array([rng.choice(maxlen, 2, replace=False) for _ in range(count)]).T
    rows = np.arange(count)
    tokens[rows, first], tokens[rows, second] = 1, 2
    return tokens, (first < second).astype("int64")


(x_train, y_train), (x_val, y_val) = sequences(2000), sequences(500)
print(len(x_train), "Training sequences")
print(len(x_val), "Validation sequences")

embed_dim = 32  # Embedding size for each token
num_heads = 2  # Number of attention heads
ff_dim = 32  # Hidden layer size in feed forward network inside transformer

keras.utils.set_random_seed(6)
inputs = layers.Input(shape=(maxlen,))
embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
x = embedding_layer(inputs)
transformer_block = TransformerBlock(embed_dim, num_heads, ff_dim)
x = transformer_block(x)
x = layers.GlobalAveragePooling1D()(x)
x = layers.Dropout(0.1)(x)
x = layers.Dense(20, activation="relu")(x)
x = layers.Dropout(0.1)(x)
outputs = layers.Dense(2, activation="softmax")(x)

model = keras.Model(inputs=inputs, outputs=outputs)

model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
attention_before = [np.array(w) for w in transformer_block.att.get_weights()]
positions_before = np.array(embedding_layer.pos_emb.get_weights()[0])
untrained_loss, untrained_accuracy = model.evaluate(x_val, y_val, verbose=0)
history = model.fit(x_train, y_train, batch_size=32, epochs=7, validation_data=(x_val, y_val), verbose=2)  # keras.io: 2
attention_after = [np.array(w) for w in transformer_block.att.get_weights()]
positions_after = np.array(embedding_layer.pos_emb.get_weights()[0])
val_loss, val_accuracy = model.evaluate(x_val, y_val, verbose=0)
embedded = ops.convert_to_numpy(embedding_layer(x_val[:4]))
probabilities = model.predict(x_val[:8], verbose=0)
print(f"validation accuracy {untrained_accuracy:.3f} untrained, {val_accuracy:.3f} trained")
