"""Names of the environment variables a stage process reads for its folders and provenance.

The launchers set them (carprice.pipeline.container); the stages, the sources and the
serving code read them.
"""

ENV_RUN_ID = "CARPRICE_RUN_ID"
ENV_DATA_DIR = "CARPRICE_DATA_DIR"
ENV_MODELS_DIR = "CARPRICE_MODELS_DIR"
# Where a csv_uri of inbox/<file> is read from (default: <data dir>/inbox).
ENV_INBOX_DIR = "CARPRICE_INBOX_DIR"
# Provenance the launcher hands to stage containers (tags on registered versions).
ENV_DAG_ID = "CARPRICE_DAG_ID"
ENV_IMAGE = "CARPRICE_IMAGE"
ENV_GIT_COMMIT = "CARPRICE_GIT_COMMIT"
