"""The one exception type users see.

Everything the user can fix (a bad photo, a missing model, a wrong path) is raised as a
FaceSwapError whose message is one sentence that says what to do next. Front ends (the
CLI, the worker's status line) print the message and never a traceback.
"""


class FaceSwapError(Exception):
    """A failure the user can act on; str(error) is the whole message to show."""
