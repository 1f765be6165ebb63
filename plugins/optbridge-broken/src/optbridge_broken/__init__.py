"""Deliberately broken optbridge plugins (see README.md); never install outside a test env."""
