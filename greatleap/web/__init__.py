"""The explorer (``greatleap serve``): a web page where anyone can pull the levers of 1958.

- :mod:`greatleap.web.levers`: the one table mapping each web lever to its scenario change;
- :mod:`greatleap.web.jobs`: what a run worker does (a run summarised for the page; a Shapley breakdown);
- :mod:`greatleap.web.pool`: bounded worker processes (at most N at once, time limit, busy answer);
- :mod:`greatleap.web.service`: request -> scenario -> cached or fresh run; Shapley jobs;
- :mod:`greatleap.web.app`: the FastAPI application (page, static files, API);
- ``static/``: the page (HTML, CSS, JavaScript; charts with Plotly's bundled script).

Only ``app`` needs the ``web`` extra (FastAPI, uvicorn, plotly); the rest is plain greatleap.
"""
