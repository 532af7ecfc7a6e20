"""The data contract: columns, dtypes, ranges and category sets.

Training, validation, serving and the app all read this module, so a column or
a category added here reaches every one of them.

Category values are contract *codes*: the Avito label with accents dropped ('Tres bon',
'Fes'). canonical() turns any spelling of a value into its code; label() gives the
accented label back for display ('Très bon', 'Fès').
"""

from __future__ import annotations

import re
import unicodedata

from carprice.contract import catalog

TARGET = "price_dh"
# Optional pass-through (never a feature): the Avito listing id, read from the end of the
# export's 'Lien' URL. Ids grow with time, so it orders listings (split.time_ordered).
LISTING_ID = "listing_id"

CATEGORICAL: tuple[str, ...] = ("city", "brand", "model", "fuel_type", "gearbox", "origin",
                                "condition")
NUMERIC: tuple[str, ...] = ("year", "mileage_km", "fiscal_power_cv", "doors")
EQUIPMENT: tuple[str, ...] = tuple(catalog.EQUIPMENT)
BOOLEAN: tuple[str, ...] = ("first_owner", *EQUIPMENT)
FEATURES: tuple[str, ...] = (*CATEGORICAL, *NUMERIC, *BOOLEAN)
COLUMNS: tuple[str, ...] = (*FEATURES, TARGET)
MISSING_CATEGORY = "unknown"

# Cell texts that mean "no value" (compared stripped and lower-cased): the export's
# '--' and empty cells, and the usual spellings of a blank.
MISSING_MARKERS: frozenset[str] = frozenset(
    {*catalog.AVITO_MISSING, "-", "---", "nan", "none", "null", "n/a", "na"})


def plain(text: str) -> str:
    """Accents dropped, whitespace collapsed, case kept: 'Fès ' -> 'Fes'."""
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return " ".join(ascii_text.split())


def fold(text: str) -> str:
    """Accent- and case-insensitive key: 'Très bon' -> 'tres bon'."""
    return plain(text).lower()


def key(text: str) -> str:
    """fold() without spaces and punctuation: 'i 10', 'I10' and 'i-10' are one value."""
    return re.sub(r"[\s\-_.'/]", "", fold(text))


def is_missing(text) -> bool:
    """None, NaN, pd.NA or a MISSING_MARKERS text."""
    if text is None:
        return True
    try:
        if text != text:  # NaN
            return True
    except TypeError:  # pd.NA has no truth value
        return True
    return str(text).strip().lower() in MISSING_MARKERS


# Closed vocabularies: any other value is an error. Open ones (city, brand, model)
# accept new values, which the model treats as unseen; they are reported, not dropped.
CLOSED_CATEGORIES: dict[str, tuple[str, ...]] = {
    "fuel_type": tuple(catalog.FUEL_TYPES),
    "gearbox": tuple(catalog.GEARBOXES),
    "origin": tuple(catalog.ORIGINS),
    "condition": tuple(catalog.CONDITIONS),
}


def _codes(labels, known=()) -> dict[str, str]:
    """label -> code: a known code with the same key() if any, else the label plain()."""
    by_key = {key(c): c for c in known}
    return {lab: by_key.get(key(lab), plain(lab)) for lab in labels}


_GENERATION = re.compile(
    rf"^({'|'.join(key(f) for f in catalog.MODEL_GENERATIONS)})\d$")
_FAMILY = {key(f): f for f in catalog.MODEL_GENERATIONS}


def _model_code(text: str, known: dict[str, str]) -> str:
    k = key(text)
    generation = _GENERATION.match(k)
    if generation:
        return _FAMILY[generation.group(1)]
    return known.get(k, plain(text))


_SYNTHETIC = catalog.brand_models()
_MODEL_KEYS = {key(m): m for ms in _SYNTHETIC.values() for m in ms}
# brand -> model codes: the synthetic catalog (with its new models) and the real export.
MODELS_BY_BRAND: dict[str, list[str]] = {
    brand: sorted({*_SYNTHETIC.get(brand, []),
                   *(_model_code(m, _MODEL_KEYS) for m in catalog.AVITO_MODELS.get(brand, ()))})
    for brand in {**_SYNTHETIC, **catalog.AVITO_MODELS}
}
_CITY_CODES = _codes(catalog.AVITO_CITIES, catalog.CITIES)
OPEN_CATEGORIES: dict[str, tuple[str, ...]] = {
    # the synthetic market's cities first (the biggest), then the rest of the export's
    "city": tuple(dict.fromkeys([*catalog.CITIES, *sorted(_CITY_CODES.values())])),
    "brand": tuple(MODELS_BY_BRAND),
    "model": tuple(sorted({m for ms in MODELS_BY_BRAND.values() for m in ms})),
}

# Display labels: code -> the export's accented spelling, where it has accents.
LABELS: dict[str, dict] = {
    **{col: {code: lab for lab, code in _codes(labs, CLOSED_CATEGORIES[col]).items()
             if lab != plain(lab)}
       for col, labs in catalog.AVITO_VALUES.items() if col in CLOSED_CATEGORIES},
    "first_owner": dict(zip((True, False), catalog.AVITO_VALUES["first_owner"], strict=True)),
    "city": {code: lab for lab, code in _CITY_CODES.items() if lab != plain(lab)},
    "model": {_model_code(m, _MODEL_KEYS): m for ms in catalog.AVITO_MODELS.values()
              for m in ms if m != plain(m) and not _GENERATION.match(key(m))},
}

# key() of every code -> code (a label's key is its code's, by construction)
_ALIASES: dict[str, dict[str, str]] = {
    col: {key(v): v for v in values}
    for col, values in {**CLOSED_CATEGORIES, **OPEN_CATEGORIES}.items()
}


def canonical(column: str, text) -> str | None:
    """Any spelling of a category value -> its contract code; None for a missing marker.

    Matching ignores accents, case, spaces and punctuation ('très BON' -> 'Tres bon',
    'i 10' -> 'i10'); model generations of MODEL_GENERATIONS are dropped ('GOLF 7' ->
    'Golf'). A value no list knows comes back plain() (accents dropped): kept for an open
    column, rejected by validation for a closed one. The inverse of label() for form input.
    """
    if is_missing(text):
        return None
    if column == "model":
        return _model_code(text, _ALIASES["model"])
    return _ALIASES.get(column, {}).get(key(text), plain(text))


def label(column: str, code) -> str:
    """A contract code as the export writes it, for display: 'Tres bon' -> 'Très bon'."""
    return LABELS.get(column, {}).get(code, code if isinstance(code, str) else str(code))


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

# folded label -> contract code, for every known category value (lookups by fold(); use
# canonical() to also merge spacing variants, generations and missing markers)
CANONICAL: dict[str, dict[str, str]] = {
    col: {**{fold(v): v for v in values},
          **{fold(lab): code for code, lab in LABELS.get(col, {}).items()}}
    for col, values in {**CLOSED_CATEGORIES, **OPEN_CATEGORIES}.items()
}
