"""The web process loads no machine-learning library before its first request: they cost
it about 140 MB (scikit-learn, SciPy, pandas, statsmodels, polars), which alone would
break the 300 MB budget for serving a 1,000,000-item project. The worker and the few
endpoints that compute with them import them on first use."""
from bench.web_memory import HEAVY, web_imports


def test_django_setup_urls_and_asgi_import_no_heavy_library(tmp_path):
    loaded = web_imports({"LABELER_VAR_DIR": str(tmp_path / "var")})
    assert loaded["heavy"] == [], f"the web process imports {', '.join(loaded['heavy'])} (of {', '.join(HEAVY)})"
