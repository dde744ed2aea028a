# Image of the source-billing connector; build from this folder: `docker build -t airbyte/source-billing:dev .`
# Airbyte's Python 3.11 connector base (4.0.2); it already defines the non-root `airbyte` user (uid 1000).
# Keep this line equal to `connectorBuildOptions.baseImage` in metadata.yaml (unit_tests/test_packaging.py checks).
FROM docker.io/airbyte/python-connector-base:4.0.2@sha256:9fdb1888c4264cf6fee473649ecb593f56f58e5d0096a87ee0b231777e2e3e73

WORKDIR /airbyte/integration_code

# Only what `pip install .` needs: the build configuration, the entry script and the packages (with spec.yaml
# and schemas as package data). The distribution holds both connectors (the destination reuses the source's
# modules), so its `destination-billing` script works here too. .dockerignore keeps everything else out.
COPY pyproject.toml setup.py main.py ./
COPY source_billing ./source_billing
COPY destination_billing ./destination_billing
RUN pip install --no-cache-dir .

LABEL io.airbyte.name=airbyte/source-billing
LABEL io.airbyte.version=0.1.0

# The base image's `airbyte` user, by uid so that Kubernetes' `runAsNonRoot` can verify it is not root.
USER 1000

ENV AIRBYTE_ENTRYPOINT="python /airbyte/integration_code/main.py"
ENTRYPOINT ["python", "/airbyte/integration_code/main.py"]
