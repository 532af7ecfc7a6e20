# carprice-dvc-runner: `dvc repro` of dvc.yaml in the stack (EXTRA=dev: dvc + the Docker
# SDK); each stage runs as a sibling container of its stage image (stages/Dockerfile).
# FROM carprice-base (docker/base.Dockerfile): its ONBUILD steps install the dev lock,
# the package and params.yaml here.
ARG CARPRICE_BASE_IMAGE=carprice-base:latest
FROM ${CARPRICE_BASE_IMAGE}
# A DVC workspace without git (core.no_scm): dvc.yaml, params.yaml and the files the
# stages' deps name; the run folders live on the stack's data volume (/app/data).
USER root
COPY --chown=1000:1000 dvc.yaml .dvcignore /app/
COPY --chown=1000:1000 stages/Dockerfile /app/stages/Dockerfile
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
