# konvsync in a container (for teams that run their CI jobs in images):
#   docker build -t konvsync .
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/work" \
#     -e KONVERT_API_KEY -e KONVERT_API_SECRET konvsync plan portal
# Build it from a commit you reviewed. The image runs as a non-root user
# (uid 10001) with /work as its working directory; `--user "$(id -u):$(id -g)"`
# runs it as you, so that what konvsync writes into the mounted folder
# (export --out, plan --out, drift --write, the sandbox's .konvsync/) is
# yours and the folder need not be writable by uid 10001.
# `docker run konvsync ARGS` runs konvsync ARGS; any command the image has
# runs as given (docker/entrypoint.sh), so it also serves as a CI job image:
# the GitLab template's jobs need git, curl and python3, which it has.
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
# git and curl for CI jobs (the GitLab template's apply and drift jobs);
# a checkout made by the CI runner as another user is still a repository
# git works in (safe.directory).
RUN apt-get update \
    && apt-get install --yes --no-install-recommends git curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system --add safe.directory '*'
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels \
    && useradd --create-home --uid 10001 --user-group konvsync
COPY docker/entrypoint.sh /usr/local/bin/konvsync-entrypoint
USER konvsync
WORKDIR /work
ENTRYPOINT ["konvsync-entrypoint"]
CMD ["--help"]
