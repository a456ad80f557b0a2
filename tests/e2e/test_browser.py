"""The report pages in a real browser: headless Chromium (Debian's chromium and
chromium-driver, installed by `make test-e2e`) opens index.html, follows every link, and
checks that each page loads with all its images and no console errors."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from support import REPO
from support.report_run import report_run
from support.reproductions import PAPER, PUBLISHED, write_fixture

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="session")
def run(tmp_path_factory):
    return report_run(tmp_path_factory)


@pytest.fixture(scope="module")
def driver():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not found: the browser test needs Debian's chromium and "
            "chromium-driver (`apt-get install -y chromium chromium-driver`; `make test-e2e` "
            "installs them)",
            pytrace=False,
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        "--allow-file-access-from-files",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    d.set_page_load_timeout(60)
    yield d
    d.quit()


def _path(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


def _check_page(driver, url: str) -> list[str]:
    """Load ``url``; return its links (absolute) after checking images and the console."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    # chromedriver can hand back a large file:// page while it is still "interactive"
    # (its images decoding); the page must reach "complete" within the load timeout
    try:
        WebDriverWait(driver, 60).until(
            lambda d: d.execute_script("return document.readyState") == "complete"
        )
    except TimeoutException:
        pytest.fail(f"{url} did not finish loading within 60 s", pytrace=False)
    assert driver.title.strip(), f"{url} has no title"
    images = driver.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])"
    )
    broken = [alt for complete, width, alt in images if not complete or width == 0]
    assert not broken, f"{url}: images that did not load: {broken}"
    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, f"{url}: console errors: {errors}"
    return driver.execute_script("return Array.from(document.links).map(a => a.href)")


def test_every_page_loads_with_its_images_and_no_console_errors(run, driver):
    index = run.reports / "index.html"
    index_url = index.resolve().as_uri()
    links = _check_page(driver, index_url)
    pages = {_path(u) for u in links if u.endswith(".html")}
    expected = {p.resolve() for p in run.pages().values()}
    assert expected <= pages, f"index lacks {expected - pages}"
    driver.get_log("browser")  # drain
    visited = {index.resolve()}
    for page in sorted(pages):
        page_links = _check_page(driver, page.as_uri())
        visited.add(page)
        n_images = driver.execute_script("return document.images.length")
        assert n_images >= 1, f"{page} shows no figure"
        for link in page_links:
            target = _path(link)
            assert target.is_file(), f"{page} links to a missing {target}"
            if target.suffix == ".html" and target not in visited:
                _check_page(driver, target.as_uri())
                visited.add(target)
    assert len(visited) == len(pages) + 1


def _visible_systems(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#dsrbench-systems tbody tr'))"
        ".filter(r => r.style.display !== 'none').map(r => r.getAttribute('data-name'))"
    )


def test_index_systems_table_sorts_on_a_header_click_and_filters_by_name(run, driver):
    from selenium.webdriver.common.by import By

    driver.get((run.reports / "index.html").resolve().as_uri())
    names = sorted(run_systems := _visible_systems(driver))
    assert run_systems == names and len(names) >= 2  # one row per system, by name
    heads = {
        th.get_attribute("data-col"): th
        for th in driver.find_elements(By.CSS_SELECTOR, "#dsrbench-systems th")
    }
    for method in run.methods:
        if method != "truth":
            assert f"{method} D_stsp" in heads and f"{method} VPT" in heads
    heads["system"].click()  # ascending, already the order
    assert _visible_systems(driver) == names
    heads["system"].click()  # descending
    assert _visible_systems(driver) == names[::-1]
    lam = "lambda_max_dysts"  # numeric, distinct across systems
    col = list(heads).index(lam)
    script = (
        "return Array.from(document.querySelectorAll('#dsrbench-systems tbody tr'))"
        f".map(r => parseFloat(r.cells[{col}].getAttribute('data-v')))"
    )
    heads[lam].click()
    values = driver.execute_script(script)
    assert values == sorted(values) and values[0] < values[-1]
    assert heads[lam].get_attribute("aria-sort") == "ascending"
    heads[lam].click()
    assert driver.execute_script(script) == sorted(values, reverse=True)
    box = driver.find_element(By.ID, "dsrbench-filter")
    text = names[-1][:4].lower()
    box.send_keys(text)
    assert sorted(_visible_systems(driver)) == [n for n in names if text in n.lower()]
    count = driver.find_element(By.ID, "dsrbench-count").text
    assert count == f"{len(_visible_systems(driver))} of {len(names)} systems shown"
    box.clear()
    box.send_keys("x")  # clear() fires no input event; a new key does
    box.send_keys("\b")
    assert sorted(_visible_systems(driver)) == names
    chaotic = driver.execute_script(
        "return Array.from(document.querySelectorAll('#dsrbench-systems tbody tr'))"
        ".filter(r => r.getAttribute('data-chaotic') !== 'no')"
        ".map(r => r.getAttribute('data-name'))"
    )
    driver.find_element(By.ID, "dsrbench-chaotic-only").click()  # hide the non-chaotic ones
    assert sorted(_visible_systems(driver)) == sorted(chaotic)
    driver.find_element(By.ID, "dsrbench-chaotic-only").click()
    assert len(_visible_systems(driver)) == len(names)
    link = driver.find_element(By.LINK_TEXT, names[0])
    assert _path(link.get_attribute("href")).is_file()
    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors


def test_the_reproductions_page_opens_and_filters_by_status(driver, tmp_path):
    """The page rendered from the tiny fixture of support/reproductions.py: it loads
    with its figure and no console error, and the filter box narrows the table."""
    from selenium.webdriver.common.by import By

    from dsrbench import layout
    from dsrbench.reports.render import render

    results = write_fixture(tmp_path / "results")
    csv = tmp_path / "published.csv"
    PUBLISHED.to_csv(csv, index=False)
    page = render(
        REPO / "reports" / "reproductions.ipynb",
        layout.report_page(results, layout.page_id("reproductions")),
        {"sources": {PAPER: str(results)}, "published": str(csv), "datasets": {PAPER: "fine"}},
        cwd=tmp_path,
        timeout=120,
    )
    _check_page(driver, page.resolve().as_uri())
    script = (
        "return Array.from(document.querySelectorAll('#dsrbench-systems tbody tr'))"
        ".filter(r => r.style.display !== 'none').map(r => r.getAttribute('data-status'))"
    )
    assert (
        sorted(driver.execute_script(script))
        == ["differs"] * 3 + ["not run"] * 3 + ["reproduced"] * 2
    )
    driver.find_element(By.ID, "dsrbench-filter").send_keys("differs")
    assert driver.execute_script(script) == ["differs"] * 3
    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors
