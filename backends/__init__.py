"""Built-in backends of optbridge. Each registers through the ``optbridge`` entry points."""
