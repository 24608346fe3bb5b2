"""prodgen-lessons: deep generative models for product images, the helper package of the course."""

__version__ = "0.1.0"
