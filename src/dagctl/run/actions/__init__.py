"""What a task does. ``shell`` runs a command in its own process group (``proc`` holds the group helpers);
``python`` imports and calls ``module:function`` (in a thread, or in a child process through ``child``);
``outputs`` reads and checks what a task hands downstream. Part of the run layer: may import ``dag``,
``store`` and the base modules."""
