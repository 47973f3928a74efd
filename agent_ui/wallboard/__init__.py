"""wallboard."""
