"""A plugin with a misspelt hook: ``optbridge_backend`` instead of ``optbridge_backends``."""
from optbridge.plugin import Backend, hookimpl


@hookimpl
def optbridge_backend() -> list[Backend]:
    return []
