# The image the k8s/ manifests run. Build: docker build -t koprogo-graph .
FROM python:3.12-slim
RUN useradd --create-home --uid 10001 koprogo
WORKDIR /app
COPY pyproject.toml README.md ./
COPY koprogo_graph ./koprogo_graph
COPY migrations ./migrations
RUN pip install --no-cache-dir .
USER koprogo
EXPOSE 8000
ENTRYPOINT ["koprogo-graph"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
