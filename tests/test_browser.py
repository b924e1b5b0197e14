"""End to end in a real browser: JupyterLab runs notebook 01, its training figure updates
while the sweep trains, and its depth slider redraws.

What this proves, beyond nbval (which executes notebooks without a front end): the course
notebook opens in JupyterLab, *Run > Run All Cells* runs it to the end without an error, the
live figure of the experiment cell (``reslab.course.live.LiveCurves``) shows at least two different
pictures while that cell is still running, the ipywidgets front end renders the
``curve_browser`` widget, and moving its
"depth" slider from 56 to 20 makes the kernel redraw the plot for 20 layers. Screenshots of
before and after go to ``results/browser-test/`` (overwritten on each run).

The server is a JupyterLab subprocess on 127.0.0.1 (a free port, a token) serving a temporary
copy of the notebook, so autosave never writes into the repository; it inherits this pytest
run's environment, hence the smoke budget set by ``conftest.py``. The browser is Debian's
``/usr/bin/chromium``, headless, driven by Playwright (whose own browser downloads are not
used). Pitfalls worked around:

* As root, jupyter refuses to start without ``--allow-root``.
* The toolbar's kernel indicator reads idle before the kernel's websocket is open, and a Run
  All sent then is silently lost: we wait for the status bar's ``Python 3 (ipykernel) | Idle``.
* A "news" notification pops up over the notebook unless disabled: the server reads user
  settings from a temporary directory holding ``fetchNews: "false"``. The same directory turns
  off notebook windowing, so every cell stays in the page while we read its prompt.
* Chromium here needs ``--no-sandbox`` (root) and no GPU, and must not phone home.
* Kernels run in their own process groups, so cleanup asks the server to shut down, then
  kills the server's process group and any of its descendants still alive.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from reslab.paths import browser_test_dir

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "01_degradation.ipynb"
SHOTS = browser_test_dir()
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT = {"width": 1400, "height": 1000}
TOKEN = "reslab-browser-test"

# User settings for the server: no news or update checks, no notebook windowing.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}

# Timeouts in seconds: generous for 2 busy CPU cores, finite so a hang fails the test.
SERVER_START_S = 90
KERNEL_IDLE_S = 120
RUN_START_S = 60
RUN_ALL_S = 900  # the whole notebook; each cell also has its reslab.course.headless limit
REDRAW_S = 60
SHUTDOWN_S = 15

STATUS_BAR = "#jp-main-statusbar"
KERNEL_IDLE_TEXT = "Python 3 (ipykernel) | Idle"
BUSY_PROMPT = "[*]:"
DONE_PROMPT = re.compile(r"^\[\d+\]:$")
DEPTH_BEFORE, DEPTH_AFTER = "56", "20"

sync_api = pytest.importorskip("playwright.sync_api",
                               reason="the playwright Python package is not installed")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(1200),
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                       reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
]


# --- the JupyterLab server ------------------------------------------------------------------

def _free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_lab_settings(settings_dir: Path) -> None:
    """Write LAB_SETTINGS as JupyterLab user settings files under ``settings_dir``."""
    for name, values in LAB_SETTINGS.items():
        path = settings_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _api(base: str, path: str, method: str = "GET") -> bytes:
    """Call the server's REST API with the token; raises OSError if it does not answer."""
    request = urllib.request.Request(f"{base}{path}", method=method,
                                     headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.read()


def _wait_for_server(process: subprocess.Popen, base: str, log: Path) -> None:
    """Return once the server answers /api/status; fail if it exits or takes too long."""
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"jupyter lab exited with {process.returncode}:\n{log.read_text()}")
        try:
            _api(base, "/api/status")
            return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"jupyter lab did not answer within {SERVER_START_S} s:\n{log.read_text()}")


def _descendants(pid: int) -> list[int]:
    """PIDs of all live descendants of ``pid`` (read from /proc, so Linux only)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except (OSError, ValueError):
            continue
        if entry.name.isdigit():
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _stop_server(process: subprocess.Popen, base: str) -> None:
    """Shut the server and its kernels down: politely first, then by signals."""
    leftovers = _descendants(process.pid)
    try:
        _api(base, "/api/shutdown", method="POST")
        process.wait(timeout=SHUTDOWN_S)
    except (OSError, subprocess.TimeoutExpired):
        pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is None:
            try:
                os.killpg(process.pid, sig)
                process.wait(timeout=SHUTDOWN_S)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
    for pid in leftovers:  # kernels live in process groups of their own
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server serving a copy of NOTEBOOK; yields its base URL."""
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(NOTEBOOK, served / NOTEBOOK.name)
    _write_lab_settings(tmp_path / "settings")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "PYTHONUNBUFFERED": "1",
           # runs of its own: the suite's other notebook runs would be resumed, finished,
           # and a finished run draws no live curve
           "RESLAB_RUNS": str(tmp_path / "runs")}
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}",
               f"--ServerApp.root_dir={served}",
               f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
               f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}"]
    log = tmp_path / "jupyter.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=served, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for_server(process, base, log)
        yield base
    finally:
        _stop_server(process, base)


# --- the page ---------------------------------------------------------------------------------

def _prompts(page) -> list[str]:
    """The execution prompts of all code cells, e.g. ``['[1]:', '[*]:', '[ ]:']``."""
    texts = page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").all_inner_texts()
    return [t.strip() for t in texts]


def _wait_until(condition, timeout_s: float, what: str, poll_s: float = 0.5) -> None:
    """Poll ``condition()`` until it is true; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(poll_s)


def _wait_for_idle_kernel(page) -> None:
    """Wait for the status bar to report the kernel connected and idle.

    Not the toolbar's circle: it shows idle before the kernel's websocket is open.
    """
    status_bar = page.locator(STATUS_BAR)
    status_bar.get_by_text(KERNEL_IDLE_TEXT, exact=True).wait_for(timeout=KERNEL_IDLE_S * 1000)


def _open_notebook(page, base: str) -> None:
    """Open the notebook and wait until its kernel's connection is up and idle."""
    page.goto(f"{base}/lab/tree/{NOTEBOOK.name}?token={TOKEN}")
    page.locator(".jp-Notebook .jp-CodeCell").first.wait_for(timeout=KERNEL_IDLE_S * 1000)
    _wait_for_idle_kernel(page)


def _cell(page, text: str):
    """The code cell whose text (input or output) contains ``text``."""
    return page.locator(".jp-Notebook .jp-CodeCell").filter(has_text=text).first


def _run_all_cells(page, watch=lambda: None) -> None:
    """Run > Run All Cells, then wait until no cell is queued or running and all ran;
    ``watch()`` is called at every poll while the cells run."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    _wait_until(lambda: BUSY_PROMPT in _prompts(page), RUN_START_S, "the run to start")

    limits = _cell_limits()
    busy: dict[str, float] = {}

    def finished() -> bool:
        watch()
        prompts = _prompts(page)
        if BUSY_PROMPT not in prompts:
            return True
        index = prompts.index(BUSY_PROMPT)
        since = busy.setdefault(str(index), time.monotonic())
        limit, first_line = limits[index]
        if time.monotonic() - since > limit:
            pytest.fail(f"{NOTEBOOK.name}: code cell {index} ran past its {limit} s limit "
                        f"(reslab.course.headless): {first_line}")
        return False
    _wait_until(finished, RUN_ALL_S, "all cells to run", poll_s=0.2)
    _wait_for_idle_kernel(page)
    prompts = _prompts(page)
    not_run = [i for i, p in enumerate(prompts) if not DONE_PROMPT.match(p)]
    if not_run:
        cell = page.locator(".jp-Notebook .jp-CodeCell").nth(max(0, not_run[0] - 1))
        pytest.fail(f"code cells {not_run} did not run (prompts {prompts}); the cell before "
                    f"the first of them printed:\n{cell.locator('.jp-OutputArea').inner_text()}")


def _cell_limits() -> list[tuple[int, str]]:
    """Each code cell's limit (reslab.course.headless, as headless runs use) and its first line."""
    import nbformat

    from reslab.course.headless import cell_timeout
    cells = [c for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    return [(cell_timeout(c), (c.source.splitlines() or [""])[0][:80]) for c in cells]


def _plot_src(widget) -> str:
    """The data URL of the plot the widget's output area shows ('' while there is none)."""
    images = widget.locator(".jp-OutputArea img")
    if images.count() == 0:
        return ""
    return images.first.get_attribute("src") or ""


def _clear_screenshots() -> None:
    """Create SHOTS, removing a previous run's pictures so none is mistaken for this run's."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("01_*.png"):
        old.unlink()


def _screenshot(page, widget, name: str) -> None:
    """Save the page and the widget as ``SHOTS/<name>.png`` and ``SHOTS/<name>_widget.png``."""
    widget.scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / f"{name}.png")
    widget.screenshot(path=SHOTS / f"{name}_widget.png")


def _assert_stored_figure_shows(page) -> None:
    """Before anything runs, the stored figure (a Markdown attachment) is a loaded image."""
    stored = page.locator(".jp-MarkdownCell", has_text="The kit's own run").locator("img")
    stored.wait_for(timeout=KERNEL_IDLE_S * 1000)
    _wait_until(lambda: stored.evaluate("img => img.complete && img.naturalWidth > 0"), 30,
                "the stored figure to load")
    stored.scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / "01_stored_figure.png")


# --- the test -------------------------------------------------------------------------------

def test_live_curves_update_while_training_and_depth_slider_redraws(lab):
    _clear_screenshots()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        try:
            _open_notebook(page, lab)
            _assert_stored_figure_shows(page)
            live, seen = _cell(page, "live.LiveCurves("), []

            def watch() -> None:  # every distinct picture the live figure shows while training
                src = _plot_src(live)
                if src and (not seen or seen[-1] != src) and BUSY_PROMPT in \
                        live.locator(".jp-InputPrompt").inner_text():
                    seen.append(src)
            _run_all_cells(page, watch)
            assert len(seen) >= 2, f"the live figure was drawn {len(seen)} time(s) in training"
            live.scroll_into_view_if_needed()
            page.screenshot(path=SHOTS / "01_live.png")

            widget = _cell(page, "widgets.curve_browser(").locator(".widget-vbox")
            slider = widget.locator(".widget-hslider")
            readout = slider.locator(".widget-readout")
            assert slider.locator(".widget-label").inner_text() == "depth"
            assert readout.inner_text() == DEPTH_BEFORE
            before = _plot_src(widget)
            assert before.startswith("data:image/png;base64,"), "no plot under the slider"
            _screenshot(page, widget, "01_before")

            slider.locator(".noUi-handle").focus()
            page.keyboard.press("Home")
            _wait_until(lambda: readout.inner_text() == DEPTH_AFTER, REDRAW_S,
                        f"the slider to read {DEPTH_AFTER}")
            _wait_until(lambda: _plot_src(widget) not in ("", before), REDRAW_S,
                        "the plot to be redrawn")
            _wait_for_idle_kernel(page)
            _screenshot(page, widget, "01_after")
        except BaseException:  # pytest.fail raises a BaseException
            page.screenshot(path=SHOTS / "01_failure.png")
            raise
        finally:
            browser.close()
