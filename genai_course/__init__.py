"""genai-course: learn generative AI by building it.

Import the pieces you need, e.g. ``from genai_course import data, gan, losses, widgets``.
Nothing heavy runs at import time.
"""

__version__ = "0.1.0"
