"""The promotion ladder: a bot's stage, and the journal's evidence for the next one."""
