"""CSV source: a local path or an http(s) URL, in the contract's columns or the
Avito export of the original car-price project (French headers, latin1 or UTF-8).

Values are returned as text; validation.coerce turns them into the contract's
types, so every parsing problem is reported in one place.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import requests

from carprice import catalog, schema
from carprice.errors import InputError

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
}
# folded header -> contract column: accepts both spellings and accent-less exports
_HEADER_MAP = {
    **{schema.fold(k): v for k, v in AVITO_COLUMNS.items()},
    **{schema.fold(c): c for c in schema.COLUMNS},
}
MAX_DOWNLOAD_BYTES = 500 * 1024 * 1024


class CsvError(InputError):
    """A CSV that cannot be read, with a one-line reason."""


def fetch_bytes(uri: str, timeout: float = 60.0) -> bytes:
    if uri.startswith(("http://", "https://")):
        try:
            resp = requests.get(uri, timeout=timeout)
            resp.raise_for_status()
        except requests.RequestException as exc:
            raise CsvError(f"cannot download {uri}: {exc}") from exc
        if len(resp.content) > MAX_DOWNLOAD_BYTES:
            raise CsvError(f"{uri} is larger than {MAX_DOWNLOAD_BYTES // 2**20} MiB")
        return resp.content
    path = Path(uri)
    if not path.is_file():
        raise CsvError(f"CSV file not found: {uri}")
    return path.read_bytes()


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
    if not renamed:
        raise CsvError(f"{name} has none of the expected columns "
                       f"(e.g. {', '.join(schema.COLUMNS[:4])} or Avito's Marque, Prix)")
    frame = frame[list(renamed)].rename(columns=renamed)
    return frame.loc[:, ~frame.columns.duplicated()]


def read_csv(uri: str) -> pd.DataFrame:
    return parse(decode(fetch_bytes(uri), name=uri), name=uri)


# Contract labels as the Avito site spells them (accents), for to_avito.
AVITO_LABELS = {
    "Tres bon": "Très bon", "Endommage": "Endommagé", "Pour pieces": "Pour Pièces",
    "Dedouanee": "Dédouanée", "Importee neuve": "Importée neuve",
    "Pas encore dedouanee": "Pas encore dédouanée", "Fes": "Fès", "Meknes": "Meknès",
    "Tetouan": "Tétouan",
}


def to_avito(frame: pd.DataFrame) -> pd.DataFrame:
    """A contract frame written the way the Avito export is: French headers, accents,
    mileage as 5 000 km ranges, 'Oui'/'Non', fiscal power in CV, extra columns."""
    out = frame.copy()
    for col in schema.CATEGORICAL:
        out[col] = out[col].replace(AVITO_LABELS)
    low = (out["mileage_km"] // 5000 * 5000).astype(int)
    out["mileage_km"] = [f"{lo:,} - {lo + 4999:,}".replace(",", " ") for lo in low]
    out["year"] = out["year"].astype(int).astype(str)
    out["fiscal_power_cv"] = out["fiscal_power_cv"].astype(int).astype(str) + " CV"
    out["doors"] = out["doors"].astype(int)
    out["first_owner"] = out["first_owner"].map({True: "Oui", False: "Non"})
    out = out.rename(columns={v: k for k, v in AVITO_COLUMNS.items()})
    out.insert(0, "Unnamed: 0", range(len(out)))
    out["Lien"] = [f"https://www.avito.ma/fr/annonce/{i}.htm" for i in range(len(out))]
    out["Secteur"] = "Centre ville"
    out["Airbags"] = "True"
    return out
