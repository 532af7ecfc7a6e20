"""Property-based: trigger-form values (untrusted) either apply with the type of the value
they replace or are refused with a one-line ParamsError. Valid form values must apply
(with the value sent, converted to the field's type); broken ones must be refused."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from carprice.config.params import (
    MAX_ROWS,
    PARAM_ALIASES,
    ParamsError,
    apply_overrides,
    load_params,
)
from tests.conftest import REPO
from tests.unit.fuzz_support import TEXT, Tally, fuzz, outcome, refusal

PARAMS = load_params(REPO / "params.yaml")
GATE = PARAMS["gate"]
SECTIONS = sorted(PARAMS) + sorted(f"data.{k}" for k, v in PARAMS["data"].items()
                                   if isinstance(v, dict))


def leaves(params: dict, prefix: str = "") -> list[str]:
    out = []
    for key, value in params.items():
        dotted = f"{prefix}{key}"
        out += leaves(value, f"{dotted}.") if isinstance(value, dict) else [dotted]
    return out


KNOWN = set(leaves(PARAMS)) | set(SECTIONS) | set(PARAM_ALIASES)
KEYS = st.one_of(st.sampled_from(sorted(PARAM_ALIASES)),
                 st.sampled_from(sorted(PARAM_ALIASES.values())),
                 st.sampled_from(SECTIONS),
                 st.sampled_from(["data.rows.x", "data.drift.x", "", ".", "..", "nope"]),
                 TEXT)
# JSON-like form values, integers far beyond float range included.
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(),
                         st.integers(-10**400, 10**400),
                         st.floats(allow_nan=True, allow_infinity=True), TEXT,
                         st.sampled_from(["true", "no", "1e3", "1.5", "-0", "inf", "nan", " 7 ",
                                          "1e999", "9" * 400]))
VALUES = st.one_of(JSON_SCALARS, st.lists(JSON_SCALARS, max_size=2),
                   st.dictionaries(TEXT, JSON_SCALARS, max_size=2))


def leaf(params: dict, dotted: str):
    node = params
    for part in dotted.split("."):
        node = node[part]
    return node


def test_form_values_apply_with_their_types_or_are_refused():
    tally = Tally()

    @fuzz(150)
    @given(st.dictionaries(KEYS, VALUES, max_size=4))
    def check(overrides):
        out = tally.outcome(apply_overrides, PARAMS, overrides)
        if out is not None:
            for key in overrides:
                dotted = PARAM_ALIASES.get(key, key)
                before, after = leaf(PARAMS, dotted), leaf(out, dotted)
                assert before is None or type(after) is type(before), (key, after)

    check()
    # Random dicts rarely apply (most keys or values are wrong, and a gate value looser
    # than params.yaml is refused too): the valid values are fuzzed below on their own.
    tally.require(accepted=0.03, refused=0.3)


# ---------------------------------------------------------------- valid: must apply

def _ints(lo: int, hi: int = 2**63):
    return st.integers(lo, hi)


def _floats(lo: float, hi: float, exclude_min: bool = False):
    return st.floats(lo, hi, exclude_min=exclude_min, allow_nan=False, allow_infinity=False)


# The trigger form's fields and what each one accepts (params.py's ranges, written out here
# so that a validator drifting from them fails).
VALID: dict[str, st.SearchStrategy] = {
    "source": st.sampled_from(["synthetic", "csv"]),
    "csv_uri": st.text(max_size=60),
    "rows": _ints(1, MAX_ROWS),
    "seed": _ints(0),
    "price_inflation": _floats(-1, 1e6, exclude_min=True),
    "mileage_shift": _floats(-1, 1e6, exclude_min=True),
    "new_models_share": _floats(0, 1),
    "learning_rate": _floats(0, 1e6, exclude_min=True),
    "max_iter": _ints(1),
    "max_leaf_nodes": _ints(2),
    "interactions": st.booleans(),
    # the gate: only as strict as params.yaml or stricter (carprice.config.gate_floor)
    "gate_min_skill": st.floats(GATE["min_skill"], 1, exclude_max=True),
    "gate_tolerance": _floats(0, GATE["tolerance"]),
    "gate_max_city_effect": _floats(0, GATE["max_city_effect"], exclude_min=True),
    # the absolute floors are off in params.yaml: any value in the model's range adds one
    "gate_max_rmse_log": _floats(0, 1e6, exclude_min=True),
    "gate_min_r2": _floats(-1e6, 1),
    "gate_max_mape": _floats(0, 1e6, exclude_min=True),
    "force": st.booleans(),
}
BOOL_TEXT = {"true": True, "false": False, "True": True, "FALSE": False, "1": True, "0": False,
             "yes": True, "no": False}


def test_the_valid_table_covers_every_form_field():
    assert set(VALID) == set(PARAM_ALIASES)


@st.composite
def valid_overrides(draw) -> tuple[dict, dict]:
    """(form values, what each dotted key must hold afterwards): values as the form sends
    them (native, as text, an int for a number) or None (a blank field keeps the value)."""
    names = draw(st.lists(st.sampled_from(sorted(VALID)), unique=True, min_size=1, max_size=6))
    form, expected = {}, {}
    for name in names:
        dotted = PARAM_ALIASES[name]
        key = draw(st.sampled_from([name, dotted]))
        value = draw(VALID[name])
        before = leaf(PARAMS, dotted)
        shape = draw(st.integers(0, 4))
        if shape == 0:
            form[key], expected[dotted] = None, before
        elif isinstance(value, bool):
            if shape == 1:
                text = draw(st.sampled_from(sorted(BOOL_TEXT)))
                form[key], expected[dotted] = text, BOOL_TEXT[text]
            else:
                form[key], expected[dotted] = value, value
        elif isinstance(value, int) and shape == 1:
            form[key], expected[dotted] = str(value), value
        elif isinstance(value, float) and shape == 1:
            form[key], expected[dotted] = repr(value), value
        elif isinstance(value, float) and shape == 2 and value.is_integer() and abs(value) < 1e15:
            form[key], expected[dotted] = int(value), value
        else:
            form[key], expected[dotted] = value, value
    return form, expected


@fuzz(150)
@given(valid_overrides())
def test_valid_form_values_apply_with_the_value_sent(case):
    form, expected = case
    out = apply_overrides(PARAMS, form)
    for dotted, value in expected.items():
        got, before = leaf(out, dotted), leaf(PARAMS, dotted)
        # a floor that is off (None) stays off when left blank, else becomes a float
        assert (got is value is None) or type(got) is (float if before is None
                                                        else type(before)), (dotted, got)
        assert got == value or (isinstance(value, float) and math.isclose(got, value)), (
            dotted, form, got, value)
    untouched = set(leaves(PARAMS)) - set(expected)
    assert all(leaf(out, k) == leaf(PARAMS, k) for k in untouched)


# ---------------------------------------------------------------- invalid: must be refused

NOT_A_SCALAR = st.one_of(st.lists(st.integers(), max_size=2),
                         st.dictionaries(TEXT, st.integers(), max_size=2))
NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf, "nan", "inf", "-inf", "1e999"])
NOT_A_NUMBER = st.sampled_from(["abc", "", "1.2.3", "--5", "1,5", "5-", "0x1F", "None"])


def _int_out_of_range(lo: int, hi: int | None = None):
    below = st.integers(max_value=lo - 1) | st.integers(-10**400, lo - 1)
    return below | st.integers(hi + 1, 10**400) if hi is not None else below


def _float_out_of_range(lo: float | None, hi: float | None = None, inclusive_lo=True):
    parts = [NON_FINITE, NOT_A_NUMBER]
    if lo is not None:
        parts.append(st.floats(max_value=lo, exclude_max=inclusive_lo, allow_nan=False,
                               allow_infinity=False))
    if hi is not None:
        parts.append(st.floats(min_value=hi, exclude_min=True, allow_nan=False,
                               allow_infinity=False))
    return st.one_of(*parts)


INT_BROKEN = st.sampled_from([1.5, "1.5", "abc", "", "1e999", math.nan])
INVALID: dict[str, st.SearchStrategy] = {
    "source": st.one_of(st.text(max_size=20).filter(lambda t: t not in {"synthetic", "csv"}),
                        st.integers(), NOT_A_SCALAR),
    "csv_uri": st.one_of(st.integers(), st.floats(), st.booleans(), NOT_A_SCALAR),
    "rows": _int_out_of_range(1, MAX_ROWS) | INT_BROKEN | NOT_A_SCALAR,
    "seed": _int_out_of_range(0) | INT_BROKEN | NOT_A_SCALAR,
    "price_inflation": _float_out_of_range(-1, inclusive_lo=False) | NOT_A_SCALAR,
    "mileage_shift": _float_out_of_range(-1, inclusive_lo=False) | NOT_A_SCALAR,
    "new_models_share": _float_out_of_range(0, 1) | NOT_A_SCALAR,
    "learning_rate": _float_out_of_range(0, inclusive_lo=False) | NOT_A_SCALAR,
    "max_iter": _int_out_of_range(1) | INT_BROKEN | NOT_A_SCALAR,
    "max_leaf_nodes": _int_out_of_range(2) | INT_BROKEN | NOT_A_SCALAR,
    "interactions": st.sampled_from(["maybe", "", "2", "oui", 2, -1, 0.5, math.nan]) | NOT_A_SCALAR,
    # out of the model's range, or looser than params.yaml's gate
    "gate_min_skill": _float_out_of_range(GATE["min_skill"], 1) | NOT_A_SCALAR,
    "gate_tolerance": _float_out_of_range(0, GATE["tolerance"]) | NOT_A_SCALAR,
    "gate_max_city_effect": _float_out_of_range(0, GATE["max_city_effect"], inclusive_lo=False)
    | NOT_A_SCALAR,
    "gate_max_rmse_log": _float_out_of_range(0, inclusive_lo=False) | NOT_A_SCALAR,
    "gate_min_r2": _float_out_of_range(None, 1) | NOT_A_SCALAR,
    "gate_max_mape": _float_out_of_range(0, inclusive_lo=False) | NOT_A_SCALAR,
    "force": st.sampled_from(["maybe", "", "2", "vrai", 2, -1, 0.5, math.nan]) | NOT_A_SCALAR,
}


def test_the_invalid_table_covers_every_form_field():
    assert set(INVALID) == set(PARAM_ALIASES)


@st.composite
def broken_override(draw) -> tuple[str, object]:
    """One form value that no run may start with: out of range, of the wrong type, an
    unknown key, or a whole section replaced by a value."""
    kind = draw(st.integers(0, 3))
    if kind <= 1:
        name = draw(st.sampled_from(sorted(INVALID)))
        key = name if kind == 0 else PARAM_ALIASES[name]
        return key, draw(INVALID[name])
    if kind == 2:
        return draw(st.sampled_from(SECTIONS)), draw(st.one_of(
            JSON_SCALARS.filter(lambda v: v is not None), st.lists(JSON_SCALARS, max_size=2)))
    key = draw(st.one_of(TEXT, st.sampled_from(["data.rows.x", "data.drift.x", "", ".", ".."]),
                         st.builds(lambda s, t: f"{s}.{t}", st.sampled_from(SECTIONS), TEXT)
                         ).filter(lambda k: k not in KNOWN))
    return key, draw(VALUES)


@fuzz(200)
@given(broken_override(), valid_overrides())
def test_a_broken_form_value_is_refused_in_one_line(broken, valid):
    """Refused even among valid values (none of them for the same key)."""
    key, value = broken
    dotted = PARAM_ALIASES.get(key, key)
    form = {k: v for k, v in valid[0].items() if PARAM_ALIASES.get(k, k) != dotted}
    form[key] = value
    exc = refusal(apply_overrides, PARAMS, form)
    assert isinstance(exc, ParamsError), repr(exc)


def test_nothing_is_applied_to_the_params_passed_in():
    before = repr(PARAMS)
    outcome(apply_overrides, PARAMS, {"rows": 5, "data.drift": "x"})
    apply_overrides(PARAMS, {"rows": 5})
    assert repr(PARAMS) == before
