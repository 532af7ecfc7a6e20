"""The linear candidate: ridge regression on log price over the same features as the
boosted trees (one-hot categories, imputed and scaled numbers), with the same interface
as CarPriceModel (predict_interval and its split-conformal interval, categories_, q_log_)
and saved the same ways (pickle in the pyfunc, skops for serving)."""

from __future__ import annotations

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from carprice.contract import schema
from carprice.model.estimator import MAX_CATEGORIES, CarPriceModel


def build_ridge_pipeline(alpha: float) -> Pipeline:
    """One-hot categories (rare and unseen values share the infrequent column or none),
    numbers imputed with their median (blanks reach the model as NaN) and scaled, then
    ridge on log price: each category multiplies the price by a factor."""
    encode = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="infrequent_if_exist",
                                  max_categories=MAX_CATEGORIES, sparse_output=False),
             list(schema.CATEGORICAL)),
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
             [*schema.NUMERIC, *schema.BOOLEAN]),
        ],
        verbose_feature_names_out=False,
    )
    return Pipeline([("encode", encode), ("ridge", Ridge(alpha=alpha))])


class CarPriceRidge(CarPriceModel):
    """A CarPriceModel whose pipeline is ridge regression (fit, interval and loading are
    the parent's: only the pipeline differs)."""

    def __init__(self, *, alpha: float, interval_coverage: float, random_state: int = 0):
        # The boosting keys mean nothing here; they stay as attributes the parent's
        # methods never read for this pipeline.
        self.alpha = alpha
        self.interval_coverage = interval_coverage
        self.random_state = random_state

    def _build_pipeline(self) -> Pipeline:
        return build_ridge_pipeline(self.alpha)

    def compiled_pipeline(self) -> None:
        # fast_scorer compiles boosted trees only; ridge predicts through its pipeline
        return None
