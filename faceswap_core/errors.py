"""The one exception type users see.

Everything the user can fix (a bad photo, a missing model, a wrong path) is raised as a
FaceSwapError whose message is one sentence that says what to do next. Front ends (the
CLI, the worker's status line) print the message and never a traceback.
"""


class FaceSwapError(Exception):
    """A failure the user can act on; str(error) is the whole message to show."""


class BrokenSwapOutput(FaceSwapError):
    """The swap model gave numbers that are no picture (NaN, infinity, one flat colour): the
    fp16 model does so on some GPUs (GTX 16xx). The neural engine answers it by itself."""

    def __init__(self, message: str = ""):
        super().__init__(message or "The swap model returned invalid numbers (a known fp16 problem on some GPUs, "
                                    "e.g. GTX 16xx); use the fp32 model: faceswap models install inswapper_128, "
                                    "then precision fp32.")
