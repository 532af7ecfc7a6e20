"""CSV source: an inbox file or an http(s) URL, in the contract's columns or the
Avito export of the original car-price project (French headers, latin1 or UTF-8).

Values are returned as text; validation.coerce turns them into the contract's
types, so every parsing problem is reported in one place.
"""

from __future__ import annotations

import io

import pandas as pd

from carprice.config import limits
from carprice.contract import catalog, schema
from carprice.errors import InputError
from carprice.request_errors import redact_url
from carprice.sources.safe_read import is_url, read_source

AVITO_COLUMNS: dict[str, str] = {
    "Ville": "city",
    "Marque": "brand",
    "Modèle": "model",
    "Année-Modèle": "year",
    "Kilométrage": "mileage_km",
    "Type de carburant": "fuel_type",
    "Puissance fiscale": "fiscal_power_cv",
    "Boite de vitesses": "gearbox",
    "Nombre de portes": "doors",
    "Origine": "origin",
    "Première main": "first_owner",
    "État": "condition",
    **{avito: col for col, avito in catalog.EQUIPMENT.items()},
    "Prix": schema.TARGET,
    "Lien": schema.LISTING_ID,  # the listing's URL; validation keeps the id at its end
}
# folded header -> contract column: accepts both spellings and accent-less exports
_HEADER_MAP = {
    **{schema.fold(k): v for k, v in AVITO_COLUMNS.items()},
    **{schema.fold(c): c for c in (*schema.COLUMNS, schema.LISTING_ID)},
}


class CsvError(InputError):
    """A CSV that cannot be read, with a one-line reason."""


COUNT_CHUNK_BYTES = 1 << 20


def count_rows(data: bytes, name: str, limit: int) -> int:
    """Data rows of CSV bytes (line breaks after the header), counted chunk by chunk
    without parsing or copying; CsvError as soon as the count passes ``limit``. A quoted
    cell holding a line break counts as an extra row: it errs towards refusing early."""
    lines = 0
    for start in range(0, len(data), COUNT_CHUNK_BYTES):
        lines += data.count(b"\n", start, start + COUNT_CHUNK_BYTES)
        if lines - 1 > limit:
            raise CsvError(f"{name} has more than {limit:,} rows; the limit is {limit:,} "
                           "(split the file)")
    if data and not data.endswith(b"\n"):
        lines += 1  # the last row has no line break
    return max(lines - 1, 0)


def decode(raw: bytes, name: str = "CSV") -> str:
    """UTF-8 (with or without BOM), else latin1; refuse UTF-16 and binary files."""
    if not raw.strip():
        raise CsvError(f"{name} is empty")
    if b"\x00" in raw[:4096]:
        raise CsvError(f"{name} is not a text CSV in UTF-8 or latin1 "
                       "(NUL bytes: UTF-16 or binary?)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin1")


def parse(text: str, name: str = "CSV") -> pd.DataFrame:
    """Text -> frame with contract column names (unknown columns dropped), values as text."""
    header = text.split("\n", 1)[0]
    sep = max([",", ";", "\t"], key=header.count)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=True,
                            skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise CsvError(f"{name} is not a valid CSV: {str(exc).splitlines()[0]}") from exc
    renamed = {c: _HEADER_MAP[schema.fold(c)] for c in frame.columns
               if schema.fold(c) in _HEADER_MAP}
    if not set(renamed.values()) & set(schema.COLUMNS):  # a listing id alone: nothing to use
        raise CsvError(f"{name} has none of the expected columns "
                       f"(e.g. {', '.join(schema.COLUMNS[:4])} or Avito's Marque, Prix)")
    frame = frame[list(renamed)].rename(columns=renamed)
    return frame.loc[:, ~frame.columns.duplicated()]


def read_csv(uri: str) -> pd.DataFrame:
    """A csv_uri (untrusted: the trigger form sets it) read through the source guard."""
    name = redact_url(uri) if is_url(uri) else uri
    data = read_source(uri)
    # rows past what the stage's memory limit holds are refused before parsing
    count_rows(data, name, limits.stage_max_rows())
    return parse(decode(data, name=name), name=name)


# The export's header, in its order (Azaziop/detection_car_price,
# reports/pipeline_report_20260216_163541.json, data_quality.columns; the first column,
# pandas' index, has an empty name, read back as 'Unnamed: 0'). AVITO_COLUMNS maps all
# but AVITO_DROPPED, which carry nothing the model or the split uses.
AVITO_DROPPED: tuple[str, ...] = ("", "Secteur", "Airbags")
AVITO_HEADER: tuple[str, ...] = (
    "", "Lien", "Ville", "Secteur", "Marque", "Modèle", "Année-Modèle", "Kilométrage",
    "Type de carburant", "Puissance fiscale", "Boite de vitesses", "Nombre de portes",
    "Origine", "Première main", "État", "Jantes aluminium", "Airbags", "Climatisation",
    "Système de navigation/GPS", "Toit ouvrant", "Sièges cuir", "Radar de recul",
    "Caméra de recul", "Vitres électriques", "ABS", "ESP", "Régulateur de vitesse",
    "Limiteur de vitesse", "CD/MP3/Bluetooth", "Ordinateur de bord",
    "Verrouillage centralisé à distance", "Prix",
)
# The export's mileage brackets: (below km, bracket width); 'Plus de 500 000' above.
_KM_BRACKETS = ((100_000, 5_000), (200_000, 10_000), (500_000, 50_000))
_DETAILS = ("doors", "origin", "first_owner", "condition", *schema.EQUIPMENT)


def _km_range(km: float) -> str:
    for below, width in _KM_BRACKETS:
        if km < below:
            low = int(km // width * width)
            return f"{low:,} - {low + width - 1:,}".replace(",", " ")
    return "Plus de 500 000"


def to_avito(frame: pd.DataFrame, missing_share: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """A contract frame written the way the Avito export is: its header and column order,
    accented labels ('Très bon', 'Fès'), mileage brackets, '1980 ou plus ancien',
    'Oui'/'Non', whole prices and extra columns; 'Lien' ends with the frame's listing_id
    if it has one, else with the row number.

    missing_share of the rows (drawn with seed) get the export's listings without a
    details block: gearbox '--', doors/origin/first owner/condition empty, no equipment.
    """
    if not 0 <= missing_share <= 1:
        raise ValueError(f"missing_share must be within 0..1, got {missing_share}")
    out = frame.copy()
    for col in schema.CATEGORICAL:
        out[col] = out[col].map({v: schema.label(col, v) for v in out[col].unique()})
    out["mileage_km"] = out["mileage_km"].map(_km_range)
    year = out["year"].astype(int)
    out["year"] = year.astype(str).where(year > 1980, "1980 ou plus ancien")
    out["fiscal_power_cv"] = out["fiscal_power_cv"].astype(int).astype(str)
    out["doors"] = out["doors"].astype(float).map("{:.1f}".format)
    out["first_owner"] = out["first_owner"].map({True: "Oui", False: "Non"})
    out[schema.TARGET] = out[schema.TARGET].round().astype("int64")
    out = out.astype({c: "object" for c in _DETAILS})
    bare = out.sample(frac=missing_share, random_state=seed).index
    out.loc[bare, "gearbox"] = "--"
    out.loc[bare, ["doors", "origin", "first_owner", "condition"]] = ""
    out.loc[bare, list(schema.EQUIPMENT)] = False
    ids = out.pop(schema.LISTING_ID) if schema.LISTING_ID in out else range(len(out))
    out = out.rename(columns={v: k for k, v in AVITO_COLUMNS.items()})
    out[""] = range(len(out))
    out["Lien"] = [f"https://www.avito.ma/fr/annonce/{i}.htm" for i in ids]
    out["Secteur"] = ""
    out["Airbags"] = False
    return out[list(AVITO_HEADER)]
