"""Guide Markdown to HTML that is safe to put in the page: raw HTML is never parsed,
and the result is sanitised again, so a script written into a guide never runs.
Images are shown only when they are this project's own guide images; anything else
(an outside address could track who reads the guide) is shown as its alt text."""
import hashlib
import re

import nh3
from django.core.cache import cache
from django.urls import reverse
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

ALLOWED_TAGS = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "blockquote",
    "ul", "ol", "li", "strong", "em", "code", "pre",
    "table", "thead", "tbody", "tr", "th", "td", "a", "img",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
}
LINK_SCHEMES = {"http", "https", "mailto"}
# A long guide takes a noticeable fraction of a second to render and every open task
# page asks for it, so the HTML is kept; bump this when the rules above change.
RULES_VERSION = 1
CACHE_SECONDS = 24 * 3600


def guide_images_prefix(project_id: int) -> str:
    """The path every image of this project's guide lives under."""
    return reverse("api-guide-images", kwargs={"project_id": project_id})


def guide_image_url(project_id: int, image_id: int) -> str:
    return reverse("api-guide-image", kwargs={"project_id": project_id, "image_id": image_id})


def _own_image_pattern(project_id: int) -> re.Pattern:
    return re.compile(re.escape(guide_images_prefix(project_id)) + r"[0-9]+/")


def _image_rule(renderer, tokens, idx, options, env):
    token = tokens[idx]
    if env["own_image"].fullmatch(str(token.attrGet("src") or "")):
        return renderer.image(tokens, idx, options, env)
    return escapeHtml(renderer.renderInlineAsText(token.children or [], options, env))


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.add_render_rule("image", _image_rule)
    return md


MARKDOWN = _markdown()


def render(body: str, project_id: int) -> str:
    """Markdown (CommonMark and tables) as sanitised HTML; links open in a new tab."""
    if not body:
        return ""
    digest = hashlib.sha256(body.encode()).hexdigest()
    key = f"guide-html:{RULES_VERSION}:{guide_images_prefix(project_id)}:{digest}"
    html = cache.get(key)
    if html is None:
        html = _render(body, project_id)
        cache.set(key, html, CACHE_SECONDS)
    return html


def _render(body: str, project_id: int) -> str:
    own_image = _own_image_pattern(project_id)

    def keep_own_images(tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src" and not own_image.fullmatch(value):
            return None
        return value

    html = MARKDOWN.render(body, {"own_image": own_image})
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=keep_own_images,
        url_schemes=LINK_SCHEMES,
        filter_style_properties={"text-align"},
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
    )
