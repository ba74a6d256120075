def test_clear_session_starts_the_automatic_names_again():
    from minidl import layers, utils

    layers.Dense(2), layers.Dense(2)
    utils.clear_session()
    assert layers.Dense(2).name == "dense" and layers.Dense(2).name == "dense_1"
