"""HTML rendering: the one jinja2 Environment, description sanitising and task links.

Pure: no Prefect, no HTTP. Templates receive plain dicts of pre-formatted values
(``pike_tasks.views``), never DataFrames. Everything from the API is untrusted, so every
expression is autoescaped; the only markup passed through as-is is the output of
:func:`sanitize_description` (an nh3 allow-list) and the page's own stylesheet.
"""

from __future__ import annotations

import functools
import urllib.parse
from pathlib import Path
from typing import Any

import jinja2
import nh3
from markupsafe import Markup

# Templates with these endings produce plain text (email text parts, CSS): no HTML escaping.
_PLAIN_TEXT_SUFFIXES = (".txt", ".txt.j2", ".text.j2", ".css", ".css.j2", ".md.j2")

# The description allow-list: structure and emphasis only; links keep just their href.
_DESCRIPTION_TAGS = {"p", "br", "ul", "ol", "li", "strong", "em", "b", "i", "code", "pre", "a"}
_DESCRIPTION_ATTRIBUTES = {"a": {"href"}}
_DESCRIPTION_URL_SCHEMES = {"http", "https", "mailto"}
_LINK_SCHEMES = {"http", "https"}


def templates_dir() -> Path:
    """The folder holding the jinja2 templates.

    ``<repo>/templates`` in a checkout (or an editable install); the copy the wheel ships as
    ``pike_tasks/_templates`` otherwise.
    """
    package_dir = Path(__file__).resolve().parent
    checkout = package_dir.parent / "templates"
    # pyproject.toml beside it tells a checkout from an unrelated site-packages/templates.
    if checkout.is_dir() and (package_dir.parent / "pyproject.toml").is_file():
        return checkout
    return package_dir / "_templates"


def _autoescape(template_name: str | None) -> bool:
    """Escape every template except plain-text ones (``*.txt.j2``, CSS).

    Safe by default: a template from a string, or with an unexpected name, is escaped.
    """
    if template_name is None:
        return True
    return not template_name.lower().endswith(_PLAIN_TEXT_SUFFIXES)


@functools.lru_cache(maxsize=1)
def make_environment() -> jinja2.Environment:
    """The process-wide Environment shared by the report pages and the digest templates.

    Autoescaping for ``*.html.j2`` / ``*.html`` (and anything not plain text),
    ``StrictUndefined`` so a view missing a key fails loudly instead of printing nothing.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=_autoescape,  # noqa: S701 - escapes all but plain-text templates (see _autoescape)
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


def sanitize_description(html: str | None) -> Markup:
    """Task description HTML reduced to an allow-list, safe to insert into a page.

    Keeps paragraphs, line breaks, lists, emphasis, code and http/https/mailto links
    (with ``rel="noopener noreferrer"``); drops scripts, styles, event handlers, images and
    every other tag or attribute.

    Args:
        html: the raw ``description`` from the API, or None.

    Returns:
        ``Markup`` (empty for None or blank input).
    """
    if html is None or not isinstance(html, str) or not html.strip():
        return Markup("")
    cleaned = nh3.clean(
        html,
        tags=_DESCRIPTION_TAGS,
        attributes=_DESCRIPTION_ATTRIBUTES,
        url_schemes=_DESCRIPTION_URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    return Markup(cleaned.strip())  # noqa: S704 - nh3 has reduced it to the allow-list above


def task_url(template: str | None, task_id: str) -> str | None:
    """The Pike app link of a task, or None when no ``app_url_template`` is configured.

    The id is percent-encoded (nothing is safe, not even ``/``). Only absolute http(s)
    URLs come back; anything else gives None, since a report must never guess a link.
    """
    if not template or not task_id:
        return None
    try:
        url = template.format(id=urllib.parse.quote(str(task_id), safe=""))
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError("app_url_template may only use the {id} placeholder") from exc
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in _LINK_SCHEMES or not parts.netloc:
        return None
    return url


def _render(template_name: str, view: dict[str, Any]) -> str:
    return make_environment().get_template(template_name).render(**view)


def render_overdue_html(view: dict[str, Any]) -> str:
    """The standalone overdue report page from :func:`pike_tasks.views.overdue_view`."""
    return _render("overdue.html.j2", view)


def render_workload_html(view: dict[str, Any]) -> str:
    """The standalone workload report page from :func:`pike_tasks.views.workload_view`."""
    return _render("workload.html.j2", view)


def render_overdue_team_html(view: dict[str, Any]) -> str:
    """One team's overdue page from :func:`pike_tasks.views.overdue_team_views`."""
    return _render("overdue_team.html.j2", view)


def render_store_home_html(view: dict[str, Any]) -> str:
    """The store's home page (``<store>/index.html``) from :func:`pike_tasks.home_view.home_view`."""
    return _render("store_home.html.j2", view)


def render_latest_html(view: dict[str, Any]) -> str:
    """``<store>/<report>/latest.html`` from :func:`pike_tasks.home_view.latest_view`."""
    return _render("latest.html.j2", view)
