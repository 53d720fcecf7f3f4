FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PULSE_VAR_DIR=/app/var
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN SECRET_KEY=build-only-collectstatic-key python manage.py collectstatic --noinput \
    && useradd --create-home pulse && mkdir -p /app/var && chown -R pulse /app/var
USER pulse
EXPOSE 8000
CMD ["gunicorn", "pulse.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
