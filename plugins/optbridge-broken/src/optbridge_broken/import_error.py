"""A plugin whose framework is not installed: importing it fails."""
import optbridge_broken_framework_that_is_not_installed  # noqa: F401
