# konvsync in a container (for teams that run their CI jobs in images):
#   docker build -t konvsync .
#   docker run --rm -v "$PWD:/work" -e KONVERT_API_KEY -e KONVERT_API_SECRET konvsync plan portal
# Build it from a commit you reviewed; the image runs as a non-root user
# with /work as its working directory.
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY konvsync ./konvsync
COPY schemas ./schemas
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels \
    && useradd --create-home --uid 10001 --user-group konvsync
USER konvsync
WORKDIR /work
ENTRYPOINT ["konvsync"]
CMD ["--help"]
