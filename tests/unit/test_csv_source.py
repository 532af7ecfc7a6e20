import numpy as np
import pandas as pd
import pytest

from carprice.config import settings
from carprice.contract import catalog, schema
from carprice.contract.validation import Thresholds, validate_dataset
from carprice.sources import SourceError, load, safe_read
from carprice.sources.csv_reader import (
    AVITO_COLUMNS,
    AVITO_DROPPED,
    AVITO_HEADER,
    CsvError,
    decode,
    parse,
    read_csv,
    to_avito,
)
from carprice.sources.synthetic import generate


@pytest.fixture(autouse=True)
def inbox(tmp_path, monkeypatch):
    """CSVs are read from the data inbox only (sources.guard): tmp_path is the inbox."""
    monkeypatch.setenv(settings.ENV_INBOX_DIR, str(tmp_path))
    # for the download error below
    monkeypatch.setenv(settings.ENV_SOURCE_ALLOWED_HOSTS, "127.0.0.1")


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
    assert set(raw.columns) == {*schema.COLUMNS, schema.LISTING_ID}
    clean, report = validate_dataset(raw, Thresholds(min_rows=1, max_drop_share=1))
    assert clean[schema.LISTING_ID].tolist() == [1, 2]  # the end of 'Lien'
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
    for col in (*schema.CATEGORICAL, "year", "fiscal_power_cv", "doors", "first_owner",
                *schema.EQUIPMENT, schema.TARGET):
        pd.testing.assert_series_equal(clean[col], frame[col], check_dtype=False)
    # mileage comes back as the middle of the export's bracket (5 000 km wide below
    # 100 000, 10 000 below 200 000, 50 000 below 500 000)
    half = np.select([frame.mileage_km < 100_000, frame.mileage_km < 200_000], [2500, 5000],
                     25_000)
    assert ((clean.mileage_km - frame.mileage_km).abs() <= half).all()


def test_the_writer_speaks_the_export_format():
    frame = generate(400, seed=8)
    frame.loc[0, ["year", "mileage_km"]] = [1978, 612_000]
    avito = to_avito(frame)
    assert list(avito.columns) == list(AVITO_HEADER)
    first = avito.iloc[0]
    assert first["Année-Modèle"] == "1980 ou plus ancien"
    assert first["Kilométrage"] == "Plus de 500 000"
    labels = {c: set(avito[c]) for c in ("Ville", "État", "Origine", "Boite de vitesses")}
    assert labels["État"] <= set(catalog.AVITO_VALUES["condition"])
    assert labels["Origine"] <= set(catalog.AVITO_VALUES["origin"])
    assert "Très bon" in labels["État"] and labels["Ville"] <= set(catalog.AVITO_CITIES)
    assert labels["Boite de vitesses"] == {"Manuelle", "Automatique"}  # no '--' by default
    assert set(avito["Première main"]) == {"Oui", "Non"}
    assert avito["Kilométrage"].str.fullmatch(r"\d{1,3}( \d{3})* - \d{1,3}( \d{3})*"
                                              r"|Plus de 500 000").all()


def test_the_writer_can_leave_the_details_out_like_the_export(tmp_path):
    frame = generate(500, seed=9)
    avito = to_avito(frame, missing_share=0.2, seed=3)
    bare = avito["Boite de vitesses"] == "--"
    assert bare.sum() == 100
    assert (avito.loc[bare, ["Nombre de portes", "Origine", "Première main", "État"]] == ""
            ).all().all()
    path = tmp_path / "avito.csv"
    avito.to_csv(path, index=False, encoding="latin1")
    clean, report = validate_dataset(read_csv(str(path)),
                                     Thresholds(min_rows=1, max_missing_share=0.25))
    assert report["rows_out"] == 500 and report["rows_invalid"] == 0
    assert report["unreadable_values"] == {}
    assert (clean.loc[bare.to_numpy(), "gearbox"] == schema.MISSING_CATEGORY).all()
    assert (clean.loc[~bare.to_numpy(), "gearbox"] == frame.loc[~bare.to_numpy(), "gearbox"]
            ).all()
    assert report["missing_share"]["gearbox"] == 0.2
    with pytest.raises(ValueError, match="missing_share"):
        to_avito(frame, missing_share=1.5)


def test_every_export_header_is_mapped_or_dropped():
    mapped = {schema.fold(h) for h in AVITO_COLUMNS}
    assert len(AVITO_HEADER) == 32
    assert all(schema.fold(h) in mapped or h in AVITO_DROPPED for h in AVITO_HEADER)
    assert set(AVITO_COLUMNS.values()) == {*schema.COLUMNS, schema.LISTING_ID}


# Rows of the real export (avito_car_dataset_ALL.csv; links shortened), plus one row in
# its format for the rare 'Pour Pièces' condition and the oldest/most-used brackets.
REAL_EXPORT = (
    ",".join(["", *list(AVITO_HEADER)[1:]]) + "\n"
    "9,https://www.avito.ma/fr/9.htm,Fquih Ben Saleh,,Volkswagen,GOLF 7,2013,"
    "120 000 - 129 999,Diesel,8,Automatique,5.0,Dédouanée,Non,Excellent,False,True,True,"
    "False,False,False,False,False,False,True,True,False,False,True,False,False,198000\n"
    "11,https://www.avito.ma/fr/11.htm,Fès,,Renault,Kangoo,2008,160 000 - 169 999,Diesel,6,"
    "--,,,,,False,False,False,False,False,False,False,False,False,False,False,False,False,"
    "False,False,False,70000\n"
    "13,https://www.avito.ma/fr/13.htm,Tétouan,,Land Rover,Range Rover Sport,2018,"
    "35 000 - 39 999,Diesel,12,--,,Importée neuve,Non,Excellent,False,True,True,False,False,"
    "False,False,False,False,True,True,False,False,True,False,False,780000\n"
    "3631,https://www.avito.ma/fr/3631.htm,Salé,,Peugeot,206,2005,150 000 - 159 999,Diesel,6,"
    "Manuelle,3.0,Pas encore dédouanée,Non,Très bon,False,False,False,False,False,False,"
    "False,False,False,False,False,False,False,False,False,False,63000\n"
    "1569,https://www.avito.ma/fr/1569.htm,Casablanca,Aïn Diab,BMW,Serie 3 coupé,2010,"
    "90 000 - 94 999,Essence,11,Manuelle,3.0,,Non,,False,False,False,False,False,False,False,"
    "False,False,False,False,False,False,False,False,False,132000\n"
    "0,https://www.avito.ma/fr/0.htm,Meknès,,Mercedes-Benz,220,1980 ou plus ancien,"
    "Plus de 500 000,Diesel,8,Manuelle,5.0,Dédouanée,Oui,Pour Pièces,False,False,False,False,"
    "False,False,False,False,False,False,False,False,False,False,False,False,15000\n"
)


@pytest.mark.parametrize("encoding", ["latin1", "utf-8"])
def test_real_export_rows_are_read_and_kept(tmp_path, encoding):
    path = tmp_path / "avito_car_dataset_ALL.csv"
    path.write_bytes(REAL_EXPORT.encode(encoding))
    raw = read_csv(str(path))
    assert set(raw.columns) == {*schema.COLUMNS, schema.LISTING_ID}
    clean, report = validate_dataset(raw, Thresholds(min_rows=1, max_missing_share=1))
    assert clean[schema.LISTING_ID].tolist() == [9, 11, 13, 3631, 1569, 0]
    assert report["rows_out"] == 6 and not report["invalid_by_rule"]
    assert not report["unreadable_values"]
    missing = schema.MISSING_CATEGORY
    assert clean.model.tolist() == ["Golf", "Kangoo", "Range Rover Sport", "206",
                                    "Serie 3 coupe", "220"]
    assert clean.city.tolist() == ["Fquih Ben Saleh", "Fes", "Tetouan", "Sale", "Casablanca",
                                   "Meknes"]
    assert clean.gearbox.tolist() == ["Automatique", missing, missing, "Manuelle", "Manuelle",
                                      "Manuelle"]
    assert clean.origin.tolist() == ["Dedouanee", missing, "Importee neuve",
                                     "Pas encore dedouanee", missing, "Dedouanee"]
    assert clean.condition.tolist() == ["Excellent", missing, "Excellent", "Tres bon",
                                        missing, "Pour pieces"]
    assert clean.first_owner.tolist() == [False, False, False, False, False, True]
    assert clean.doors.iloc[[0, 3]].tolist() == [5, 3] and np.isnan(clean.doors.iloc[1])
    last = clean.iloc[-1]
    assert last.year == 1980 and last.mileage_km == 500_000 and last.fiscal_power_cv == 8
    assert report["unknown_categories"]["city"]["share"] == 0
    assert report["unknown_categories"]["model"]["share"] == 0


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
    with pytest.raises(safe_read.SourceUnavailable, match="cannot download"):  # retried later
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
