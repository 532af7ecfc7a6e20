import pandas as pd
import pytest

from carprice import schema
from carprice.sources import SourceError, guard, load
from carprice.sources.csv_source import CsvError, decode, parse, read_csv, to_avito
from carprice.sources.synthetic import generate
from carprice.validation import Thresholds, validate_dataset


@pytest.fixture(autouse=True)
def inbox(tmp_path, monkeypatch):
    """CSVs are read from the data inbox only (sources.guard): tmp_path is the inbox."""
    monkeypatch.setenv(guard.ENV_INBOX_DIR, str(tmp_path))
    monkeypatch.setenv(guard.ENV_ALLOWED_HOSTS, "127.0.0.1")  # for the download error below


AVITO_SAMPLE = (
    "Unnamed: 0;Lien;Ville;Secteur;Marque;Modèle;Année-Modèle;Kilométrage;Type de carburant;"
    "Puissance fiscale;Boite de vitesses;Nombre de portes;Origine;Première main;État;Airbags;"
    "Jantes aluminium;Climatisation;Système de navigation/GPS;Toit ouvrant;Sièges cuir;"
    "Radar de recul;Caméra de recul;Vitres électriques;ABS;ESP;Régulateur de vitesse;"
    "Limiteur de vitesse;CD/MP3/Bluetooth;Ordinateur de bord;"
    "Verrouillage centralisé à distance;Prix\n"
    "0;https://x/1;Fès;Centre;Dacia;Logan;2016;100 000 - 109 999;Diesel;6 CV;Manuelle;5;"
    "WW au Maroc;Oui;Très bon;True;False;True;False;False;False;True;False;True;True;False;"
    "False;False;True;False;True;78 000\n"
    "1;https://x/2;Casablanca;Maarif;Peugeot;308;1980 ou plus ancien;Plus de 500 000;Essence;"
    "7 CV;Automatique;5;Dédouanée;Non;Pour Pièces;False;False;False;False;False;False;False;"
    "False;False;False;False;False;False;False;False;False;9 500\n"
)


def test_avito_latin1_export_maps_onto_the_contract(tmp_path):
    path = tmp_path / "avito.csv"
    path.write_bytes(AVITO_SAMPLE.encode("latin1"))
    raw = read_csv(str(path))
    assert set(raw.columns) == set(schema.COLUMNS)
    clean, report = validate_dataset(raw, Thresholds(min_rows=1, max_drop_share=1))
    first = clean.iloc[0]
    assert first.city == "Fes" and first.condition == "Tres bon" and first.origin == "WW au Maroc"
    assert first.mileage_km == pytest.approx(104999.5)
    assert first.year == 2016 and first.fiscal_power_cv == 6 and first.first_owner
    assert first.price_dh == 78000
    assert not first.alloy_wheels and first.air_conditioning and first.abs
    second = clean.iloc[1]
    assert second.year == 1980 and second.mileage_km == 500000
    assert second.condition == "Pour pieces" and second.origin == "Dedouanee"


def test_utf8_with_bom_and_comma_separator(tmp_path):
    frame = generate(50)
    path = tmp_path / "cars.csv"
    path.write_bytes(b"\xef\xbb\xbf" + frame.to_csv(index=False).encode())
    clean, _ = validate_dataset(read_csv(str(path)), Thresholds(min_rows=1))
    assert len(clean) == 50
    pd.testing.assert_series_equal(clean.price_dh, frame.price_dh)


def test_round_trip_through_the_avito_writer(tmp_path):
    frame = generate(300, seed=5)
    path = tmp_path / "avito.csv"
    to_avito(frame).to_csv(path, index=False, encoding="latin1")
    clean, report = validate_dataset(read_csv(str(path)), Thresholds(min_rows=1))
    assert report["rows_out"] == 300
    assert (clean.brand == frame.brand).all() and (clean.condition == frame.condition).all()
    assert ((clean.mileage_km - frame.mileage_km).abs() <= 5000).all()


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"   \n", "is empty"),
    ("Marque,Prix\n".encode("utf-16"), "NUL bytes"),
    (b"\x00\x01\x02binary", "NUL bytes"),
    (b"foo,bar\n1,2\n", "none of the expected columns"),
])
def test_unreadable_files_get_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(CsvError, match=message):
        read_csv(str(path))


def test_missing_file_and_bad_url():
    with pytest.raises(SourceError, match="not found"):
        read_csv("nonexistent/cars.csv")
    with pytest.raises(SourceError, match="cannot download"):
        read_csv("http://127.0.0.1:9/cars.csv")


def test_malformed_rows_are_reported():
    with pytest.raises(CsvError, match="not a valid CSV"):
        parse('brand,price_dh\n"Dacia,1\n', "x.csv")


def test_decode_falls_back_to_latin1():
    assert decode("Fès".encode("latin1")) == "Fès"
    assert decode("Fès".encode()) == "Fès"


def test_load_dispatches_on_source(tmp_path):
    assert len(load({"source": "synthetic", "rows": 10, "seed": 1, "noise_sigma": 0.1})) == 10
    with pytest.raises(SourceError, match="csv_uri is empty"):
        load({"source": "csv", "csv_uri": ""})
    with pytest.raises(SourceError, match="unknown data.source"):
        load({"source": "s3"})
