# The app image for compose.yaml: the same install (make install) and the same server command
# (bin/serve) as everywhere else. Docker cannot run on the machines this project is tested on;
# the commands it runs are the ones the test suite runs.
FROM python:3.11-slim

RUN apt-get update && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /srv/chat chat
WORKDIR /srv/chat
COPY --chown=chat pyproject.toml README.md Makefile manage.py ./
COPY --chown=chat bin bin
COPY --chown=chat config config
COPY --chown=chat chat chat
USER chat
RUN make install
# The files volume's mount point, owned by the app's user (a new volume takes its owner).
RUN mkdir -p /srv/chat/var/files
# Hashed static files are part of the release; the key only lets settings load for this step.
RUN DJANGO_SECRET_KEY=collectstatic-only DJANGO_STATIC_ROOT=/srv/chat/staticfiles \
    .venv/bin/python manage.py collectstatic --no-input

ENV PATH=/srv/chat/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DJANGO_DEBUG=0 \
    DJANGO_STATIC_ROOT=/srv/chat/staticfiles
EXPOSE 8000
CMD ["bin/serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
