"""The data contract: columns, dtypes, ranges and category sets.

Training, validation, serving and the app all read this module, so a column or
a category added here reaches every one of them.
"""

from __future__ import annotations

import unicodedata

from carprice import catalog

TARGET = "price_dh"

CATEGORICAL: tuple[str, ...] = ("city", "brand", "model", "fuel_type", "gearbox", "origin",
                                "condition")
NUMERIC: tuple[str, ...] = ("year", "mileage_km", "fiscal_power_cv", "doors")
EQUIPMENT: tuple[str, ...] = tuple(catalog.EQUIPMENT)
BOOLEAN: tuple[str, ...] = ("first_owner", *EQUIPMENT)
FEATURES: tuple[str, ...] = (*CATEGORICAL, *NUMERIC, *BOOLEAN)
COLUMNS: tuple[str, ...] = (*FEATURES, TARGET)

# Closed vocabularies: any other value is an error. Open ones (city, brand, model)
# accept new values, which the model treats as unseen; they are reported, not dropped.
CLOSED_CATEGORIES: dict[str, tuple[str, ...]] = {
    "fuel_type": tuple(catalog.FUEL_TYPES),
    "gearbox": tuple(catalog.GEARBOXES),
    "origin": tuple(catalog.ORIGINS),
    "condition": tuple(catalog.CONDITIONS),
}
OPEN_CATEGORIES: dict[str, tuple[str, ...]] = {
    "city": tuple(catalog.CITIES),
    "brand": tuple(catalog.brand_models()),
    "model": tuple(sorted({m for ms in catalog.brand_models().values() for m in ms})),
}
MISSING_CATEGORY = "unknown"

# Inclusive bounds; a value outside makes the row invalid.
RANGES: dict[str, tuple[float, float]] = {
    "year": (1970, 2027),
    "mileage_km": (0, 1_000_000),
    "fiscal_power_cv": (3, 60),
    "doors": (2, 5),
    TARGET: (1_000, 10_000_000),
}
# Column dtypes of a clean frame (what the model is trained and served on).
DTYPES: dict[str, str] = {
    **{c: "str" for c in CATEGORICAL},
    **{c: "float64" for c in NUMERIC},
    **{c: "bool" for c in BOOLEAN},
    TARGET: "float64",
}


def fold(text: str) -> str:
    """Accent- and case-insensitive key: 'Très bon' -> 'tres bon'."""
    plain = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return " ".join(plain.lower().split())


# folded label -> contract label, for every known category value
CANONICAL: dict[str, dict[str, str]] = {
    col: {fold(v): v for v in values}
    for col, values in {**CLOSED_CATEGORIES, **OPEN_CATEGORIES}.items()
}
