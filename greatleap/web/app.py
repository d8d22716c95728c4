"""The explorer's web application (FastAPI): the page, its static files and the documented API.

Every request is checked before anything runs: a malformed or out-of-range request gets a 4xx
whose JSON names the field, the value and what is allowed (``{"error", "field", "value",
"allowed"}``), never a 500 and never a half-run. The OpenAPI description is at
``/api/openapi.json`` (the interactive docs are off: they would load scripts from a CDN).
"""
from __future__ import annotations

import math
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from greatleap import __version__
from greatleap.provenance import source_hash
from greatleap.scenario import ScenarioError, builtin_names, load_scenario
from greatleap.web import official
from greatleap.web.export import scenario_toml, tables_zip
from greatleap.web.levers import GROUPS, LeverError, describe_levers
from greatleap.web.pool import Busy, RunFailed, RunPool, RunTimeout
from greatleap.web.service import Config, RunService, WhyService

STATIC = resources.files("greatleap.web") / "static"
SEED_MAX = 2**31 - 1
SCALE_RANGE = (1000.0, 100000.0)  # coarser scales leave too few agents per province
ALLOWED = {
    "scenario": "a built-in scenario: " + ", ".join(builtin_names()),
    "levers": "an object {lever name: value}; GET /api/levers lists the levers",
    "seed": f"an integer 0 .. {SEED_MAX}",
    "scale": f"a number {SCALE_RANGE[0]:g} .. {SCALE_RANGE[1]:g} (real persons per agent)",
    "format": "csv or parquet",
    "draw": "with --posterior: a draw 0 .. --draws - 1 (null: the calibrated point)",
}


class WhyRequest(BaseModel):
    """A page state: a built-in scenario and the levers moved away from history."""
    model_config = ConfigDict(extra="forbid")
    scenario: str = Field("historical", description=ALLOWED["scenario"])
    levers: dict[str, Any] = Field(default_factory=dict, description=ALLOWED["levers"],
                                   examples=[{"procurement_rate": 0.3, "honest_reporting": 1}])


class WhyStart(WhyRequest):
    """A page state, and whether to start the breakdown if it is neither done nor under way."""
    start: bool = Field(True, description="false: only report a finished or running breakdown")


class ExcessRequest(WhyRequest):
    """A page state, its first seed and the scale (default: the server's ``--scale``)."""
    seed: int = Field(1, ge=0, le=SEED_MAX, description=ALLOWED["seed"])
    scale: float | None = Field(None, ge=SCALE_RANGE[0], le=SCALE_RANGE[1], description=ALLOWED["scale"])


class RunRequest(ExcessRequest):
    """A page state, the run's seed and scale, and (with ``--posterior``) which parameter draw."""
    draw: int | None = Field(None, ge=0, description=ALLOWED["draw"])


def refuse(status: int, field: str, value: Any, allowed: str, message: str | None = None) -> JSONResponse:
    if isinstance(value, float) and not math.isfinite(value):
        value = str(value)  # JSON has no NaN or infinity
    text = message or f"{field} = {value!r}: not allowed; allowed: {allowed}"
    return JSONResponse({"error": text, "field": field, "value": value, "allowed": allowed}, status_code=status)


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    err = exc.errors()[0]
    loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
    if err.get("type") == "json_invalid":
        return refuse(400, "body", None, "a JSON object", "body: not valid JSON; allowed: a JSON object")
    if err.get("type") == "missing" and not loc:
        return refuse(422, "body", None, "a JSON object", "body: missing; allowed: a JSON object")
    field = ".".join(loc) or "body"
    value = err.get("input")
    value = value if isinstance(value, (int, float, str, bool, type(None))) else str(value)
    if err.get("type") == "extra_forbidden":
        allowed = "the fields " + ", ".join(RunRequest.model_fields)
        return refuse(422, field, value, allowed, f"{field}: unknown field; allowed: {allowed}")
    allowed = ALLOWED.get(loc[0] if loc else "", "see /api/openapi.json")
    return refuse(422, field, value, allowed, f"{field} = {value!r}: {err.get('msg', 'invalid')}; allowed: {allowed}")


def create_app(config: Config) -> FastAPI:
    pool = RunPool(config.workers, config.queue, config.run_timeout)
    runs = RunService(config, pool)
    why = WhyService(config, runs)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await pool.start()
        await why.start()
        yield
        await why.stop()
        await pool.stop()

    app = FastAPI(title="greatleap explorer", version=__version__, lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url="/api/openapi.json",
                  description="Pull the levers of 1958: run the Great Leap Forward simulator from a web page.")
    app.state.config, app.state.runs, app.state.why = config, runs, why

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc)

    @app.exception_handler(LeverError)
    async def _lever(request: Request, exc: LeverError) -> JSONResponse:
        return refuse(422, exc.field, exc.value, exc.allowed, str(exc))

    @app.exception_handler(ScenarioError)
    async def _scenario(request: Request, exc: ScenarioError) -> JSONResponse:
        return refuse(422, "levers", None, "a combination the scenario schema accepts", str(exc).replace("\n", "; "))

    @app.exception_handler(Busy)
    async def _busy(request: Request, exc: Busy) -> JSONResponse:
        return JSONResponse({"error": str(exc), "busy": True}, status_code=503, headers={"Retry-After": "2"})

    @app.exception_handler(RunTimeout)
    async def _timeout(request: Request, exc: RunTimeout) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=504)

    @app.exception_handler(RunFailed)
    async def _failed(request: Request, exc: RunFailed) -> JSONResponse:
        return JSONResponse({"error": f"the run failed: {exc}"}, status_code=500)

    # ---------------------------------------------------------------- the page
    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"), media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    async def plotly_js() -> Response:
        path = official.plotly_path()
        if path is None:
            return PlainTextResponse("plotly is not installed: pip install 'greatleap[web]'", status_code=404)
        return FileResponse(str(path), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    # ---------------------------------------------------------------- the API
    @app.get("/api/levers", summary="Every lever, preset and page default")
    async def levers() -> dict:
        """Each lever with its historical value, range, unit, one-line explanation and source; the
        built-in scenarios (presets); the page's default scale, seeds per draw, posterior draws (0: the
        calibrated point) and the sentence saying what the intervals carry."""
        return {"levers": describe_levers(), "groups": list(GROUPS),
                "presets": [{"name": n, "description": load_scenario(n).description} for n in builtin_names()],
                "defaults": {"scenario": "historical", "seed": 1, "scale": config.scale, "seeds": config.seeds,
                             **runs.cfg_view()},
                "why": {"scale": config.why_scale, "permutations": config.why_permutations},
                "source_hash": source_hash(), "version": __version__}

    @app.get("/api/history", summary="The official and reconstructed series drawn behind the runs")
    async def history() -> dict:
        """Registered CBR/CDR (CSY 1999), Banister's reconstruction, grain output, procurement and
        rural retention (official), and the survival line for retention."""
        return official.series()

    @app.post("/api/run", summary="Run a page state")
    async def run(req: RunRequest) -> dict:
        """Run ``scenario`` with ``levers`` moved (cached by scenario, seed, scale and source hash).
        Returns the annual series, the headline metrics (excess deaths 1958-62), excess deaths by
        province, hunger and violence deaths by age group and class, and ``meta`` (run key, cached).
        With ``--posterior``, ``draw`` picks one of the server's parameter sets; the levers act on top."""
        return await runs.run(req.scenario, req.levers, req.seed, req.scale or config.scale, req.draw)

    @app.post("/api/excess", summary="Excess deaths of a page state with its interval")
    async def excess(req: ExcessRequest) -> dict:
        """Excess deaths 1958-62 over every run behind the page's interval (posterior draws x seeds,
        or seeds alone), each paired with history under the same draw and seed; mean, 5-95% and range
        of the excess and of the change against history, the draw count and what the interval carries."""
        return await runs.excess(req.scenario, req.levers, req.seed, req.scale or config.scale)

    @app.post("/api/why", summary="Start (or look up) the Shapley breakdown of a page state")
    async def why_start(req: WhyStart) -> dict:
        """Excess deaths of the state split among mechanisms by Shapley values, at the coarse scale.
        Built-in scenarios are computed exactly (and in the background at start-up); a state with
        moved levers by sampled orderings. Poll ``GET /api/why/{id}`` for progress."""
        return why.submit(req.scenario, req.levers, start=req.start).view()

    @app.get("/api/why/{job_id}", summary="Progress or result of a Shapley breakdown")
    async def why_get(job_id: str):
        job = why.get(job_id)
        if job is None:
            return refuse(404, "id", job_id, "an id returned by POST /api/why")
        return job.view()

    @app.get("/api/scenario.toml", summary="The page state as a TOML scenario", response_class=PlainTextResponse)
    async def toml(request: Request, scenario: str = Query("historical", description=ALLOWED["scenario"])):
        """Query: ``scenario`` and one parameter per moved lever (as in the page's URL)."""
        levers = {k: v for k, v in request.query_params.items() if k not in ("scenario", "seed", "scale")}
        preset, moved, data = runs.scenario(scenario, levers)
        name = data["name"].replace("+", "-")
        return PlainTextResponse(scenario_toml(preset, moved, data), media_type="application/toml",
                                 headers={"Content-Disposition": f'attachment; filename="{name}.toml"'})

    @app.get("/api/runs/{key}/tables.zip", summary="A finished run's tables (CSV or Parquet)")
    async def tables(key: str, format: str = Query("csv", description=ALLOWED["format"])):
        if format not in ("csv", "parquet"):
            return refuse(422, "format", format, ALLOWED["format"])
        folder = runs.folder(key)
        if folder is None:
            return refuse(404, "key", key, "the meta.key of a run made by POST /api/run")
        return Response(tables_zip(folder, format), media_type="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="greatleap-{key}-{format}.zip"'})

    @app.get("/api/health", summary="Workers, queue and Shapley jobs")
    async def health() -> dict:
        return {"pool": pool.status(), "why": why.status(), "source_hash": source_hash()}

    return app
