"""Settings shared by every test."""

from hypothesis import settings

# Property tests assert properties, not speed: on a loaded 2-core CI machine an example may take
# longer than hypothesis's default 200 ms deadline without anything being wrong.
settings.register_profile("koprogo", deadline=None)
settings.load_profile("koprogo")
