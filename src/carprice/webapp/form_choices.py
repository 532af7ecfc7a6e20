"""What a car form offers: the data contract's vocabularies plus the categories the
served model learned (e.g. brands from a CSV source the catalog lacks)."""

from __future__ import annotations

from dataclasses import dataclass

from carprice.contract import catalog, schema


@dataclass(frozen=True)
class Choices:
    brands: list[str]
    models_by_brand: dict[str, list[str]]
    cities: list[str]
    closed: dict[str, list[str]]
    learned: dict[str, list[str]]

    def unseen(self, car: dict) -> list[str]:
        """Open-category values of ``car`` the served model never saw in training."""
        out = []
        for col in schema.OPEN_CATEGORIES:
            known = self.learned.get(col)
            if known and car.get(col) not in known:
                out.append(f"{col} '{car.get(col)}'")
        return out


def form_choices(learned: dict[str, list[str]] | None = None) -> Choices:
    """Form options from the contract and ``learned`` (serving.model_categories).

    Brands/models/cities the model learned but the catalog lacks are offered too; their
    models are listed under every brand that is not in the catalog, since the model's
    categories are not grouped by brand.
    """
    learned = {k: [v for v in vs if v != schema.MISSING_CATEGORY]
               for k, vs in (learned or {}).items()}
    by_brand = {b: list(ms) for b, ms in catalog.brand_models().items()}
    catalog_models = {m for ms in by_brand.values() for m in ms}
    extra_models = sorted(set(learned.get("model", [])) - catalog_models)
    for brand in learned.get("brand", []):
        if brand not in by_brand:
            by_brand[brand] = extra_models or [schema.MISSING_CATEGORY]
    cities = list(schema.OPEN_CATEGORIES["city"])
    cities += sorted(set(learned.get("city", [])) - set(cities))
    return Choices(brands=sorted(by_brand), models_by_brand=by_brand, cities=cities,
                   closed={k: list(v) for k, v in schema.CLOSED_CATEGORIES.items()},
                   learned=learned)
