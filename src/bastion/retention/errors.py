"""What an archive, a prune or a fills export cannot do, told in one line."""

from __future__ import annotations


class RetentionError(ValueError):
    """A folder, an archive or an option that cannot be used, and why."""
