"""``optbridge.dialects.torch.optim`` mirrors ``torch.optim`` (torch 2.13): same class names,
signatures, defaults, validation messages and numbers; parameters are chosen by selectors.
"""
__all__: list[str] = []
