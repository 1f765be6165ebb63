"""Torch kernels of the canonical algorithms whose shared update rule is not written yet.

One module per algorithm, ending in ``KERNEL = TorchKernel("<name>", update[, native])``
(contract: :mod:`.base`); :func:`optbridge.backends.torch.fast_paths.fast_path` runs an
algorithm's module only while its class defines no rule.
"""
