"""``python -m genai_course.cli``: the same as ``genai-course`` and ``python -m genai_course``."""

import sys

from . import main

sys.exit(main())
