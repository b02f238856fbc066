"""The alert engine: rules applied to new readings and to silences, and their lifecycle."""
