"""prodgen-lessons: deep generative models for product images, the helper package of the course."""

import os

__version__ = "0.1.0"

# The Chinese student edition sets it in its first cell (book/_ext/student_edition.py).
LANGUAGE_VARIABLE = "PRODGEN_LESSONS_LANGUAGE"


def language():
    """The language the package's sentences are printed in: "zh" when the notebook asked for
    Chinese (PRODGEN_LESSONS_LANGUAGE=zh), else "en"."""
    return "zh" if os.environ.get(LANGUAGE_VARIABLE, "").strip().lower().startswith("zh") else "en"
