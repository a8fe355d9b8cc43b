# derivbot: the bot image. Installs the package exactly as the README's set-up does
# (scripts/_venv.sh: a virtualenv + pip install of this directory). No secrets in the image:
# keys come from the env file named in docker-compose.yml at run time.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DERIVBOT_VENV=/opt/derivbot-venv
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY strategies ./strategies
COPY config ./config
COPY scripts ./scripts
RUN bash -c 'source scripts/_venv.sh && install_derivbot ""'
ENV PATH="/opt/derivbot-venv/bin:${PATH}"

RUN useradd --create-home --uid 1000 derivbot && mkdir -p /app/data && chown -R derivbot /app/data
USER derivbot
ENTRYPOINT ["derivbot"]
CMD ["run", "--mode", "paper"]
