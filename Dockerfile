# Every image of the carprice package, one multi-stage file, so that
# `docker compose -f docker-compose-full.yml build` builds them all with nothing prebuilt.
# Targets:
#   stage  one pipeline stage (build args EXTRA = its dependency set, STAGE = its name);
#          docker-compose-full.yml has one build-only service per stage
#   app    the Streamlit app (EXTRA=app)
#   api    the prediction API, carprice.api (EXTRA=api)
#   dvc-runner  `dvc repro` of dvc.yaml in the stack (EXTRA=dev: dvc + the Docker SDK);
#          each stage runs in its own stage image (carprice.stages.dvc_run)
# Layer order keeps the dependency layer cached after a code-only change:
# lock -> pip install -> package source -> params.
ARG PYTHON_BASE_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_BASE_IMAGE} AS deps
ARG EXTRA=data
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --gid 1000 carprice \
 && useradd --uid 1000 --gid 1000 --create-home --shell /usr/sbin/nologin carprice
WORKDIR /app
COPY requirements/${EXTRA}.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt "setuptools>=70" && rm /tmp/requirements.txt
COPY pyproject.toml README.md /tmp/carprice/
COPY src /tmp/carprice/src
RUN pip install --no-deps --no-build-isolation /tmp/carprice && rm -rf /tmp/carprice
COPY params.yaml /app/params.yaml
# Named volumes take this ownership when first mounted here: stages (uid 1000) can write.
RUN mkdir -p /app/data /app/models && chown 1000:1000 /app/data /app/models
ENV CARPRICE_PARAMS_FILE=/app/params.yaml \
    CARPRICE_DATA_DIR=/app/data \
    CARPRICE_MODELS_DIR=/app/models
LABEL io.carprice.extra="${EXTRA}"
USER 1000:1000

FROM deps AS stage
ARG STAGE
LABEL io.carprice.stage="${STAGE}"
ENV CARPRICE_STAGE=${STAGE}
ENTRYPOINT ["python", "-m", "carprice.stages"]
# Last, so a new commit only re-tags, never re-installs.
ARG GIT_COMMIT=unknown
ENV CARPRICE_GIT_COMMIT=${GIT_COMMIT}

FROM deps AS app
COPY --chown=1000:1000 app/ /app/app/
# `docker compose exec streamlit python scripts/train_with_mlflow.py` trains from here.
COPY --chown=1000:1000 scripts/train_with_mlflow.py /app/scripts/train_with_mlflow.py
EXPOSE 8501
CMD ["streamlit", "run", "app/streamlit_app.py", "--server.headless=true", "--server.address=0.0.0.0", "--server.port=8501", "--browser.gatherUsageStats=false"]
ARG GIT_COMMIT=unknown
ENV CARPRICE_GIT_COMMIT=${GIT_COMMIT}

FROM deps AS api
# One scoring thread per process: OpenMP threads only add contention on small requests.
ENV OMP_NUM_THREADS=1
EXPOSE 8000
CMD ["uvicorn", "carprice.api:app", "--host", "0.0.0.0", "--port", "8000", "--no-access-log"]
ARG GIT_COMMIT=unknown
ENV CARPRICE_GIT_COMMIT=${GIT_COMMIT}

FROM deps AS dvc-runner
# A DVC workspace without git (core.no_scm): dvc.yaml, params.yaml and the files the
# stages' deps name; the run folders live on the stack's data volume (/app/data).
USER root
COPY --chown=1000:1000 dvc.yaml .dvcignore Dockerfile /app/
COPY --chown=1000:1000 .dvc/config /app/.dvc/config
COPY --chown=1000:1000 requirements /app/requirements
COPY --chown=1000:1000 src /app/src
RUN chown 1000:1000 /app /app/params.yaml
USER 1000:1000
RUN dvc config --local core.no_scm true && dvc config --local core.analytics false
ENV CARPRICE_DVC_DOCKER=1
CMD ["dvc", "repro"]
ARG GIT_COMMIT=unknown
ENV CARPRICE_GIT_COMMIT=${GIT_COMMIT}
