"""After keras.io's "Structured data classification from scratch": a table of patients' numerical and
categorical features, one named `keras.Input` per feature, numerical ones normalised by a
Normalization layer adapted to the training data, all joined by `layers.concatenate` into a small
Dense network that predicts a binary target with a sigmoid.

keras.io reads the Cleveland heart-disease CSV; this table is generated here with NumPy in its shape
(same column names and kinds), with a target that follows a rule of the features plus noise, so
that a trained model has something real to learn. keras.io encodes categorical columns with the
IntegerLookup / StringLookup preprocessing layers; this program one-hot encodes them with
`keras.utils.to_categorical` before the model instead (minidl has no lookup layers)."""

import numpy as np

import minidl as keras
from minidl import layers

rng = np.random.default_rng(1337)
rows = 1200
thal_vocabulary = ["fixed", "normal", "reversible"]
table = {
    "age": rng.normal(54, 9, rows).round(),
    "trestbps": rng.normal(131, 17, rows).round(),
    "chol": rng.normal(246, 51, rows).round(),
    "thalach": rng.normal(150, 23, rows).round(),
    "oldpeak": rng.exponential(1.0, rows).round(1),
    "sex": rng.integers(0, 2, rows),
    "cp": rng.integers(0, 5, rows),
    "exang": rng.integers(0, 2, rows),
    "ca": rng.integers(0, 4, rows),
    "thal": rng.choice(thal_vocabulary, rows),
}
risk = (
    0.9 * (table["age"] - 54) / 9
    - 1.2 * (table["thalach"] - 150) / 23
    + 0.8 * (table["oldpeak"] - 1.0)
    + 0.3 * (table["chol"] - 246) / 51
    + 1.5 * (table["cp"] == 0)
    - 0.8 * (table["cp"] == 3)
    + 0.9 * table["exang"]
    + 0.6 * table["ca"]
    + 1.2 * (table["thal"] == "reversible")
    - 1.9
)
target = (risk + rng.normal(0, 0.4, rows) > 0).astype("float32")

numerical = ["age", "trestbps", "chol", "thalach", "oldpeak"]
categorical = {"sex": 2, "cp": 5, "exang": 2, "ca": 4, "thal": len(thal_vocabulary)}


def encode_table(rows_taken):
    """The model's inputs: numerical columns as (n,) floats, categorical ones one-hot (n, categories)."""
    features = {name: table[name][rows_taken].astype("float32") for name in numerical}
    for name, categories in categorical.items():
        column = table[name][rows_taken]
        if name == "thal":  # strings to their index in the vocabulary, as StringLookup would
            column = np.array([thal_vocabulary.index(value) for value in column])
        features[name] = keras.utils.to_categorical(column, num_classes=categories)
    return features


validation_rows = rng.permutation(rows)[: rows // 5]
train_rows = np.setdiff1d(np.arange(rows), validation_rows)
train_features, train_labels = encode_table(train_rows), target[train_rows]
val_features, val_labels = encode_table(validation_rows), target[validation_rows]
print(f"Using {len(train_rows)} samples for training and {len(validation_rows)} for validation")

normalizers = {}


def encode_numerical_feature(feature, name):
    # Create a Normalization layer for our feature
    normalizer = layers.Normalization()
    # Learn the statistics of the data, a feature axis added
    normalizer.adapt(np.expand_dims(train_features[name], -1))
    normalizers[name] = normalizer
    # Normalize the input feature
    return normalizer(feature)


# Categorical features, one-hot encoded
sex = keras.Input(shape=(2,), name="sex")
cp = keras.Input(shape=(5,), name="cp")
exang = keras.Input(shape=(2,), name="exang")
ca = keras.Input(shape=(4,), name="ca")
thal = keras.Input(shape=(3,), name="thal")

# Numerical features
age = keras.Input(shape=(1,), name="age")
trestbps = keras.Input(shape=(1,), name="trestbps")
chol = keras.Input(shape=(1,), name="chol")
thalach = keras.Input(shape=(1,), name="thalach")
oldpeak = keras.Input(shape=(1,), name="oldpeak")

all_inputs = [sex, cp, exang, ca, thal, age, trestbps, chol, thalach, oldpeak]

all_features = layers.concatenate(
    [
        sex,
        cp,
        exang,
        ca,
        thal,
        encode_numerical_feature(age, "age"),
        encode_numerical_feature(trestbps, "trestbps"),
        encode_numerical_feature(chol, "chol"),
        encode_numerical_feature(thalach, "thalach"),
        encode_numerical_feature(oldpeak, "oldpeak"),
    ]
)
x = layers.Dense(32, activation="relu")(all_features)
x = layers.Dropout(0.5)(x)
output = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(all_inputs, output)
model.compile("adam", "binary_crossentropy", metrics=["accuracy"])

history = model.fit(
    train_features, train_labels, batch_size=32, epochs=20, validation_data=(val_features, val_labels), verbose=2
)
val_loss, val_accuracy = model.evaluate(val_features, val_labels, verbose=0)
print("validation accuracy:", val_accuracy)

# Inference on new data: one patient at high risk by the rule, one at low risk.
samples = {
    "age": [70.0, 40.0],
    "trestbps": [140.0, 120.0],
    "chol": [300.0, 200.0],
    "thalach": [110.0, 185.0],
    "oldpeak": [3.0, 0.0],
    "sex": [[0, 1], [1, 0]],
    "cp": [[1, 0, 0, 0, 0], [0, 0, 0, 1, 0]],
    "exang": [[0, 1], [1, 0]],
    "ca": [[0, 0, 1, 0], [1, 0, 0, 0]],
    "thal": [[0, 0, 1], [0, 1, 0]],
}
input_dict = {name: np.array(value, dtype="float32") for name, value in samples.items()}
predictions = model.predict(input_dict, verbose=0)
print(
    f"The high-risk patient has a {100 * predictions[0][0]:.1f} percent probability of having a heart disease, "
    f"the low-risk one {100 * predictions[1][0]:.1f} percent."
)
