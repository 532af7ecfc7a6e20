"""CarPrice: a used-car price model kept trained, gated, versioned and served."""

__version__ = "0.1.0"
