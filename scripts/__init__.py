"""Project scripts (schema generators). Run them as modules from the repository root."""
