"""The MLflow model registry: aliases, version tags, the promotion gate, the exported copy.

Aliases only, never the deprecated stages.
"""

STAGING_ALIAS = "staging"  # the candidate that passed the gate and the smoke check
PRODUCTION_ALIAS = "production"  # the model the app and the API serve
