"""The plugin's tests run in float32 and float64: ``jax_enable_x64`` is switched on before
optbridge discovers the ``jax`` backend (which declares float64 only with it)."""
import jax

jax.config.update("jax_enable_x64", True)

from optbridge import plugin  # noqa: E402  (after x64 is on)

plugin.reset()
