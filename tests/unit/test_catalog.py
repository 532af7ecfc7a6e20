"""The real export's vocabularies and their contract codes (catalog.AVITO_*, schema)."""

import pandas as pd
import pytest

from carprice.contract import catalog, schema
from carprice.contract.validation import parse_bool


@pytest.mark.parametrize("column", list(schema.CLOSED_CATEGORIES))
def test_closed_sets_match_the_export_one_to_one(column):
    labels = catalog.AVITO_VALUES[column]
    codes = [schema.canonical(column, lab) for lab in labels]
    assert codes == list(schema.CLOSED_CATEGORIES[column])
    assert [schema.label(column, c) for c in codes] == list(labels)


def test_first_owner_is_the_exports_oui_non():
    assert parse_bool(pd.Series(catalog.AVITO_VALUES["first_owner"])).tolist() == [True, False]
    assert [schema.label("first_owner", v) for v in (True, False)] == ["Oui", "Non"]


@pytest.mark.parametrize(("column", "code", "label"), [
    ("condition", "Tres bon", "Très bon"),
    ("condition", "Pour pieces", "Pour Pièces"),
    ("condition", "Endommage", "Endommagé"),
    ("origin", "Importee neuve", "Importée neuve"),
    ("origin", "Pas encore dedouanee", "Pas encore dédouanée"),
    ("origin", "WW au Maroc", "WW au Maroc"),
    ("gearbox", "Manuelle", "Manuelle"),
    ("city", "Fes", "Fès"),
    ("city", "El Kelaa des Sraghna", "El Kelâa des Sraghna"),
    ("model", "C-Elysee", "C-Elysée"),
    ("model", "Serie 3 coupe", "Serie 3 coupé"),
])
def test_label_restores_accents_and_canonical_inverts_it(column, code, label):
    assert schema.label(column, code) == label
    for typed in (label, code, label.upper(), f"  {label.lower()} "):
        assert schema.canonical(column, typed) == code


def test_unknown_codes_display_as_themselves():
    assert schema.label("city", "Lagouira") == "Lagouira"
    assert schema.label("condition", schema.MISSING_CATEGORY) == schema.MISSING_CATEGORY


@pytest.mark.parametrize("text", ["--", "-", "", "  ", "nan", "None", "N/A", None,
                                  float("nan"), pd.NA])
def test_missing_markers(text):
    assert schema.is_missing(text)
    assert schema.canonical("gearbox", text) is None


@pytest.mark.parametrize(("spelling", "code"), [
    # one model, several spellings in the export: generations of MODEL_GENERATIONS merge
    ("GOLF 4", "Golf"), ("GOLF 7", "Golf"), ("GOLF 8", "Golf"), ("Golf", "Golf"),
    ("golf 3", "Golf"), ("Megane 3", "Megane"), ("Megane 4", "Megane"), ("MEGANE", "Megane"),
    # case, spaces and accents
    ("i 10", "i10"), ("TIPO", "Tipo"), ("C-ELYSEE", "C-Elysee"), ("C-Elysée", "C-Elysee"),
    ("CLASSE ML", "CLASSE ML"), ("classe c", "Classe C"),
    # body variants stay models of their own, as on Avito's list
    ("Serie 3 coupé", "Serie 3 coupe"), ("Serie 3 GT", "Serie 3 GT"), ("Serie 3", "Serie 3"),
    ("Megane Coupe", "Megane Coupe"), ("GOLF PLUS", "GOLF PLUS"), ("307 SW", "307 SW"),
    ("206+", "206+"), ("206", "206"), ("Grand i10", "Grand i10"),
])
def test_model_spellings_of_the_export(spelling, code):
    assert schema.canonical("model", spelling) == code


def test_every_export_model_is_known_under_its_brand():
    for brand, models in catalog.AVITO_MODELS.items():
        assert schema.canonical("brand", brand) == brand
        for model in models:
            code = schema.canonical("model", model)
            assert code in schema.MODELS_BY_BRAND[brand], (brand, model)
            assert code in schema.OPEN_CATEGORIES["model"]


def test_unknown_open_values_are_kept_accent_free():
    assert schema.canonical("city", "Laâyoune-Plage") == "Laayoune-Plage"
    assert schema.canonical("brand", "  Lada ") == "Lada"


def test_synthetic_market_is_a_subset_of_the_contract():
    assert set(catalog.CITIES) <= set(schema.OPEN_CATEGORIES["city"])
    assert schema.OPEN_CATEGORIES["city"][:len(catalog.CITIES)] == tuple(catalog.CITIES)
    for brand, models in catalog.brand_models().items():
        assert set(models) <= set(schema.MODELS_BY_BRAND[brand])
    assert len(schema.OPEN_CATEGORIES["city"]) == len(catalog.AVITO_CITIES) >= 100


def test_text_keys():
    assert schema.plain(" Aïn  Sebaâ ") == "Ain Sebaa"
    assert schema.fold("Très BON") == "tres bon"
    assert schema.key("Ksar el-Kebir") == schema.key("ksar El Kebir") == "ksarelkebir"


@pytest.mark.parametrize("column", [*schema.CLOSED_CATEGORIES, *schema.OPEN_CATEGORIES])
def test_no_two_codes_share_a_spelling(column):
    values = {**schema.CLOSED_CATEGORIES, **schema.OPEN_CATEGORIES}[column]
    assert len({schema.key(v) for v in values}) == len(values)
    assert all(schema.canonical(column, v) == v for v in values)
