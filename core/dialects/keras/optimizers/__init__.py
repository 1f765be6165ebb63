"""``optbridge.dialects.keras.optimizers`` mirrors ``keras.optimizers`` (Keras 3): same class
names, signatures, defaults and numbers; parameters are chosen by selectors.
"""
__all__: list[str] = []
