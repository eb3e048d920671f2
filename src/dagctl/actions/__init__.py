"""What a task does: ``shell`` runs a command in its own process group; ``proc`` holds the group helpers."""
