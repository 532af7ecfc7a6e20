# carprice-base: the recipe every image of the carprice package shares, written once.
# Built by the build-only service `carprice-base` of docker-compose-full.yml; each image
# starts FROM it:
#   stages/Dockerfile              carprice-stage-<set>  (EXTRA = data | ml | monitor)
#   stages/dvc-runner.Dockerfile   carprice-dvc-runner   (EXTRA = dev)
#   app/Dockerfile                 carprice-app          (EXTRA = app)
#   src/carprice/api/Dockerfile    carprice-api          (EXTRA = api)
#
# Built here once: the Python base, its settings and the user (uid/gid 1000).
# ONBUILD: run at the top of each image built FROM this one, in that build, with its
# context and its build arg EXTRA (the dependency set, requirements/<EXTRA>.txt).
# Layer order keeps the dependency layer cached after a code-only change:
# lock -> pip install -> package source -> params. An image's own steps follow, and each
# ends with ARG GIT_COMMIT / ENV CARPRICE_GIT_COMMIT (a new commit only re-tags).
ARG PYTHON_BASE_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_BASE_IMAGE}
# MLflow 3 sends usage telemetry by default: a self-hosted stack keeps it off.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MLFLOW_DISABLE_TELEMETRY=true
RUN groupadd --gid 1000 carprice \
 && useradd --uid 1000 --gid 1000 --create-home --shell /usr/sbin/nologin carprice
WORKDIR /app
ONBUILD ARG EXTRA
ONBUILD COPY requirements/${EXTRA}.txt /tmp/requirements.txt
ONBUILD RUN pip install -r /tmp/requirements.txt "setuptools>=70" && rm /tmp/requirements.txt
ONBUILD COPY pyproject.toml README.md /tmp/carprice/
ONBUILD COPY src /tmp/carprice/src
ONBUILD RUN pip install --no-deps --no-build-isolation /tmp/carprice && rm -rf /tmp/carprice
ONBUILD COPY params.yaml /app/params.yaml
# Named volumes take this ownership when first mounted here: stages (uid 1000) can write.
ONBUILD RUN mkdir -p /app/data /app/models && chown 1000:1000 /app/data /app/models
ONBUILD ENV CARPRICE_PARAMS_FILE=/app/params.yaml \
    CARPRICE_DATA_DIR=/app/data \
    CARPRICE_MODELS_DIR=/app/models
ONBUILD LABEL io.carprice.extra="${EXTRA}"
ONBUILD USER 1000:1000
